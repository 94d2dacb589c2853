package io.mlserve.explain;

import io.mlserve.explain.TreeShap.Tree;

/** The test oracle for {@link TreeShap}: Shapley values of one tree computed from their definition. */
final class TreeShapOracle {
    private TreeShapOracle() {
    }

    /**
     * The same values by definition, for checking: every subset S of the features, v(S) by the covers, Shapley
     * weights |S|!(M−|S|−1)!/M!. Exponential in {@code width}: tests only.
     */
    static double[] bruteForce(Tree t, float[] x, int width) {
        double[] phi = new double[width];
        double[] fact = new double[width + 1];
        fact[0] = 1;
        for (int i = 1; i <= width; i++) {
            fact[i] = fact[i - 1] * i;
        }
        for (int f = 0; f < width; f++) {
            for (int s = 0; s < 1 << width; s++) {
                if ((s & (1 << f)) != 0) {
                    continue;
                }
                int size = Integer.bitCount(s);
                double weight = fact[size] * fact[width - size - 1] / fact[width];
                phi[f] += weight * (value(t, x, s | (1 << f), 0) - value(t, x, s, 0));
            }
        }
        return phi;
    }

    private static double value(Tree t, float[] x, int set, int node) {
        if (t.leaf()[node]) {
            return t.value()[node];
        }
        if ((set & (1 << t.feature()[node])) != 0) {
            return value(t, x, set, t.goesYes(node, x, 0) ? t.yes()[node] : t.no()[node]);
        }
        return (t.cover()[t.yes()[node]] * value(t, x, set, t.yes()[node])
                + t.cover()[t.no()[node]] * value(t, x, set, t.no()[node])) / t.cover()[node];
    }

}
