package io.mlserve.server.metrics;

import io.mlserve.drift.DriftDetector;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.Map;

/**
 * The drift monitor's metrics, per model, version and feature: set when a window closes, and at every sequential look
 * (flags, the alert, the flagged importance share).
 */
public final class DriftMetrics {
    private final Gauge psi;
    private final Gauge ks;
    private final Gauge drifted;
    private final Gauge alert;
    private final Gauge datasetDrift;
    private final Counter windows;
    private final Counter rows;
    private final Counter flags;
    private final Gauge flagged;
    private final Gauge importanceShare;

    DriftMetrics(PrometheusRegistry registry) {
        psi = Gauge.builder().name("mlserve_drift_psi")
                .help("PSI of the last closed window against the reference, per feature (feature score for the score)")
                .labelNames("model", "version", "feature").register(registry);
        ks = Gauge.builder().name("mlserve_drift_ks")
                .help("KS distance of the last closed window against the reference (numeric features and the score)")
                .labelNames("model", "version", "feature").register(registry);
        drifted = Gauge.builder().name("mlserve_drift_feature_drifted")
                .help("1 when the feature drifted in the last closed window, by its configured method")
                .labelNames("model", "version", "feature").register(registry);
        alert = Gauge.builder().name("mlserve_drift_alert")
                .help("1 while the drift alert is raised (sequential: while flagged features or the score weigh enough; "
                        + "windows: after K drifted windows, until M clean ones)")
                .labelNames("model", "version").register(registry);
        datasetDrift = Gauge.builder().name("mlserve_drift_dataset_drift")
                .help("1 when the last closed window had dataset drift (enough drifted features)")
                .labelNames("model", "version").register(registry);
        windows = Counter.builder().name("mlserve_drift_windows_total").help("Drift windows closed")
                .labelNames("model", "version").register(registry);
        rows = Counter.builder().name("mlserve_drift_rows_total").help("Rows recorded into closed drift windows")
                .labelNames("model", "version").register(registry);
        flags = Counter.builder().name("mlserve_drift_flags_total")
                .help("Features (and the score) flagged by sequential change detection (CUSUM crossings)")
                .labelNames("model", "version", "feature").register(registry);
        flagged = Gauge.builder().name("mlserve_drift_flagged_features")
                .help("Features flagged by sequential change detection now (each holds its flag for hold rows)")
                .labelNames("model", "version").register(registry);
        importanceShare = Gauge.builder().name("mlserve_drift_flagged_importance")
                .help("Share of the model's importance carried by the features flagged now")
                .labelNames("model", "version").register(registry);
    }

    /** A feature (or "score") flagged by the sequential detector. */
    public void flag(String model, String version, String feature) {
        flags.labelValues(model, version, feature).inc();
    }

    /** The sequential detector's last look. */
    public void sequential(String model, String version, io.mlserve.drift.SequentialDetector.Verdict v) {
        flagged.labelValues(model, version).set(v.flagged().size());
        importanceShare.labelValues(model, version).set(v.importanceShare());
        alert.labelValues(model, version).set(v.alert() ? 1 : 0);
    }

    /** A closed window; {@code alerts} when the windows raise this version's alert (else the sequential look sets it). */
    public void window(String model, String version, DriftDetector.Report r, boolean alerts) {
        windows.labelValues(model, version).inc();
        rows.labelValues(model, version).inc(r.rows());
        for (Map.Entry<String, DriftDetector.FeatureResult> e : r.features().entrySet()) {
            feature(model, version, e.getKey(), e.getValue());
        }
        if (r.score() != null) {
            feature(model, version, "score", r.score());
        }
        if (alerts) {
            alert.labelValues(model, version).set(r.alert() ? 1 : 0);
        }
        datasetDrift.labelValues(model, version).set(r.datasetDrift() ? 1 : 0);
    }

    private void feature(String model, String version, String name, DriftDetector.FeatureResult f) {
        if (Double.isFinite(f.psi())) {
            psi.labelValues(model, version, name).set(f.psi());
        }
        if (Double.isFinite(f.ks())) {
            ks.labelValues(model, version, name).set(f.ks());
        }
        drifted.labelValues(model, version, name).set(f.drifted() ? 1 : 0);
    }

    /** Removes a retired version's series ({@code features}: its feature names; "score" is included). */
    public void forget(String model, String version, Iterable<String> features) {
        windows.remove(model, version);
        rows.remove(model, version);
        flagged.remove(model, version);
        importanceShare.remove(model, version);
        alert.remove(model, version);
        datasetDrift.remove(model, version);
        java.util.List<String> names = new java.util.ArrayList<>();
        features.forEach(names::add);
        names.add("score");
        for (String name : names) {
            psi.remove(model, version, name);
            flags.remove(model, version, name);
            ks.remove(model, version, name);
            drifted.remove(model, version, name);
        }
    }
}
