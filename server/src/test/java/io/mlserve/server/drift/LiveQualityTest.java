package io.mlserve.server.drift;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mlserve.proto.v1.FeatureColumn;
import io.mlserve.proto.v1.FeatureValue;
import io.mlserve.proto.v1.Outcome;
import io.mlserve.proto.v1.OutcomeServiceGrpc;
import io.mlserve.proto.v1.PredictRequest;
import io.mlserve.proto.v1.PredictResponse;
import io.mlserve.proto.v1.Prediction;
import io.mlserve.proto.v1.PredictionServiceGrpc;
import io.mlserve.proto.v1.ReportOutcomesRequest;
import io.mlserve.featurecache.FeatureSpec;
import io.mlserve.featurecache.FeatureView;
import io.mlserve.runtime.onnx.Exporters;
import io.mlserve.runtime.onnx.Preprocessing;
import io.mlserve.server.ServerOptions;
import io.mlserve.server.TestServer;
import io.mlserve.server.config.ServerConfigFile;
import io.mlserve.examples.ChurnExample;
import io.mlserve.featurecache.kafka.KafkaBroker;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Predictions served by Predict, outcomes reported later over REST (by request id) and gRPC (by entity): joined,
 * judged per window of 1000 pairs, and a quality alert raised when the scores stop ranking the outcomes; accuracy at
 * each version's own operating threshold unless config.json sets one.
 */
class LiveQualityTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void outcomesJoinedToPredictionsGiveWindowQualityAndAnAlert() throws Exception {
        Path config = ChurnExample.writeTo(dir);
        ServerConfigFile file = ServerConfigFile.read(config);
        try (TestServer t = new TestServer(file.modelRepository()).start(ServerOptions.ephemeral(file.modelRepository())
                .withFeatureViews(dir.resolve("tables"), file.featureViews()))) {
            int http = t.server.httpPort();
            // window 1: outcomes agree with the scores (AUC 1); windows 2 and 3: they disagree (AUC 0)
            for (int window = 0; window < 3; window++) {
                List<Prediction> served = new ArrayList<>();
                List<String> requestIds = new ArrayList<>();
                for (int call = 0; call < 10; call++) {
                    String id = "w" + window + "-c" + call;
                    PredictRequest.Builder r = PredictRequest.newBuilder().setModelName("churn").setId(id);
                    FeatureColumn.Builder tenure = FeatureColumn.newBuilder();
                    for (int i = 0; i < 100; i++) {
                        r.addEntityIds("e" + window + "-" + call + "-" + i);
                        tenure.addValues(FeatureValue.newBuilder().setNumber((call * 100 + i) % 72));
                    }
                    PredictResponse resp = PredictionServiceGrpc.newBlockingStub(t.channel())
                            .predict(r.putFeatures("tenure_months", tenure.build()).build());
                    for (Prediction p : resp.getPredictionsList()) {
                        served.add(p);
                        requestIds.add(id);
                    }
                }
                double[] scores = served.stream().mapToDouble(Prediction::getScore).sorted().toArray();
                double median = scores[scores.length / 2];
                StringBuilder rest = new StringBuilder("{\"outcomes\": [");
                ReportOutcomesRequest.Builder grpc = ReportOutcomesRequest.newBuilder();
                for (int i = 0; i < served.size(); i++) {
                    Prediction p = served.get(i);
                    boolean high = p.getScore() >= median;
                    int label = window == 0 ? (high ? 1 : 0) : (high ? 0 : 1);
                    if (i % 2 == 0) {
                        rest.append(rest.charAt(rest.length() - 1) == '[' ? "" : ",").append("{\"entity_id\": \"")
                                .append(p.getEntityId()).append("\", \"request_id\": \"").append(requestIds.get(i))
                                .append("\", \"label\": ").append(label).append('}');
                    } else {
                        grpc.addOutcomes(Outcome.newBuilder().setEntityId(p.getEntityId()).setLabel(label));
                    }
                }
                grpc.addOutcomes(Outcome.newBuilder().setEntityId("never-served").setLabel(1));
                assertThat(t.post(http, "/v1/outcomes", rest.append("]}").toString()).statusCode()).isEqualTo(200);
                assertThat(OutcomeServiceGrpc.newBlockingStub(t.channel()).reportOutcomes(grpc.build()).getAccepted())
                        .isEqualTo(501);
                t.server.quality().drain();
                JsonNode q = JSON.readTree(t.get(http, "/v1/quality/churn").body());
                assertThat(q.get("pairs").asLong()).isEqualTo(1000);
                assertThat(q.get("auc").asDouble()).as("window %d", window).isEqualTo(window == 0 ? 1.0 : 0.0);
                assertThat(q.get("alert").asBoolean()).as("window %d", window).isEqualTo(window == 2);
            }
            // the quality alert is in the drift history, as the retrain bridge would have been given it
            JsonNode alerts = JSON.readTree(t.get(http, "/v1/drift/churn/history").body()).get("alerts");
            assertThat(alerts).hasSize(1);
            assertThat(alerts.get(0).get("kind").asText()).isEqualTo("QUALITY");
            assertThat(alerts.get(0).get("version").asText()).isEqualTo("1");
            assertThat(alerts.get(0).get("detail").asText()).startsWith("alert raised (quality, critical: AUC 0.000 < "
                    + "0.65 over 1000 outcomes");
            assertThat(alerts.get(0).get("severity").asDouble()).as("no better than chance: the most severe")
                    .isEqualTo(1.0);
            String metrics = t.get(t.server.metricsPort(), "/metrics").body();
            assertThat(metrics).contains("mlserve_quality_alert{model=\"churn\",version=\"1\"} 1.0")
                    .contains("mlserve_quality_events_total{kind=\"outcome\",outcome=\"matched\"} 3000.0")
                    .contains("mlserve_quality_events_total{kind=\"outcome\",outcome=\"unmatched\"} 3.0");
            // bad outcomes are refused whole
            assertThat(t.post(http, "/v1/outcomes", "{\"outcomes\": [{\"entity_id\": \"x\", \"label\": 2}]}")
                    .statusCode()).isEqualTo(400);
            assertThatThrownBy(() -> OutcomeServiceGrpc.newBlockingStub(t.channel()).reportOutcomes(
                    ReportOutcomesRequest.newBuilder().addOutcomes(Outcome.newBuilder().setLabel(1)).build()))
                    .hasMessageStartingWith("INVALID_ARGUMENT");
        }
    }

    @Test
    void outcomesArriveFromKafkaToo() throws Exception {
        Path config = ChurnExample.writeTo(dir);
        ServerConfigFile file = ServerConfigFile.read(config);
        // a window of 10 pairs for this model (config.json drift.quality_window_pairs)
        Path modelConfig = file.modelRepository().resolve("churn/config.json");
        com.fasterxml.jackson.databind.node.ObjectNode c = (com.fasterxml.jackson.databind.node.ObjectNode)
                JSON.readTree(modelConfig.toFile());
        c.putObject("drift").put("quality_window_pairs", 10);
        java.nio.file.Files.writeString(modelConfig, c.toString());
        try (KafkaBroker kafka = new KafkaBroker(dir.resolve("kafka")).start();
             TestServer t = new TestServer(file.modelRepository()).start(ServerOptions.ephemeral(file.modelRepository())
                     .withFeatureViews(dir.resolve("tables"), file.featureViews())
                     .withOutcomesKafka(kafka.bootstrap(), "mlserve.outcomes"))) {
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (!t.server.outcomeConsumer().assigned() && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            PredictRequest.Builder r = PredictRequest.newBuilder().setModelName("churn");
            for (int i = 0; i < 10; i++) {
                r.addEntityIds("k-" + i);
            }
            PredictionServiceGrpc.newBlockingStub(t.channel()).predict(r.build());
            Properties p = new Properties();
            p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrap());
            try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p, new StringSerializer(),
                    new ByteArraySerializer())) {
                for (int i = 0; i < 10; i++) {
                    producer.send(new ProducerRecord<>("mlserve.outcomes", "k-" + i, Outcome.newBuilder()
                            .setEntityId("k-" + i).setLabel(i % 2).setObservedEventTimeMs(System.currentTimeMillis())
                            .build().toByteArray())).get();
                }
                producer.send(new ProducerRecord<>("mlserve.outcomes", "x", new byte[] {(byte) 0xff})).get();
            }
            String want = "mlserve_quality_events_total{kind=\"outcome\",outcome=\"matched\"} 10.0";
            while (!t.get(t.server.metricsPort(), "/metrics").body().contains(want) && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertThat(t.get(t.server.metricsPort(), "/metrics").body()).contains(want);
            t.server.quality().drain();
            JsonNode q = JSON.readTree(t.get(t.server.httpPort(), "/v1/quality/churn").body());
            assertThat(q.get("pairs").asLong()).as("the model's own window size").isEqualTo(10);
        }
    }

    /** A view with one number, and a model scoring P = sigmoid(x) on it. */
    private static final FeatureView ACCOUNTS = new FeatureView("acct", "account_id", FeatureView.KeyType.STRING,
            List.of(FeatureSpec.numeric("x", 0)), Duration.ZERO, 1000, false);

    private static void sigmoidModel(Path repo, String model, String config, String metadata) throws Exception {
        Path version = repo.resolve(model).resolve("1");
        Exporters.logisticRegression(model, new Preprocessing(1, List.of(new Preprocessing.Numeric(0, 0, 0, 1))),
                new double[] {1.0}, 0.0).writeTo(version.resolve("model.onnx"));
        if (metadata != null) {
            Files.writeString(version.resolve("metadata.json"), metadata);
        }
        Files.writeString(repo.resolve(model).resolve("config.json"), config);
    }

    @Test
    void accuracyAndMinimumAucComeFromEachVersionsOwnMetricsUnlessTheConfigSetsThem() throws Exception {
        Path repo = dir.resolve("models");
        String binding = "\"max_batch_size\": 128, \"features\": {\"view\": \"acct\", \"names\": [\"x\"]}";
        String metadata = "{\"metrics\": {\"threshold\": 0.3, \"threshold_rule\": \"cost_ratio 4\", "
                + "\"holdout_auc\": 0.9}}";
        // the trainer chose 0.3 for these versions; "pinned" has its config say 0.6; "plain" says nothing anywhere
        sigmoidModel(repo, "own", "{" + binding + ", \"drift\": {\"quality_window_pairs\": 100}}", metadata);
        // own's v2 ranked worse on its holdout (0.8): it is still held to the 0.9 its v1 met
        Path v2 = Files.createDirectories(repo.resolve("own/2"));
        Files.copy(repo.resolve("own/1/model.onnx"), v2.resolve("model.onnx"));
        Files.writeString(v2.resolve("metadata.json"), metadata.replace("0.9", "0.8"));
        sigmoidModel(repo, "pinned", "{" + binding + ", \"drift\": {\"quality_window_pairs\": 100, "
                + "\"quality_threshold\": 0.6, \"quality_min_auc\": 0.7}}", metadata);
        sigmoidModel(repo, "plain", "{" + binding + ", \"drift\": {\"quality_window_pairs\": 100}}", null);
        try (TestServer t = new TestServer(repo).start(ServerOptions.ephemeral(repo)
                .withFeatureViews(dir.resolve("tables"), List.of(ACCOUNTS)))) {
            assertThat(t.server.repository().model("own").latest().threshold()).isEqualTo(0.3);
            assertThat(t.server.repository().model("plain").latest().threshold()).isNaN();
            int http = t.server.httpPort();
            for (String model : List.of("own", "pinned", "plain")) {
                // scores 0.005, 0.015 ... 0.995; the outcome is 1 from 0.3 up
                PredictRequest.Builder r = PredictRequest.newBuilder().setModelName(model);
                FeatureColumn.Builder x = FeatureColumn.newBuilder();
                for (int i = 0; i < 100; i++) {
                    double p = (i + 0.5) / 100;
                    r.addEntityIds(model + "-" + i);
                    x.addValues(FeatureValue.newBuilder().setNumber(Math.log(p / (1 - p))));
                }
                PredictResponse served = PredictionServiceGrpc.newBlockingStub(t.channel())
                        .predict(r.putFeatures("x", x.build()).build());
                ReportOutcomesRequest.Builder outcomes = ReportOutcomesRequest.newBuilder();
                double[] scores = new double[100];
                for (int i = 0; i < 100; i++) {
                    Prediction p = served.getPredictions(i);
                    scores[i] = p.getScore();
                    outcomes.addOutcomes(Outcome.newBuilder().setEntityId(p.getEntityId())
                            .setLabel(p.getScore() >= 0.3 ? 1 : 0));
                }
                assertThat(scores[0]).isCloseTo(0.005, org.assertj.core.data.Offset.offset(1e-6));
                OutcomeServiceGrpc.newBlockingStub(t.channel()).reportOutcomes(outcomes.build());
                t.server.quality().drain();
                JsonNode q = JSON.readTree(t.get(http, "/v1/quality/" + model).body());
                double threshold = switch (model) {
                    case "own" -> 0.3;
                    case "pinned" -> 0.6;
                    default -> 0.5;
                };
                long right = 0;
                for (double score : scores) {
                    right += (score >= threshold) == (score >= 0.3) ? 1 : 0;
                }
                assertThat(q.get("pairs").asLong()).isEqualTo(100);
                assertThat(q.get("threshold").asDouble()).as(model).isEqualTo(threshold);
                assertThat(q.get("threshold_from").asText()).as(model).isEqualTo(switch (model) {
                    case "own" -> "metadata";
                    case "pinned" -> "config";
                    default -> "default";
                });
                assertThat(q.get("accuracy").asDouble()).as(model).isEqualTo(right / 100.0)
                        .isEqualTo(switch (model) {
                            case "own" -> 1.0;
                            case "pinned" -> 0.7;
                            default -> 0.8;
                        });
                assertThat(q.get("auc").asDouble()).isEqualTo(1.0);
                // low below the config's minimum, else the best holdout AUC of the versions so far less 0.05, else 0.65
                assertThat(q.get("min_auc").asDouble()).as(model).isCloseTo(switch (model) {
                    case "own" -> 0.85;
                    case "pinned" -> 0.7;
                    default -> 0.65;
                }, org.assertj.core.data.Offset.offset(1e-12));
                assertThat(q.get("min_auc_from").asText()).as(model).isEqualTo(switch (model) {
                    case "own" -> "metadata";
                    case "pinned" -> "config";
                    default -> "default";
                });
                assertThat(JSON.readTree(t.get(http, "/v1/quality/" + model + "?version="
                        + (model.equals("own") ? 2 : 1)).body()).get("accuracy")
                        .asDouble()).isEqualTo(right / 100.0);
            }
            assertThat(t.get(http, "/v1/quality/own?version=7").statusCode()).isEqualTo(404);
        }
    }

    @Test
    void aQualityAlertIsCriticalFromHalfAtTheMinimumAucToOneAtChance() {
        assertThat(QualityMonitor.severity(0.65, 0.65)).isEqualTo(0.5);
        assertThat(QualityMonitor.severity(0.575, 0.65)).isCloseTo(0.75, org.assertj.core.data.Offset.offset(1e-12));
        assertThat(QualityMonitor.severity(0.5, 0.65)).isEqualTo(1.0);
        assertThat(QualityMonitor.severity(0.2, 0.65)).isEqualTo(1.0);
        assertThat(QualityMonitor.severity(0.45, 0.5)).as("a minimum at chance").isEqualTo(1.0);
    }
}
