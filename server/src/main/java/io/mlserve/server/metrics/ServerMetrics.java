package io.mlserve.server.metrics;

import io.grpc.Status;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Locale;

/**
 * The server's Prometheus registry and the metric families every model version reports into. Latencies
 * are histograms (aggregatable across replicas), never summaries. Per-version children are created once
 * per loaded version ({@link #forVersion}) so the request path records without label lookups.
 */
public final class ServerMetrics {
    /** Label for failures that could not be attributed to a loaded model (unknown names, empty requests). */
    public static final String UNKNOWN_MODEL = "_unknown";

    /** 100 µs to 10 s, roughly 2.5× apart: resolves both sub-millisecond serving and slow tails. */
    private static final double[] LATENCY_BOUNDS = {
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
    };

    private final PrometheusRegistry registry = new PrometheusRegistry();
    private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();
    final Histogram requestDuration;
    final Histogram queueDuration;
    final Histogram computeDuration;
    final Counter success;
    final Counter failure;
    final Counter inferenceCount;
    final Counter executionCount;
    final Gauge inFlight;
    final Histogram batchSize;
    final Gauge pending;
    final Counter queueRejections;
    private final Gauge modelReady;
    private final Counter loadFailures;
    private final FeatureMetrics featureMetrics;
    private final Counter ingested;
    private final Gauge ingestLag;
    private final Gauge ingestContactAge;
    /** When Kafka ingestion last heard from the broker (0: never, or no ingestion). */
    private volatile long lastIngestContactMs;
    private final RetrainMetrics retrainMetrics;
    private final VersionFamilies families;
    private final RegistryMetrics registryMetrics;
    private final DriftMetrics driftMetrics;
    private final Counter predictionLogRecords;
    private final TrainingLogMetrics trainingLogMetrics;

    public ServerMetrics() {
        requestDuration = latency("mlserve_request_duration_seconds",
                "Time from receiving an inference request to having its response, per model version");
        queueDuration = latency("mlserve_queue_duration_seconds",
                "Time an inference request waited before its model started executing it");
        computeDuration = latency("mlserve_compute_duration_seconds",
                "Time ONNX Runtime spent executing, per execution (one batch)");
        io.prometheus.metrics.core.metrics.CounterWithCallback.builder().name("mlserve_cuda_fallbacks_total")
                .help("Model sessions asked for on a CUDA device that run on the CPU (no GPU build, no usable GPU or "
                        + "CUDA libraries; each logs one line)")
                .callback(c -> c.call(io.mlserve.runtime.ModelSession.cudaFallbacks())).register(registry);
        success = Counter.builder().name("mlserve_request_success_total")
                .help("Inference requests answered successfully").labelNames("model", "version").register(registry);
        failure = Counter.builder().name("mlserve_request_failure_total")
                .help("Inference requests that failed, by reason (the gRPC status, lower case)")
                .labelNames("model", "version", "reason").register(registry);
        inferenceCount = Counter.builder().name("mlserve_inference_count_total")
                .help("Rows inferred (a request of batch size n counts n)").labelNames("model", "version")
                .register(registry);
        executionCount = Counter.builder().name("mlserve_execution_count_total")
                .help("Model executions; inference_count / execution_count is the mean batch size")
                .labelNames("model", "version").register(registry);
        batchSize = Histogram.builder().name("mlserve_batch_size")
                .help("Rows per model execution (dynamic batching combines requests up to max_batch_size)")
                .labelNames("model", "version").classicOnly()
                .classicUpperBounds(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096).withoutExemplars()
                .register(registry);
        pending = Gauge.builder().name("mlserve_pending_requests")
                .help("Requests waiting in the model's queue, per priority level (1 = highest)")
                .labelNames("model", "version", "priority").register(registry);
        queueRejections = Counter.builder().name("mlserve_queue_rejections_total")
                .help("Requests the scheduler refused or dropped unexecuted, by reason "
                        + "(queue_full, timeout, cancelled, shutdown, execution_failed)")
                .labelNames("model", "version", "reason").register(registry);
        inFlight = Gauge.builder().name("mlserve_inflight_requests")
                .help("Inference requests being executed right now").labelNames("model", "version")
                .register(registry);
        modelReady = Gauge.builder().name("mlserve_model_ready")
                .help("1 while the model version is loaded, warmed up and serving").labelNames("model", "version")
                .register(registry);
        families = new VersionFamilies(requestDuration, queueDuration, computeDuration, success, failure, inferenceCount,
                executionCount, inFlight, batchSize, pending, queueRejections, modelReady);
        loadFailures = Counter.builder().name("mlserve_model_load_failures_total")
                .help("Model versions that failed to load (bad file, config, warm-up)").labelNames("model")
                .register(registry);
        featureMetrics = new FeatureMetrics(
                Counter.builder().name("mlserve_feature_writes_total")
                        .help("Feature rows written, by outcome (applied, ignored_older: an equal-or-newer write was stored)")
                        .labelNames("view", "outcome").register(registry),
                Counter.builder().name("mlserve_feature_reads_total")
                        .help("Features read, by status (present, defaulted, stale, missing)")
                        .labelNames("view", "status").register(registry),
                Histogram.builder().name("mlserve_feature_age_seconds")
                        .help("Age of the stored row at read time (freshness), per view")
                        .unit(io.prometheus.metrics.model.snapshots.Unit.SECONDS).labelNames("view").classicOnly()
                        .classicUpperBounds(1, 10, 60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400, 30 * 86400)
                        .withoutExemplars().register(registry));
        ingested = Counter.builder().name("mlserve_feature_ingest_records_total")
                .help("Kafka records ingested, by outcome (applied, ignored_older, dead_lettered)")
                .labelNames("topic", "outcome").register(registry);
        ingestContactAge = Gauge.builder().name("mlserve_feature_ingest_contact_age_seconds")
                .help("Seconds since Kafka ingestion last heard from the broker: rising means the feature store is "
                        + "going stale (the broker or the network is away)").register(registry);
        ingestLag = Gauge.builder().name("mlserve_feature_ingest_lag_records")
                .help("Kafka records not yet ingested (end offset minus position), per topic")
                .labelNames("topic").register(registry);
        retrainMetrics = new RetrainMetrics(registry);
        registryMetrics = new RegistryMetrics(registry);
        driftMetrics = new DriftMetrics(registry);
        predictionLogRecords = Counter.builder().name("mlserve_prediction_log_records_total")
                .help("Prediction log records by outcome: queued, dropped (buffer full), sent, failed")
                .labelNames("outcome").register(registry);
        trainingLogMetrics = new TrainingLogMetrics(registry);
        JvmMetrics.builder().register(registry);
    }

