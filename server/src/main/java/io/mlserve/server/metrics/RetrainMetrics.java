package io.mlserve.server.metrics;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.Unit;

/** The retrain bridge's metrics: what happened to drift events, deliveries to the trainer, and jobs. */
public final class RetrainMetrics {
    /** Phases a model's retraining can be in; one of them is 1 per model in {@code mlserve_retrain_phase}. */
    public static final String[] PHASES = {"idle", "cooldown", "delivering", "queued", "running"};

    private final Counter events;
    private final Counter attempts;
    private final Counter jobs;
    private final Gauge phase;
    private final Histogram toPublished;
    private final Histogram toServing;

    RetrainMetrics(PrometheusRegistry registry) {
        events = Counter.builder().name("mlserve_retrain_events_total")
                .help("Drift events received by the retrain bridge, by outcome (accepted, duplicate, in_flight, "
                        + "cooldown, ignored, stale, not_enabled, unknown_model)")
                .labelNames("model", "outcome").register(registry);
        attempts = Counter.builder().name("mlserve_retrain_submit_attempts_total")
                .help("Job submissions to the trainer, by result (delivered; retry: unreachable or busy, tried again "
                        + "after a backoff; refused: the trainer rejected the request)")
                .labelNames("model", "result").register(registry);
        jobs = Counter.builder().name("mlserve_retrain_jobs_total")
                .help("Retraining jobs that ended, by state (succeeded, rejected by the quality gate, failed, lost: "
                        + "the trainer no longer knew the job)")
                .labelNames("model", "state").register(registry);
        phase = Gauge.builder().name("mlserve_retrain_phase")
                .help("1 for the phase the model's retraining is in (idle, cooldown, delivering, queued, running)")
                .labelNames("model", "phase").register(registry);
        toPublished = Histogram.builder().name("mlserve_retrain_event_to_published_seconds")
                .help("From the drift event that started a job to the trainer publishing the new version")
                .unit(Unit.SECONDS).labelNames("model").classicOnly()
                .classicUpperBounds(5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200).withoutExemplars()
                .register(registry);
        toServing = Histogram.builder().name("mlserve_retrain_event_to_serving_seconds")
                .help("From the drift event that started a job to this server serving the version it published")
                .unit(Unit.SECONDS).labelNames("model").classicOnly()
                .classicUpperBounds(5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200).withoutExemplars()
                .register(registry);
    }

    public void event(String model, String outcome) {
        events.labelValues(model, outcome).inc();
    }

    public void attempt(String model, String result) {
        attempts.labelValues(model, result).inc();
    }

    public void jobEnded(String model, String state) {
        jobs.labelValues(model, state).inc();
    }

    public void phase(String model, String current) {
        for (String p : PHASES) {
            phase.labelValues(model, p).set(p.equals(current) ? 1 : 0);
        }
    }

    public void published(String model, double seconds) {
        toPublished.labelValues(model).observe(seconds);
    }

    public void serving(String model, double seconds) {
        toServing.labelValues(model).observe(seconds);
    }
}
