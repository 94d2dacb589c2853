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
 * predictions; the oldest leave first ({@code expired}: their outcomes came too late or never). Outcomes that
 * match nothing are {@code unmatched}. A window closes every {@code windowPairs} joined pairs per model version
 * (each model's own settings); quality is low when its AUC is below {@code minAuc}; the alert is raised after {@code alertAfter} low windows
 * in a row and cleared after {@code clearAfter} good ones.
 */
public final class QualityJoin {
    /** A served prediction waiting for its outcome. */
    public record Pending(String model, String version, String entity, String requestId, long timeMs, float score) {
    }

    /** A model's quality window: joined pairs per window, the AUC below which it is low, the accuracy threshold. */
    public record Settings(int windowPairs, double minAuc, double threshold) {
        public Settings {
            if (windowPairs < 2) {
                throw new IllegalArgumentException("a quality window needs at least 2 pairs, got " + windowPairs);
            }
        }
    }

    /** One closed quality window of a model version. */
    public record Report(String model, String version, Quality.Metrics metrics, boolean low, boolean alert,
                         boolean alertRaised, boolean alertCleared) {
    }

    private final int capacity;
    private final long toleranceMs;
    private final java.util.function.Function<String, Settings> settingsFor;
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

    private static final class Window {
        final Settings settings;
        final float[] scores;
        final double[] labels;
        int n;
        int lowRun;
        int goodRun;
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
        this(capacity, toleranceMs, alertAfter, clearAfter, model -> new Settings(windowPairs, minAuc, threshold));
    }

    /** @param settingsFor each model's window settings (asked once per model version, at its first joined pair) */
    public QualityJoin(int capacity, long toleranceMs, int alertAfter, int clearAfter,
                       java.util.function.Function<String, Settings> settingsFor) {
        if (capacity < 1 || alertAfter < 1 || clearAfter < 1 || toleranceMs < 0) {
            throw new IllegalArgumentException("capacity >= 1, alert/clear >= 1, tolerance >= 0");
        }
        this.capacity = capacity;
        this.toleranceMs = toleranceMs;
        this.settingsFor = settingsFor;
        this.alertAfter = alertAfter;
        this.clearAfter = clearAfter;
    }

    public void prediction(Pending p) {
        order.addLast(p);
        if (!p.requestId().isEmpty()) {
            byRequest.put(p.requestId() + "\u0000" + p.entity(), p);
        }
        byEntity.computeIfAbsent(p.entity(), k -> new ArrayDeque<>()).addLast(p);
        live++;
        // joined predictions stay in the order queue until they reach its head (removing them there is free)
        while (live > capacity) {
            Pending old = order.pollFirst();
            if (forget(old)) {
                expired++;
                live--;
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
        String key = p.model() + "\u0000" + p.version();
        String model = p.model();
        Window w = windows.computeIfAbsent(key, k -> new Window(settingsFor.apply(model)));
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
        return new Report(p.model(), p.version(), m, low, w.alert, raised, cleared);
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
