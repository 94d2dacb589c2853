package io.mlserve.explain;

import io.mlserve.proto.onnx.AttributeProto;
import io.mlserve.proto.onnx.ModelProto;
import io.mlserve.proto.onnx.NodeProto;
import io.mlserve.proto.onnx.TensorProto;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * TreeSHAP for the trainer's gradient-boosted trees: the ai.onnx.ml TreeEnsembleRegressor's attributes read back
 * (splits, leaves with their weights, and the node covers the exporter stores as {@code nodes_hitrates}), the rows
 * imputed as the graph imputes them, and {@link TreeShap} per tree. The graph's probability is sigmoid(2·margin), so
 * contributions and base are given in log-odds (twice the trees' own). Exact.
 */
final class TreeExplainer implements Explainer {
    static final String METHOD = "TreeSHAP (path-dependent, by training covers): Shapley values of the log-odds; exact";

    private final List<TreeShap.Tree> trees;
    private final float[] impute;
    private final double scale;
    private final double base;

    private TreeExplainer(List<TreeShap.Tree> trees, float[] impute, double scale) {
        this.trees = trees;
        this.impute = impute;
        this.scale = scale;
        double b = 0;
        for (TreeShap.Tree t : trees) {
            b += t.expected();
        }
        this.base = b * scale;
    }

    static boolean applies(ModelProto model) {
        return ensemble(model) != null;
    }

    private static NodeProto ensemble(ModelProto model) {
        return model.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals("TreeEnsembleRegressor"))
                .findFirst().orElse(null);
    }

    static TreeExplainer of(ModelProto model, int width) {
        NodeProto node = ensemble(model);
        Map<String, AttributeProto> a = new HashMap<>();
        for (AttributeProto p : node.getAttributeList()) {
            a.put(p.getName(), p);
        }
        if (!a.containsKey("nodes_hitrates")) {
            throw new IllegalArgumentException("a tree ensemble without node covers (nodes_hitrates): TreeSHAP needs "
                    + "them; versions trained before covers were exported cannot be explained");
        }
        List<Long> treeIds = a.get("nodes_treeids").getIntsList();
        List<Long> nodeIds = a.get("nodes_nodeids").getIntsList();
        List<Long> features = a.get("nodes_featureids").getIntsList();
        List<Float> values = a.get("nodes_values").getFloatsList();
        List<Long> yes = a.get("nodes_truenodeids").getIntsList();
        List<Long> no = a.get("nodes_falsenodeids").getIntsList();
        List<Float> covers = a.get("nodes_hitrates").getFloatsList();
        List<String> modes = a.get("nodes_modes").getStringsList().stream().map(s -> s.toStringUtf8()).toList();
        int count = (int) treeIds.stream().mapToLong(Long::longValue).max().orElse(-1) + 1;
        int[] size = new int[count];
        for (int i = 0; i < treeIds.size(); i++) {
            size[treeIds.get(i).intValue()] = Math.max(size[treeIds.get(i).intValue()], nodeIds.get(i).intValue() + 1);
        }
        List<TreeShap.Tree> trees = new ArrayList<>();
        for (int t = 0; t < count; t++) {
            int n = size[t];
            trees.add(new TreeShap.Tree(new int[n], new float[n], new int[n], new int[n], new boolean[n],
                    new double[n], new double[n]));
        }
        for (int i = 0; i < treeIds.size(); i++) {
            TreeShap.Tree t = trees.get(treeIds.get(i).intValue());
            int id = nodeIds.get(i).intValue();
            String mode = modes.get(i);
            t.cover()[id] = covers.get(i);
            if (mode.equals("LEAF")) {
                t.leaf()[id] = true;
            } else if (mode.equals("BRANCH_LEQ")) {
                t.feature()[id] = features.get(i).intValue();
                t.threshold()[id] = values.get(i);
                t.yes()[id] = yes.get(i).intValue();
                t.no()[id] = no.get(i).intValue();
                if (t.feature()[id] < 0 || t.feature()[id] >= width) {
                    throw new IllegalArgumentException("a split on feature " + t.feature()[id] + " of " + width);
                }
            } else {
                throw new IllegalArgumentException("split mode " + mode + " (the trainer exports BRANCH_LEQ)");
            }
        }
        List<Long> targetTree = a.get("target_treeids").getIntsList();
        List<Long> targetNode = a.get("target_nodeids").getIntsList();
        List<Float> weights = a.get("target_weights").getFloatsList();
        for (int i = 0; i < targetTree.size(); i++) {
            trees.get(targetTree.get(i).intValue()).value()[targetNode.get(i).intValue()] += weights.get(i);
        }
        float[] impute = new float[width];
        java.util.Arrays.fill(impute, Float.NaN);
        double scale = 1;
        for (TensorProto t : model.getGraph().getInitializerList()) {
            if (t.getName().equals("gbt_impute")) {
                impute = LinearExplainer.floats(t);
            } else if (t.getName().equals("gbt_two")) {
                scale = LinearExplainer.floats(t)[0];
            }
        }
        return new TreeExplainer(trees, impute, scale);
    }

    @Override
    public double base() {
        return base;
    }

    @Override
    public double[] contributions(float[] row, int offset) {
        float[] x = new float[impute.length];
        for (int i = 0; i < x.length; i++) {
            float v = row[offset + i];
            x[i] = Float.isNaN(v) && !Float.isNaN(impute[i]) ? impute[i] : v;
        }
        double[] phi = new double[x.length];
        for (TreeShap.Tree t : trees) {
            TreeShap.add(t, x, 0, phi);
        }
        for (int i = 0; i < phi.length; i++) {
            phi[i] *= scale;
        }
        return phi;
    }

    @Override
    public String method() {
        return METHOD;
    }
}
