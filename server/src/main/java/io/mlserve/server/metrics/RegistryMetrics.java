package io.mlserve.server.metrics;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.Unit;

/** Registry sync and rollout: passes over the registry, versions picked up, roles, judgements, role changes. */
public final class RegistryMetrics {
    private final Counter syncs;
    private final Counter syncErrors;
    private final Histogram toServing;
    private final Gauge champion;
    private final Gauge challenger;
    private final Counter judgements;
    private final Counter events;
    private final Gauge judge;

    RegistryMetrics(PrometheusRegistry registry) {
        syncs = Counter.builder().name("mlserve_registry_syncs_total")
                .help("Passes over the model registry, by result (ok, or error: unreachable or a refused version)")
                .labelNames("result").register(registry);
        syncErrors = Counter.builder().name("mlserve_registry_sync_errors_total")
                .help("Problems reported by registry passes (one per line: unreachable, not READY, download failed)")
                .register(registry);
        toServing = Histogram.builder().name("mlserve_registry_change_to_serving_seconds")
                .help("From the registry pass that saw a model change to its new versions serving (download, "
                        + "checksum, session, warm-up)")
                .unit(Unit.SECONDS).labelNames("model").classicOnly()
                .classicUpperBounds(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120).withoutExemplars()
                .register(registry);
        champion = Gauge.builder().name("mlserve_rollout_champion_version")
                .help("The champion version of a model under rollout (the serving default otherwise)")
                .labelNames("model").register(registry);
        challenger = Gauge.builder().name("mlserve_rollout_challenger_version")
                .help("The challenger version under evaluation, 0 when none").labelNames("model").register(registry);
        judgements = Counter.builder().name("mlserve_rollout_judgements_total")
                .help("Challenger windows judged, by verdict (promote, rollback, wait)")
                .labelNames("model", "verdict").register(registry);
        events = Counter.builder().name("mlserve_rollout_events_total")
                .help("Role changes, by action (promote, rollback, set_champion, clear_rejected)")
                .labelNames("model", "action").register(registry);
        judge = Gauge.builder().name("mlserve_rollout_judge")
                .help("1 while this replica decides rollouts: always when it judges its own traffic; with pooled "
                        + "judging (--rollout-kafka), while it holds a judge's lease")
                .register(registry);
    }

    /** Whether this replica decides rollouts now. */
    public void judge(boolean judging) {
        judge.set(judging ? 1 : 0);
    }

    public void sync(boolean ok, int errors) {
        syncs.labelValues(ok ? "ok" : "error").inc();
        if (errors > 0) {
            syncErrors.inc(errors);
        }
    }

    public void changeToServing(String model, double seconds) {
        toServing.labelValues(model).observe(seconds);
    }

    /** The versions serving as champion and challenger (0: none) of a model under a rollout. */
    public void roles(String model, long championVersion, long challengerVersion) {
        champion.labelValues(model).set(championVersion);
        challenger.labelValues(model).set(challengerVersion);
    }

    public void judged(String model, String verdict) {
        judgements.labelValues(model, verdict).inc();
    }

    public void rolloutEvent(String model, String action) {
        events.labelValues(model, action).inc();
    }
}
