package io.mlserve.explain;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.mlserve.featurecache.FeatureSpec;
import io.mlserve.featurecache.FeatureType;
import io.mlserve.featurecache.FeatureView;
import io.mlserve.proto.v1.FeatureRecord;
import io.mlserve.proto.v1.FeatureServiceGrpc;
import io.mlserve.proto.v1.FeatureValue;
import io.mlserve.proto.v1.PredictRequest;
import io.mlserve.proto.v1.PredictResponse;
import io.mlserve.proto.v1.Prediction;
import io.mlserve.proto.v1.PredictionServiceGrpc;
import io.mlserve.proto.v1.WriteFeaturesRequest;
import io.mlserve.runtime.onnx.Exporters;
import io.mlserve.runtime.onnx.Preprocessing;
import io.mlserve.server.ServerOptions;
import io.mlserve.server.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code explain: true} on Predict for a logistic regression as the trainer exports it: the contributions, worked
 * out here by hand from the coefficients, come back over gRPC and HTTP, and with the base value they add up to the
 * model's margin (the logit of its score). A model that is not linear is refused with the reason.
 */
class ExplainTest {
    // design: a standardised (mean 1, std 2), a binned at 0 and 5 (3 bins), b standardised (mean 10, std 4),
    // c one-hot over x, y, z
    static final double[] W = {0.8, -0.3, 0.1, 0.5, -0.6, 0.25, -1.0, 0.7};
    static final double B = -0.4;

    @TempDir
    Path dir;

    @Test
    void linearContributionsAddUpToTheMarginOverGrpcAndHttp() throws Exception {
        Preprocessing pre = new Preprocessing(3, List.of(new Preprocessing.Numeric(0, 1.0, 1.0, 2.0),
                new Preprocessing.Binned(0, 1.0, new double[] {0, 5}), new Preprocessing.Numeric(1, 10.0, 10.0, 4.0),
                new Preprocessing.Categorical(2, 3)));
        FeatureView view = new FeatureView("v", "id", FeatureView.KeyType.STRING, List.of(
                FeatureSpec.numeric("a", Double.NaN), FeatureSpec.numeric("b", Double.NaN),
                new FeatureSpec("c", FeatureType.CATEGORICAL, List.of("x", "y", "z"), 0, -1)), Duration.ZERO, 100, false);
        java.util.SplittableRandom rng = new java.util.SplittableRandom(3);
        try (TestServer t = new TestServer(dir.resolve("models"))
                .model("lin", 1, Exporters.logisticRegression("lin", pre, W, B))
                .config("lin", "{\"features\": {\"view\": \"v\", \"names\": [\"a\", \"b\", \"c\"]}}")
                .model("mlp", 1, Exporters.mlp("mlp", pre, List.of(new float[16], new float[2]),
                        List.of(new float[2], new float[1])))
                .config("mlp", "{\"features\": {\"view\": \"v\", \"names\": [\"a\", \"b\", \"c\"]}}")
                .model("mlp2", 1, Exporters.mlp("mlp2", pre, List.of(weights(rng, 16), weights(rng, 2)),
                        List.of(weights(rng, 2), weights(rng, 1))))
                .config("mlp2", "{\"features\": {\"view\": \"v\", \"names\": [\"a\", \"b\", \"c\"]}}")
                .start(ServerOptions.ephemeral(dir.resolve("models")).withFeatureViews(dir.resolve("t"), List.of(view)))) {
            profile(dir.resolve("models/mlp2/1/profile.json"), rng);
            FeatureServiceGrpc.newBlockingStub(t.channel()).writeFeatures(WriteFeaturesRequest.newBuilder().setView("v")
                    .addRecords(record("e1", 3.0, null, "y")).addRecords(record("e2", 7.5, 2.0, "q")).build());
            PredictResponse r = PredictionServiceGrpc.newBlockingStub(t.channel()).predict(PredictRequest.newBuilder()
                    .setModelName("lin").addEntityIds("e1").addEntityIds("e2").setExplain(true).build());

            Prediction e1 = r.getPredictions(0);
            // a = 3: z = 1, bin 1 (0 <= 3 < 5); b missing: imputed with its mean, z = 0; c = y
            assertThat(e1.getContributionsMap().get("a")).isCloseTo(W[0] * 1.0 + W[2], offset(1e-6));
            assertThat(e1.getContributionsMap().get("b")).isCloseTo(0.0, offset(1e-9));
            assertThat(e1.getContributionsMap().get("c")).isCloseTo(W[6], offset(1e-6));
            Prediction e2 = r.getPredictions(1);
            // a = 7.5: z = 3.25, bin 2; b = 2: z = -2; c unknown: no column active
            assertThat(e2.getContributionsMap().get("a")).isCloseTo(W[0] * 3.25 + W[3], offset(1e-6));
            assertThat(e2.getContributionsMap().get("b")).isCloseTo(W[4] * -2.0, offset(1e-6));
            assertThat(e2.getContributionsMap().get("c")).isCloseTo(0.0, offset(1e-9));
            for (Prediction p : r.getPredictionsList()) {
                assertThat(p.getBaseValue()).isCloseTo(B, offset(1e-6));
                double sum = p.getBaseValue() + p.getContributionsMap().values().stream().mapToDouble(d -> d).sum();
                double margin = Math.log(p.getScore() / (1 - p.getScore()));
                assertThat(sum).as("contributions + base = the margin, %s", p.getEntityId())
                        .isCloseTo(margin, offset(1e-5));
                assertThat(p.getExplanation()).startsWith("linear").contains("exact");
            }
            // without explain: nothing extra
            assertThat(PredictionServiceGrpc.newBlockingStub(t.channel()).predict(PredictRequest.newBuilder()
                    .setModelName("lin").addEntityIds("e1").build()).getPredictions(0).getContributionsCount()).isZero();

            String http = t.post(t.server.httpPort(), "/v1/models/lin/predict",
                    "{\"entity_ids\": [\"e1\"], \"explain\": true}").body();
            assertThat(http).contains("\"contributions\":{").contains("\"base_value\":-0.4").contains("\"explanation\"");
            assertThat(t.post(t.server.httpPort(), "/v1/models/lin/predict",
                    "{\"entity_ids\": [\"e1\"], \"explain\": \"yes\"}").statusCode()).isEqualTo(400);

            // the global view: the last rows Predict served (e1, e2, e1, e1), explained and aggregated
            com.fasterxml.jackson.databind.JsonNode imp = new com.fasterxml.jackson.databind.ObjectMapper().readTree(
                    t.get(t.server.httpPort(), "/v1/models/lin/importance").body());
            assertThat(imp.get("rows").asInt()).isEqualTo(4);
            assertThat(imp.get("version").asText()).isEqualTo("1");
            assertThat(imp.get("method").asText()).startsWith("linear");
            com.fasterxml.jackson.databind.JsonNode top = imp.get("features").get(0);
            assertThat(top.get("name").asText()).isEqualTo("a");
            assertThat(top.get("mean_abs_contribution").asDouble())
                    .isCloseTo((3 * (W[0] + W[2]) + (W[0] * 3.25 + W[3])) / 4, offset(1e-6));
            assertThat(imp.get("features")).hasSize(3);
            assertThat(t.get(t.server.httpPort(), "/v1/models/nope/importance").statusCode()).isEqualTo(404);

            assertThatThrownBy(() -> PredictionServiceGrpc.newBlockingStub(t.channel()).predict(PredictRequest
                    .newBuilder().setModelName("mlp").addEntityIds("e1").setExplain(true).build()))
                    .isInstanceOfSatisfying(StatusRuntimeException.class, e -> {
                        assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
                        assertThat(e.getStatus().getDescription()).contains("neither a logistic regression nor a tree")
                                .contains("profile.json");
                    });
            var refused = t.get(t.server.httpPort(), "/v1/models/mlp/importance");
            assertThat(refused.statusCode()).isEqualTo(400);
            assertThat(refused.body()).contains("neither a logistic regression nor a tree");

            // any other graph with a profile: sampled Shapley values; they still add up to the log-odds exactly
            PredictResponse s = PredictionServiceGrpc.newBlockingStub(t.channel()).predict(PredictRequest.newBuilder()
                    .setModelName("mlp2").addEntityIds("e1").addEntityIds("e2").setExplain(true).build());
            for (Prediction p : s.getPredictionsList()) {
                double sum = p.getBaseValue() + p.getContributionsMap().values().stream().mapToDouble(d -> d).sum();
                assertThat(sum).as("sampled: base + contributions = log-odds, %s", p.getEntityId())
                        .isCloseTo(Math.log(p.getScore() / (1 - p.getScore())), offset(1e-4));
                assertThat(p.getExplanation()).startsWith("sampling").contains("standard error");
                assertThat(p.getContributionsMap()).containsOnlyKeys("a", "b", "c");
            }
            // the same row explained twice gives the same answer (the sample is seeded by the row)
            assertThat(PredictionServiceGrpc.newBlockingStub(t.channel()).predict(PredictRequest.newBuilder()
                    .setModelName("mlp2").addEntityIds("e1").setExplain(true).build()).getPredictions(0)
                    .getContributionsMap()).isEqualTo(s.getPredictions(0).getContributionsMap());
        }
    }

