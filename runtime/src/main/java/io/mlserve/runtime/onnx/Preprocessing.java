package io.mlserve.runtime.onnx;

import static io.mlserve.runtime.onnx.OnnxModelBuilder.attr;
import static io.mlserve.runtime.onnx.OnnxModelBuilder.names;

import io.mlserve.runtime.DataType;
import java.util.ArrayList;
import java.util.List;

/**
 * The preprocessing a trained model expects, written into its ONNX graph so the server can feed raw feature
 * rows (the feature view's order: numbers, and categories as their vocabulary codes with -1 for unknown):
 * numeric columns are imputed (NaN → the training mean) and standardised; categorical columns are one-hot
 * encoded over their codes (an unknown code is all zeros); binned columns (RFM-style segments) are imputed, placed
 * in the bin their value falls in between fixed edges, and one-hot encoded over the bins. The output is the
 * model's design matrix.
 */
public final class Preprocessing {
    /** One raw input column. */
    public sealed interface Column permits Numeric, Categorical, Binned {
        int index();
    }

    /** A number: NaN → {@code imputeWith}, then (x - mean) / std. */
    public record Numeric(int index, double imputeWith, double mean, double std) implements Column {
        public Numeric {
            if (!(std > 0)) {
                throw new IllegalArgumentException("column " + index + ": std must be > 0, got " + std);
            }
        }
    }

    /** A category code in [0, categories): one-hot over the codes. */
    public record Categorical(int index, int categories) implements Column {
        public Categorical {
            if (categories < 1) {
                throw new IllegalArgumentException("column " + index + ": needs at least one category");
            }
        }
    }

    /**
     * A number: NaN → {@code imputeWith}, then its bin b = the count of edges ≤ x (0 … edges.length), one-hot
     * over the edges.length + 1 bins. The same bins as Spark's Bucketizer with splits (-∞, edges…, +∞).
     */
    public record Binned(int index, double imputeWith, double[] edges) implements Column {
        public Binned {
            edges = edges.clone();
            for (int i = 0; i < edges.length; i++) {
                if (!Double.isFinite(edges[i]) || (i > 0 && !(edges[i] > edges[i - 1]))) {
                    throw new IllegalArgumentException("column " + index + ": edges must be finite and increasing");
                }
            }
        }

        public int bins() {
            return edges.length + 1;
        }
    }

    private final int inputWidth;
    private final List<Column> columns;

    /**
     * @param inputWidth columns of the raw input row
     * @param columns    the columns the model uses, in the order of its design matrix
     */
    public Preprocessing(int inputWidth, List<Column> columns) {
        this.inputWidth = inputWidth;
        this.columns = List.copyOf(columns);
        for (Column c : columns) {
            if (c.index() < 0 || c.index() >= inputWidth) {
                throw new IllegalArgumentException("column index " + c.index() + " outside the input of " + inputWidth);
            }
        }
    }

    public int inputWidth() {
        return inputWidth;
    }

    public List<Column> columns() {
        return columns;
    }

    /** Width of the design matrix: one per numeric column, one per category of each categorical column. */
    public int outputWidth() {
        int w = 0;
        for (Column c : columns) {
            w += c instanceof Categorical cat ? cat.categories() : c instanceof Binned bin ? bin.bins() : 1;
        }
        return w;
    }

    /** The same transformation in plain Java, for checking the graph and for tests. */
    public double[] apply(float[] row) {
        double[] out = new double[outputWidth()];
        int k = 0;
        for (Column c : columns) {
            double x = row[c.index()];
            if (c instanceof Numeric n) {
                double v = Double.isNaN(x) ? n.imputeWith() : x;
                out[k++] = (float) ((float) ((float) v - (float) n.mean()) / (float) n.std());
            } else if (c instanceof Binned bin) {
                float v = Double.isNaN(x) ? (float) bin.imputeWith() : (float) x;
                int b = 0;
                for (double e : bin.edges()) {
                    b += v >= (float) e ? 1 : 0;
                }
                for (int i = 0; i < bin.bins(); i++) {
                    out[k++] = i == b ? 1 : 0;
                }
            } else {
                Categorical cat = (Categorical) c;
                for (int code = 0; code < cat.categories(); code++) {
                    out[k++] = x == code ? 1 : 0;
                }
            }
        }
        return out;
    }

    /**
     * Adds the preprocessing to {@code b}, reading FP32 input {@code input} [-1, inputWidth] and producing
     * {@code output} [-1, outputWidth].
     */
    public void addTo(OnnxModelBuilder b, String input, String output) {
        List<String> parts = new ArrayList<>();
        // one small block per column keeps the design matrix in exactly the caller's column order
        int part = 0;
        for (Column c : columns) {
            String col = "pp_col" + part;
            b.initializer(col + "_idx", new long[] {c.index()}, 1);
            b.node("Gather", names(input, col + "_idx"), names(col + "_raw"), attr("axis", 1L));
            if (c instanceof Numeric n) {
                impute(b, col, n.imputeWith());
                b.initializer(col + "_mean", new float[] {(float) n.mean()}, 1);
                b.initializer(col + "_std", new float[] {(float) n.std()}, 1);
                b.node("Sub", names(col + "_filled", col + "_mean"), names(col + "_centered"));
                b.node("Div", names(col + "_centered", col + "_std"), names(col + "_out"));
            } else if (c instanceof Binned bin) {
                float[] edges = new float[bin.edges().length];
                float[] ones = new float[edges.length];
                for (int i = 0; i < edges.length; i++) {
                    edges[i] = (float) bin.edges()[i];
                    ones[i] = 1;
                }
                impute(b, col, bin.imputeWith());
                b.initializer(col + "_edges", edges, 1, edges.length);
                b.initializer(col + "_ones", ones, edges.length, 1);
                // bin = how many edges are <= x: compare with every edge, then add the hits up with a MatMul
                b.node("GreaterOrEqual", names(col + "_filled", col + "_edges"), names(col + "_ge"));
                b.node("Cast", names(col + "_ge"), names(col + "_gef"), attr("to", (long) DataType.FP32.onnxElementType()));
                b.node("MatMul", names(col + "_gef", col + "_ones"), names(col + "_bin"));
                oneHot(b, col, col + "_bin", bin.bins());
            } else {
                oneHot(b, col, col + "_raw", ((Categorical) c).categories());
            }
            parts.add(col + "_out");
            part++;
        }
        b.node("Concat", parts.toArray(new String[0]), names(output), attr("axis", 1L));
    }

    /** {col}_filled = the column with NaN replaced by {@code value}. */
    private static void impute(OnnxModelBuilder b, String col, double value) {
        b.initializer(col + "_impute", new float[] {(float) value}, 1);
        b.node("IsNaN", names(col + "_raw"), names(col + "_nan"));
        b.node("Where", names(col + "_nan", col + "_impute", col + "_raw"), names(col + "_filled"));
    }

    /** {col}_out = one-hot of {@code codeTensor} over codes 0 … n − 1 (any other value: all zeros). */
    private static void oneHot(OnnxModelBuilder b, String col, String codeTensor, int n) {
        float[] codes = new float[n];
        for (int i = 0; i < n; i++) {
            codes[i] = i;
        }
        b.initializer(col + "_codes", codes, 1, n);
        b.node("Equal", names(codeTensor, col + "_codes"), names(col + "_hit"));
        b.node("Cast", names(col + "_hit"), names(col + "_out"), attr("to", (long) DataType.FP32.onnxElementType()));
    }
}
