package io.mlserve.explain;

import java.util.Arrays;

/**
 * Exact Shapley values of a tree ensemble's margin (Lundberg, Erion and Lee's path-dependent TreeSHAP, polynomial
 * time): the value of a feature subset S is the tree's expectation with the features in S fixed to the row's values
 * and the others integrated out by the training covers of the nodes. The contributions plus the base value (the
 * cover-weighted mean of the leaves) equal the margin exactly.
 */
final class TreeShap {
    /** One tree as flat arrays (root = 0): node → feature, threshold, children, leaf flag and value, cover. */
    record Tree(int[] feature, float[] threshold, int[] yes, int[] no, boolean[] leaf, double[] value,
                double[] cover) {
        /** Mean leaf value weighted by cover: the tree's expectation. */
        double expected() {
            return expected(0);
        }

        private double expected(int node) {
            if (leaf[node]) {
                return value[node];
            }
            return (cover[yes[node]] * expected(yes[node]) + cover[no[node]] * expected(no[node])) / cover[node];
        }

        int depth(int node) {
            return leaf[node] ? 0 : 1 + Math.max(depth(yes[node]), depth(no[node]));
        }

        /** The comparison the ONNX node makes: BRANCH_LEQ. */
        boolean goesYes(int node, float[] x, int offset) {
            return x[offset + feature[node]] <= threshold[node];
        }
    }

    private TreeShap() {
    }

    /** Adds the tree's contributions for row {@code x[offset..]} into {@code phi} (one per input column). */
    static void add(Tree t, float[] x, int offset, double[] phi) {
        int max = t.depth(0) + 2;
        // one path slice per recursion level, each long enough for the deepest path
        int[] d = new int[max * (max + 1)];
        double[] z = new double[d.length];
        double[] o = new double[d.length];
        double[] w = new double[d.length];
        recurse(t, x, offset, phi, 0, 0, 0, d, z, o, w, 1, 1, -1, max);
    }

    private static void recurse(Tree t, float[] x, int offset, double[] phi, int node, int depth, int parent,
                                int[] d, double[] z, double[] o, double[] w, double pz, double po, int pi, int max) {
        int at = parent + max;
        if (depth > 0) {
            System.arraycopy(d, parent, d, at, depth);
            System.arraycopy(z, parent, z, at, depth);
            System.arraycopy(o, parent, o, at, depth);
            System.arraycopy(w, parent, w, at, depth);
        }
        extend(d, z, o, w, at, depth, pz, po, pi);
        if (t.leaf[node]) {
            for (int i = 1; i <= depth; i++) {
                double s = unwoundSum(z, o, w, at, depth, i);
                phi[d[at + i]] += s * (o[at + i] - z[at + i]) * t.value[node];
            }
            return;
        }
        boolean yes = t.goesYes(node, x, offset);
        int hot = yes ? t.yes[node] : t.no[node];
        int cold = yes ? t.no[node] : t.yes[node];
        double iz = 1;
        double io = 1;
        int split = t.feature[node];
        int k = 0;
        while (k <= depth && d[at + k] != split) {
            k++;
        }
        int next = depth;
        if (k <= depth) {
            iz = z[at + k];
            io = o[at + k];
            unwind(d, z, o, w, at, depth, k);
            next--;
        }
        double c = t.cover[node];
        recurse(t, x, offset, phi, hot, next + 1, at, d, z, o, w, iz * t.cover[hot] / c, io, split, max);
        recurse(t, x, offset, phi, cold, next + 1, at, d, z, o, w, iz * t.cover[cold] / c, 0, split, max);
    }

    private static void extend(int[] d, double[] z, double[] o, double[] w, int at, int depth, double pz, double po,
                               int pi) {
        d[at + depth] = pi;
        z[at + depth] = pz;
        o[at + depth] = po;
        w[at + depth] = depth == 0 ? 1 : 0;
        for (int i = depth - 1; i >= 0; i--) {
            w[at + i + 1] += po * w[at + i] * (i + 1) / (depth + 1);
            w[at + i] = pz * w[at + i] * (depth - i) / (depth + 1);
        }
    }

    private static void unwind(int[] d, double[] z, double[] o, double[] w, int at, int depth, int k) {
        double one = o[at + k];
        double zero = z[at + k];
        double n = w[at + depth];
        for (int i = depth - 1; i >= 0; i--) {
            if (one != 0) {
                double tmp = w[at + i];
                w[at + i] = n * (depth + 1) / ((i + 1) * one);
                n = tmp - w[at + i] * zero * (depth - i) / (depth + 1);
            } else {
                w[at + i] = w[at + i] * (depth + 1) / (zero * (depth - i));
            }
        }
        for (int i = k; i < depth; i++) {
            d[at + i] = d[at + i + 1];
            z[at + i] = z[at + i + 1];
            o[at + i] = o[at + i + 1];
        }
    }

    private static double unwoundSum(double[] z, double[] o, double[] w, int at, int depth, int k) {
        double one = o[at + k];
        double zero = z[at + k];
        double n = w[at + depth];
        double total = 0;
        for (int i = depth - 1; i >= 0; i--) {
            if (one != 0) {
                double tmp = n * (depth + 1) / ((i + 1) * one);
                total += tmp;
                n = w[at + i] - tmp * zero * (depth - i) / (depth + 1);
            } else if (zero != 0) {
                total += w[at + i] / zero / ((double) (depth - i) / (depth + 1));
            }
        }
        return total;
    }

    static String describe(Tree t) {
        return "tree of " + t.feature.length + " nodes, depth " + t.depth(0) + ", features "
                + Arrays.toString(Arrays.stream(t.feature).distinct().toArray());
    }
}
