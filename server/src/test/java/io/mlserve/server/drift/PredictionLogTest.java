package io.mlserve.server.drift;

import static org.assertj.core.api.Assertions.assertThat;

import io.mlserve.featurecache.kafka.KafkaBroker;
import io.mlserve.proto.v1.FeatureRecord;
import io.mlserve.proto.v1.FeatureServiceGrpc;
import io.mlserve.proto.v1.FeatureStatus;
import io.mlserve.proto.v1.FeatureValue;
import io.mlserve.proto.v1.PredictRequest;
import io.mlserve.proto.v1.PredictResponse;
import io.mlserve.proto.v1.Prediction;
import io.mlserve.proto.v1.PredictionRecord;
import io.mlserve.proto.v1.PredictionServiceGrpc;
import io.mlserve.proto.v1.WriteFeaturesRequest;
import io.mlserve.server.ServerOptions;
import io.mlserve.server.TestServer;
import io.mlserve.server.config.ServerConfigFile;
import io.mlserve.examples.ChurnExample;
import io.prometheus.metrics.core.metrics.Counter;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Predictions as served reach mlserve.predictions; a log that cannot keep up drops and counts, never blocks. */
class PredictionLogTest {
    @TempDir
    Path dir;

    @Test
    void predictionsAreLoggedWithTheFeaturesAsServed() throws Exception {
        Path config = ChurnExample.writeTo(dir);
        ServerConfigFile file = ServerConfigFile.read(config);
        try (KafkaBroker kafka = new KafkaBroker(dir.resolve("kafka")).start();
             TestServer t = new TestServer(file.modelRepository()).start(ServerOptions.ephemeral(file.modelRepository())
                     .withFeatureViews(dir.resolve("tables"), file.featureViews())
                     .withPredictionLog(new PredictionLog.Options(kafka.bootstrap(), "mlserve.predictions", 1.0,
                             1024)))) {
            long now = System.currentTimeMillis();
            FeatureServiceGrpc.newBlockingStub(t.channel()).writeFeatures(WriteFeaturesRequest.newBuilder()
                    .setView("customer").addRecords(FeatureRecord.newBuilder().setEntityId("p-1").setEventTimeMs(now)
                            .putValues("tenure_months", FeatureValue.newBuilder().setNumber(7).build())).build());
            PredictResponse r = PredictionServiceGrpc.newBlockingStub(t.channel()).predict(PredictRequest.newBuilder()
                    .setModelName("churn").setId("req-9").addEntityIds("p-1").addEntityIds("p-2")
                    .setReturnFeatures(true).setEventTimeMs(now - 5_000).build());
            Map<String, PredictionRecord> logged = new HashMap<>();
            Properties p = new Properties();
            p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrap());
            p.put(ConsumerConfig.GROUP_ID_CONFIG, "test");
            p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
            try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(p, new StringDeserializer(),
                    new ByteArrayDeserializer())) {
                c.subscribe(List.of("mlserve.predictions"));
                long deadline = System.nanoTime() + 60_000_000_000L;
                while (logged.size() < 2 && System.nanoTime() < deadline) {
                    for (ConsumerRecord<String, byte[]> rec : c.poll(Duration.ofMillis(200))) {
                        PredictionRecord pr = PredictionRecord.parseFrom(rec.value());
                        assertThat(rec.key()).isEqualTo(pr.getEntityId());
                        logged.put(pr.getEntityId(), pr);
                    }
                }
            }
            assertThat(logged).containsOnlyKeys("p-1", "p-2");
            for (Prediction served : r.getPredictionsList()) {
                PredictionRecord pr = logged.get(served.getEntityId());
                assertThat(pr.getRequestId()).isEqualTo("req-9");
                assertThat(pr.getModelName()).isEqualTo("churn");
                assertThat(pr.getModelVersion()).isEqualTo(r.getModelVersion());
                assertThat(pr.getScore()).isEqualTo(served.getScore());
                assertThat(pr.getTimeMs()).as("the request's event time").isEqualTo(now - 5_000);
                List<Integer> defaulted = new ArrayList<>();
                for (int j = 0; j < pr.getFeatureNamesCount(); j++) {
                    if (served.getFeatureStatusMap().get(pr.getFeatureNames(j)) != FeatureStatus.PRESENT) {
                        defaulted.add(j);
                    }
                }
                assertThat(pr.getDefaultedList()).as("served as the view's default").isEqualTo(defaulted);
                assertThat(pr.getFeatureNamesList()).hasSize(served.getFeaturesCount());
                for (int j = 0; j < pr.getFeatureNamesCount(); j++) {
                    double value = served.getFeaturesMap().get(pr.getFeatureNames(j));
                    assertThat(Double.valueOf(pr.getFeatures(j))).isEqualTo(Double.valueOf((float) value));
                }
            }
            assertThat(logged.get("p-1").getFeatures(pr0(logged.get("p-1"), "tenure_months"))).isEqualTo(7f);
            assertThat(logged.get("p-1").getDefaultedList()).hasSize(ChurnExample.FEATURES.size() - 1)
                    .doesNotContain(pr0(logged.get("p-1"), "tenure_months"));
            assertThat(logged.get("p-2").getDefaultedList()).as("an unknown entity").hasSize(ChurnExample.FEATURES.size());
            String metrics = t.get(t.server.metricsPort(), "/metrics").body();
            assertThat(metrics).contains("mlserve_prediction_log_records_total{outcome=\"sent\"} 2.0");
        }
    }

    private static int pr0(PredictionRecord r, String name) {
        return r.getFeatureNamesList().indexOf(name);
    }

    @Test
    void aLogThatCannotKeepUpDropsAndCountsWithoutBlocking() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort(); // no broker: the log's thread waits on it, the queue fills
        }
        Counter records = Counter.builder().name("records").labelNames("outcome").build();
        try (PredictionLog log = new PredictionLog(new PredictionLog.Options("127.0.0.1:" + port, "t", 1.0, 4),
                records)) {
            List<Long> nanos = new ArrayList<>();
            for (int i = 0; i < 1000; i++) {
                long t0 = System.nanoTime();
                log.log(PredictionRecord.newBuilder().setEntityId("e" + i).build());
                nanos.add(System.nanoTime() - t0);
            }
            assertThat(records.labelValues("dropped").get()).isGreaterThan(900);
            assertThat(records.labelValues("queued").get() + records.labelValues("dropped").get()).isEqualTo(1000);
            assertThat(nanos.stream().mapToLong(Long::longValue).max().orElseThrow())
                    .as("no offer waits").isLessThan(50_000_000L);
        }
    }
}