    private static float[] weights(java.util.SplittableRandom r, int n) {
        float[] w = new float[n];
        for (int i = 0; i < n; i++) {
            w[i] = (float) r.nextDouble(-1.5, 1.5);
        }
        return w;
    }

    /** A drift profile of 500 plausible rows (a, b numeric with some missing; c over x, y, z). */
    private static void profile(Path file, java.util.SplittableRandom r) throws java.io.IOException {
        int n = 500;
        float[] rows = new float[n * 3];
        for (int i = 0; i < n; i++) {
            rows[i * 3] = (float) r.nextDouble(-2, 8);
            rows[i * 3 + 1] = i % 10 == 0 ? Float.NaN : (float) r.nextDouble(0, 20);
            rows[i * 3 + 2] = r.nextInt(3);
        }
        var profile = io.mlserve.drift.ProfileBuilder.build(List.of(new io.mlserve.drift.ProfileBuilder.Column("a",
                null), new io.mlserve.drift.ProfileBuilder.Column("b", null),
                new io.mlserve.drift.ProfileBuilder.Column("c", List.of("x", "y", "z"))), rows, null, null);
        new com.fasterxml.jackson.databind.ObjectMapper().writeValue(file.toFile(), profile);
    }

    private static FeatureRecord record(String id, Double a, Double b, String c) {
        FeatureRecord.Builder r = FeatureRecord.newBuilder().setEntityId(id).setEventTimeMs(1);
        if (a != null) {
            r.putValues("a", FeatureValue.newBuilder().setNumber(a).build());
        }
        if (b != null) {
            r.putValues("b", FeatureValue.newBuilder().setNumber(b).build());
        }
        return r.putValues("c", FeatureValue.newBuilder().setCategory(c).build()).build();
    }
}
