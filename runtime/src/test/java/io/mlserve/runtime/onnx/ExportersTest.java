package io.mlserve.runtime.onnx;

import static org.assertj.core.api.Assertions.assertThat;

import io.mlserve.runtime.ModelSession;
import io.mlserve.runtime.RunOutputs;
import io.mlserve.runtime.SessionConfig;
import io.mlserve.runtime.TensorBatch;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Exported graphs compute what the plain-Java definition of the same model computes. */
class ExportersTest {
    @TempDir
    Path dir;

    @Test
    void logisticRegressionWithImputationScalingOneHotAndBinsMatchesItsDefinition() throws Exception {
        SplittableRandom r = new SplittableRandom(17);
        int width = 12;
        List<Preprocessing.Column> cols = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            cols.add(new Preprocessing.Numeric(i, r.nextDouble() * 10, r.nextDouble() * 5, 0.5 + r.nextDouble() * 3));
        }
        cols.add(new Preprocessing.Categorical(8, 3));
        cols.add(new Preprocessing.Categorical(9, 4));
        cols.add(new Preprocessing.Numeric(11, 1, 2, 4)); // column 10 is not used by the model
        cols.add(new Preprocessing.Categorical(10, 2));
        // RFM-style segments: bins of a column also used as a number, and of another one (values on the edges too)
        double[] edges = {-1, 2, 7.5};
        cols.add(new Preprocessing.Binned(0, 3.0, edges));
        cols.add(new Preprocessing.Binned(1, -2.0, new double[] {0, 5}));
        Preprocessing pre = new Preprocessing(width, cols);
        double[] w = new double[pre.outputWidth()];
        for (int i = 0; i < w.length; i++) {
            w[i] = r.nextDouble() * 2 - 1;
        }
        double b = -0.7;
        Path file = Exporters.logisticRegression("lr", pre, w, b).writeTo(dir.resolve("lr.onnx"));
        int rows = 2000;
        float[][] x = new float[rows][width];
        for (float[] row : x) {
            for (int j = 0; j < width; j++) {
                row[j] = j >= 8 && j <= 10 ? r.nextInt(6) - 1 : (float) (r.nextDouble() * 20 - 5); // codes incl. -1, unknown
                if (j < 8 && r.nextDouble() < 0.1) {
                    row[j] = Float.NaN;
                } else if (j == 0 && r.nextDouble() < 0.2) {
                    row[j] = (float) edges[r.nextInt(edges.length)];
                }
            }
        }
        float[] p = run(file, x);
        double worst = 0;
        for (int i = 0; i < rows; i++) {
            double[] design = pre.apply(x[i]);
            double z = b;
            for (int k = 0; k < design.length; k++) {
                z += design[k] * w[k];
            }
            double expected = 1 / (1 + Math.exp(-z));
            worst = Math.max(worst, Math.abs(expected - p[i]));
        }
        assertThat(worst).isLessThan(1e-5);
        // the bins themselves: every bin of column 0 is reached, an edge value falls in the bin above it
        assertThat(pre.apply(row(width, 2f)).length).isEqualTo(pre.outputWidth());
        int first = pre.outputWidth() - 4 - 3;
        assertThat(java.util.Arrays.copyOfRange(pre.apply(row(width, -5f)), first, first + 4)).containsExactly(1, 0, 0, 0);
        assertThat(java.util.Arrays.copyOfRange(pre.apply(row(width, 2f)), first, first + 4)).containsExactly(0, 0, 1, 0);
        assertThat(java.util.Arrays.copyOfRange(pre.apply(row(width, Float.NaN)), first, first + 4))
                .as("NaN is imputed with 3.0").containsExactly(0, 0, 1, 0);
        assertThat(java.util.Arrays.copyOfRange(pre.apply(row(width, 9f)), first, first + 4)).containsExactly(0, 0, 0, 1);
    }

    private static float[] row(int width, float first) {
        float[] row = new float[width];
        row[0] = first;
        return row;
    }

    /** The first output's value for each row of {@code x}, from the model in {@code file} on ONNX Runtime. */
    private static float[] run(Path file, float[][] x) throws Exception {
        int rows = x.length;
        int width = x[0].length;
        try (ModelSession s = ModelSession.open(file.getFileName().toString(), file, SessionConfig.DEFAULT)) {
            TensorBatch batch = new TensorBatch(s.signature());
            long[] shape = batch.shape(0, 2);
            shape[0] = rows;
            shape[1] = width;
            ByteBuffer in = batch.buffer(0, rows * width * 4);
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < width; j++) {
                    in.putFloat((i * width + j) * 4, x[i][j]);
                }
            }
            try (RunOutputs out = s.run(batch, null)) {
                ByteBuffer p = out.bytes(0);
                float[] scores = new float[rows];
                for (int i = 0; i < rows; i++) {
                    scores[i] = p.getFloat(i * 4);
                }
                return scores;
            }
        }
    }

    /** A random full tree of {@code depth} over {@code width} features. */
    private static Exporters.Tree randomTree(SplittableRandom r, int depth, int width) {
        int n = (1 << (depth + 1)) - 1;
        int[] feature = new int[n];
        double[] threshold = new double[n];
        int[] left = new int[n];
        int[] right = new int[n];
        boolean[] leaf = new boolean[n];
        double[] value = new double[n];
        for (int i = 0; i < n; i++) {
            if (2 * i + 1 >= n) {
                leaf[i] = true;
                value[i] = r.nextDouble() * 2 - 1;
            } else {
                feature[i] = r.nextInt(width);
                threshold[i] = r.nextDouble() * 10 - 2;
                left[i] = 2 * i + 1;
                right[i] = 2 * i + 2;
            }
        }
        return new Exporters.Tree(feature, threshold, left, right, leaf, value);
    }

    @Test
    void gradientBoostedTreesMatchTheirDefinitionIncludingMissingValues() throws Exception {
        SplittableRandom r = new SplittableRandom(23);
        int width = 12;
        Exporters.Tree[] trees = new Exporters.Tree[60];
        double[] weights = new double[trees.length];
        for (int t = 0; t < trees.length; t++) {
            trees[t] = randomTree(r, 5, width);
            weights[t] = t == 0 ? 1 : 0.1;
        }
        double[] impute = new double[width];
        for (int i = 0; i < width; i++) {
            impute[i] = r.nextDouble() * 5;
        }
        Path file = Exporters.gradientBoostedTrees("gbt", width, impute, trees, weights).writeTo(dir.resolve("gbt.onnx"));
        int rows = 2000;
        float[][] x = new float[rows][width];
        for (float[] row : x) {
            for (int j = 0; j < width; j++) {
                row[j] = r.nextDouble() < 0.1 ? Float.NaN : (float) (r.nextDouble() * 12 - 3);
            }
        }
        float[] p = run(file, x);
        double worst = 0;
        for (int i = 0; i < rows; i++) {
            float[] filled = x[i].clone();
            for (int j = 0; j < width; j++) {
                if (Float.isNaN(filled[j])) {
                    filled[j] = (float) impute[j];
                }
            }
            double m = 0;
            for (int t = 0; t < trees.length; t++) {
                m += weights[t] * trees[t].predict(filled);
            }
            double expected = 1 / (1 + Math.exp(-2 * m));
            worst = Math.max(worst, Math.abs(expected - p[i]));
        }
        assertThat(worst).isLessThan(1e-5);
    }
}