    /** The registry, for components that register their own metrics. */
    public PrometheusRegistry registry() {
        return registry;
    }

    /** The prediction log's record counter (label outcome). */
    public Counter predictionLogRecords() {
        return predictionLogRecords;
    }

    /** The training log's metrics. */
    public TrainingLogMetrics trainingLog() {
        return trainingLogMetrics;
    }

    /** The drift monitor's metrics. */
    public DriftMetrics drift() {
        return driftMetrics;
    }

    /** The retrain bridge's metrics. */
    public RegistryMetrics registrySync() {
        return registryMetrics;
    }

    public RetrainMetrics retrain() {
        return retrainMetrics;
    }

    private Histogram latency(String name, String help) {
        return Histogram.builder().name(name).help(help).unit(io.prometheus.metrics.model.snapshots.Unit.SECONDS)
                .labelNames("model", "version").classicOnly().classicUpperBounds(LATENCY_BOUNDS)
                .withoutExemplars().register(registry);
    }

    /** The Kafka ingester's listener. */
    public io.mlserve.featurecache.kafka.IngestListener ingest() {
        return new io.mlserve.featurecache.kafka.IngestListener() {
            @Override
            public void record(String topic, Outcome outcome) {
                ingested.labelValues(topic, outcome.name().toLowerCase(Locale.ROOT)).inc();
            }

            @Override
            public void lag(String topic, long records) {
                ingestLag.labelValues(topic).set(records);
            }

            @Override
            public void contact(long timeMs) {
                lastIngestContactMs = timeMs;
            }
        };
    }

    /** The feature store's listener. */
    public io.mlserve.featurecache.FeatureStoreListener features() {
        return featureMetrics;
    }

    /** The metric children of one loaded model version with {@code priorityLevels} queue levels. */
    public ModelMetrics forVersion(String model, String version, int priorityLevels) {
        return new ModelMetrics(families, model, version, priorityLevels);
    }

    /** Counts a failed request that never reached a model version (unknown model, malformed request). */
    public void recordUnattributedFailure(String model, Status.Code code) {
        failure.labelValues(model, "", reason(code)).inc();
    }

    public void setReady(String model, String version, boolean ready) {
        modelReady.labelValues(model, version).set(ready ? 1 : 0);
    }

    public void recordLoadFailure(String model) {
        loadFailures.labelValues(model).inc();
    }

    /** Writes every metric in Prometheus text format. */
    public void writeTo(OutputStream out) throws IOException {
        long contact = lastIngestContactMs;
        if (contact > 0) {
            ingestContactAge.set(Math.max(0, System.currentTimeMillis() - contact) / 1000.0);
        }
        writer.write(out, registry.scrape(), io.prometheus.metrics.config.EscapingScheme.ALLOW_UTF8);
    }

    public String contentType() {
        return writer.getContentType();
    }

    static String reason(Status.Code code) {
        return VersionFamilies.reason(code);
    }
}
