package io.mlserve.runtime.onnx;

import static io.mlserve.runtime.onnx.OnnxModelBuilder.attr;
import static io.mlserve.runtime.onnx.OnnxModelBuilder.names;

import io.mlserve.runtime.DataType;

/**
 * ONNX graphs for trained models, preprocessing included, so the server feeds raw feature rows: input
 * {@code features} FP32 [-1, inputWidth], output {@code probability} FP32 [-1, 1] (P(class 1)).
 */
public final class Exporters {
    private Exporters() {
    }

    /**
     * One regression tree of a boosted ensemble, as flat arrays indexed by node id (root = 0): an internal node
     * sends x[feature] ≤ threshold to {@code left}, else to {@code right} (Spark's rule); a leaf holds a value.
     * {@code cover}: the training rows that reached each node (exported as {@code nodes_hitrates}, what TreeSHAP
     * needs to explain the model), or null when unknown.
     */
    public record Tree(int[] feature, double[] threshold, int[] left, int[] right, boolean[] leaf, double[] value,
                       double[] cover) {
        public Tree {
            int n = feature.length;
            if (threshold.length != n || left.length != n || right.length != n || leaf.length != n || value.length != n
                    || (cover != null && cover.length != n)) {
                throw new IllegalArgumentException("tree arrays must all have one entry per node");
            }
        }

        /** A tree without covers. */
        public Tree(int[] feature, double[] threshold, int[] left, int[] right, boolean[] leaf, double[] value) {
            this(feature, threshold, left, right, leaf, value, null);
        }

        /** The leaf value for {@code x}, with ONNX Runtime's float comparisons. */
        public double predict(float[] x) {
            int node = 0;
            while (!leaf[node]) {
                node = x[feature[node]] <= (float) threshold[node] ? left[node] : right[node];
            }
            return value[node];
        }
    }

    /**
     * Gradient-boosted trees for binary classification (Spark's GBTClassifier): missing numbers are imputed
     * ({@code impute[i]} for column i; NaN = leave as is), the margin m = Σ weight_t · leaf_t(x) comes from an
     * ai.onnx.ml TreeEnsembleRegressor, and P(1) = 1 / (1 + exp(-2m)).
     */
    public static OnnxModelBuilder gradientBoostedTrees(String name, int inputWidth, double[] impute, Tree[] trees,
                                                        double[] weights) {
        if (impute.length != inputWidth || weights.length != trees.length) {
            throw new IllegalArgumentException("one impute value per input column and one weight per tree");
        }
        OnnxModelBuilder b = new OnnxModelBuilder(name).mlOpset(3)
                .input("features", DataType.FP32, -1, inputWidth);
        float[] fill = new float[inputWidth];
        for (int i = 0; i < inputWidth; i++) {
            fill[i] = (float) impute[i];
        }
        b.initializer("gbt_impute", fill, 1, inputWidth);
        b.node("IsNaN", names("features"), names("gbt_nan"));
        b.node("Where", names("gbt_nan", "gbt_impute", "features"), names("gbt_x"));
        java.util.List<Long> treeIds = new java.util.ArrayList<>();
        java.util.List<Long> nodeIds = new java.util.ArrayList<>();
        java.util.List<Long> featureIds = new java.util.ArrayList<>();
        java.util.List<String> modes = new java.util.ArrayList<>();
        java.util.List<Float> values = new java.util.ArrayList<>();
        java.util.List<Long> trueIds = new java.util.ArrayList<>();
        java.util.List<Long> falseIds = new java.util.ArrayList<>();
        java.util.List<Long> targetTree = new java.util.ArrayList<>();
        java.util.List<Long> targetNode = new java.util.ArrayList<>();
        java.util.List<Float> targetWeight = new java.util.ArrayList<>();
        java.util.List<Float> covers = new java.util.ArrayList<>();
        boolean covered = java.util.Arrays.stream(trees).allMatch(t -> t.cover() != null);
        for (int t = 0; t < trees.length; t++) {
            Tree tree = trees[t];
            for (int n = 0; n < tree.feature().length; n++) {
                treeIds.add((long) t);
                nodeIds.add((long) n);
                boolean leaf = tree.leaf()[n];
                featureIds.add(leaf ? 0L : tree.feature()[n]);
                modes.add(leaf ? "LEAF" : "BRANCH_LEQ");
                values.add(leaf ? 0f : (float) tree.threshold()[n]);
                trueIds.add(leaf ? 0L : tree.left()[n]);
                falseIds.add(leaf ? 0L : tree.right()[n]);
                if (covered) {
                    covers.add((float) tree.cover()[n]);
                }
                if (leaf) {
                    targetTree.add((long) t);
                    targetNode.add((long) n);
                    targetWeight.add((float) (weights[t] * tree.value()[n]));
                }
            }
        }
        java.util.List<io.mlserve.proto.onnx.AttributeProto> attributes = new java.util.ArrayList<>(java.util.List.of(
                OnnxModelBuilder.ints("nodes_treeids", longs(treeIds)),
                OnnxModelBuilder.ints("nodes_nodeids", longs(nodeIds)),
                OnnxModelBuilder.ints("nodes_featureids", longs(featureIds)),
                OnnxModelBuilder.strings("nodes_modes", modes.toArray(new String[0])),
                OnnxModelBuilder.floats("nodes_values", floats(values)),
                OnnxModelBuilder.ints("nodes_truenodeids", longs(trueIds)),
                OnnxModelBuilder.ints("nodes_falsenodeids", longs(falseIds)),
                OnnxModelBuilder.ints("target_treeids", longs(targetTree)),
                OnnxModelBuilder.ints("target_nodeids", longs(targetNode)),
                OnnxModelBuilder.ints("target_ids", new long[targetTree.size()]),
                OnnxModelBuilder.floats("target_weights", floats(targetWeight)),
                attr("n_targets", 1L),
                attr("aggregate_function", "SUM"),
                attr("post_transform", "NONE")));
        if (covered) {
            // optional in the operator ("popularity of each node"); ONNX Runtime ignores it, explanations read it
            attributes.add(OnnxModelBuilder.floats("nodes_hitrates", floats(covers)));
        }
        b.node(OnnxModelBuilder.ML_DOMAIN, "TreeEnsembleRegressor", names("gbt_x"), names("margin"),
                attributes.toArray(new io.mlserve.proto.onnx.AttributeProto[0]));
        b.initializer("gbt_two", new float[] {2f}, 1);
        b.node("Mul", names("margin", "gbt_two"), names("margin2"));
        b.node("Sigmoid", names("margin2"), names("probability"));
        return b.output("probability", DataType.FP32, -1, 1);
    }

