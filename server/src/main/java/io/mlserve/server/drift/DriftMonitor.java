package io.mlserve.server.drift;

import io.mlserve.drift.DriftDetector;
import io.mlserve.proto.v1.DriftEvent;
import io.mlserve.proto.v1.DriftKind;
import io.mlserve.server.metrics.DriftMetrics;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The background agent that closes drift windows: every {@code checkMs} it looks at each serving version with a
 * drift monitor, closes the windows that are due (by rows or by time), judges them, sets the metrics, and hands
 * a {@link DriftEvent} to the listener (the retrain bridge) when a version's alert is raised. Nothing here runs on
 * the request path.
 */
public final class DriftMonitor implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DriftMonitor.class);

    private final java.util.function.Supplier<java.util.List<VersionDrift>> monitored;
    private final DriftMetrics metrics;

    private final Consumer<DriftEvent> listener;
    private final DriftListener observer;
    private final ScheduledExecutorService thread;
    private final io.mlserve.server.time.ServerClock clock;

    /**
     * @param monitored the drift windows of the versions serving now (asked at every check)
     * @param observer  told about every judged window (and nothing else: alerts go to {@code listener})
     */
    public DriftMonitor(java.util.function.Supplier<java.util.List<VersionDrift>> monitored, DriftMetrics metrics, Consumer<DriftEvent> listener, long checkMs,
                        io.mlserve.server.time.ServerClock clock, DriftListener observer) {
        this.observer = observer;
        this.clock = clock;
        this.monitored = monitored;
        this.metrics = metrics;
        this.listener = listener;
        this.thread = io.mlserve.server.threads.Daemons.scheduler("mlserve-drift");
        thread.scheduleWithFixedDelay(this::check, checkMs, checkMs, TimeUnit.MILLISECONDS);
    }

    private void check() {
        try {
            long now = clock.now();
            for (VersionDrift d : monitored.get()) {
                if (d.sequentialAlerts()) {
                    look(d, now);
                }
                if (d.due(now)) {
                    judge(d, now);
                }
            }
        } catch (RuntimeException e) {
            LOG.error("drift check failed", e);
        }
    }

    private void judge(VersionDrift d, long now) {
        DriftDetector.Report r = d.closeAndJudge(now);
        metrics.window(d.model(), d.version(), r, !d.sequentialAlerts());
        if (observer != null) {
            observer.window(d.model(), d.version(), r);
        }
        if (!d.sequentialAlerts() && (r.alertRaised() || r.alertCleared())) {
            LOG.warn("{}:{}: drift alert {} — {} of {} features drifted (share {}), score drifted: {}", d.model(),
                    d.version(), r.alertRaised() ? "RAISED" : "cleared",
                    r.features().values().stream().filter(DriftDetector.FeatureResult::drifted).count(),
                    r.features().size(), String.format(java.util.Locale.ROOT, "%.2f", r.driftedShare()),
                    r.score() != null && r.score().drifted());
        }
        if (d.notify(r) && listener != null) {
            listener.accept(event(d, r));
        }
    }

    /** The sequential detector's look at what was recorded since the last tick; an alert goes out at once. */
    private void look(VersionDrift d, long now) {
        io.mlserve.drift.SequentialDetector.Verdict before = d.lastVerdict();
        io.mlserve.drift.SequentialDetector.Verdict v = d.look(now);
        if (observer != null) {
            java.util.Set<String> was = before == null ? java.util.Set.of() : flaggedSet(before);
            java.util.Set<String> is = flaggedSet(v);
            for (String f : is) {
                if (!was.contains(f)) {
                    observer.flagged(d.model(), d.version(), f, true, now);
                }
            }
            for (String f : was) {
                if (!is.contains(f)) {
                    observer.flagged(d.model(), d.version(), f, false, now);
                }
            }
        }
        for (io.mlserve.drift.SequentialDetector.Flag f : v.newFlags()) {
            metrics.flag(d.model(), d.version(), f.feature());
        }
        metrics.sequential(d.model(), d.version(), v);
        if (v.raised() || v.cleared()) {
            LOG.warn("{}:{}: drift alert {} (sequential) — flagged {}{}, importance share {}, severity {}", d.model(),
                    d.version(), v.raised() ? "RAISED" : "cleared", v.flagged(), v.scoreFlagged() ? " and the score"
                            : "", String.format(java.util.Locale.ROOT, "%.2f", v.importanceShare()),
                    String.format(java.util.Locale.ROOT, "%.2f", v.severity()));
        }
        if (d.notifySequential(v) && listener != null) {
            DriftEvent.Builder b = DriftEvent.newBuilder()
                    .setEventId(d.model() + ":" + d.version() + ":seq:" + now)
                    .setModelName(d.model()).setModelVersion(d.version())
                    .setKind(v.flagged().isEmpty() && v.scoreFlagged() ? DriftKind.PREDICTION : DriftKind.DATA)
                    .setDetectedMs(now).setWindowRows(v.rows()).setSeverity(v.severity())
                    .setDetail((v.raised() ? DriftListener.RAISED : DriftListener.STILL_RAISED) + String.format(java.util.Locale.ROOT,
                            " (sequential, %s: %d features flagged, importance share %.2f%s)",
                            v.severity() >= 0.5 ? "critical" : "warning", v.flagged().size(), v.importanceShare(),
                            v.scoreFlagged() ? ", score drifted" : ""))
                    .addAllFeatures(v.flagged());
            DriftEvent e = b.build();
            listener.accept(e);
        }
    }

    private static java.util.Set<String> flaggedSet(io.mlserve.drift.SequentialDetector.Verdict v) {
        java.util.Set<String> s = new java.util.HashSet<>(v.flagged());
        if (v.scoreFlagged()) {
            s.add("score");
        }
        return s;
    }

    DriftEvent event(VersionDrift d, DriftDetector.Report r) {
        DriftEvent.Builder b = DriftEvent.newBuilder()
                .setEventId(d.model() + ":" + d.version() + ":" + r.endMs())
                .setModelName(d.model()).setModelVersion(d.version())
                .setKind(r.datasetDrift() ? DriftKind.DATA : DriftKind.PREDICTION)
                .setDetectedMs(clock.now()).setWindowStartMs(r.startMs()).setWindowEndMs(r.endMs())
                .setWindowRows(r.rows()).setSeverity(r.datasetDrift() ? r.driftedShare()
                        : r.score() == null ? 0 : r.score().psi())
                .setDetail(r.alertRaised() ? DriftListener.RAISED : DriftListener.STILL_RAISED);
        for (Map.Entry<String, DriftDetector.FeatureResult> f : r.features().entrySet()) {
            if (f.getValue().drifted()) {
                b.addFeatures(f.getKey());
            }
        }
        return b.build();
    }

    /** Closes every due window now (tests, shutdown reports). */
    public void checkNow() throws InterruptedException {
        try {
            thread.submit(this::check).get();
        } catch (java.util.concurrent.ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
    }

    @Override
    public void close() {
        thread.shutdownNow();
        try {
            thread.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
