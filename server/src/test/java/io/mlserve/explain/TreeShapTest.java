package io.mlserve.explain;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import io.mlserve.featurecache.FeatureSpec;
import io.mlserve.featurecache.FeatureView;
import io.mlserve.proto.v1.FeatureRecord;
import io.mlserve.proto.v1.FeatureServiceGrpc;
import io.mlserve.proto.v1.FeatureValue;
import io.mlserve.proto.v1.PredictRequest;
import io.mlserve.proto.v1.Prediction;
import io.mlserve.proto.v1.PredictionServiceGrpc;
import io.mlserve.proto.v1.WriteFeaturesRequest;
import io.mlserve.runtime.onnx.Exporters;
import io.mlserve.server.ServerOptions;
import io.mlserve.server.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * TreeSHAP against the definition: on random trees over four features, the polynomial algorithm gives the same
 * values as Shapley's formula evaluated over every feature subset (the cover-weighted expectation as the value of
 * a subset), and the values plus the tree's expectation add up to the prediction. Then end to end: a boosted
 * ensemble exported as the trainer exports it, served, explained over gRPC, summing to its log-odds.
 */
class TreeShapTest {
    static final int FEATURES = 4;

    @TempDir
    Path dir;

    @Test
    void equalsShapleyValuesByExhaustiveEnumeration() {
        SplittableRandom r = new SplittableRandom(11);
        for (int trial = 0; trial < 200; trial++) {
            Exporters.Tree e = randomTree(r, 1 + r.nextInt(5));
            TreeShap.Tree t = shapTree(e, 1);
            float[] x = new float[FEATURES];
            for (int f = 0; f < FEATURES; f++) {
                x[f] = (float) r.nextDouble(-3, 3);
            }
            double[] fast = new double[FEATURES];
            TreeShap.add(t, x, 0, fast);
            double[] exact = TreeShapOracle.bruteForce(t, x, FEATURES);
            double sum = t.expected();
            for (int f = 0; f < FEATURES; f++) {
                assertThat(fast[f]).as("trial %d feature %d, %s", trial, f, TreeShap.describe(t))
                        .isCloseTo(exact[f], offset(1e-9));
                sum += fast[f];
            }
            // (the leaves are floats in the graph, as in shapTree: 1e-6 covers their rounding)
            assertThat(sum).as("trial %d: φ + E[f] = f(x)", trial).isCloseTo(e.predict(x), offset(1e-6));
        }
    }

    @Test
    void servedEnsembleExplanationsSumToItsLogOdds() throws Exception {
        SplittableRandom r = new SplittableRandom(5);
        Exporters.Tree[] trees = new Exporters.Tree[6];
        double[] weights = new double[trees.length];
        for (int i = 0; i < trees.length; i++) {
            trees[i] = randomTree(r, 4);
            weights[i] = i == 0 ? 1 : 0.1;
        }
        double[] impute = {0.5, Double.NaN, -1, 2};
        List<FeatureSpec> specs = new ArrayList<>();
        for (int f = 0; f < FEATURES; f++) {
            specs.add(FeatureSpec.numeric("f" + f, Double.NaN));
        }
        FeatureView view = new FeatureView("v", "id", FeatureView.KeyType.STRING, specs, Duration.ZERO, 100, false);
        try (TestServer t = new TestServer(dir.resolve("models"))
                .model("gbt", 1, Exporters.gradientBoostedTrees("gbt", FEATURES, impute, trees, weights))
                .config("gbt", "{\"features\": {\"view\": \"v\", \"names\": [\"f0\", \"f1\", \"f2\", \"f3\"]}}")
                .start(ServerOptions.ephemeral(dir.resolve("models")).withFeatureViews(dir.resolve("t"), List.of(view)))) {
            WriteFeaturesRequest.Builder w = WriteFeaturesRequest.newBuilder().setView("v");
            PredictRequest.Builder p = PredictRequest.newBuilder().setModelName("gbt").setExplain(true);
            List<float[]> rows = new ArrayList<>();
            for (int e = 0; e < 20; e++) {
                FeatureRecord.Builder rec = FeatureRecord.newBuilder().setEntityId("e" + e).setEventTimeMs(1);
                float[] x = new float[FEATURES];
                for (int f = 0; f < FEATURES; f++) {
                    x[f] = f == e % FEATURES && e % 3 == 0 ? Float.NaN : (float) r.nextDouble(-3, 3);
                    if (!Float.isNaN(x[f])) {
                        rec.putValues("f" + f, FeatureValue.newBuilder().setNumber(x[f]).build());
                    }
                }
                rows.add(x);
                w.addRecords(rec);
                p.addEntityIds("e" + e);
            }
            FeatureServiceGrpc.newBlockingStub(t.channel()).writeFeatures(w.build());
            List<Prediction> answers = PredictionServiceGrpc.newBlockingStub(t.channel()).predict(p.build())
                    .getPredictionsList();
            for (int e = 0; e < answers.size(); e++) {
                Prediction a = answers.get(e);
                double sum = a.getBaseValue() + a.getContributionsMap().values().stream().mapToDouble(d -> d).sum();
                assertThat(sum).as("entity %d: base + contributions = log-odds", e)
                        .isCloseTo(Math.log(a.getScore() / (1 - a.getScore())), offset(1e-4));
                assertThat(a.getExplanation()).startsWith("TreeSHAP");
                // the same values from the definition, tree by tree, on the row as the graph imputes it
                float[] x = rows.get(e).clone();
                for (int f = 0; f < FEATURES; f++) {
                    if (Float.isNaN(x[f]) && !Double.isNaN(impute[f])) {
                        x[f] = (float) impute[f];
                    }
                }
                double[] exact = new double[FEATURES];
                for (int i = 0; i < trees.length; i++) {
                    double[] phi = TreeShapOracle.bruteForce(shapTree(trees[i], (float) weights[i]), x, FEATURES);
                    for (int f = 0; f < FEATURES; f++) {
                        exact[f] += 2 * phi[f];
                    }
                }
                for (int f = 0; f < FEATURES; f++) {
                    assertThat(a.getContributionsMap().get("f" + f)).isCloseTo(exact[f], offset(1e-5));
                }
            }
        }
    }

