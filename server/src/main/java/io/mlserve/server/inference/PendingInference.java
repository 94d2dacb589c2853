package io.mlserve.server.inference;

import io.grpc.Status;
import io.mlserve.batching.QueuedRequest;
import io.mlserve.batching.Rejection;
import io.mlserve.server.repository.ServedVersion;
import java.util.Set;

/**
 * A checked request waiting in its model version's batcher. Holds a reference on the version from submit until it is
 * answered, so the version's session outlives it.
 */
final class PendingInference extends QueuedRequest {
    final InferenceRequest request;
    final ServedVersion version;
    /** Requested output names, or null for all outputs. */
    final Set<String> outputs;
    /** Submits a request again after its version was swapped out; true when it did (the request is then its). */
    @FunctionalInterface
    interface Rerouter {
        boolean reroute(PendingInference p);
    }

    /** Routes the request again if its version is swapped out before it runs; null: never rerouted. */
    private Rerouter rerouter;

    PendingInference(InferenceRequest request, ServedVersion version, Set<String> outputs, int rows, int level,
                     long deadlineNanos, long timeoutMicros) {
        super(rows, level, deadlineNanos, timeoutMicros);
        this.request = request;
        this.version = version;
        this.outputs = outputs;
    }

    /** A routed request whose version leaves service before it runs is submitted again by {@code by}. */
    void reroutable(Rerouter by) {
        this.rerouter = by;
    }

    @Override
    protected boolean cancelled() {
        return request.context.abandoned();
    }

    @Override
    protected boolean batchesWith(QueuedRequest first) {
        return request.stacksWith(((PendingInference) first).request);
    }

    @Override
    protected void reject(Rejection reason, String message) {
        if (reason == Rejection.SHUTDOWN && rerouter != null && rerouter.reroute(this)) {
            // the version was swapped out after this request chose it: not an error, it went to the successor
            return;
        }
        Status.Code code = switch (reason) {
            case QUEUE_FULL -> Status.Code.RESOURCE_EXHAUSTED;
            case TIMEOUT -> Status.Code.DEADLINE_EXCEEDED;
            case CANCELLED -> Status.Code.CANCELLED;
            case SHUTDOWN -> Status.Code.UNAVAILABLE;
            case EXECUTION_FAILED -> Status.Code.INTERNAL;
        };
        fail(new InferenceError(code, "model '" + version.model() + "' version " + version.versionLabel() + ": "
                + message));
    }

    /** Answers with {@code error}, counts it and lets go of the version. */
    void fail(InferenceError error) {
        try {
            long took = System.nanoTime() - request.receivedNanos;
            version.metrics().recordFailure(error.code(), took);
            if (version.arm() != null) {
                version.arm().failure(took);
            }
        } finally {
            version.release();
            request.fail(error);
        }
    }

    /** Lets go of the version and delivers the answer the batch computed. */
    void succeed() {
        version.release();
        request.succeed();
    }
}
