package io.mlserve.server.metrics;

import io.grpc.Status;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import java.util.Locale;

/**
 * The metric families labelled by model and version: the server registers them once, each loaded version binds its
 * children ({@link ModelMetrics}) and removes them when it leaves service.
 */
record VersionFamilies(Histogram requestDuration, Histogram queueDuration, Histogram computeDuration,
                       Counter success, Counter failure, Counter inferenceCount, Counter executionCount,
                       Gauge inFlight, Histogram batchSize, Gauge pending, Counter queueRejections,
                       Gauge modelReady) {
    /** A failure's reason label: its gRPC status, lower case. */
    static String reason(Status.Code code) {
        return code.name().toLowerCase(Locale.ROOT);
    }
}
