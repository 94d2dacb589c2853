package io.mlserve.server.metrics;

import io.grpc.Status;
import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.prometheus.metrics.core.datapoints.GaugeDataPoint;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * Metrics of one model version: Prometheus children bound once at load time, plus the cumulative
 * counts and nanoseconds the ModelStatistics RPC reports. Recording is lock-free and allocation-free.
 */
public final class ModelMetrics {
    private static final double NANOS_PER_SECOND = 1e9;

    private final ServerMetrics server;
    private final String model;
    private final String version;
    private final DistributionDataPoint requestDuration;
    private final DistributionDataPoint queueDuration;
    private final DistributionDataPoint computeDuration;
    private final CounterDataPoint success;
    private final CounterDataPoint inferences;
    private final CounterDataPoint executions;
    private final GaugeDataPoint inFlight;
    private final AtomicReferenceArray<CounterDataPoint> failures =
            new AtomicReferenceArray<>(Status.Code.values().length);

    final LongAdder successCount = new LongAdder();
    final LongAdder successNanos = new LongAdder();
    final LongAdder failCount = new LongAdder();
    final LongAdder failNanos = new LongAdder();
    final LongAdder queueNanos = new LongAdder();
    final LongAdder computeInputNanos = new LongAdder();
    final LongAdder computeInferNanos = new LongAdder();
    final LongAdder computeOutputNanos = new LongAdder();
    final LongAdder inferenceCount = new LongAdder();
    final LongAdder executionCount = new LongAdder();
    final AtomicLong lastInferenceMillis = new AtomicLong();

    ModelMetrics(ServerMetrics server, String model, String version) {
        this.server = server;
        this.model = model;
        this.version = version;
        requestDuration = server.requestDuration.labelValues(model, version);
        queueDuration = server.queueDuration.labelValues(model, version);
        computeDuration = server.computeDuration.labelValues(model, version);
        success = server.success.labelValues(model, version);
        inferences = server.inferenceCount.labelValues(model, version);
        executions = server.executionCount.labelValues(model, version);
        inFlight = server.inFlight.labelValues(model, version);
    }

    /** A request started executing on this version. */
    public void started() {
        inFlight.inc();
    }

    /** A request that {@link #started()} finished, successfully or not. */
    public void finished() {
        inFlight.dec();
    }

    /**
     * Records one successful request.
     *
     * @param rows          rows inferred
     * @param totalNanos    receive → response built
     * @param queueNanos    receive → execution start
     * @param inputNanos    decoding and tensor preparation
     * @param inferNanos    ONNX Runtime's run
     * @param outputNanos   encoding the outputs
     */
    public void recordSuccess(long rows, long totalNanos, long queueNanos, long inputNanos, long inferNanos,
                              long outputNanos) {
        requestDuration.observe(totalNanos / NANOS_PER_SECOND);
        queueDuration.observe(queueNanos / NANOS_PER_SECOND);
        computeDuration.observe(inferNanos / NANOS_PER_SECOND);
        success.inc();
        inferences.inc(rows);
        executions.inc();
        successCount.increment();
        successNanos.add(totalNanos);
        this.queueNanos.add(queueNanos);
        computeInputNanos.add(inputNanos);
        computeInferNanos.add(inferNanos);
        computeOutputNanos.add(outputNanos);
        inferenceCount.add(rows);
        executionCount.increment();
        lastInferenceMillis.set(System.currentTimeMillis());
    }

    /** Records one failed request with the status it was answered with. */
    public void recordFailure(Status.Code code, long totalNanos) {
        requestDuration.observe(totalNanos / NANOS_PER_SECOND);
        failCount.increment();
        failNanos.add(totalNanos);
        CounterDataPoint c = failures.get(code.ordinal());
        if (c == null) {
            c = server.failure.labelValues(model, version, ServerMetrics.reason(code));
            failures.set(code.ordinal(), c);
        }
        c.inc();
    }

    public String model() {
        return model;
    }

    public String version() {
        return version;
    }

    /** Cumulative statistics in the ModelStatistics message form. */
    public io.mlserve.proto.inference.ModelStatistics statistics() {
        var stats = io.mlserve.proto.inference.InferStatistics.newBuilder()
                .setSuccess(duration(successCount.sum(), successNanos.sum()))
                .setFail(duration(failCount.sum(), failNanos.sum()))
                .setQueue(duration(successCount.sum(), queueNanos.sum()))
                .setComputeInput(duration(executionCount.sum(), computeInputNanos.sum()))
                .setComputeInfer(duration(executionCount.sum(), computeInferNanos.sum()))
                .setComputeOutput(duration(executionCount.sum(), computeOutputNanos.sum()));
        return io.mlserve.proto.inference.ModelStatistics.newBuilder()
                .setName(model).setVersion(version)
                .setLastInference(lastInferenceMillis.get())
                .setInferenceCount(inferenceCount.sum())
                .setExecutionCount(executionCount.sum())
                .setInferenceStats(stats).build();
    }

    private static io.mlserve.proto.inference.StatisticDuration duration(long count, long nanos) {
        return io.mlserve.proto.inference.StatisticDuration.newBuilder().setCount(count).setNs(nanos).build();
    }
}
