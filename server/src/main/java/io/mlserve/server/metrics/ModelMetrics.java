package io.mlserve.server.metrics;

import io.grpc.Status;
import io.mlserve.batching.BatcherListener;
import io.mlserve.batching.Rejection;
import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.prometheus.metrics.core.datapoints.GaugeDataPoint;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.atomic.LongAdder;

/**
 * Metrics of one model version: Prometheus children bound once at load time, plus the cumulative
 * counts and nanoseconds the ModelStatistics RPC reports. Recording is lock-free and allocation-free.
 * Also the version's {@link BatcherListener}: batch sizes, queue depth per priority, rejections.
 */
public final class ModelMetrics implements BatcherListener {
    private static final double NANOS_PER_SECOND = 1e9;

    private final VersionFamilies server;
    private final String model;
    private final String version;
    private final DistributionDataPoint requestDuration;
    private final DistributionDataPoint queueDuration;
    private final DistributionDataPoint computeDuration;
    private final CounterDataPoint success;
    private final CounterDataPoint inferences;
    private final CounterDataPoint executions;
    private final GaugeDataPoint inFlight;
    private final DistributionDataPoint batchSize;
    private final GaugeDataPoint[] pending;
    private final CounterDataPoint[] rejections = new CounterDataPoint[Rejection.values().length];
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

    ModelMetrics(VersionFamilies server, String model, String version, int priorityLevels) {
        this.server = server;
        this.model = model;
        this.version = version;
        requestDuration = server.requestDuration().labelValues(model, version);
        queueDuration = server.queueDuration().labelValues(model, version);
        computeDuration = server.computeDuration().labelValues(model, version);
        success = server.success().labelValues(model, version);
        inferences = server.inferenceCount().labelValues(model, version);
        executions = server.executionCount().labelValues(model, version);
        inFlight = server.inFlight().labelValues(model, version);
        batchSize = server.batchSize().labelValues(model, version);
        pending = new GaugeDataPoint[priorityLevels];
        for (int l = 0; l < priorityLevels; l++) {
            pending[l] = server.pending().labelValues(model, version, Integer.toString(l + 1));
        }
        for (Rejection r : Rejection.values()) {
            rejections[r.ordinal()] = server.queueRejections().labelValues(model, version,
                    r.name().toLowerCase(Locale.ROOT));
        }
    }

    /**
     * Removes every series of this version from the registry (the version left service): a server that swaps
     * versions all day must not keep a histogram per version it ever served.
     */
    public void forget() {
        server.requestDuration().remove(model, version);
        server.queueDuration().remove(model, version);
        server.computeDuration().remove(model, version);
        server.success().remove(model, version);
        server.inferenceCount().remove(model, version);
        server.executionCount().remove(model, version);
        server.batchSize().remove(model, version);
        for (int l = 0; l < pending.length; l++) {
            server.pending().remove(model, version, Integer.toString(l + 1));
        }
        for (Rejection r : Rejection.values()) {
            server.queueRejections().remove(model, version, r.name().toLowerCase(Locale.ROOT));
        }
        for (Status.Code code : Status.Code.values()) {
            server.failure().remove(model, version, VersionFamilies.reason(code));
        }
        server.modelReady().remove(model, version);
        server.inFlight().remove(model, version);
    }

    /** {@code requests} requests started executing on this version. */
    public void started(int requests) {
        inFlight.inc(requests);
    }

    /** {@code requests} requests that {@link #started} finished, successfully or not. */
    public void finished(int requests) {
        inFlight.dec(requests);
    }

    /**
     * Records one model execution (a batch).
     *
     * @param rows        rows inferred
     * @param inputNanos  copying the requests into the batch buffers
     * @param inferNanos  ONNX Runtime's run
     * @param outputNanos splitting and encoding the outputs
     */
    public void recordExecution(int rows, long inputNanos, long inferNanos, long outputNanos) {
        computeDuration.observe(inferNanos / NANOS_PER_SECOND);
        inferences.inc(rows);
        executions.inc();
        computeInputNanos.add(inputNanos);
        computeInferNanos.add(inferNanos);
        computeOutputNanos.add(outputNanos);
        inferenceCount.add(rows);
        executionCount.increment();
        lastInferenceMillis.set(System.currentTimeMillis());
    }

    /**
     * Records one request answered successfully.
     *
     * @param totalNanos receive → response built
     * @param queueNanos receive → its batch started executing
     */
    public void recordSuccess(long totalNanos, long queueNanos) {
        requestDuration.observe(totalNanos / NANOS_PER_SECOND);
        queueDuration.observe(queueNanos / NANOS_PER_SECOND);
        success.inc();
        successCount.increment();
        successNanos.add(totalNanos);
        this.queueNanos.add(queueNanos);
    }

    @Override
    public void batchFormed(int rows, int requests) {
        batchSize.observe(rows);
    }

    @Override
    public void pendingChanged(int level, int delta) {
        pending[level - 1].inc(delta);
    }

    @Override
    public void rejected(Rejection reason) {
        rejections[reason.ordinal()].inc();
    }

    /** Records one failed request with the status it was answered with. */
    public void recordFailure(Status.Code code, long totalNanos) {
        requestDuration.observe(totalNanos / NANOS_PER_SECOND);
        failCount.increment();
        failNanos.add(totalNanos);
        CounterDataPoint c = failures.get(code.ordinal());
        if (c == null) {
            c = server.failure().labelValues(model, version, VersionFamilies.reason(code));
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
