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
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Live quality in the server: served predictions (from Predict) and outcomes (REST, gRPC, Kafka) go through a
 * bounded lock-free queue to one agent thread that joins them ({@link QualityJoin}), closes quality windows, sets the
 * metrics, and hands a QUALITY drift event to the listener when a model version's quality alert is raised. A full
 * queue drops and counts; requests never wait. The join's own listener (the training log) hears every prediction
 * joined or expired on the agent thread; predictions still waiting when the monitor closes expire then.
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
    private final io.mlserve.server.ServerClock clock;

    /**
     * @param configOf a model's config.json drift block (its quality_* settings override {@code o}'s), or null
     */
    public QualityMonitor(Options o, PrometheusRegistry registry, Consumer<DriftEvent> listener,
                          java.util.function.Function<String, io.mlserve.proto.inference.ModelDriftConfig> configOf,
                          io.mlserve.server.ServerClock clock) {
        this(o, registry, listener, configOf, clock, null);
    }

    /** @param joins told of every prediction joined or expired, on the agent thread (the training log), or null */
    public QualityMonitor(Options o, PrometheusRegistry registry, Consumer<DriftEvent> listener,
                          java.util.function.Function<String, io.mlserve.proto.inference.ModelDriftConfig> configOf,
                          io.mlserve.server.ServerClock clock, QualityJoin.Listener joins) {
        this.clock = clock;
        this.join = new QualityJoin(o.buffer(), o.toleranceMs(), 2, 3, model -> {
            io.mlserve.proto.inference.ModelDriftConfig c = configOf == null ? null : configOf.apply(model);
            return new QualityJoin.Settings(
                    c != null && c.getQualityWindowPairs() > 1 ? c.getQualityWindowPairs() : o.windowPairs(),
                    c != null && c.getQualityMinAuc() > 0 ? c.getQualityMinAuc() : o.minAuc(),
                    c != null && c.getQualityThreshold() > 0 ? c.getQualityThreshold() : o.threshold());
        }).withOutcomeWait(o.outcomeWaitMs()).withListener(joins);
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
        while (running.get() || !queue.isEmpty()) {
            Object item = queue.poll();
            if (item == null) {
                LockSupport.parkNanos(1_000_000);
                continue;
            }
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
        if (r.alertRaised()) {
            LOG.warn("{}:{}: quality alert RAISED — AUC {} over {} joined predictions", r.model(), r.version(),
                    String.format(java.util.Locale.ROOT, "%.3f", r.metrics().auc()), r.metrics().pairs());
            if (listener != null) {
                listener.accept(DriftEvent.newBuilder().setEventId(r.model() + ":" + r.version() + ":quality:"
                                + clock.now()).setModelName(r.model()).setModelVersion(r.version())
                        .setKind(DriftKind.QUALITY).setDetectedMs(clock.now())
                        .setWindowRows(r.metrics().pairs()).setSeverity(Math.max(0, 0.5 - (r.metrics().auc() - 0.5)))
                        .setDetail(String.format(java.util.Locale.ROOT, "AUC %.3f, log-loss %.3f", r.metrics().auc(),
                                r.metrics().logLoss())).build());
            }
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
