package io.mlserve.drift;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Live quality: outcomes (labels that become known later) joined to the predictions they label, in a bounded
 * buffer, and judged per window of joined pairs. Single-threaded: one agent feeds it predictions and outcomes.
 *
 * <p>Join: by request id when the outcome names one; otherwise by entity — the entity's buffered prediction whose
 * time is nearest the outcome's observed time, within {@code toleranceMs} (or the entity's latest prediction when
 * the outcome gives no time). Each prediction is used once. The buffer holds at most {@code capacity}
 * predictions; the oldest leave first ({@code expired}: their outcomes came too late or never), and with an outcome
 * wait a prediction older than the wait leaves too (checked as predictions arrive, against the caller's clock).
 * Outcomes that match nothing are {@code unmatched}. A {@link Listener} hears of every prediction as it starts
 * waiting, is joined, or expires. A window closes every {@code windowPairs} joined pairs per model version
 * (each version's own settings); quality is low when its AUC is below {@code minAuc}; the alert is raised after
 * {@code alertAfter} low windows in a row and cleared after {@code clearAfter} good ones, and while it stays raised
 * every {@code renotifyWindows} windows say so again ({@link Report#alertRenotified}).
 */
public final class QualityJoin {
    /**
     * A served prediction waiting for its outcome.
     *
     * @param row what the caller keeps with the prediction until it is joined or expires (opaque here), or null
     */
    public record Pending(String model, String version, String entity, String requestId, long timeMs, float score,
                          Object row) {
        public Pending(String model, String version, String entity, String requestId, long timeMs, float score) {
            this(model, version, entity, requestId, timeMs, score, null);
        }
    }

    /** Told, on the joining thread, what becomes of each prediction. */
    public interface Listener {
        /** {@code p} now waits for its outcome. */
        default void waiting(Pending p) {
        }

        /** {@code p} was joined with an outcome labelling it {@code label}, which became known at the given time. */
        void joined(Pending p, double label, long outcomeEventTimeMs);

        /** {@code p} left the buffer without an outcome (pushed out by capacity, older than the wait, or shut down). */
        void expired(Pending p);
    }

    /**
     * A model version's quality window: joined pairs per window, the AUC below which it is low and where that came
     * from, the accuracy threshold and where it came from (e.g. "config", "metadata", "default"), and every how many
     * windows a raised alert is reported again (0 = only when raised).
     */
    public record Settings(int windowPairs, double minAuc, String minAucFrom, double threshold, String thresholdFrom,
                           int renotifyWindows) {
        public Settings {
            if (windowPairs < 2) {
                throw new IllegalArgumentException("a quality window needs at least 2 pairs, got " + windowPairs);
            }
            if (renotifyWindows < 0) {
                throw new IllegalArgumentException("renotify windows must be >= 0, got " + renotifyWindows);
            }
        }

        public Settings(int windowPairs, double minAuc, double threshold) {
            this(windowPairs, minAuc, "", threshold, "", 0);
        }
    }

    /**
     * One closed quality window of a model version, judged with {@code settings}.
     *
     * @param alertRenotified the alert was already raised and stays raised, and {@code renotifyWindows} windows have
     *                        closed since it was last reported
     */
    public record Report(String model, String version, Quality.Metrics metrics, Settings settings, boolean low,
                         boolean alert, boolean alertRaised, boolean alertCleared, boolean alertRenotified) {
    }

    private final int capacity;
    private final long toleranceMs;
    private final java.util.function.BiFunction<String, String, Settings> settingsFor;
    private final int alertAfter;
    private final int clearAfter;
    private final Deque<Pending> order = new ArrayDeque<>();
    private final Map<String, Pending> byRequest = new HashMap<>();
    private final Map<String, Deque<Pending>> byEntity = new HashMap<>();
    private final Map<String, Window> windows = new LinkedHashMap<>();
    private int live;
    private long matched;
    private long unmatched;
    private long expired;
    private long outcomeWaitMs = Long.MAX_VALUE;
    private Listener listener;

    private static final class Window {
        final Settings settings;
        final float[] scores;
        final double[] labels;
        int n;
        int lowRun;
        int goodRun;
        int sinceReported;
        boolean alert;

        Window(Settings settings) {
            this.settings = settings;
            this.scores = new float[settings.windowPairs()];
            this.labels = new double[settings.windowPairs()];
        }
    }

    /** The same window settings for every model. */
    public QualityJoin(int capacity, long toleranceMs, int windowPairs, double threshold, double minAuc, int alertAfter,
                       int clearAfter) {
        this(capacity, toleranceMs, alertAfter, clearAfter, (model, version) -> new Settings(windowPairs, minAuc,
                threshold));
    }

    /**
     * @param settingsFor each model version's window settings, by (model, version) (asked once per model version, at
     *                    its first joined pair)
     */
    public QualityJoin(int capacity, long toleranceMs, int alertAfter, int clearAfter,
                       java.util.function.BiFunction<String, String, Settings> settingsFor) {
        if (capacity < 1 || alertAfter < 1 || clearAfter < 1 || toleranceMs < 0) {
            throw new IllegalArgumentException("capacity >= 1, alert/clear >= 1, tolerance >= 0");
        }
        this.capacity = capacity;
        this.toleranceMs = toleranceMs;
        this.settingsFor = settingsFor;
        this.alertAfter = alertAfter;
        this.clearAfter = clearAfter;
    }

    /** Tells {@code l} what becomes of every prediction from now on. */
    public QualityJoin withListener(Listener l) {
        this.listener = l;
        return this;
    }

    /** Predictions older than {@code waitMs} (by the {@code nowMs} given with each new prediction) expire. */
    public QualityJoin withOutcomeWait(long waitMs) {
        if (waitMs < 1) {
            throw new IllegalArgumentException("outcome wait must be at least 1 ms, got " + waitMs);
        }
        this.outcomeWaitMs = waitMs;
        return this;
    }

    /** A prediction, without the outcome wait's check. */
    public void prediction(Pending p) {
        prediction(p, Long.MIN_VALUE);
    }

    /** A prediction made known at {@code nowMs}: first the ones older than the outcome wait expire. */
    public void prediction(Pending p, long nowMs) {
        long cutoff = nowMs == Long.MIN_VALUE || outcomeWaitMs == Long.MAX_VALUE ? Long.MIN_VALUE : nowMs - outcomeWaitMs;
        order.addLast(p);
        if (!p.requestId().isEmpty()) {
            byRequest.put(p.requestId() + "\u0000" + p.entity(), p);
        }
        byEntity.computeIfAbsent(p.entity(), k -> new ArrayDeque<>()).addLast(p);
        live++;
        if (listener != null) {
            listener.waiting(p);
        }
        // joined predictions stay in the order queue until they reach its head (removing them there is free); the
        // queue is in arrival order, so the age check stops at the first prediction young enough
        while (live > capacity || (!order.isEmpty() && order.peekFirst().timeMs() < cutoff)) {
            expire(order.pollFirst());
        }
    }

    /** Every prediction still waiting expires (the joining agent is stopping). */
    public void expireAll() {
        while (!order.isEmpty()) {
            expire(order.pollFirst());
        }
    }

    private void expire(Pending old) {
        if (forget(old)) {
            expired++;
            live--;
            if (listener != null) {
                listener.expired(old);
            }
        }
    }

    /**
     * Joins an outcome; returns the window report when this pair closed a window, else null.
     *
     * @param requestId the request the prediction was made in, or "" (then entity and time decide)
     * @param observedTimeMs when the labelled prediction was made, or 0 for the entity's latest
     */
    public Report outcome(String requestId, String entity, long observedTimeMs, double label) {
        return outcome(requestId, entity, observedTimeMs, label, 0);
    }

    /** As {@link #outcome(String, String, long, double)}; the listener hears the outcome's own event time. */
    public Report outcome(String requestId, String entity, long observedTimeMs, double label, long outcomeEventTimeMs) {
        Pending p = requestId.isEmpty() ? null : byRequest.get(requestId + "\u0000" + entity);
        if (p == null) {
            p = nearest(entity, observedTimeMs);
        }
        if (p == null) {
            unmatched++;
            return null;
        }
        forget(p);
        live--;
        matched++;
        if (listener != null) {
            listener.joined(p, label, outcomeEventTimeMs);
        }
        String key = p.model() + "\u0000" + p.version();
        Pending joined = p;
        Window w = windows.computeIfAbsent(key, k -> new Window(settingsFor.apply(joined.model(), joined.version())));
        w.scores[w.n] = p.score();
        w.labels[w.n] = label;
        if (++w.n < w.settings.windowPairs()) {
            return null;
        }
        Quality.Metrics m = Quality.of(w.scores, w.labels, w.n, w.settings.threshold());
        w.n = 0;
        boolean low = m.auc() < w.settings.minAuc();
        boolean raised = false;
        boolean cleared = false;
        boolean again = false;
        if (low) {
            w.lowRun++;
            w.goodRun = 0;
            if (!w.alert && w.lowRun >= alertAfter) {
                w.alert = true;
                raised = true;
            }
        } else {
            w.goodRun++;
            w.lowRun = 0;
            if (w.alert && w.goodRun >= clearAfter) {
                w.alert = false;
                cleared = true;
            }
        }
        int renotify = w.settings.renotifyWindows();
        if (raised) {
            w.sinceReported = 0;
        } else if (w.alert && renotify > 0 && ++w.sinceReported >= renotify) {
            w.sinceReported = 0;
            again = true;
        }
        return new Report(p.model(), p.version(), m, w.settings, low, w.alert, raised, cleared, again);
    }

    private Pending nearest(String entity, long observedTimeMs) {
        Deque<Pending> d = byEntity.get(entity);
        if (d == null || d.isEmpty()) {
            return null;
        }
        if (observedTimeMs <= 0) {
            return d.peekLast();
        }
        Pending best = null;
        long bestGap = Long.MAX_VALUE;
        for (Pending p : d) {
            long gap = Math.abs(p.timeMs() - observedTimeMs);
            if (gap <= toleranceMs && gap < bestGap) {
                best = p;
                bestGap = gap;
            }
        }
        return best;
    }

    /** Removes a prediction from the indexes; false when it was already gone (joined). */
    private boolean forget(Pending p) {
        if (!p.requestId().isEmpty()) {
            byRequest.remove(p.requestId() + "\u0000" + p.entity(), p);
        }
        Deque<Pending> d = byEntity.get(p.entity());
        boolean had = false;
        if (d != null) {
            for (Iterator<Pending> it = d.iterator(); it.hasNext(); ) {
                if (it.next() == p) {
                    it.remove();
                    had = true;
                    break;
                }
            }
            if (d.isEmpty()) {
                byEntity.remove(p.entity());
            }
        }
        return had;
    }

    public long matched() {
        return matched;
    }

    public long unmatched() {
        return unmatched;
    }

    public long expired() {
        return expired;
    }

    public int buffered() {
        return live;
    }
}
