package io.mlserve.server.drift;

import io.mlserve.drift.DriftDetector;
import io.mlserve.proto.v1.DriftEvent;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * The recent drift history of the server, kept in memory for {@code GET /v1/drift/{model}/history}: every judged
 * window of every model version, every sequential flag raised or ended, and every alert raised (drift and quality,
 * as handed to the retrain bridge), in bounded rings — the oldest leave first. Written by the drift monitor's and live quality's threads, read by HTTP
 * handlers; the lock is held only to add or copy out.
 */
public final class DriftHistory implements DriftListener {
    /** Windows kept per server. */
    public static final int WINDOWS = 10_000;
    /** Alerts kept per server. */
    public static final int ALERTS = 2_000;
    /** Flag transitions kept per server. */
    public static final int FLAGS = 20_000;

    /** A feature's sequential flag raised ({@code on}) or ended. */
    public record Flag(String model, String version, String feature, boolean on, long timeMs) {
    }

    /** One judged window; {@code features} are the drifted ones. */
    public record Window(String model, String version, long startMs, long endMs, long rows, boolean drifted,
                         boolean alertRaised, List<String> features) {
    }

    private final int maxWindows;
    private final int maxAlerts;
    private final ArrayDeque<Window> windows = new ArrayDeque<>();
    private final ArrayDeque<DriftEvent> alerts = new ArrayDeque<>();
    private final ArrayDeque<Flag> flags = new ArrayDeque<>();

    public DriftHistory() {
        this(WINDOWS, ALERTS);
    }

    public DriftHistory(int maxWindows, int maxAlerts) {
        if (maxWindows < 1 || maxAlerts < 1) {
            throw new IllegalArgumentException("drift history must keep at least one window and one alert");
        }
        this.maxWindows = maxWindows;
        this.maxAlerts = maxAlerts;
    }

    @Override
    public void window(String model, String version, DriftDetector.Report report) {
        List<String> drifted = new ArrayList<>();
        for (Map.Entry<String, DriftDetector.FeatureResult> f : report.features().entrySet()) {
            if (f.getValue().drifted()) {
                drifted.add(f.getKey());
            }
        }
        Window w = new Window(model, version, report.startMs(), report.endMs(), report.rows(), report.drifted(),
                report.alertRaised(), List.copyOf(drifted));
        synchronized (windows) {
            if (windows.size() == maxWindows) {
                windows.pollFirst();
            }
            windows.addLast(w);
        }
    }

    @Override
    public void alert(DriftEvent event) {
        synchronized (alerts) {
            if (alerts.size() == maxAlerts) {
                alerts.pollFirst();
            }
            alerts.addLast(event);
        }
    }

    @Override
    public void flagged(String model, String version, String feature, boolean on, long timeMs) {
        synchronized (flags) {
            if (flags.size() == FLAGS) {
                flags.pollFirst();
            }
            flags.addLast(new Flag(model, version, feature, on, timeMs));
        }
    }

    /** {@code model}'s flag transitions at or after {@code sinceMs}: the last {@code limit}, oldest first. */
    public List<Flag> flags(String model, long sinceMs, int limit) {
        synchronized (flags) {
            return last(flags, f -> f.model().equals(model) && f.timeMs() >= sinceMs, limit);
        }
    }

    /** {@code model}'s windows that ended at or after {@code sinceMs}: the last {@code limit} of them, oldest first. */
    public List<Window> windows(String model, long sinceMs, int limit) {
        synchronized (windows) {
            return last(windows, w -> w.model().equals(model) && w.endMs() >= sinceMs, limit);
        }
    }

    /** {@code model}'s alerts detected at or after {@code sinceMs}: the last {@code limit} of them, oldest first. */
    public List<DriftEvent> alerts(String model, long sinceMs, int limit) {
        synchronized (alerts) {
            return last(alerts, e -> e.getModelName().equals(model) && e.getDetectedMs() >= sinceMs, limit);
        }
    }

    private static <T> List<T> last(ArrayDeque<T> ring, Predicate<T> keep, int limit) {
        ArrayDeque<T> out = new ArrayDeque<>();
        for (var it = ring.descendingIterator(); it.hasNext() && out.size() < limit; ) {
            T t = it.next();
            if (keep.test(t)) {
                out.addFirst(t);
            }
        }
        return new ArrayList<>(out);
    }
}
