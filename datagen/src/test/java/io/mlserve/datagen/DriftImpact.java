package io.mlserve.datagen;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * What the generator's drifts do to a churn model, measured without the rest of the product: a logistic regression
 * ({@link ChurnLogistic}) trained once on the first year (its last 20 % held out, as the trainer does) and one
 * refitted at every month start of the second year on the 90 days of rows whose labels are known by then (7 days
 * late), both scored on the second year. Run {@link #main} for the full report of one data set.
 */
final class DriftImpact {
    static final long DAY = 86_400_000L;
    static final long YEAR = 365 * DAY;
    static final double DEGRADED_DROP = 0.05;
    static final long LABEL_DELAY = 7 * DAY;
    static final long REFIT_WINDOW = 90 * DAY;

    /**
     * One model's second year.
     *
     * @param monthlyAuc      per calendar month
     * @param monthlyAccuracy per month, at the threshold that was most accurate on the model's own evaluation rows
     *                        (the holdout for the year-1 model, its training window for a refitted one)
     * @param monthlyBalanced per month, balanced accuracy (mean of the recall of either class) at the month's own
     *                        best threshold, in hindsight: the ranking alone, whatever the churn rate
     * @param monthlyHalf     per month, accuracy at P ≥ 0.5 (classes weighted equal, so 0.5 is their balance)
     * @param dailyAuc        trailing 7-day AUC per day (NaN for the first six days)
     * @param degradedDays    days whose trailing 7-day AUC is more than {@link #DEGRADED_DROP} below the holdout AUC
     * @param periodAuc       AUC between consecutive drift starts ({@link Result#periods})
     */
    record Arm(double[] monthlyAuc, double[] monthlyAccuracy, double[] monthlyBalanced, double[] monthlyHalf,
               double[] dailyAuc, int degradedDays, double[] periodAuc) {
        double meanAuc() {
            return Arrays.stream(monthlyAuc).average().orElse(Double.NaN);
        }

        double meanAccuracy() {
            return Arrays.stream(monthlyAccuracy).average().orElse(Double.NaN);
        }

        double meanBalanced() {
            return Arrays.stream(monthlyBalanced).average().orElse(Double.NaN);
        }

        double meanHalf() {
            return Arrays.stream(monthlyHalf).average().orElse(Double.NaN);
        }
    }

    /**
     * @param holdoutAuc      the year-1 model's AUC on its holdout (the last 20 % of year 1)
     * @param holdoutAccuracy its accuracy there at its best threshold
     * @param holdoutBalanced its balanced accuracy there at the best threshold
     * @param periods         names of the second year's periods, split at every non-recurring drift start
     * @param oracle          the generator's own logit as the score: the best AUC any model could reach (its
     *                        accuracies at a probability threshold mean nothing)
     * @param positiveRate    the share of positive labels over the whole data set, and over year 1; per month of
     *                        year 2
     */
    record Result(double holdoutAuc, double holdoutAccuracy, double holdoutBalanced, List<String> months,
                  List<String> periods, Arm fixed, Arm refitted, Arm oracle, double positiveRate,
                  double yearOnePositiveRate, double[] monthlyPositiveRate) {
    }

    private DriftImpact() {
    }

    /**
     * Measures both models on {@code t}, whose drifts are {@code drifts}; {@code bins} quantile bins per number as
     * the trainer cuts them (0 = a plain logistic regression). The refitted model trains at each month start on the
     * {@code window} of rows whose labels are known by then ({@code labelDelay} after their event).
     */
    static Result measure(ChurnTable t, List<ChurnDataGenerator.Drift> drifts, int bins, long labelDelay,
                          long window) {
        long y2 = ChurnDataGenerator.START_MS + YEAR;
        long end = Math.min(y2 + YEAR + DAY, t.time[t.n - 1] + 1);
        int holdoutFrom = t.rowAt(ChurnDataGenerator.START_MS + (long) (0.8 * YEAR));
        int from = t.rowAt(y2);
        int to = t.rowAt(end);

        ChurnLogistic v1 = new ChurnLogistic(t, 0, holdoutFrom, bins);
        double[] holdout = scores(v1, t, holdoutFrom, from);
        double holdoutAuc = auc(holdout, t.label, holdoutFrom, 0, holdout.length);
        double v1Threshold = bestThreshold(holdout, t.label, holdoutFrom, 0, holdout.length);
        double holdoutAccuracy = accuracy(holdout, t.label, holdoutFrom, 0, holdout.length, v1Threshold);

        List<Long> monthStarts = new ArrayList<>();
        List<String> months = new ArrayList<>();
        ZonedDateTime m = Instant.ofEpochMilli(y2).atZone(ZoneOffset.UTC);
        while (m.toInstant().toEpochMilli() < end - 2 * DAY) {
            monthStarts.add(m.toInstant().toEpochMilli());
            months.add(m.toLocalDate().toString().substring(0, 7));
            m = m.plusMonths(1);
        }
        monthStarts.add(end);

        int n = to - from;
        double[] fixed = scores(v1, t, from, to);
        double[] fixedThreshold = new double[monthStarts.size() - 1];
        Arrays.fill(fixedThreshold, v1Threshold);
        double[] refitted = new double[n];
        double[] refitThreshold = new double[monthStarts.size() - 1];
        for (int k = 0; k + 1 < monthStarts.size(); k++) {
            long s = monthStarts.get(k);
            int a = t.rowAt(s - labelDelay - window);
            int b = t.rowAt(s - labelDelay);
            ChurnLogistic fresh = new ChurnLogistic(t, a, b, bins);
            double[] own = scores(fresh, t, a, b);
            refitThreshold[k] = bestThreshold(own, t.label, a, 0, own.length);
            int lo = t.rowAt(s);
            int hi = t.rowAt(monthStarts.get(k + 1));
            for (int i = lo; i < hi; i++) {
                refitted[i - from] = fresh.score(t, i);
            }
        }

        List<Long> cuts = new ArrayList<>(List.of(y2));
        List<String> periods = new ArrayList<>();
        String previous = "year 2 start";
        List<ChurnDataGenerator.Drift> byStart = drifts.stream()
                .sorted((a, b) -> Long.compare(a.startMs(), b.startMs())).toList();
        for (ChurnDataGenerator.Drift d : byStart) {
            if (!d.recurring() && d.startMs() > y2 && d.startMs() < end && !cuts.contains(d.startMs())) {
                periods.add(previous + " .. " + date(d.startMs()));
                cuts.add(d.startMs());
                previous = d.kind() + " " + date(d.startMs());
            }
        }
        periods.add(previous + " .. end");
        cuts.add(end);
        double[] monthlyPositives = new double[months.size()];
        for (int k = 0; k < months.size(); k++) {
            monthlyPositives[k] = positiveRate(t, t.rowAt(monthStarts.get(k)), t.rowAt(monthStarts.get(k + 1)));
        }
        double[] oracle = Arrays.copyOfRange(t.logit, from, to);
        return new Result(holdoutAuc, holdoutAccuracy,
                bestBalancedAccuracy(holdout, t.label, holdoutFrom, 0, holdout.length), months, periods,
                arm(t, fixed, from, monthStarts, fixedThreshold, cuts, holdoutAuc),
                arm(t, refitted, from, monthStarts, refitThreshold, cuts, holdoutAuc),
                arm(t, oracle, from, monthStarts, fixedThreshold, cuts, holdoutAuc),
                positiveRate(t, 0, t.n), positiveRate(t, 0, from), monthlyPositives);
    }

    private static double positiveRate(ChurnTable t, int from, int to) {
        long p = 0;
        for (int i = from; i < to; i++) {
            p += t.label[i];
        }
        return (double) p / (to - from);
    }

    private static Arm arm(ChurnTable t, double[] s, int from, List<Long> monthStarts, double[] threshold,
                           List<Long> cuts, double holdoutAuc) {
        int months = monthStarts.size() - 1;
        double[] auc = new double[months];
        double[] acc = new double[months];
        double[] balanced = new double[months];
        double[] half = new double[months];
        for (int k = 0; k < months; k++) {
            int lo = t.rowAt(monthStarts.get(k)) - from;
            int hi = t.rowAt(monthStarts.get(k + 1)) - from;
            auc[k] = auc(s, t.label, from, lo, hi);
            acc[k] = accuracy(s, t.label, from, lo, hi, threshold[k]);
            balanced[k] = bestBalancedAccuracy(s, t.label, from, lo, hi);
            half[k] = accuracy(s, t.label, from, lo, hi, 0.5);
        }
        long y2 = monthStarts.get(0);
        int days = (int) ((monthStarts.get(months) - y2 + DAY - 1) / DAY);
        double[] daily = new double[days];
        int degraded = 0;
        for (int d = 0; d < days; d++) {
            if (d < 6) {
                daily[d] = Double.NaN;
                continue;
            }
            int lo = t.rowAt(y2 + (d - 6) * DAY) - from;
            int hi = t.rowAt(y2 + (d + 1) * DAY) - from;
            daily[d] = auc(s, t.label, from, lo, hi);
            degraded += daily[d] < holdoutAuc - DEGRADED_DROP ? 1 : 0;
        }
        double[] period = new double[cuts.size() - 1];
        for (int k = 0; k + 1 < cuts.size(); k++) {
            period[k] = auc(s, t.label, from, t.rowAt(cuts.get(k)) - from, t.rowAt(cuts.get(k + 1)) - from);
        }
        return new Arm(auc, acc, balanced, half, daily, degraded, period);
    }

    private static double[] scores(ChurnLogistic model, ChurnTable t, int from, int to) {
        double[] s = new double[to - from];
        for (int i = from; i < to; i++) {
            s[i - from] = model.score(t, i);
        }
        return s;
    }

    /** Rows {@code [lo, hi)} of {@code s} (row {@code i} of {@code s} is row {@code offset + i} of the labels). */
    static double auc(double[] s, byte[] label, int offset, int lo, int hi) {
        int n = hi - lo;
        int[] order = sortedByScore(s, lo, hi);
        double rankSum = 0;
        long positives = 0;
        int i = 0;
        while (i < n) {
            int j = i;
            while (j + 1 < n && s[order[j + 1]] == s[order[i]]) {
                j++;
            }
            double rank = (i + j) / 2.0 + 1;
            for (int k = i; k <= j; k++) {
                if (label[offset + order[k]] == 1) {
                    rankSum += rank;
                    positives++;
                }
            }
            i = j + 1;
        }
        long negatives = n - positives;
        if (positives == 0 || negatives == 0) {
            return Double.NaN;
        }
        return (rankSum - positives * (positives + 1) / 2.0) / ((double) positives * negatives);
    }

    static double accuracy(double[] s, byte[] label, int offset, int lo, int hi, double threshold) {
        long right = 0;
        for (int i = lo; i < hi; i++) {
            right += (s[i] >= threshold ? 1 : 0) == label[offset + i] ? 1 : 0;
        }
        return (double) right / (hi - lo);
    }

    /** The threshold (predict churn at P ≥ it) with the best accuracy on rows {@code [lo, hi)}. */
    static double bestThreshold(double[] s, byte[] label, int offset, int lo, int hi) {
        int[] order = sortedByScore(s, lo, hi);
        long negatives = 0;
        for (int i = lo; i < hi; i++) {
            negatives += label[offset + i] == 0 ? 1 : 0;
        }
        // predicting churn for everything above position k: right = negatives below + positives above
        long negativesBelow = 0;
        long positivesAbove = (hi - lo) - negatives;
        long best = positivesAbove;
        double threshold = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < order.length; k++) {
            if (label[offset + order[k]] == 0) {
                negativesBelow++;
            } else {
                positivesAbove--;
            }
            boolean tieNext = k + 1 < order.length && s[order[k + 1]] == s[order[k]];
            if (!tieNext && negativesBelow + positivesAbove > best) {
                best = negativesBelow + positivesAbove;
                threshold = k + 1 < order.length ? s[order[k + 1]] : Double.POSITIVE_INFINITY;
            }
        }
        return threshold;
    }

    /** The best mean of the two classes' recalls over every threshold, on rows {@code [lo, hi)}. */
    static double bestBalancedAccuracy(double[] s, byte[] label, int offset, int lo, int hi) {
        int[] order = sortedByScore(s, lo, hi);
        long positives = 0;
        for (int i = lo; i < hi; i++) {
            positives += label[offset + i];
        }
        long negatives = (hi - lo) - positives;
        long negativesBelow = 0;
        long positivesAbove = positives;
        double best = 0.5;
        for (int k = 0; k < order.length; k++) {
            if (label[offset + order[k]] == 0) {
                negativesBelow++;
            } else {
                positivesAbove--;
            }
            boolean tieNext = k + 1 < order.length && s[order[k + 1]] == s[order[k]];
            if (!tieNext) {
                best = Math.max(best, ((double) negativesBelow / negatives + (double) positivesAbove / positives) / 2);
            }
        }
        return best;
    }

    /** Indexes {@code [lo, hi)} of {@code s}, by ascending score. */
    private static int[] sortedByScore(double[] s, int lo, int hi) {
        return java.util.stream.IntStream.range(lo, hi).boxed().sorted((a, b) -> Double.compare(s[a], s[b]))
                .mapToInt(Integer::intValue).toArray();
    }

    static String date(long ms) {
        return Instant.ofEpochMilli(ms).atZone(ZoneOffset.UTC).toLocalDate().toString();
    }

    /**
     * {@code DriftImpact [rows] [years] [seed] [bins] [variants]} (defaults 200000 2 42 5): prints the second year
     * month by month, by drift period and the degraded days; {@code variants} adds refits on other windows and
     * label delays.
     */
    public static void main(String[] args) throws Exception {
        long rows = args.length > 0 ? Long.parseLong(args[0]) : 200_000;
        int years = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        long seed = args.length > 2 ? Long.parseLong(args[2]) : 42;
        int bins = args.length > 3 ? Integer.parseInt(args[3]) : 5;
        long t0 = System.nanoTime();
        ChurnDataGenerator.Options options = new ChurnDataGenerator.Options(rows, years, seed);
        ChurnTable table = ChurnTable.generate(options);
        List<ChurnDataGenerator.Drift> drifts = new ChurnDataGenerator(options).driftList();
        Result r = measure(table, drifts, bins, LABEL_DELAY, REFIT_WINDOW);
        System.out.printf(Locale.ROOT, "rows %,d, years %d, seed %d, bins %d: positives %.4f (year 1 %.4f); v1 "
                + "holdout AUC %.4f, accuracy %.4f, balanced accuracy %.4f (%.1f s)%n", rows, years, seed, bins,
                r.positiveRate(), r.yearOnePositiveRate(), r.holdoutAuc(), r.holdoutAccuracy(), r.holdoutBalanced(),
                (System.nanoTime() - t0) / 1e9);
        System.out.println("| month | positives | static AUC | refitted AUC | oracle AUC | static acc | refitted acc | "
                + "static balanced acc | refitted balanced acc |");
        System.out.println("|---|---|---|---|---|---|---|---|---|");
        for (int k = 0; k < r.months().size(); k++) {
            System.out.printf(Locale.ROOT, "| %s | %.3f | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f |%n",
                    r.months().get(k), r.monthlyPositiveRate()[k], r.fixed().monthlyAuc()[k],
                    r.refitted().monthlyAuc()[k], r.oracle().monthlyAuc()[k], r.fixed().monthlyAccuracy()[k],
                    r.refitted().monthlyAccuracy()[k], r.fixed().monthlyBalanced()[k],
                    r.refitted().monthlyBalanced()[k]);
        }
        System.out.printf(Locale.ROOT, "| mean | %.3f | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f |%n",
                Arrays.stream(r.monthlyPositiveRate()).average().orElse(Double.NaN), r.fixed().meanAuc(),
                r.refitted().meanAuc(), r.oracle().meanAuc(), r.fixed().meanAccuracy(), r.refitted().meanAccuracy(),
                r.fixed().meanBalanced(), r.refitted().meanBalanced());
        System.out.printf(Locale.ROOT, "accuracy at P >= 0.5, mean over the months: static %.4f, refitted %.4f%n",
                r.fixed().meanHalf(), r.refitted().meanHalf());
        for (int k = 0; k < r.periods().size(); k++) {
            System.out.printf(Locale.ROOT, "period %-40s static AUC %.4f, refitted %.4f, oracle %.4f%n",
                    r.periods().get(k), r.fixed().periodAuc()[k], r.refitted().periodAuc()[k],
                    r.oracle().periodAuc()[k]);
        }
        System.out.printf(Locale.ROOT, "degraded days (7-day AUC < %.4f): static %d, refitted %d of %d%n",
                r.holdoutAuc() - DEGRADED_DROP, r.fixed().degradedDays(), r.refitted().degradedDays(),
                r.fixed().dailyAuc().length);
        StringBuilder weekly = new StringBuilder("7-day AUC every 14 days (static/refitted):");
        for (int d = 6; d < r.fixed().dailyAuc().length; d += 14) {
            weekly.append(String.format(Locale.ROOT, " %d:%.3f/%.3f", d, r.fixed().dailyAuc()[d],
                    r.refitted().dailyAuc()[d]));
        }
        System.out.println(weekly);
        if (args.length > 4 && args[4].equals("variants")) {
            variant(table, drifts, bins, 7, 60);
            variant(table, drifts, bins, 90, 90);
            variant(table, drifts, bins, 7, 365);
        }
        System.out.printf(Locale.ROOT, "(%.1f s in all)%n", (System.nanoTime() - t0) / 1e9);
    }

    private static void variant(ChurnTable table, List<ChurnDataGenerator.Drift> drifts, int bins, int delayDays,
                                int windowDays) {
        Result v = measure(table, drifts, bins, delayDays * DAY, windowDays * DAY);
        System.out.printf(Locale.ROOT, "refitted on %d days, labels %d days late: mean AUC %.4f, accuracy %.4f, "
                + "degraded days %d; AUC by period", windowDays, delayDays, v.refitted().meanAuc(),
                v.refitted().meanAccuracy(), v.refitted().degradedDays());
        for (double a : v.refitted().periodAuc()) {
            System.out.printf(Locale.ROOT, " %.4f", a);
        }
        System.out.println();
    }
}
