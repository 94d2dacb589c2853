package io.mlserve.trainer;

import java.math.BigDecimal;
import java.util.Arrays;

/**
 * The operating threshold of a version: a row is predicted positive when P(1) >= threshold. Chosen on validation rows
 * (the holdout the trainer already scores): by default where accuracy is highest; with a cost ratio C (a false negative
 * costs C false positives) where the expected cost C·FN + FP is lowest; or given as it is. The classes are weighted
 * to equal total weight in training, so probabilities run high against the base rate and 0.5 is rarely a good choice.
 *
 * <p>Only the split matters on the rows, so between two neighbouring distinct scores the threshold is their midpoint
 * (above the highest score when nothing should be positive); ties in the objective go to the higher threshold.
 */
final class DecisionThreshold {
    private DecisionThreshold() {
    }

    /** How a threshold is set. */
    public record Rule(String kind, double value) {
        public static final String MAX_ACCURACY = "max_accuracy";
        public static final String COST_RATIO = "cost_ratio";
        public static final String GIVEN = "given";

        public static Rule maxAccuracy() {
            return new Rule(MAX_ACCURACY, Double.NaN);
        }

        /** A false negative costs {@code ratio} false positives. */
        public static Rule costRatio(double ratio) {
            if (!(ratio > 0) || Double.isInfinite(ratio)) {
                throw new IllegalArgumentException("cost ratio must be a positive number, got " + ratio);
            }
            return new Rule(COST_RATIO, ratio);
        }

        public static Rule given(double threshold) {
            if (!(threshold > 0 && threshold < 1)) {
                throw new IllegalArgumentException("threshold must be in (0, 1), got " + threshold);
            }
            return new Rule(GIVEN, threshold);
        }

        /** As metadata.json and the job's result say it: "max_accuracy", "cost_ratio 4", "given". */
        @Override
        public String toString() {
            return kind.equals(COST_RATIO) ? kind + " " + new BigDecimal(Double.toString(value)).stripTrailingZeros()
                    .toPlainString() : kind;
        }
    }

    /**
     * The threshold and what it gives on the rows it was chosen on.
     *
     * @param precision    NaN when nothing is predicted positive
     * @param recall       NaN when no row is positive
     * @param expectedCost (C·FN + FP) / rows for the cost rule, else NaN
     */
    public record Choice(double threshold, Rule rule, long rows, double accuracy, double precision, double recall,
                         double expectedCost) {
    }

    /** The threshold {@code rule} gives on rows with scores {@code p} (P(1)) and labels {@code y} (0/1). */
    public static Choice choose(double[] p, double[] y, Rule rule) {
        int n = p.length;
        if (y.length != n) {
            throw new IllegalArgumentException(n + " scores but " + y.length + " labels");
        }
        long positives = 0;
        for (int i = 0; i < n; i++) {
            if (Double.isNaN(p[i])) {
                throw new IllegalArgumentException("row " + i + " has no score (NaN)");
            }
            positives += y[i] == 1 ? 1 : 0;
        }
        if (rule.kind().equals(Rule.GIVEN)) {
            long tp = 0;
            long predicted = 0;
            for (int i = 0; i < n; i++) {
                if (p[i] >= rule.value()) {
                    predicted++;
                    tp += y[i] == 1 ? 1 : 0;
                }
            }
            return choice(rule.value(), rule, n, positives, tp, predicted);
        }
        // each class's scores ascending; walk down from the top, lowering the threshold past one distinct score at a
        // time, starting with nothing predicted positive
        double[] pos = new double[(int) positives];
        double[] neg = new double[n - (int) positives];
        for (int i = 0, a = 0, b = 0; i < n; i++) {
            if (y[i] == 1) {
                pos[a++] = p[i];
            } else {
                neg[b++] = p[i];
            }
        }
        Arrays.sort(pos);
        Arrays.sort(neg);
        boolean cost = rule.kind().equals(Rule.COST_RATIO);
        int a = pos.length - 1;
        int b = neg.length - 1;
        double top = highest(pos, a, neg, b);
        double best = objective(cost, rule.value(), n, positives, 0, 0);
        double bestThreshold = n == 0 ? 0.5 : top < 1 ? (top + 1) / 2 : Math.nextUp(top);
        long bestTp = 0;
        long bestPredicted = 0;
        long tp = 0;
        long predicted = 0;
        while (a >= 0 || b >= 0) {
            double score = highest(pos, a, neg, b);
            for (; a >= 0 && pos[a] == score; a--) {
                tp++;
                predicted++;
            }
            for (; b >= 0 && neg[b] == score; b--) {
                predicted++;
            }
            double o = objective(cost, rule.value(), n, positives, tp, predicted);
            if (o > best) {
                best = o;
                bestThreshold = a >= 0 || b >= 0 ? (score + highest(pos, a, neg, b)) / 2 : score;
                bestTp = tp;
                bestPredicted = predicted;
            }
        }
        return choice(bestThreshold, rule, n, positives, bestTp, bestPredicted);
    }

    /** The larger of the two ascending arrays' values at {@code a} and {@code b} (an index below 0 has none). */
    private static double highest(double[] pos, int a, double[] neg, int b) {
        return Math.max(a >= 0 ? pos[a] : Double.NEGATIVE_INFINITY, b >= 0 ? neg[b] : Double.NEGATIVE_INFINITY);
    }

    /** Higher is better: correct predictions, or minus the cost C·FN + FP. */
    private static double objective(boolean cost, double ratio, long n, long positives, long tp, long predicted) {
        long fp = predicted - tp;
        long fn = positives - tp;
        return cost ? -(ratio * fn + fp) : n - fp - fn;
    }

    private static Choice choice(double threshold, Rule rule, long n, long positives, long tp, long predicted) {
        long fp = predicted - tp;
        long fn = positives - tp;
        return new Choice(threshold, rule, n, n == 0 ? Double.NaN : (n - fp - fn) / (double) n,
                predicted == 0 ? Double.NaN : tp / (double) predicted,
                positives == 0 ? Double.NaN : tp / (double) positives,
                rule.kind().equals(Rule.COST_RATIO) && n > 0 ? (rule.value() * fn + fp) / n : Double.NaN);
    }
}