    private static long[] longs(java.util.List<Long> l) {
        return l.stream().mapToLong(Long::longValue).toArray();
    }

    private static float[] floats(java.util.List<Float> l) {
        float[] f = new float[l.size()];
        for (int i = 0; i < f.length; i++) {
            f[i] = l.get(i);
        }
        return f;
    }

    /** Logistic regression over the preprocessed design matrix: sigmoid(x·w + b). */
    public static OnnxModelBuilder logisticRegression(String name, Preprocessing pre, double[] coefficients,
                                                      double intercept) {
        if (coefficients.length != pre.outputWidth()) {
            throw new IllegalArgumentException(coefficients.length + " coefficients for a design matrix of "
                    + pre.outputWidth() + " columns");
        }
        OnnxModelBuilder b = new OnnxModelBuilder(name).input("features", DataType.FP32, -1, pre.inputWidth());
        pre.addTo(b, "features", "design");
        float[] w = new float[coefficients.length];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) coefficients[i];
        }
        b.initializer("lr_w", w, w.length, 1);
        b.initializer("lr_b", new float[] {(float) intercept}, 1);
        b.node("Gemm", names("design", "lr_w", "lr_b"), names("margin"));
        b.node("Sigmoid", names("margin"), names("probability"));
        return b.output("probability", DataType.FP32, -1, 1);
    }

    /**
     * A multilayer perceptron over the preprocessed design matrix: per layer Gemm (weights [out × in], as
     * PyTorch and DJL store them, so transB = 1), ReLU between layers, sigmoid of the single last output.
     *
     * @param weights per layer, row-major [out × in]
     * @param biases  per layer, [out]
     */
    public static OnnxModelBuilder mlp(String name, Preprocessing pre, java.util.List<float[]> weights,
                                       java.util.List<float[]> biases) {
        if (weights.size() != biases.size() || weights.isEmpty()) {
            throw new IllegalArgumentException("need one weight matrix and one bias vector per layer");
        }
        OnnxModelBuilder b = new OnnxModelBuilder(name).input("features", DataType.FP32, -1, pre.inputWidth());
        pre.addTo(b, "features", "design");
        String x = "design";
        int in = pre.outputWidth();
        for (int l = 0; l < weights.size(); l++) {
            int out = biases.get(l).length;
            if (weights.get(l).length != out * in) {
                throw new IllegalArgumentException("layer " + l + ": " + weights.get(l).length + " weights for "
                        + out + " × " + in);
            }
            b.initializer("mlp_w" + l, weights.get(l), out, in);
            b.initializer("mlp_b" + l, biases.get(l), out);
            String y = l == weights.size() - 1 ? "margin" : "mlp_h" + l;
            b.node("Gemm", names(x, "mlp_w" + l, "mlp_b" + l), names(y + (l == weights.size() - 1 ? "" : "_lin")),
                    attr("transB", 1L));
            if (l < weights.size() - 1) {
                b.node("Relu", names(y + "_lin"), names(y));
            }
            x = y;
            in = out;
        }
        if (in != 1) {
            throw new IllegalArgumentException("the last layer must have one output (the logit), has " + in);
        }
        b.node("Sigmoid", names("margin"), names("probability"));
        return b.output("probability", DataType.FP32, -1, 1);
    }
}
