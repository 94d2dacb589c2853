package io.mlserve.datagen;

import java.util.Arrays;

/**
 * A logistic regression fitted the way the product's trainer fits its churn model (ModelTrainer, Spark): numbers
 * imputed with the training mean and standardised, categories one-hot (missing = all zeros), every number also cut
 * at its training quintiles and one-hot over the bins, classes weighted to equal total weight, a small L2 penalty.
 * Fitted by Newton's method; here so datagen can measure what its drifts do to a model without Spark.
 */
final class ChurnLogistic {
    private static final int F = ChurnTable.NUMERIC;
    private static final int C = ChurnTable.CATEGORIES;
    private static final double L2 = 1e-4;

    private final double[] mean = new double[F];
    private final double[] sd = new double[F];
    private final double[][] edges = new double[F][];
    private final int[] categoryOffset = new int[C];
    private final int[] binOffset = new int[F];
    private final int width;
    private final double[] w;

    /** Fits on rows {@code [from, to)} of {@code t}; {@code bins} quantile bins per number (0 = none). */
    ChurnLogistic(ChurnTable t, int from, int to, int bins) {
        int n = to - from;
        double[] column = new double[n];
        for (int f = 0; f < F; f++) {
            double sum = 0;
            int seen = 0;
            for (int i = from; i < to; i++) {
                double v = t.number(i, f);
                if (!Double.isNaN(v)) {
                    sum += v;
                    seen++;
                }
            }
            mean[f] = seen == 0 ? 0 : sum / seen;
            double ss = 0;
            for (int i = from; i < to; i++) {
                double v = t.number(i, f);
                column[i - from] = Double.isNaN(v) ? mean[f] : v;
                ss += (column[i - from] - mean[f]) * (column[i - from] - mean[f]);
            }
            sd[f] = ss > 0 ? Math.sqrt(ss / n) : 1;
            edges[f] = bins > 0 ? quantiles(column, bins) : new double[0];
        }
        int k = 1 + F;
        for (int c = 0; c < C; c++) {
            categoryOffset[c] = k;
            k += ChurnSchema.COLUMNS.get(F + c).vocabulary().size();
        }
        for (int f = 0; f < F; f++) {
            binOffset[f] = k;
            k += edges[f].length == 0 ? 0 : edges[f].length + 1;
        }
        width = k;
        w = new double[width];
        newton(t, from, to);
    }

    /** P(churn) of row {@code i}. */
    double score(ChurnTable t, int i) {
        double z = w[0];
        for (int f = 0; f < F; f++) {
            double v = value(t, i, f);
            z += w[1 + f] * (v - mean[f]) / sd[f];
            if (edges[f].length > 0) {
                z += w[binOffset[f] + bin(edges[f], v)];
            }
        }
        for (int c = 0; c < C; c++) {
            int k = t.category(i, c);
            if (k >= 0) {
                z += w[categoryOffset[c] + k];
            }
        }
        return 1 / (1 + Math.exp(-z));
    }

    private double value(ChurnTable t, int i, int f) {
        double v = t.number(i, f);
        return Double.isNaN(v) ? mean[f] : v;
    }

    /** Row {@code i} as sparse design entries (ascending indexes); returns how many. */
    private int design(ChurnTable t, int i, int[] idx, double[] val) {
        int m = 0;
        idx[m] = 0;
        val[m++] = 1;
        for (int f = 0; f < F; f++) {
            idx[m] = 1 + f;
            val[m++] = (value(t, i, f) - mean[f]) / sd[f];
        }
        for (int c = 0; c < C; c++) {
            int k = t.category(i, c);
            if (k >= 0) {
                idx[m] = categoryOffset[c] + k;
                val[m++] = 1;
            }
        }
        for (int f = 0; f < F; f++) {
            if (edges[f].length > 0) {
                idx[m] = binOffset[f] + bin(edges[f], value(t, i, f));
                val[m++] = 1;
            }
        }
        return m;
    }

    private void newton(ChurnTable t, int from, int to) {
        long positives = 0;
        for (int i = from; i < to; i++) {
            positives += t.label[i];
        }
        long negatives = (to - from) - positives;
        if (positives == 0 || negatives == 0) {
            throw new IllegalArgumentException("rows [" + from + ", " + to + ") hold one class only");
        }
        double wPos = 0.5 / positives;
        double wNeg = 0.5 / negatives;
        int[] idx = new int[1 + F + C + F];
        double[] val = new double[idx.length];
        double[] g = new double[width];
        double[][] h = new double[width][width];
        for (int it = 0; it < 25; it++) {
            for (int a = 0; a < width; a++) {
                Arrays.fill(h[a], 0);
                g[a] = a == 0 ? 0 : L2 * w[a];
                h[a][a] = a == 0 ? 1e-9 : L2;
            }
            for (int i = from; i < to; i++) {
                int m = design(t, i, idx, val);
                double z = 0;
                for (int j = 0; j < m; j++) {
                    z += w[idx[j]] * val[j];
                }
                double p = 1 / (1 + Math.exp(-z));
                double weight = t.label[i] == 1 ? wPos : wNeg;
                double r = weight * (p - t.label[i]);
                double s = weight * p * (1 - p);
                for (int a = 0; a < m; a++) {
                    g[idx[a]] += r * val[a];
                    double sa = s * val[a];
                    double[] row = h[idx[a]];
                    for (int b = a; b < m; b++) {
                        row[idx[b]] += sa * val[b];
                    }
                }
            }
            double[] step = solve(h, g);
            double largest = 0;
            for (int a = 0; a < width; a++) {
                w[a] -= step[a];
                largest = Math.max(largest, Math.abs(step[a]));
            }
            if (largest < 1e-6) {
                return;
            }
        }
    }

    /** Solves H x = g for the symmetric positive definite H whose upper triangle is filled (Cholesky). */
    private static double[] solve(double[][] h, double[] g) {
        int d = g.length;
        double[][] l = new double[d][d];
        for (int i = 0; i < d; i++) {
            for (int j = 0; j <= i; j++) {
                double s = h[j][i];
                for (int k = 0; k < j; k++) {
                    s -= l[i][k] * l[j][k];
                }
                l[i][j] = i == j ? Math.sqrt(Math.max(s, 1e-12)) : s / l[j][j];
            }
        }
        double[] y = new double[d];
        for (int i = 0; i < d; i++) {
            double s = g[i];
            for (int k = 0; k < i; k++) {
                s -= l[i][k] * y[k];
            }
            y[i] = s / l[i][i];
        }
        double[] x = new double[d];
        for (int i = d - 1; i >= 0; i--) {
            double s = y[i];
            for (int k = i + 1; k < d; k++) {
                s -= l[k][i] * x[k];
            }
            x[i] = s / l[i][i];
        }
        return x;
    }

    /** Distinct inner quantiles (1/bins, 2/bins, ...) of {@code v}, which is sorted in place. */
    private static double[] quantiles(double[] v, int bins) {
        Arrays.sort(v);
        double[] q = new double[bins - 1];
        for (int i = 0; i < q.length; i++) {
            q[i] = v[(int) Math.min(v.length - 1, Math.floor((i + 1) / (double) bins * v.length))];
        }
        return Arrays.stream(q).distinct().toArray();
    }

    /** Spark's Bucketizer over (-inf, e0, e1, ..., +inf): the number of edges at or below {@code v}. */
    private static int bin(double[] e, double v) {
        int b = 0;
        while (b < e.length && v >= e[b]) {
            b++;
        }
        return b;
    }
}
