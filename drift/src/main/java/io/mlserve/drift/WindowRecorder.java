package io.mlserve.drift;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.datasketches.kll.KllFloatsSketch;

/**
 * Records model inputs and scores into the current window without a lock: each recording thread owns a stripe
 * with two buffers (bin counts at the reference's edges, category counts, a KLL sketch per numeric feature and for
 * the score); {@link #close} flips the window epoch, waits for writers still inside the old buffers, merges them
 * into a {@link Window} and clears them. Counts are conserved exactly: every recorded row lands in exactly one
 * closed window. Only {@link #close} (one background thread) blocks; {@link #record} never does, and allocates
 * nothing after a thread's first call.
 */
public final class WindowRecorder {
    /** The rows to record: row-major values by model input column, and the score per row. */
    public interface Rows {
        float value(int row, int column);

        float score(int row);
    }

    private final ReferenceProfile reference;
    private final int k;
    private final int[] numericIndex;
    private final double[][] numericEdges;
    private final int[] categoricalIndex;
    private final int[] categories;
    private final double[] scoreEdges;
    private final List<Stripe> stripes = new CopyOnWriteArrayList<>();
    private final ThreadLocal<Stripe> local;
    private volatile int epoch;
    private long windowStartMs;

    /** @param k KLL accuracy parameter (200: about 1.3 % normalized rank error at 99 % confidence) */
    public WindowRecorder(ReferenceProfile reference, int k, long nowMs) {
        this.reference = reference;
        this.k = k;
        List<ReferenceProfile.Feature> fs = reference.features();
        int n = (int) fs.stream().filter(f -> f instanceof ReferenceProfile.Numeric).count();
        numericIndex = new int[n];
        numericEdges = new double[n][];
        categoricalIndex = new int[fs.size() - n];
        categories = new int[fs.size() - n];
        int a = 0;
        int c = 0;
        for (ReferenceProfile.Feature f : fs) {
            if (f instanceof ReferenceProfile.Numeric num) {
                numericIndex[a] = num.index();
                numericEdges[a++] = num.edges();
            } else {
                ReferenceProfile.Categorical cat = (ReferenceProfile.Categorical) f;
                categoricalIndex[c] = cat.index();
                categories[c++] = cat.vocabulary().size();
            }
        }
        scoreEdges = reference.score() == null ? new double[0] : reference.score().edges();
        local = ThreadLocal.withInitial(() -> {
            Stripe s = new Stripe();
            stripes.add(s);
            return s;
        });
        windowStartMs = nowMs;
    }

    public ReferenceProfile reference() {
        return reference;
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
            s.buffers[e & 1].add(rows, count, timeMs);
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

    private final class Stripe {
        final Buffers[] buffers = {new Buffers(), new Buffers()};
        volatile int active = -1;
    }

    /** One stripe's counts for one epoch (or the merged total). */
    private final class Buffers {
        long rows;
        long minTime = Long.MAX_VALUE;
        long maxTime = Long.MIN_VALUE;
        final long[][] bins = new long[numericIndex.length][];
        final long[] numericMissing = new long[numericIndex.length];
        final KllFloatsSketch[] sketches = new KllFloatsSketch[numericIndex.length];
        final long[][] codes = new long[categoricalIndex.length][];
        final long[] scoreBins = new long[scoreEdges.length + 1];
        final KllFloatsSketch scoreSketch = KllFloatsSketch.newHeapInstance(k);

        Buffers() {
            for (int i = 0; i < numericIndex.length; i++) {
                bins[i] = new long[numericEdges[i].length + 1];
                sketches[i] = KllFloatsSketch.newHeapInstance(k);
            }
            for (int i = 0; i < categoricalIndex.length; i++) {
                codes[i] = new long[categories[i] + 1]; // the last counts missing or unknown codes
            }
        }

        void add(Rows r, int count, long timeMs) {
            for (int row = 0; row < count; row++) {
                for (int i = 0; i < numericIndex.length; i++) {
                    float v = r.value(row, numericIndex[i]);
                    if (Float.isNaN(v)) {
                        numericMissing[i]++;
                    } else {
                        bins[i][bin(numericEdges[i], v)]++;
                        sketches[i].update(v);
                    }
                }
                for (int i = 0; i < categoricalIndex.length; i++) {
                    float v = r.value(row, categoricalIndex[i]);
                    int code = (int) v;
                    codes[i][v >= 0 && code == v && code < categories[i] ? code : categories[i]]++;
                }
                float score = r.score(row);
                if (!Float.isNaN(score)) {
                    scoreBins[bin(scoreEdges, score)]++;
                    scoreSketch.update(score);
                }
            }
            rows += count;
            minTime = Math.min(minTime, timeMs);
            maxTime = Math.max(maxTime, timeMs);
        }

        void merge(Buffers o) {
            rows += o.rows;
            minTime = Math.min(minTime, o.minTime);
            maxTime = Math.max(maxTime, o.maxTime);
            for (int i = 0; i < bins.length; i++) {
                addAll(bins[i], o.bins[i]);
                numericMissing[i] += o.numericMissing[i];
                if (!o.sketches[i].isEmpty()) {
                    sketches[i].merge(o.sketches[i]);
                }
            }
            for (int i = 0; i < codes.length; i++) {
                addAll(codes[i], o.codes[i]);
            }
            addAll(scoreBins, o.scoreBins);
            if (!o.scoreSketch.isEmpty()) {
                scoreSketch.merge(o.scoreSketch);
            }
        }

        void clear() {
            rows = 0;
            minTime = Long.MAX_VALUE;
            maxTime = Long.MIN_VALUE;
            for (int i = 0; i < bins.length; i++) {
                java.util.Arrays.fill(bins[i], 0);
                numericMissing[i] = 0;
                sketches[i].reset();
            }
            for (long[] c : codes) {
                java.util.Arrays.fill(c, 0);
            }
            java.util.Arrays.fill(scoreBins, 0);
            scoreSketch.reset();
        }

        Window toWindow(long startMs, long endMs) {
            return new Window(rows, startMs, endMs, rows == 0 ? startMs : minTime, rows == 0 ? endMs : maxTime, bins,
                    numericMissing, sketches, codes, scoreBins, scoreSketch);
        }
    }

    /** Bin of v among the inner edges: the number of edges ≤ v (0 … edges.length). */
    static int bin(double[] edges, float v) {
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
     * A closed window: rows, its wall-clock span and the span of the recorded times, and per feature (in the
     * reference's numeric / categorical order) the counts and sketches.
     */
    public record Window(long rows, long startMs, long endMs, long firstTimeMs, long lastTimeMs, long[][] bins,
                         long[] numericMissing, KllFloatsSketch[] sketches, long[][] codes, long[] scoreBins,
                         KllFloatsSketch scoreSketch) {
    }
}
