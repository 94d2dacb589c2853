package io.mlserve.explain;

import com.google.protobuf.ByteString;
import io.mlserve.proto.onnx.ModelProto;
import io.mlserve.proto.onnx.TensorProto;
import io.mlserve.runtime.onnx.Preprocessing;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Exact per-feature contributions of a logistic regression as the trainer exports it (preprocessing in the graph,
 * then Gemm and Sigmoid): the margin (log-odds) is intercept + Σ w·z over the design matrix, so each raw input's
 * contribution is the sum of w·z over the design columns it produces — coefficient × standardised value for a
 * number (0 at the training mean, and for a missing value, which is imputed with the mean), the coefficient of the
 * active category or bin for the one-hot columns. Contributions plus the base value (the intercept) equal the margin;
 * only float rounding separates them.
 *
 * <p>The graph is read back from the exporter's own layout (the {@code pp_col*} and {@code lr_*} initializers of
 * {@link io.mlserve.runtime.onnx.Exporters#logisticRegression}); any other graph is not linear as far as this class
 * can prove, and {@link ExactExplainers#read} says so.
 */
public final class LinearExplainer implements Explainer {
    public static final String METHOD = "linear: coefficient × standardised value (one-hot: the active column's "
            + "coefficient), in log-odds; exact";

    private final Preprocessing preprocessing;
    private final double[] weights;
    private final double intercept;

    private LinearExplainer(Preprocessing preprocessing, double[] weights, double intercept) {
        this.preprocessing = preprocessing;
        this.weights = weights;
        this.intercept = intercept;
    }

    static boolean applies(ModelProto model) {
        return model.getGraph().getInitializerList().stream().anyMatch(t -> t.getName().equals("lr_w"))
                && model.getGraph().getNodeList().stream().anyMatch(n -> n.getOpType().equals("Gemm"));
    }

    static LinearExplainer of(ModelProto model, int width) {
        Map<String, TensorProto> init = new HashMap<>();
        for (TensorProto t : model.getGraph().getInitializerList()) {
            init.put(t.getName(), t);
        }
        List<Preprocessing.Column> columns = new ArrayList<>();
        for (int c = 0; init.containsKey("pp_col" + c + "_idx"); c++) {
            String p = "pp_col" + c;
            int index = (int) longs(init.get(p + "_idx"))[0];
            if (init.containsKey(p + "_mean")) {
                columns.add(new Preprocessing.Numeric(index, floats(init.get(p + "_impute"))[0],
                        floats(init.get(p + "_mean"))[0], floats(init.get(p + "_std"))[0]));
            } else if (init.containsKey(p + "_edges")) {
                float[] e = floats(init.get(p + "_edges"));
                double[] edges = new double[e.length];
                for (int i = 0; i < e.length; i++) {
                    edges[i] = e[i];
                }
                columns.add(new Preprocessing.Binned(index, floats(init.get(p + "_impute"))[0], edges));
            } else if (init.containsKey(p + "_codes")) {
                columns.add(new Preprocessing.Categorical(index, floats(init.get(p + "_codes")).length));
            } else {
                throw new IllegalArgumentException("preprocessing column " + c + " of an unknown kind");
            }
        }
        Preprocessing pre = new Preprocessing(width, columns);
        float[] w = floats(init.get("lr_w"));
        if (w.length != pre.outputWidth()) {
            throw new IllegalArgumentException(w.length + " coefficients for a design matrix of " + pre.outputWidth()
                    + " columns");
        }
        double[] weights = new double[w.length];
        for (int i = 0; i < w.length; i++) {
            weights[i] = w[i];
        }
        return new LinearExplainer(pre, weights, floats(init.get("lr_b"))[0]);
    }

    /** The base value: the margin at the training mean with no category or bin active (the intercept). */
    @Override
    public double base() {
        return intercept;
    }

    @Override
    public String method() {
        return METHOD;
    }

    /** Each raw input's contribution to the margin for {@code row} (the model's input row). */
    @Override
    public double[] contributions(float[] row, int offset) {
        float[] x = new float[preprocessing.inputWidth()];
        System.arraycopy(row, offset, x, 0, x.length);
        double[] design = preprocessing.apply(x);
        double[] out = new double[x.length];
        int k = 0;
        for (Preprocessing.Column c : preprocessing.columns()) {
            int span = c instanceof Preprocessing.Categorical cat ? cat.categories()
                    : c instanceof Preprocessing.Binned bin ? bin.bins() : 1;
            for (int s = 0; s < span; s++, k++) {
                out[c.index()] += weights[k] * design[k];
            }
        }
        return out;
    }

    static float[] floats(TensorProto t) {
        if (t.getFloatDataCount() > 0) {
            float[] f = new float[t.getFloatDataCount()];
            for (int i = 0; i < f.length; i++) {
                f[i] = t.getFloatData(i);
            }
            return f;
        }
        ByteBuffer b = raw(t.getRawData());
        float[] f = new float[b.remaining() / 4];
        b.asFloatBuffer().get(f);
        return f;
    }

    private static long[] longs(TensorProto t) {
        if (t.getInt64DataCount() > 0) {
            return t.getInt64DataList().stream().mapToLong(Long::longValue).toArray();
        }
        ByteBuffer b = raw(t.getRawData());
        long[] l = new long[b.remaining() / 8];
        b.asLongBuffer().get(l);
        return l;
    }

    private static ByteBuffer raw(ByteString s) {
        return s.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }
}
