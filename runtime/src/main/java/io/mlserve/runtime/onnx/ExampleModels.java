package io.mlserve.runtime.onnx;

import static io.mlserve.runtime.onnx.OnnxModelBuilder.attr;
import static io.mlserve.runtime.onnx.OnnxModelBuilder.names;

import io.mlserve.runtime.DataType;
import java.util.SplittableRandom;

/**
 * Small ONNX models built with {@link OnnxModelBuilder}: the demo's churn-shaped MLP and the fixtures the
 * tests serve (several inputs and outputs, INT64, string, bool, one identity model per datatype).
 * Weights are drawn from a seeded generator, so the same call always writes the same bytes.
 */
public final class ExampleModels {
    /** Feature count of the churn-shaped models (the paper's 47 features). */
    public static final int CHURN_FEATURES = 47;

    private ExampleModels() {
    }

    /**
     * A multi-layer perceptron: input {@code features} FP32 [-1, inputs] → Gemm/Relu per hidden layer →
     * Gemm → Sigmoid → output {@code probability} FP32 [-1, 1].
     */
    public static OnnxModelBuilder mlp(String name, int inputs, int[] hidden, long seed) {
        return mlp(name, inputs, hidden, seed, null);
    }

    /**
     * As {@link #mlp(String, int, int[], long)}, with a missing input (NaN) replaced by {@code missing[j]} first
     * (IsNaN → Where): how the model reads a feature the store has no value for.
     */
    public static OnnxModelBuilder mlp(String name, int inputs, int[] hidden, long seed, float[] missing) {
        SplittableRandom random = new SplittableRandom(seed);
        OnnxModelBuilder b = new OnnxModelBuilder(name).input("features", DataType.FP32, -1, inputs);
        String previous = "features";
        if (missing != null) {
            if (missing.length != inputs) {
                throw new IllegalArgumentException("one fill value per input: " + missing.length + " for " + inputs);
            }
            b.initializer("missing_fill", missing, 1, inputs);
            b.node("IsNaN", names("features"), names("missing_mask"));
            b.node("Where", names("missing_mask", "missing_fill", "features"), names("features_filled"));
            previous = "features_filled";
        }
        int width = inputs;
        for (int layer = 0; layer <= hidden.length; layer++) {
            boolean last = layer == hidden.length;
            int next = last ? 1 : hidden[layer];
            String w = "W" + layer;
            String bias = "B" + layer;
            b.initializer(w, heInit(random, width, next), width, next);
            b.initializer(bias, uniform(random, next, 0.05f), next);
            String z = last ? "logit" : "z" + layer;
            b.node("Gemm", names(previous, w, bias), names(z));
            if (!last) {
                String h = "h" + layer;
                b.node("Relu", names(z), names(h));
                previous = h;
            }
            width = next;
        }
        b.node("Sigmoid", names("logit"), names("probability"));
        return b.output("probability", DataType.FP32, -1, 1);
    }

    /**
     * The example's model: 47 FP32 churn features → churn probability, one hidden layer of 32; a missing value (NaN:
     * the example view's default for numbers) reads as 0, a missing category as -1 ({@link #CHURN_MISSING}).
     */
    public static OnnxModelBuilder churnMlp() {
        return mlp("churn_mlp", CHURN_FEATURES, new int[] {32}, 47L, CHURN_MISSING);
    }

    /** How {@link #churnMlp()} reads a missing input: 0 for its 41 numbers, -1 for its 6 categories. */
    public static final float[] CHURN_MISSING = churnMissing();

    private static float[] churnMissing() {
        float[] m = new float[CHURN_FEATURES];
        for (int j = CHURN_FEATURES - 6; j < CHURN_FEATURES; j++) {
            m[j] = -1;
        }
        return m;
    }

    /** Two FP32 inputs {@code a}, {@code b} [-1, 4] → outputs {@code sum} (a+b) and {@code product} (a*b). */
    public static OnnxModelBuilder addMul() {
        return new OnnxModelBuilder("add_mul")
                .input("a", DataType.FP32, -1, 4)
                .input("b", DataType.FP32, -1, 4)
                .node("Add", names("a", "b"), names("sum"))
                .node("Mul", names("a", "b"), names("product"))
                .output("sum", DataType.FP32, -1, 4)
                .output("product", DataType.FP32, -1, 4);
    }

