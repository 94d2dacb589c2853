package io.mlserve.drift;

import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Records model inputs and scores into the current window without a lock: each recording thread owns a stripe
 * with two buffers of counts — numeric features in fixed bins at the reference's percentiles (100 bins: exact
 * counts from which PSI, Jensen–Shannon and a bounded KS follow; a feature with a reference trend is first projected
 * along it, {@link Trend}), categorical features per code, the score in
 * bins at its percentiles and at its histogram edges; {@link #close} flips the window epoch, waits for writers
 * still inside the old buffers, merges them into a {@link Window} and clears them. Counts are conserved exactly:
 * every recorded row lands in exactly one closed window. With {@code sampleEvery} n &gt; 1 each thread records one
 * row in n (for batch-heavy traffic), and the window says how many rows it saw and how many it recorded. Only
 * {@link #close} (one background thread) blocks; {@link #record} never does, and allocates nothing after a
 * thread's first call.
 */
public final class WindowRecorder {
    /** The rows to record: row-major values by model input column, and the score per row. */
    public interface Rows {
        float value(int row, int column);

        float score(int row);
    }

    private final ReferenceProfile reference;
    private final int sampleEvery;
    private final int[] numericIndex;
    private final double[] numericTrend;
    private final long trendOriginMs;
    private final boolean trended;
    private final double[][] numericEdges;
    private final int[] categoricalIndex;
    private final int[] categories;
    private final double[] scoreEdges;
    private final double[] scoreFineEdges;
    private final BinLookup[] numericLookup;
    private final BinLookup scoreLookup;
    private final BinLookup scoreFineLookup;
    private final SequentialDetector.Tables tables;
    /**
     * Per numeric feature and fine bin, u and v side by side in fixed point ({@link #ONE}): one array read and integer
     * adds per value on the request path.
     */
    private final long[][] numericUV;
    private final long[][] categoricalT;
    private final long[] scoreUV;
    /** The fixed-point unit of the sequential sums (2^24: statistics to 6e-8). */
    static final double ONE = 1 << 24;
    private final List<Stripe> stripes = new CopyOnWriteArrayList<>();
    private final ThreadLocal<Stripe> local;
    private volatile int epoch;
    private long windowStartMs;

    /** @param sampleEvery record one row in this many, per thread (1 = every row) */
    public WindowRecorder(ReferenceProfile reference, int sampleEvery, long nowMs) {
        this(reference, sampleEvery, nowMs, true);
    }

    /**
     * @param detrend project numeric values along the reference's trends ({@link Trend}) before binning them; off,
     *                values are compared with the reference as they come
     */
    public WindowRecorder(ReferenceProfile reference, int sampleEvery, long nowMs, boolean detrend) {
        if (sampleEvery < 1) {
            throw new IllegalArgumentException("sample_every must be at least 1, got " + sampleEvery);
        }
        this.reference = reference;
        this.sampleEvery = sampleEvery;
        List<ReferenceProfile.Feature> fs = reference.features();
        int n = (int) fs.stream().filter(f -> f instanceof ReferenceProfile.Numeric).count();
        numericIndex = new int[n];
        numericTrend = new double[n];
        trendOriginMs = reference.trendOriginMs();
        trended = detrend;
        numericEdges = new double[n][];
        categoricalIndex = new int[fs.size() - n];
        categories = new int[fs.size() - n];
        int a = 0;
        int c = 0;
        for (ReferenceProfile.Feature f : fs) {
            if (f instanceof ReferenceProfile.Numeric num) {
                numericIndex[a] = num.index();
                numericTrend[a] = detrend ? num.trendPerDay() : 0;
                numericEdges[a++] = fineEdges(num.overall().quantiles(), num.edges());
            } else {
                ReferenceProfile.Categorical cat = (ReferenceProfile.Categorical) f;
                categoricalIndex[c] = cat.index();
                categories[c++] = cat.vocabulary().size();
            }
        }
        scoreEdges = reference.score() == null ? new double[0] : reference.score().edges();
        scoreFineEdges = reference.score() == null ? new double[0]
                : fineEdges(reference.score().overall().quantiles(), scoreEdges);
        numericLookup = new BinLookup[numericEdges.length];
        for (int i = 0; i < numericEdges.length; i++) {
            numericLookup[i] = new BinLookup(numericEdges[i]);
        }
        scoreLookup = new BinLookup(scoreEdges);
        scoreFineLookup = new BinLookup(scoreFineEdges);
        tables = new SequentialDetector.Tables(reference, numericEdges, scoreFineEdges);
        numericUV = new long[numericEdges.length][];
        for (int i = 0; i < numericUV.length; i++) {
            numericUV[i] = interleave(tables.numericU[i], tables.numericV[i]);
        }
        categoricalT = new long[tables.categoricalT.length][];
        for (int i = 0; i < categoricalT.length; i++) {
            categoricalT[i] = interleave(tables.categoricalT[i], null);
        }
        scoreUV = interleave(tables.scoreU, tables.scoreV);
        local = ThreadLocal.withInitial(() -> {
            Stripe s = new Stripe();
            stripes.add(s);
            return s;
        });
        windowStartMs = nowMs;
    }

    /**
     * The fine bin edges of a numeric feature: the distinct reference quantiles (every percentile), or the coarse
     * histogram edges when the reference has no quantiles.
     */
    static double[] fineEdges(double[] quantiles, double[] coarse) {
        double[] q = Arrays.stream(quantiles).filter(Double::isFinite).distinct().sorted().toArray();
        return q.length > 0 ? q : coarse.clone();
    }

    public ReferenceProfile reference() {
        return reference;
    }

    /** {@code a} (and {@code b} after each value of a, when given) in fixed point. */
    private static long[] interleave(double[] a, double[] b) {
        int step = b == null ? 1 : 2;
        long[] out = new long[step * a.length];
        for (int k = 0; k < a.length; k++) {
            out[step * k] = Math.round(a[k] * ONE);
            if (b != null) {
                out[step * k + 1] = Math.round(b[k] * ONE);
            }
        }
        return out;
    }

    /** The statistics every recorded value adds to the sequential totals ({@link SequentialDetector}). */
    public SequentialDetector.Tables tables() {
        return tables;
    }

    /**
     * The sequential totals over every row recorded so far, summed over the recording threads. Each thread adds to
     * its own totals and this reads them without a lock: a value read mid-update is only late — the totals are
     * cumulative, so the next look sees it.
     */
    public SequentialDetector.Totals totals() {
        long[] nRows = new long[numericIndex.length];
        double[] nU = new double[numericIndex.length];
        double[] nV = new double[numericIndex.length];
        long[] cRows = new long[categoricalIndex.length];
        double[] cT = new double[categoricalIndex.length];
        long sRows = 0;
        double sU = 0;
        double sV = 0;
        long rows = 0;
        for (Stripe s : stripes) {
            long r = s.rows;
            for (int i = 0; i < nRows.length; i++) {
                nRows[i] += r - s.numericMissing[i];
                nU[i] += s.numericUV[2 * i] / ONE;
                nV[i] += s.numericUV[2 * i + 1] / ONE;
            }
            for (int i = 0; i < cRows.length; i++) {
                cRows[i] += r;
                cT[i] += s.categoricalT[i] / ONE;
            }
            sRows += s.scoreRows;
            sU += s.scoreUV[0] / ONE;
            sV += s.scoreUV[1] / ONE;
            rows += r;
        }
        return new SequentialDetector.Totals(nRows, nU, nV, cRows, cT, sRows, sU, sV, rows);
    }


    /** Records {@code count} rows seen at {@code timeMs} (the request's time, or a simulated event time). */
    public void record(Rows rows, int count, long timeMs) {
        Stripe s = local.get();
        int e;
        while (true) {
            e = epoch;
            s.active = e;
            if (epoch == e) {
                break;
            }
            s.active = -1;
        }
        try {
            s.buffers[e & 1].add(s, rows, count, timeMs);
        } finally {
            s.active = -1;
        }
    }

    /** Rows recorded in the open window so far (approximate while threads record). */
    public long pendingRows() {
        long n = 0;
        int e = epoch;
        for (Stripe s : stripes) {
            n += s.buffers[e & 1].rows;
        }
        return n;
    }

    public long windowStartMs() {
        return windowStartMs;
    }

    /** Closes the open window (one closer at a time) and returns what it holds. */
    public synchronized Window close(long nowMs) {
        int old = epoch;
        epoch = old + 1;
        Buffers total = new Buffers();
        for (Stripe s : stripes) {
            while (s.active == old) {
                Thread.onSpinWait();
            }
            Buffers b = s.buffers[old & 1];
            total.merge(b);
            b.clear();
        }
        Window w = total.toWindow(windowStartMs, nowMs);
        windowStartMs = nowMs;
        return w;
    }

    /** One recording thread's state: its two epochs' counts, and its cumulative sequential totals (written by it). */
    private final class Stripe {
        final Buffers[] buffers = {new Buffers(), new Buffers()};
        volatile int active = -1;
        long sampleCounter;
        final long[] numericMissing = new long[numericIndex.length];
        final int[] binOf = new int[numericIndex.length];
        final long[] numericUV = new long[2 * numericIndex.length];
        final long[] categoricalT = new long[categoricalIndex.length];
        long scoreRows;
        final long[] scoreUV = new long[2];
        long rows;
    }

    /** One stripe's counts for one epoch (or the merged total). */
    private final class Buffers {
        long seen;
        long rows;
        long minTime = Long.MAX_VALUE;
        long maxTime = Long.MIN_VALUE;
        final long[][] bins = new long[numericIndex.length][];
        final long[] numericMissing = new long[numericIndex.length];
        final long[][] codes = new long[categoricalIndex.length][];
        final long[] scoreBins = new long[scoreEdges.length + 1];
        final long[] scoreFine = new long[scoreFineEdges.length + 1];

        Buffers() {
            for (int i = 0; i < numericIndex.length; i++) {
                bins[i] = new long[numericEdges[i].length + 1];
            }
            for (int i = 0; i < categoricalIndex.length; i++) {
                codes[i] = new long[categories[i] + 1]; // the last counts missing or unknown codes
            }
        }

        void add(Stripe s, Rows r, int count, long timeMs) {
            seen += count;
            double days = Trend.days(timeMs, trendOriginMs);
            for (int row = 0; row < count; row++) {
                if (sampleEvery > 1 && s.sampleCounter++ % sampleEvery != 0) {
                    continue;
                }
                rows++;
                s.rows++;
                int[] binOf = s.binOf;
                for (int i = 0; i < numericIndex.length; i++) {
                    float v = (float) (r.value(row, numericIndex[i]) - numericTrend[i] * days);
                    if (Float.isNaN(v)) {
                        numericMissing[i]++;
                        binOf[i] = -1;
                    } else {
                        int b = numericLookup[i].bin(v);
                        bins[i][b]++;
                        binOf[i] = b;
                    }
                }
                // the sequential totals, in a loop of their own (the binning loop above stays as tight as it was)
                long[] uvSum = s.numericUV;
                long[][] uv = numericUV;
                for (int i = 0; i < binOf.length; i++) {
                    int b = binOf[i];
                    if (b < 0) {
                        s.numericMissing[i]++;
                    } else {
                        uvSum[2 * i] += uv[i][2 * b];
                        uvSum[2 * i + 1] += uv[i][2 * b + 1];
                    }
                }
                long[][] surprise = categoricalT;
                for (int i = 0; i < categoricalIndex.length; i++) {
                    float v = r.value(row, categoricalIndex[i]);
                    int code = (int) v;
                    int slot = v >= 0 && code == v && code < categories[i] ? code : categories[i];
                    codes[i][slot]++;
                    s.categoricalT[i] += surprise[i][slot];
                }
                float score = r.score(row);
                if (!Float.isNaN(score)) {
                    scoreBins[scoreLookup.bin(score)]++;
                    int b = scoreFineLookup.bin(score);
                    scoreFine[b]++;
                    if (scoreUV.length > 0) {
                        s.scoreRows++;
                        s.scoreUV[0] += scoreUV[2 * b];
                        s.scoreUV[1] += scoreUV[2 * b + 1];
                    }
                }
            }
            minTime = Math.min(minTime, timeMs);
            maxTime = Math.max(maxTime, timeMs);
        }

        void merge(Buffers o) {
            seen += o.seen;
            rows += o.rows;
            minTime = Math.min(minTime, o.minTime);
            maxTime = Math.max(maxTime, o.maxTime);
            for (int i = 0; i < bins.length; i++) {
                addAll(bins[i], o.bins[i]);
                numericMissing[i] += o.numericMissing[i];
            }
            for (int i = 0; i < codes.length; i++) {
                addAll(codes[i], o.codes[i]);
            }
            addAll(scoreBins, o.scoreBins);
            addAll(scoreFine, o.scoreFine);
        }

        void clear() {
            seen = 0;
            rows = 0;
            minTime = Long.MAX_VALUE;
            maxTime = Long.MIN_VALUE;
            for (int i = 0; i < bins.length; i++) {
                Arrays.fill(bins[i], 0);
                numericMissing[i] = 0;
            }
            for (long[] c : codes) {
                Arrays.fill(c, 0);
            }
            Arrays.fill(scoreBins, 0);
            Arrays.fill(scoreFine, 0);
        }

        Window toWindow(long startMs, long endMs) {
            return new Window(seen, rows, startMs, endMs, rows == 0 ? startMs : minTime, rows == 0 ? endMs : maxTime,
                    bins, numericMissing, codes, scoreBins, scoreFine, trended);
        }
    }

    /** Bin of v among the inner edges: the number of edges ≤ v (0 … edges.length). */
    static int bin(double[] edges, float v) {
        return bin(edges, (double) v);
    }

    /** Bin of v among the inner edges, by binary search (a coarse edge's place among fine ones; the reference). */
    static int bin(double[] edges, double v) {
        int lo = 0;
        int hi = edges.length;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            if (edges[mid] <= v) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    private static void addAll(long[] into, long[] from) {
        for (int i = 0; i < into.length; i++) {
            into[i] += from[i];
        }
    }

    /**
     * A closed window: rows seen and recorded (they differ when sampling), its wall-clock span and the span of the
     * recorded times, and per feature (in the reference's numeric / categorical order) the counts: numeric in the
     * fine bins ({@link #fineEdges}), categorical per code (last: missing or unknown), the score in its histogram
     * bins and in its fine bins; {@code trended} when numeric values were projected along the reference's trends.
     */
    public record Window(long seen, long rows, long startMs, long endMs, long firstTimeMs, long lastTimeMs,
                         long[][] bins, long[] numericMissing, long[][] codes, long[] scoreBins, long[] scoreFine,
                         boolean trended) {
    }
}
