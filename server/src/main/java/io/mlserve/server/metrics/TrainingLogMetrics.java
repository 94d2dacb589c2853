package io.mlserve.server.metrics;

import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.GaugeDataPoint;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.model.registry.PrometheusRegistry;

/** The training log's metrics: rows written (labelled or not) or dropped, rows waiting for outcomes, the files. */
public final class TrainingLogMetrics {
    private final Counter rows;
    private final Gauge pending;
    private final Gauge bytes;
    private final Gauge files;
    private final Counter failures;

    TrainingLogMetrics(PrometheusRegistry registry) {
        rows = Counter.builder().name("mlserve_training_log_rows_total")
                .help("Predict rows of the training log by outcome: labelled and unlabelled (no outcome within the "
                        + "outcome wait) are on disk; dropped were lost (the join's queue was full, or writes kept "
                        + "failing past twice flush_rows)")
                .labelNames("model", "outcome").register(registry);
        pending = Gauge.builder().name("mlserve_training_log_pending_rows")
                .help("Predict rows waiting for their outcomes before they are written").labelNames("model")
                .register(registry);
        bytes = Gauge.builder().name("mlserve_training_log_bytes")
                .help("Bytes of the model's training log on disk").labelNames("model").register(registry);
        files = Gauge.builder().name("mlserve_training_log_files")
                .help("Parquet files of the model's training log on disk").labelNames("model").register(registry);
        failures = Counter.builder().name("mlserve_training_log_write_failures_total")
                .help("Training log files that could not be written (the rows are kept for the next flush)")
                .labelNames("model").register(registry);
    }

    /** The series of one model, bound once. */
    public Model forModel(String model) {
        return new Model(rows.labelValues(model, "labelled"), rows.labelValues(model, "unlabelled"),
                rows.labelValues(model, "dropped"), pending.labelValues(model), bytes.labelValues(model),
                files.labelValues(model), failures.labelValues(model));
    }

    /** One model's series. */
    public record Model(CounterDataPoint labelled, CounterDataPoint unlabelled, CounterDataPoint dropped,
                        GaugeDataPoint pending, GaugeDataPoint bytes, GaugeDataPoint files,
                        CounterDataPoint writeFailures) {
    }
}
