package io.mlserve.drift;

import java.util.Arrays;

/** Quality of scores against labels: AUC (Mann–Whitney U, ties counted half), log-loss, accuracy at a threshold. */
public final class Quality {
    private Quality() {
    }

    /** The metrics of one window of joined (score, label) pairs. */
    public record Metrics(long pairs, long positives, double auc, double logLoss, double accuracy, double threshold) {
    }

    public static Metrics of(float[] score, double[] label, int n, double threshold) {
        float[] s = Arrays.copyOf(score, n);
        double[] y = Arrays.copyOf(label, n);
        double loss = 0;
        long correct = 0;
        long positives = 0;
        for (int i = 0; i < n; i++) {
            double p = Math.min(Math.max(s[i], 1e-15), 1 - 1e-15);
            loss -= y[i] * Math.log(p) + (1 - y[i]) * Math.log(1 - p);
            correct += (s[i] >= threshold ? 1 : 0) == y[i] ? 1 : 0;
            positives += y[i] == 1 ? 1 : 0;
        }
        return new Metrics(n, positives, auc(s, y), n == 0 ? Double.NaN : loss / n,
                n == 0 ? Double.NaN : correct / (double) n, threshold);
    }

    /** Area under the ROC curve (Mann–Whitney U, ties counted half); NaN without both classes. */
    public static double auc(float[] score, double[] label) {
        Integer[] order = new Integer[score.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Float.compare(score[a], score[b]));
        double rankSum = 0;
        long pos = 0;
        int i = 0;
        while (i < order.length) {
            int j = i;
            while (j + 1 < order.length && score[order[j + 1]] == score[order[i]]) {
                j++;
            }
            double rank = (i + j) / 2.0 + 1;
            for (int k = i; k <= j; k++) {
                if (label[order[k]] == 1.0) {
                    rankSum += rank;
                    pos++;
                }
            }
            i = j + 1;
        }
        long neg = score.length - pos;
        return pos == 0 || neg == 0 ? Double.NaN : (rankSum - pos * (pos + 1) / 2.0) / ((double) pos * neg);
    }
}
