package io.mlserve.rollout;

import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * What one version (an arm of a rollout) did in the current window: requests, errors, a latency histogram and a
 * histogram of its scores. Recording is lock-free (adders and atomic array cells, no allocation); {@link #drain}
 * takes the window's counts and zeroes them cell by cell, so every recorded event lands in exactly one window.
 *
 * <p>Latency buckets are logarithmic with four sub-buckets per power of two of microseconds (relative width ≤ 19 %),
 * from 1 µs up to about 2<sup>37</sup> µs; a percentile is reported as the upper edge of the bucket it falls in. Scores
 * fall in {@link #SCORE_BINS} equal bins over [0, 1] (values outside are clamped, NaN skipped).
 */
public final class ArmRecorder {
    public static final int SCORE_BINS = 20;
    private static final int SUB = 4;
    static final int LATENCY_BUCKETS = 38 * SUB;
    private final LongAdder requests = new LongAdder();
    private final LongAdder errors = new LongAdder();
    private final AtomicLongArray latency = new AtomicLongArray(LATENCY_BUCKETS);
    private final AtomicLongArray scores = new AtomicLongArray(SCORE_BINS);

    /** One answered request that took {@code nanos} from arrival to answer. */
    public void success(long nanos) {
        requests.increment();
        latency.incrementAndGet(bucket(nanos));
    }

    /** One failed request. */
    public void failure(long nanos) {
        requests.increment();
        errors.increment();
        latency.incrementAndGet(bucket(nanos));
    }

    /** One row's score. */
    public void score(float score) {
        if (Float.isNaN(score)) {
            return;
        }
        int bin = (int) (Math.min(1f, Math.max(0f, score)) * SCORE_BINS);
        scores.incrementAndGet(Math.min(SCORE_BINS - 1, bin));
    }

    static int bucket(long nanos) {
        long micros = Math.max(1, nanos / 1_000);
        int exp = 63 - Long.numberOfLeadingZeros(micros);
        int sub = exp >= 2 ? (int) ((micros >>> (exp - 2)) & (SUB - 1)) : (int) ((micros << (2 - exp)) & (SUB - 1));
        return Math.min(LATENCY_BUCKETS - 1, exp * SUB + sub);
    }

    /** Upper edge of a latency bucket, in milliseconds. */
    static double upperMs(int bucket) {
        int exp = bucket / SUB;
        int sub = bucket % SUB;
        return Math.pow(2, exp) * (1 + (sub + 1) / (double) SUB) / 1_000.0;
    }

    /** Requests recorded in the open window so far. */
    public long requests() {
        return requests.sum();
    }

    /** The window so far, zeroed. */
    public Window drain() {
        long r = requests.sumThenReset();
        long e = errors.sumThenReset();
        long[] lat = new long[LATENCY_BUCKETS];
        for (int i = 0; i < lat.length; i++) {
            lat[i] = latency.getAndSet(i, 0);
        }
        long[] sc = new long[SCORE_BINS];
        for (int i = 0; i < sc.length; i++) {
            sc[i] = scores.getAndSet(i, 0);
        }
        return new Window(r, e, lat, sc);
    }

    /** One arm's counts over a window. */
    public record Window(long requests, long errors, long[] latency, long[] scores) {
        public double errorRate() {
            return requests == 0 ? 0 : errors / (double) requests;
        }

        /** The latency at quantile q (upper bucket edge), in ms; NaN without requests. */
        public double latencyMs(double q) {
            long total = 0;
            for (long c : latency) {
                total += c;
            }
            if (total == 0) {
                return Double.NaN;
            }
            long rank = (long) Math.ceil(q * total);
            long seen = 0;
            for (int i = 0; i < latency.length; i++) {
                seen += latency[i];
                if (seen >= rank) {
                    return upperMs(i);
                }
            }
            return upperMs(latency.length - 1);
        }

        public long scored() {
            long n = 0;
            for (long c : scores) {
                n += c;
            }
            return n;
        }
    }
}