    /** INT64 {@code x} [-1, 3] → {@code y} = 2x + 1 (INT64). */
    public static OnnxModelBuilder int64Affine() {
        return new OnnxModelBuilder("int64_affine")
                .input("x", DataType.INT64, -1, 3)
                .initializer("two", new long[] {2}, 1)
                .initializer("one", new long[] {1}, 1)
                .node("Mul", names("x", "two"), names("x2"))
                .node("Add", names("x2", "one"), names("y"))
                .output("y", DataType.INT64, -1, 3);
    }

    /**
     * BYTES {@code text} [-1] → {@code echo} (the same strings) and {@code label} INT64: the index of the
     * string in {@code vocabulary}, -1 when absent (ai.onnx.ml LabelEncoder).
     */
    public static OnnxModelBuilder stringLabels(String... vocabulary) {
        long[] ids = new long[vocabulary.length];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = i;
        }
        return new OnnxModelBuilder("string_labels").mlOpset(2)
                .input("text", DataType.BYTES, -1)
                .node("Identity", names("text"), names("echo"))
                .node(OnnxModelBuilder.ML_DOMAIN, "LabelEncoder", names("text"), names("label"),
                        OnnxModelBuilder.strings("keys_strings", vocabulary),
                        OnnxModelBuilder.ints("values_int64s", ids),
                        attr("default_int64", -1L))
                .output("echo", DataType.BYTES, -1)
                .output("label", DataType.INT64, -1);
    }

    /** BOOL {@code a}, {@code b} [-1, 4] → {@code and} (a AND b) and {@code not_a} (NOT a). */
    public static OnnxModelBuilder boolLogic() {
        return new OnnxModelBuilder("bool_logic")
                .input("a", DataType.BOOL, -1, 4)
                .input("b", DataType.BOOL, -1, 4)
                .node("And", names("a", "b"), names("and"))
                .node("Not", names("a"), names("not_a"))
                .output("and", DataType.BOOL, -1, 4)
                .output("not_a", DataType.BOOL, -1, 4);
    }

    /** {@code x} of {@code type} [-1, -1] → {@code y}, the same tensor: exercises each datatype's wire path. */
    public static OnnxModelBuilder identity(DataType type) {
        return new OnnxModelBuilder("identity_" + type.oipName().toLowerCase(java.util.Locale.ROOT))
                .input("x", type, -1, -1)
                .node("Identity", names("x"), names("y"))
                .output("y", type, -1, -1);
    }

    /**
     * FP32 {@code x} [-1, width] through {@code layers} dense layers of width × width with Tanh: compute
     * that scales with the row count, for throughput benchmarks and tests that need calls to take time.
     */
    public static OnnxModelBuilder dense(String name, int width, int layers, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        OnnxModelBuilder b = new OnnxModelBuilder(name).input("x", DataType.FP32, -1, width);
        String previous = "x";
        for (int i = 0; i < layers; i++) {
            b.initializer("W" + i, heInit(random, width, width), width, width);
            b.node("MatMul", names(previous, "W" + i), names("m" + i));
            b.node("Tanh", names("m" + i), names("t" + i));
            previous = "t" + i;
        }
        b.node("Identity", names(previous), names("y"));
        return b.output("y", DataType.FP32, -1, width);
    }

    /**
     * FP32 {@code x} [-1, width] multiplied {@code layers} times by one shared width × width matrix (with
     * Tanh between), summed per row into {@code y} [-1, 1]: much compute, a small file and a small answer,
     * for tests that need calls to take a while.
     */
    public static OnnxModelBuilder slow(int width, int layers) {
        SplittableRandom random = new SplittableRandom(width);
        OnnxModelBuilder b = new OnnxModelBuilder("slow").input("x", DataType.FP32, -1, width)
                .initializer("W", heInit(random, width, width), width, width);
        String previous = "x";
        for (int i = 0; i < layers; i++) {
            b.node("MatMul", names(previous, "W"), names("m" + i));
            b.node("Tanh", names("m" + i), names("t" + i));
            previous = "t" + i;
        }
        b.initializer("axis1", new long[] {1}, 1);
        b.node("ReduceSum", names(previous, "axis1"), names("y"));
        return b.output("y", DataType.FP32, -1, 1);
    }

    private static float[] heInit(SplittableRandom random, int fanIn, int fanOut) {
        float[] w = new float[fanIn * fanOut];
        double scale = Math.sqrt(2.0 / fanIn);
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (gaussian(random) * scale);
        }
        return w;
    }

    private static float[] uniform(SplittableRandom random, int n, float bound) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) ((random.nextDouble() * 2 - 1) * bound);
        }
        return v;
    }

    private static double gaussian(SplittableRandom random) {
        // Box-Muller: SplittableRandom has no nextGaussian on Java 17
        double u = 1.0 - random.nextDouble();
        double v = random.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }
}
