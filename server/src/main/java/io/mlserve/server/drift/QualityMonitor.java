package io.mlserve.server.drift;

import io.mlserve.drift.QualityJoin;
import io.mlserve.proto.v1.DriftEvent;
import io.mlserve.proto.v1.DriftKind;
import io.mlserve.proto.v1.Outcome;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Live quality in the server: served predictions (from Predict) and outcomes (REST, gRPC, Kafka) go through a
 * bounded lock-free queue to one agent thread that joins them ({@link QualityJoin}), closes quality windows, sets the
 * metrics, and hands a QUALITY drift event to the listener when a model version's quality alert is raised (and again
 * every {@code drift.renotify_windows} windows while it stays raised). A full queue drops and counts; requests never
 * wait. The join's own listener (the training log) hears every prediction joined or expired on the agent thread;
 * predictions still waiting when the monitor closes expire then.
 *
 * <p>Each version is judged with its own settings ({@link #settings}): accuracy at config.json's
 * {@code drift.quality_threshold} when set, else at the version's own operating threshold (its metadata.json), else
 * at 0.5.
 */
public final class QualityMonitor implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(QualityMonitor.class);

    /**
     * @param windowPairs joined pairs per quality window
     * @param minAuc      a window whose AUC is below this is low quality
     * @param threshold   P(1) at or above which accuracy counts a positive prediction
     * @param buffer      predictions kept waiting for their outcomes
     * @param toleranceMs how far an outcome's observed time may be from the prediction's (entity joins)
     * @param outcomeWaitMs how long (server time) a prediction waits for its outcome before it expires
     */
    public record Options(int windowPairs, double minAuc, double threshold, int buffer, long toleranceMs,
                          long outcomeWaitMs) {
        public static Options defaults() {
            return new Options(1000, 0.65, 0.5, 100_000, 3_600_000, java.time.Duration.ofDays(30).toMillis());
        }

        /** These options with {@code rows} predictions waiting at most and a wait of {@code waitMs}. */
        public Options withWaiting(int rows, long waitMs) {
            return new Options(windowPairs, minAuc, threshold, rows, toleranceMs, waitMs);
        }
    }

    private final QualityJoin join;
    private final ManyToOneConcurrentArrayQueue<Object> queue = new ManyToOneConcurrentArrayQueue<>(65_536);
    private final Consumer<DriftEvent> listener;
    private final Map<String, QualityJoin.Report> last = new ConcurrentHashMap<>();
    private final Counter events;
    private final Gauge auc;
    private final Gauge logLoss;
    private final Gauge accuracy;
    private final Gauge alert;
    private final Thread thread;
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final io.mlserve.server.time.ServerClock clock;

    /**
     * @param configOf         a model's config.json drift block (its quality_* settings override {@code o}'s), or
     *                         null
     * @param versionMetrics   a model version's own operating threshold and holdout AUC (its metadata.json), NaN
     *                         where it names none
     * @param joins            told of every prediction joined or expired, on the agent thread (the training log), or
     *                         null
     */
    public QualityMonitor(Options o, PrometheusRegistry registry, Consumer<DriftEvent> listener,
                          java.util.function.Function<String, io.mlserve.proto.inference.ModelDriftConfig> configOf,
                          java.util.function.BiFunction<String, String, VersionMetrics> versionMetrics,
                          io.mlserve.server.time.ServerClock clock, QualityJoin.Listener joins) {
        this.clock = clock;
        this.join = new QualityJoin(o.buffer(), o.toleranceMs(), 2, 3, (model, version) -> settings(o,
                configOf == null ? null : configOf.apply(model),
                versionMetrics == null ? VersionMetrics.NONE : versionMetrics.apply(model, version)))
                .withOutcomeWait(o.outcomeWaitMs()).withListener(joins);
        this.listener = listener;
        events = Counter.builder().name("mlserve_quality_events_total")
                .help("Live-quality inputs by kind and outcome: prediction/outcome queued or dropped; outcome "
                        + "matched, unmatched; prediction expired (no outcome in time)")
                .labelNames("kind", "outcome").register(registry);
        auc = gauge(registry, "mlserve_quality_auc", "AUC of the last closed quality window (predictions joined with outcomes)");
        logLoss = gauge(registry, "mlserve_quality_log_loss", "Log-loss of the last closed quality window");
        accuracy = gauge(registry, "mlserve_quality_accuracy", "Accuracy at the threshold in the last closed quality window");
        alert = gauge(registry, "mlserve_quality_alert", "1 while the quality alert is raised (AUC below the minimum)");
        this.thread = new Thread(this::run, "mlserve-quality");
        thread.setDaemon(true);
        thread.start();
    }

    /** Where a version's accuracy threshold came from. */
    public static final String THRESHOLD_FROM_CONFIG = "config";
    public static final String THRESHOLD_FROM_METADATA = "metadata";
    public static final String THRESHOLD_FROM_DEFAULT = "default";

    /**
     * What the repository says of a version: its operating threshold, and the holdout AUC its live quality is held to
     * — the best of the model's versions up to it (NaN: not named).
     */
    public record VersionMetrics(double threshold, double holdoutAuc) {
        public static final VersionMetrics NONE = new VersionMetrics(Double.NaN, Double.NaN);
    }

    /**
     * How far below the best holdout AUC of the model's versions (up to this one) a version's live AUC may fall before
     * the window is low, when config.json names no quality_min_auc: the same 0.05 by which the scenario counts a day
     * degraded.
     */
    public static final double DEFAULT_AUC_DROP = 0.05;

    /**
     * A model version's quality window: config.json's drift block {@code c} (may be null) over the defaults {@code o};
     * accuracy at c's quality_threshold when set, else at the version's own operating threshold, else at the default;
     * low below c's quality_min_auc when set, else below the version's holdout AUC less {@link #DEFAULT_AUC_DROP}
     * (never under 0.5), else below the default.
     */
    static QualityJoin.Settings settings(Options o, io.mlserve.proto.inference.ModelDriftConfig c,
                                         VersionMetrics version) {
        double threshold = o.threshold();
        String from = THRESHOLD_FROM_DEFAULT;
        if (c != null && c.getQualityThreshold() > 0) {
            threshold = c.getQualityThreshold();
            from = THRESHOLD_FROM_CONFIG;
        } else if (Double.isFinite(version.threshold())) {
            threshold = version.threshold();
            from = THRESHOLD_FROM_METADATA;
        }
        double minAuc = o.minAuc();
        String minAucFrom = THRESHOLD_FROM_DEFAULT;
        if (c != null && c.getQualityMinAuc() > 0) {
            minAuc = c.getQualityMinAuc();
            minAucFrom = THRESHOLD_FROM_CONFIG;
        } else if (Double.isFinite(version.holdoutAuc()) && version.holdoutAuc() > 0.5) {
            minAuc = Math.max(0.5, version.holdoutAuc() - DEFAULT_AUC_DROP);
            minAucFrom = THRESHOLD_FROM_METADATA;
        }
        return new QualityJoin.Settings(
                c != null && c.getQualityWindowPairs() > 1 ? c.getQualityWindowPairs() : o.windowPairs(),
                minAuc, minAucFrom, threshold, from, c == null ? 0 : c.getRenotifyWindows());
    }

    /**
     * A quality alert's severity in [0.5, 1]: 0.5 at the minimum AUC, rising linearly to 1 where the scores rank the
     * outcomes no better than chance (AUC 0.5) or worse. Never below 0.5: a version whose ranking fails on real
     * outcomes is critical.
     */
    static double severity(double auc, double minAuc) {
        if (!(minAuc > 0.5)) {
            return 1.0; // below a minimum at or under chance is at or under chance
        }
        return 0.5 + 0.5 * Math.min(1, Math.max(0, (minAuc - auc) / (minAuc - 0.5)));
    }

    private static Gauge gauge(PrometheusRegistry registry, String name, String help) {
        return Gauge.builder().name(name).help(help).labelNames("model", "version").register(registry);
    }

    /** A served prediction (never blocks; dropped and counted when the queue is full). */
    public void prediction(String model, String version, String entity, String requestId, long timeMs, float score) {
        prediction(model, version, entity, requestId, timeMs, score, null);
    }

    /**
     * A served prediction with what the join's listener keeps of it ({@link QualityJoin.Pending#row}); never blocks:
     * false when the queue was full (dropped, counted).
     */
    public boolean prediction(String model, String version, String entity, String requestId, long timeMs, float score,
                              Object row) {
        return offer(new QualityJoin.Pending(model, version, entity, requestId, timeMs, score, row), "prediction");
    }

    /** An outcome (its event time moves a replay clock); false when the queue was full (dropped, counted). */
    public boolean outcome(Outcome o) {
        if (o.getEventTimeMs() > 0) {
            clock.observe(o.getEventTimeMs());
        }
        return offer(o, "outcome");
    }

    private boolean offer(Object item, String kind) {
        boolean ok = queue.offer(item);
        events.labelValues(kind, ok ? "queued" : "dropped").inc();
        return ok;
    }

    private void run() {
        long expiredSeen = 0;
        // idle: a few spins and yields, then parks growing to 20 ms — not a wake-up a millisecond on an idle server
        org.agrona.concurrent.IdleStrategy idle = new org.agrona.concurrent.BackoffIdleStrategy(10, 10, 50_000,
                20_000_000);
        while (running.get() || !queue.isEmpty()) {
            Object item = queue.poll();
            if (item == null) {
                idle.idle();
                continue;
            }
            idle.reset();
            try {
                if (item instanceof QualityJoin.Pending p) {
                    join.prediction(p, clock.now());
                    expiredSeen = countExpired(expiredSeen);
                } else {
                    Outcome o = (Outcome) item;
                    long unmatched = join.unmatched();
                    QualityJoin.Report r = join.outcome(o.getRequestId(), o.getEntityId(), o.getObservedEventTimeMs(),
                            o.getLabel(), o.getEventTimeMs() > 0 ? o.getEventTimeMs() : clock.now());
                    events.labelValues("outcome", join.unmatched() > unmatched ? "unmatched" : "matched").inc();
                    if (r != null) {
                        window(r);
                    }
                }
            } catch (RuntimeException e) {
                LOG.error("live quality: {}", e.toString());
            }
        }
        try {
            join.expireAll(); // no outcome can come any more: the listener gets every waiting prediction now
            countExpired(expiredSeen);
        } catch (RuntimeException e) {
            LOG.error("live quality: {}", e.toString());
        }
    }

    private long countExpired(long seen) {
        if (join.expired() > seen) {
            events.labelValues("prediction", "expired").inc(join.expired() - seen);
        }
        return join.expired();
    }

    private void window(QualityJoin.Report r) {
        last.put(r.model() + "\u0000" + r.version(), r);
        auc.labelValues(r.model(), r.version()).set(r.metrics().auc());
        logLoss.labelValues(r.model(), r.version()).set(r.metrics().logLoss());
        accuracy.labelValues(r.model(), r.version()).set(r.metrics().accuracy());
        alert.labelValues(r.model(), r.version()).set(r.alert() ? 1 : 0);
        if (!r.alertRaised() && !r.alertRenotified()) {
            return;
        }
        double severity = severity(r.metrics().auc(), r.settings().minAuc());
        String detail = (r.alertRaised() ? DriftListener.RAISED : DriftListener.STILL_RAISED) + String.format(
                java.util.Locale.ROOT, " (quality, %s: AUC %.3f < %s over %d outcomes, log-loss %.3f, accuracy %.3f "
                        + "at %.3f)", severity >= 0.5 ? "critical" : "warning", r.metrics().auc(),
                r.settings().minAuc(), r.metrics().pairs(), r.metrics().logLoss(), r.metrics().accuracy(),
                r.metrics().threshold());
        LOG.warn("{}:{}: {}", r.model(), r.version(), detail);
        if (listener != null) {
            long now = clock.now();
            // the join's running count makes every event of the version distinct, even at one replayed instant
            listener.accept(DriftEvent.newBuilder().setEventId(r.model() + ":" + r.version() + ":quality:" + now + ":"
                            + join.matched()).setModelName(r.model()).setModelVersion(r.version())
                    .setKind(DriftKind.QUALITY).setDetectedMs(now).setWindowRows(r.metrics().pairs())
                    .setSeverity(severity).setDetail(detail).build());
        }
    }

    /** The last closed quality window of a model version, or null. */
    public QualityJoin.Report last(String model, String version) {
        return last.get(model + "\u0000" + version);
    }

    /** Waits until everything queued so far is processed (tests). */
    public void drain() throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!queue.isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        Thread.sleep(20);
    }

    @Override
    public void close() {
        if (running.compareAndSet(true, false)) {
            try {
                thread.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
