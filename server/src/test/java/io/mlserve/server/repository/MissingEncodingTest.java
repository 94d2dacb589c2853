package io.mlserve.server.repository;

import static org.assertj.core.api.Assertions.assertThat;

import io.mlserve.featurecache.FeatureSpec;
import io.mlserve.featurecache.FeatureType;
import io.mlserve.featurecache.FeatureView;
import io.mlserve.proto.v1.PredictRequest;
import io.mlserve.proto.v1.PredictionServiceGrpc;
import io.mlserve.runtime.onnx.Exporters;
import io.mlserve.runtime.onnx.Preprocessing;
import io.mlserve.server.ServerOptions;
import io.mlserve.server.TestServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A version whose metadata.json says how it encodes a missing input is refused when the bound view serves another
 * default for it (the previous version keeps serving); a matching one, or one that says nothing, serves.
 */
class MissingEncodingTest {
    private static final FeatureView VIEW = new FeatureView("acct", "account_id", FeatureView.KeyType.STRING, List.of(
            FeatureSpec.numeric("balance", 0), new FeatureSpec("visits", FeatureType.INT64, List.of(), 0, Double.NaN)),
            Duration.ZERO, 1000, false);

    @TempDir
    Path dir;

    private static void version(Path repo, long v, String metadata) throws IOException {
        Path versionDir = repo.resolve("risk").resolve(Long.toString(v));
        Exporters.logisticRegression("risk", new Preprocessing(2, List.of(new Preprocessing.Numeric(0, 0, 0, 1),
                new Preprocessing.Numeric(1, 0, 0, 1))), new double[] {0.2, -0.1}, 0.3)
                .writeTo(versionDir.resolve("model.onnx"));
        if (metadata != null) {
            Files.writeString(versionDir.resolve("metadata.json"), metadata);
        }
    }

    @Test
    void aVersionEncodingMissingValuesUnlikeItsViewIsRefused() throws Exception {
        Path repo = dir.resolve("models");
        version(repo, 1, null);
        Files.writeString(repo.resolve("risk/config.json"), """
                {"max_batch_size": 8, "version_policy": {"latest": {"num_versions": 1}},
                 "features": {"view": "acct", "names": ["balance", "visits"]}}""");
        try (TestServer t = new TestServer(repo).start(ServerOptions.ephemeral(repo)
                .withFeatureViews(dir.resolve("data"), List.of(VIEW)))) {
            ModelRepository models = t.server.repository();
            assertThat(models.model("risk").latest().version()).as("no metadata: not checked").isEqualTo(1);

            // the model imputes a missing balance itself (NaN), but the view serves 0 for it
            version(repo, 2, "{\"inputs\": {\"features\": [\"balance\", \"visits\"], \"missing\": "
                    + "{\"balance\": null, \"visits\": null}}}");
            ModelEntry refused = models.load("risk");
            String reason = "model 'risk' version 2 encodes a missing 'balance' as NaN (imputed by the model), but view "
                    + "'acct' serves 0.0 for it when absent; give the feature default: nan in the view, or retrain the "
                    + "model on this view";
            assertThat(refused.failures()).extracting(ModelEntry.VersionFailure::reason).containsExactly(reason);
            assertThat(refused.latest().version()).as("the previous version keeps serving").isEqualTo(1);
            assertThat(PredictionServiceGrpc.newBlockingStub(t.channel()).predict(PredictRequest.newBuilder()
                    .setModelName("risk").addEntityIds("a").build()).getModelVersion()).isEqualTo("1");
            assertThat(Files.readString(dir.resolve("data/audit.log"))).contains("\"reject\"")
                    .contains("encodes a missing 'balance'");

            // 0 for a missing balance and NaN for missing visits: what the view serves
            version(repo, 3, "{\"inputs\": {\"features\": [\"balance\", \"visits\"], \"missing\": "
                    + "{\"balance\": 0, \"visits\": null}}}");
            assertThat(models.load("risk").latest().version()).isEqualTo(3);

            version(repo, 4, "{\"inputs\": {\"missing\": {\"visits\": 0}}}");
            assertThat(models.load("risk").failures()).extracting(ModelEntry.VersionFailure::reason).containsExactly(
                    "model 'risk' version 4 encodes a missing 'visits' as 0.0, but view 'acct' serves NaN for it when "
                            + "absent; give the feature default: 0.0 in the view, or retrain the model on this view");
            version(repo, 5, "{\"inputs\": {\"missing\": {\"visits\": \"none\"}}}");
            assertThat(models.load("risk").failures()).extracting(ModelEntry.VersionFailure::reason)
                    .anySatisfy(r -> assertThat(r).endsWith("metadata.json: inputs.missing.visits: expected null (NaN) "
                            + "or a number, got \"none\""));
            assertThat(models.model("risk").latest().version()).isEqualTo(3);
        }
    }
}