    /** The exporter's tree as TreeShap reads it back from the graph (float thresholds, weighted leaves). */
    static TreeShap.Tree shapTree(Exporters.Tree e, float weight) {
        int n = e.feature().length;
        float[] thr = new float[n];
        double[] value = new double[n];
        for (int i = 0; i < n; i++) {
            thr[i] = (float) e.threshold()[i];
            value[i] = e.leaf()[i] ? (float) (weight * e.value()[i]) : 0;
        }
        return new TreeShap.Tree(e.feature(), thr, e.left(), e.right(), e.leaf(), value, e.cover());
    }

    /** A random tree of at most {@code depth} levels, covers adding up from leaves to the root. */
    static Exporters.Tree randomTree(SplittableRandom r, int depth) {
        List<int[]> ints = new ArrayList<>();   // feature, left, right, leaf
        List<double[]> dbl = new ArrayList<>(); // threshold, value, cover
        grow(r, depth, 1000, ints, dbl);
        int n = ints.size();
        int[] feature = new int[n];
        int[] left = new int[n];
        int[] right = new int[n];
        boolean[] leaf = new boolean[n];
        double[] threshold = new double[n];
        double[] value = new double[n];
        double[] cover = new double[n];
        for (int i = 0; i < n; i++) {
            feature[i] = ints.get(i)[0];
            left[i] = ints.get(i)[1];
            right[i] = ints.get(i)[2];
            leaf[i] = ints.get(i)[3] == 1;
            threshold[i] = dbl.get(i)[0];
            value[i] = dbl.get(i)[1];
            cover[i] = dbl.get(i)[2];
        }
        return new Exporters.Tree(feature, threshold, left, right, leaf, value, cover);
    }

    private static int grow(SplittableRandom r, int depth, double cover, List<int[]> ints, List<double[]> dbl) {
        int id = ints.size();
        ints.add(new int[4]);
        dbl.add(new double[3]);
        dbl.get(id)[2] = cover;
        if (depth == 0 || cover < 4 || r.nextInt(6) == 0) {
            ints.get(id)[3] = 1;
            dbl.get(id)[1] = r.nextDouble(-1, 1);
            return id;
        }
        ints.get(id)[0] = r.nextInt(FEATURES);
        dbl.get(id)[0] = r.nextDouble(-2, 2);
        double share = Math.floor(cover * r.nextDouble(0.1, 0.9));
        ints.get(id)[1] = grow(r, depth - 1, share, ints, dbl);
        ints.get(id)[2] = grow(r, depth - 1, cover - share, ints, dbl);
        return id;
    }
}
