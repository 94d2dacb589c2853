package io.mlserve.server.features;

import static org.assertj.core.api.Assertions.assertThat;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.mlserve.featurecache.FeatureSpec;
import io.mlserve.featurecache.FeatureView;
import io.mlserve.proto.v1.FeatureRecord;
import io.mlserve.proto.v1.FeatureServiceGrpc;
import io.mlserve.proto.v1.FeatureValue;
import io.mlserve.proto.v1.PredictRequest;
import io.mlserve.proto.v1.PredictResponse;
import io.mlserve.proto.v1.PredictionServiceGrpc;
import io.mlserve.proto.v1.WriteFeaturesRequest;
import io.mlserve.runtime.onnx.Exporters;
import io.mlserve.runtime.onnx.Preprocessing;
import io.mlserve.server.ServerOptions;
import io.mlserve.server.TestServer;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The training–serving skew a held-out check found, reproduced and gone: a model trained the trainer's way (a missing
 * number is NaN, imputed in the graph with the training mean) served from a view whose default is 0 scores rows with a
 * missing cell differently from the same model fed NaN. Once the version says how it encodes a missing value
 * (metadata.json inputs.missing, as the trainer writes it), the server refuses that binding; on a view that serves NaN
 * (as the churn example's now does) every served score equals the model fed NaN.
 */
class MissingValueSkewTest {
    @TempDir
    Path dir;

    private static final List<String> NAMES = List.of("tenure", "charges", "usage");
    private static final double[] MEANS = {24, 65, 12};

    private static FeatureView view(double missing) {
        List<FeatureSpec> f = new ArrayList<>();
        NAMES.forEach(n -> f.add(FeatureSpec.numeric(n, missing)));
        return new FeatureView("customer", "customer_id", FeatureView.KeyType.STRING, f, Duration.ZERO, 1000, false);
    }

    /** The trainer's shape: NaN → training mean, standardised, then a logistic regression. */
    private static void publish(Path repo, long version, boolean declaresMissing) throws Exception {
        List<Preprocessing.Column> cols = new ArrayList<>();
        for (int j = 0; j < NAMES.size(); j++) {
            cols.add(new Preprocessing.Numeric(j, MEANS[j], MEANS[j], 10));
        }
        Path v = repo.resolve("churn").resolve(Long.toString(version));
        Exporters.logisticRegression("churn", new Preprocessing(NAMES.size(), cols), new double[] {-0.8, 0.5, 0.3},
                -1.2).writeTo(v.resolve("model.onnx"));
        if (declaresMissing) {
            Files.writeString(v.resolve("metadata.json"), "{\"inputs\": {\"features\": [\"tenure\", \"charges\", "
                    + "\"usage\"], \"missing\": {\"tenure\": null, \"charges\": null, \"usage\": null}}}");
        }
        Files.writeString(repo.resolve("churn/config.json"), """
                {"max_batch_size": 64, "version_policy": {"latest": {"num_versions": 1}},
                 "features": {"view": "customer", "names": ["tenure", "charges", "usage"]}}""");
    }

    /** 30 customers, each with one of its three values missing; served scores that differ from the model fed NaN. */
    private static int differing(TestServer t, Path onnx) throws Exception {
        SplittableRandom r = new SplittableRandom(3);
        WriteFeaturesRequest.Builder w = WriteFeaturesRequest.newBuilder().setView("customer");
        float[] rows = new float[30 * 3];
        for (int i = 0; i < 30; i++) {
            FeatureRecord.Builder rec = FeatureRecord.newBuilder().setEntityId("c-" + i).setEventTimeMs(1_000 + i);
            int gone = r.nextInt(3);
            for (int j = 0; j < 3; j++) {
                double v = MEANS[j] + r.nextGaussian() * 15;
                rows[i * 3 + j] = j == gone ? Float.NaN : (float) v;
                if (j != gone) {
                    rec.putValues(NAMES.get(j), FeatureValue.newBuilder().setNumber((float) v).build());
                }
            }
            w.addRecords(rec);
        }
        FeatureServiceGrpc.newBlockingStub(t.channel()).writeFeatures(w.build());
        PredictRequest.Builder p = PredictRequest.newBuilder().setModelName("churn");
        for (int i = 0; i < 30; i++) {
            p.addEntityIds("c-" + i);
        }
        PredictResponse served = PredictionServiceGrpc.newBlockingStub(t.channel()).predict(p.build());
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        int n = 0;
        try (OrtSession.SessionOptions so = new OrtSession.SessionOptions();
             OrtSession s = env.createSession(onnx.toString(), so);
             OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(rows), new long[] {30, 3});
             OrtSession.Result out = s.run(Map.of(s.getInputNames().iterator().next(), in))) {
            FloatBuffer fed = ((OnnxTensor) out.get(0)).getFloatBuffer();
            for (int i = 0; i < 30; i++) {
                n += Math.abs(served.getPredictions(i).getScore() - fed.get(i)) > 1e-4 ? 1 : 0;
            }
        }
        return n;
    }

    @Test
    void aModelImputingMissingValuesIsNeverFedTheViewsZero() throws Exception {
        // before: nothing said how the model encodes a missing value, and the view served 0 for it
        Path before = dir.resolve("before");
        publish(before, 1, false);
        try (TestServer t = new TestServer(before).start(ServerOptions.ephemeral(before)
                .withFeatureViews(dir.resolve("data-before"), List.of(view(0))))) {
            assertThat(differing(t, before.resolve("churn/1/model.onnx"))).as("the finding, reproduced")
                    .isEqualTo(30);
        }
        // now: the version says NaN; the same view is refused — nothing is served skewed
        Path refused = dir.resolve("refused");
        publish(refused, 1, true);
        try (TestServer t = new TestServer(refused).start(ServerOptions.ephemeral(refused)
                .withFeatureViews(dir.resolve("data-refused"), List.of(view(0))))) {
            assertThat(t.server.repository().model("churn").latest()).isNull();
            assertThat(t.server.repository().model("churn").reason()).contains("encodes a missing 'tenure' as NaN");
        }
        // and with a view that serves NaN for a missing value, every served score is the model's own
        Path after = dir.resolve("after");
        publish(after, 1, true);
        try (TestServer t = new TestServer(after).start(ServerOptions.ephemeral(after)
                .withFeatureViews(dir.resolve("data-after"), List.of(view(Double.NaN))))) {
            assertThat(differing(t, after.resolve("churn/1/model.onnx"))).as("gone").isZero();
        }
    }
}
