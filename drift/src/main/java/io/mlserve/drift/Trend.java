package io.mlserve.drift;

/**
 * A numeric feature's linear trend over the reference period, so that steady growth the model was trained on
 * (tenure and lifetime charges rising with the age of the customer base) is not reported as drift a year later.
 *
 * <p>The slope is the within-season least-squares estimate: per season bucket (or over all rows when the profile has
 * none) the covariance of value and time over the variance of time, pooled across buckets. Fitting within buckets
 * keeps recurring seasonal movement (a November campaign at the end of a one-year reference) out of the slope. A
 * trend is kept only when it is material: over the reference span it moves the feature by at least
 * {@link #MATERIAL} of its interquartile range (or of its 5–95 % range when the IQR is zero); otherwise the slope is
 * 0 and the feature is compared as it is.
 *
 * <p>With a trend the profile stores the feature's distribution projected to {@code originMs} (each value minus
 * {@code perDay} × days since the origin), and the recorder projects live values the same way, so both sides are
 * compared at the same point of the trend. If the trend stops or turns, the projected live values move away from
 * the reference and that is reported as drift, as it should be.
 */
public final class Trend {
    /** Share of the feature's spread the trend must move it by over the reference span to be kept. */
    public static final double MATERIAL = 0.1;
    static final double DAY_MS = 86_400_000.0;
    /** Standard errors a slope must be away from 0 to be kept. */
    public static final double Z = 5;

    private Trend() {
    }

    /** Days from the origin to {@code timeMs}. */
    public static double days(long timeMs, long originMs) {
        return (timeMs - originMs) / DAY_MS;
    }

    /**
     * The pooled within-bucket least-squares slope per day of {@code values} against {@code timesMs} (NaN values
     * skipped), or 0 when time does not vary within any bucket.
     *
     * @param bucket each row's season bucket 0 … buckets − 1, or null for one bucket
     */
    public static double slope(float[] values, long[] timesMs, long originMs, int[] bucket, int buckets) {
        Sums sums = new Sums(buckets);
        for (int i = 0; i < values.length; i++) {
            if (!Float.isNaN(values[i])) {
                sums.add(bucket == null ? 0 : bucket[i], days(timesMs[i], originMs), values[i]);
            }
        }
        return sums.slope();
    }

    /** Per-bucket sums of a regression of value on days: what {@link #slope} pools (also filled from Spark). */
    public static final class Sums {
        final double[] n;
        final double[] t;
        final double[] v;
        final double[] tt;
        final double[] tv;
        final double[] vv;

        public Sums(int buckets) {
            vv = new double[buckets];
            n = new double[buckets];
            t = new double[buckets];
            v = new double[buckets];
            tt = new double[buckets];
            tv = new double[buckets];
        }

        public void add(int b, double days, double value) {
            n[b]++;
            t[b] += days;
            v[b] += value;
            tt[b] += days * days;
            tv[b] += days * value;
            vv[b] += value * value;
        }

        /** Sets bucket b from sums computed elsewhere (count, Σt, Σv, Σt², Σtv, Σv²). */
        public void set(int b, double count, double sumT, double sumV, double sumTT, double sumTV, double sumVV) {
            vv[b] = sumVV;
            n[b] = count;
            t[b] = sumT;
            v[b] = sumV;
            tt[b] = sumTT;
            tv[b] = sumTV;
        }

        /**
         * The pooled slope if it is statistically distinguishable from 0 (at least {@link #Z} standard errors), else 0:
         * a slope fitted to noise would be projected forward for as long as the version serves.
         */
        public double slope() {
            double cov = 0;
            double var = 0;
            double vVar = 0;
            double rows = 0;
            int groups = 0;
            for (int b = 0; b < n.length; b++) {
                if (n[b] > 1) {
                    cov += tv[b] - t[b] * v[b] / n[b];
                    var += tt[b] - t[b] * t[b] / n[b];
                    vVar += vv[b] - v[b] * v[b] / n[b];
                    rows += n[b];
                    groups++;
                }
            }
            if (!(var > 1e-9) || rows <= groups + 1) {
                return 0;
            }
            double slope = cov / var;
            double residual = Math.max(0, vVar - slope * cov) / (rows - groups - 1);
            double se = Math.sqrt(residual / var);
            return Math.abs(slope) >= Z * se ? slope : 0;
        }
    }

    /**
     * The slope if it is material over {@code spanDays} for a feature with these quantiles (at every percentile,
     * 0.01 … 0.99), else 0.
     */
    public static double material(double perDay, double spanDays, double[] quantiles) {
        if (quantiles.length != 99 || !(spanDays > 0) || !Double.isFinite(perDay)) {
            return 0;
        }
        double spread = quantiles[74] - quantiles[24];
        if (!(spread > 0)) {
            spread = quantiles[94] - quantiles[4];
        }
        return spread > 0 && Math.abs(perDay) * spanDays >= MATERIAL * spread ? perDay : 0;
    }
}
