package io.mlserve.server.retrain;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mlserve.datagen.ChurnDataGenerator;
import io.mlserve.datagen.ChurnSchema;
import io.mlserve.featurecache.kafka.KafkaBroker;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.proto.v1.DriftEvent;
import io.mlserve.proto.v1.DriftKind;
import io.mlserve.runtime.onnx.ExampleModels;
import io.mlserve.server.ServerOptions;
import io.mlserve.server.Tensors;
import io.mlserve.server.TestServer;
import io.mlserve.server.TrainerJvm;
import io.mlserve.server.drift.DriftEventPublisher;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bridge end to end with the real trainer in its own JVM: a drift event while the trainer is down is
 * retried with backoff, delivered once it is up, trained, published, and the server then serves the new
 * version; the policy (at most one job per model, duplicates, cooldown, refusals) holds along the way.
 */
class RetrainBridgeTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void unreachableTrainerIsRetriedThenTheJobIsDeliveredPublishedAndServed() throws Exception {
        Path data = dir.resolve("data");
        new ChurnDataGenerator(new ChurnDataGenerator.Options(5_000, 3, 17)).generate(data);
        Path registry = dir.resolve("models");
        Process v1 = TrainerJvm.start(dir.resolve("train.log"), "TrainMain", "--data", data.toString(),
                "--config", data.resolve("mlserve.yaml").toString(), "--label", "churned", "--model", "churn",
                "--registry", registry.toString(), "--spark-master", "local[2]", "--grid", "");
        assertThat(v1.waitFor(5, TimeUnit.MINUTES)).isTrue();
        assertThat(v1.exitValue()).as(Files.readString(dir.resolve("train.log"))).isZero();
        // retraining on: margin 1 so the gate always publishes (the gate itself is tested in trainer-bridge); this
        // server keeps no feature store, so the job names a data directory (the training-log path: BringYourOwnModelTest)
        JsonNode config = JSON.readTree(registry.resolve("churn/config.json").toFile());
        ((com.fasterxml.jackson.databind.node.ObjectNode) config).set("retrain", JSON.readTree("""
                {"enabled": true, "on": ["data"], "cooldown_seconds": 3600,
                 "train": {"algorithm": "lr", "grid": "", "gate_margin": 1, "data": "%s", "label": "churned"}}"""
                .formatted(data)));
        Files.writeString(registry.resolve("churn/config.json"), config.toString());
        // a second model whose jobs the trainer refuses (its data directory has no data)
        Files.createDirectories(registry.resolve("other/1"));
        Files.copy(registry.resolve("churn/1/model.onnx"), registry.resolve("other/1/model.onnx"));
        Files.writeString(registry.resolve("other/config.json"), """
                {"retrain": {"enabled": true, "train": {"data": "%s"}}}""".formatted(dir.resolve("nowhere")));

        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        RetrainOptions retrain = RetrainOptions.defaults("127.0.0.1:" + port)
                .withBackoff(Duration.ofMillis(200), Duration.ofMillis(800)).withPoll(Duration.ofMillis(200));
        Process trainer = null;
        try (TestServer t = new TestServer(registry).start(ServerOptions.ephemeral(registry).withRetrain(retrain))) {
            RetrainBridge bridge = t.server.retrain();
            assertThat(bridge.onDrift(event("e0", "churn", DriftKind.PREDICTION)).get())
                    .as("the policy triggers on data drift only").isEqualTo(RetrainBridge.Outcome.IGNORED);
            assertThat(bridge.onDrift(event("e1", "churn", DriftKind.DATA)).get())
                    .isEqualTo(RetrainBridge.Outcome.ACCEPTED);
            assertThat(bridge.onDrift(event("e2", "churn", DriftKind.DATA)).get())
                    .as("one job per model").isEqualTo(RetrainBridge.Outcome.IN_FLIGHT);
            assertThat(bridge.onDrift(event("e1", "churn", DriftKind.DATA)).get())
                    .isEqualTo(RetrainBridge.Outcome.DUPLICATE);
            assertThat(bridge.onDrift(event("e3", "nosuch", DriftKind.DATA)).get())
                    .isEqualTo(RetrainBridge.Outcome.UNKNOWN_MODEL);

            // the trainer is down: deliveries fail and are retried with backoff, visible in status and metrics
            await(() -> bridge.status("churn").attempts() >= 3, 30);
            JsonNode model = JSON.readTree(t.get(t.server.httpPort(), "/v1/models/churn").body());
            assertThat(model.at("/retrain/phase").asText()).isEqualTo("delivering");
            assertThat(model.at("/retrain/last_error").asText()).startsWith("UNAVAILABLE");
            assertThat(model.at("/retrain/enabled").asBoolean()).isTrue();
            assertThat(metrics(t)).contains("mlserve_retrain_submit_attempts_total{model=\"churn\",result=\"retry\"}");

            trainer = TrainerJvm.start(dir.resolve("trainer.log"), "TrainerMain", "--port",
                    Integer.toString(port), "--host", "127.0.0.1", "--registry", registry.toString(), "--data",
                    data.toString(), "--config", data.resolve("mlserve.yaml").toString(), "--spark-master",
                    "local[2]");
            Process running = trainer;
            await(() -> {
                RetrainStatus s = bridge.status("churn");
                return s.servingVersion() == 2 || !running.isAlive();
            }, 240);
            assertThat(trainer.isAlive()).as(Files.readString(dir.resolve("trainer.log"))).isTrue();
            RetrainStatus done = bridge.status("churn");
            assertThat(done.job().getResult().getVersion()).isEqualTo(2);
            assertThat(done.job().getRequest().getReason()).contains("drift data on version 1").contains("e1");
            assertThat(done.phase()).isEqualTo("cooldown");
            assertThat(registry.resolve("churn/2/model.onnx")).exists();
            // the server reloaded the model: version 2 answers
            float[] row = new float[ChurnSchema.COLUMNS.size()];
            assertThat(t.stub().modelInfer(ModelInferRequest.newBuilder().setModelName("churn")
                    .addInputs(Tensors.input("features", "FP32", 1, row.length))
                    .addRawInputContents(Tensors.rawFp32(row)).build()).getModelVersion()).isEqualTo("2");

            assertThat(bridge.onDrift(event("e4", "churn", DriftKind.DATA).toBuilder().setModelVersion("2").build())
                    .get()).isEqualTo(RetrainBridge.Outcome.COOLDOWN);
            assertThat(bridge.onDrift(event("e5", "churn", DriftKind.DATA)).get())
                    .as("about version 1, no longer serving").isEqualTo(RetrainBridge.Outcome.STALE);

            // an operator's request for a model the trainer cannot train: refused there (422 here), not retried
            var manual = t.post(t.server.httpPort(), "/v1/models/other/retrain", "{\"reason\": \"test\"}");
            assertThat(manual.statusCode()).as(manual.body()).isEqualTo(422);
            assertThat(manual.body()).contains("nowhere: no such directory");
            assertThat(bridge.status("other").phase()).isEqualTo("cooldown");
            assertThat(bridge.status("other").lastError()).startsWith("INVALID_ARGUMENT").contains("no such directory");
            assertThat(t.post(t.server.httpPort(), "/v1/models/nosuch/retrain", "").statusCode()).isEqualTo(404);

            JsonNode all = JSON.readTree(t.get(t.server.httpPort(), "/v1/models").body());
            assertThat(all.get("models")).hasSize(2);
            assertThat(all.at("/models/0/name").asText()).isEqualTo("churn");
            assertThat(all.at("/models/0/latest").asText()).isEqualTo("2");
            assertThat(all.at("/models/0/retrain/job/state").asText()).isEqualTo("SUCCEEDED");
            assertThat(all.at("/models/0/retrain/serving_version").asText()).isEqualTo("2");
            String m = metrics(t);
            assertThat(m).contains("mlserve_retrain_jobs_total{model=\"churn\",state=\"succeeded\"} 1.0")
                    .contains("mlserve_retrain_events_total{model=\"churn\",outcome=\"accepted\"} 1.0")
                    .contains("mlserve_retrain_events_total{model=\"churn\",outcome=\"in_flight\"} 1.0")
                    .contains("mlserve_retrain_events_total{model=\"churn\",outcome=\"duplicate\"} 1.0")
                    .contains("mlserve_retrain_events_total{model=\"churn\",outcome=\"cooldown\"} 1.0")
                    .contains("mlserve_retrain_events_total{model=\"churn\",outcome=\"stale\"} 1.0")
                    .contains("mlserve_retrain_submit_attempts_total{model=\"churn\",result=\"delivered\"} 1.0")
                    .contains("mlserve_retrain_submit_attempts_total{model=\"other\",result=\"refused\"} 1.0")
                    .contains("mlserve_retrain_phase{model=\"churn\",phase=\"cooldown\"} 1.0")
                    .contains("mlserve_retrain_event_to_published_seconds_count{model=\"churn\"} 1")
                    .contains("mlserve_retrain_event_to_serving_seconds_count{model=\"churn\"} 1");
        } finally {
            if (trainer != null) {
                trainer.destroy();
                trainer.waitFor(30, TimeUnit.SECONDS);
            }
        }
    }

    @Test
    void driftEventsFromKafkaReachTheBridge() throws Exception {
        Path registry = dir.resolve("models");
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort(); // no trainer listens here: accepted events stay in delivery
        }
        try (KafkaBroker kafka = new KafkaBroker(dir.resolve("kafka")).start();
             TestServer t = new TestServer(registry)
                     .model("plain", 1, ExampleModels.addMul())
                     .model("watched", 1, ExampleModels.addMul())
                     .config("watched", "{\"retrain\": {\"enabled\": true}}")) {
            t.start(ServerOptions.ephemeral(registry).withRetrain(RetrainOptions.defaults("127.0.0.1:" + port)
                    .withBackoff(Duration.ofMillis(100), Duration.ofMillis(200)))
                    .withDriftKafka(kafka.bootstrap(), "mlserve.drift"));
            await(() -> t.server.driftConsumer().assigned(), 60);
            Properties p = new Properties();
            p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrap());
            try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p, new StringSerializer(),
                    new ByteArraySerializer())) {
                producer.send(new ProducerRecord<>("mlserve.drift", "plain", new byte[] {(byte) 0xff, 7})).get();
                producer.send(new ProducerRecord<>("mlserve.drift", "plain",
                        event("k1", "plain", DriftKind.DATA).toByteArray())).get();
                producer.send(new ProducerRecord<>("mlserve.drift", "watched",
                        event("k2", "watched", DriftKind.DATA).toByteArray())).get();
            }
            await(() -> t.server.retrain().status("watched") != null
                    && t.server.retrain().status("watched").attempts() >= 2, 60);
            assertThat(t.server.retrain().status("plain").lastOutcome()).isEqualTo("not_enabled");
            JsonNode all = JSON.readTree(t.get(t.server.httpPort(), "/v1/models").body());
            assertThat(all.at("/models/0/name").asText()).isEqualTo("plain");
            assertThat(all.at("/models/0/retrain/enabled").asBoolean()).isFalse();
            assertThat(all.at("/models/1/retrain/phase").asText()).isEqualTo("delivering");
            assertThat(all.at("/models/1/retrain/last_event/event_id").asText()).isEqualTo("k2");
            assertThat(t.post(t.server.httpPort(), "/v1/models/plain/retrain", "").statusCode()).isEqualTo(409);
            assertThat(t.post(t.server.httpPort(), "/v1/models/watched/retrain", "").statusCode()).isEqualTo(409);
            assertThat(metrics(t)).contains("mlserve_retrain_events_total{model=\"plain\",outcome=\"not_enabled\"} 2.0")
                    .contains("mlserve_retrain_phase{model=\"watched\",phase=\"delivering\"} 1.0");
            // what a server's drift monitor publishes is what servers read (here: this one)
            try (DriftEventPublisher publisher = new DriftEventPublisher(kafka.bootstrap(), "mlserve.drift")) {
                publisher.publish(event("k3", "plain", DriftKind.DATA));
            }
            await(() -> {
                try {
                    return metrics(t).contains(
                            "mlserve_retrain_events_total{model=\"plain\",outcome=\"not_enabled\"} 3.0");
                } catch (Exception e) {
                    return false;
                }
            }, 30);
        }
    }

    private static DriftEvent event(String id, String model, DriftKind kind) {
        return DriftEvent.newBuilder().setEventId(id).setModelName(model).setModelVersion("1").setKind(kind)
                .setDetectedMs(System.currentTimeMillis()).setSeverity(0.3).addFeatures("tenure_months").build();
    }

    private static String metrics(TestServer t) throws Exception {
        return t.get(t.server.metricsPort(), "/metrics").body();
    }

    private static void await(BooleanSupplier condition, int seconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("condition within " + seconds + " s").isLessThan(deadline);
            Thread.sleep(50);
        }
    }
}
