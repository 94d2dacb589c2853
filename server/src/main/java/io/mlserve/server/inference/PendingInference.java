package io.mlserve.server.inference;

import io.grpc.Context;
import io.grpc.Status;
import io.mlserve.batching.QueuedRequest;
import io.mlserve.batching.Rejection;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.server.repository.ServedVersion;
import java.util.Set;

/**
 * A checked ModelInferRequest waiting in its model version's batcher. Holds a reference on the version
 * from submit until it is answered, so the version's session outlives it.
 */
public final class PendingInference extends QueuedRequest {
    final ModelInferRequest request;
    final ServedVersion version;
    final Context context;
    final InferenceHandler.Completion completion;
    final long receivedNanos;
    /** Requested output names, or null for all outputs. */
    final Set<String> outputs;
    final boolean raw;
    /** Routes the request again if its version is swapped out before it runs; null: never rerouted. */
    private InferenceHandler rerouter;
    /** The entity it was routed by, and how many times it has been rerouted. */
    String entity;
    int attempt;

    PendingInference(ModelInferRequest request, ServedVersion version, Context context,
                     InferenceHandler.Completion completion, long receivedNanos, Set<String> outputs, int rows,
                     int level, long deadlineNanos, long timeoutMicros) {
        super(rows, level, deadlineNanos, timeoutMicros);
        this.request = request;
        this.version = version;
        this.context = context;
        this.completion = completion;
        this.receivedNanos = receivedNanos;
        this.outputs = outputs;
        this.raw = request.getRawInputContentsCount() > 0;
    }

    /**
     * A routed request whose version leaves service before it runs is submitted again by {@code handler} to the
     * version serving then (fields, not a closure: this is set on every routed request).
     */
    void reroutable(InferenceHandler handler, String routedBy, int attempts) {
        this.rerouter = handler;
        this.entity = routedBy;
        this.attempt = attempts;
    }

    @Override
    protected boolean cancelled() {
        return context.isCancelled() && (context.getDeadline() == null || !context.getDeadline().isExpired());
    }

    /** Same shape in every dimension but the first, input by input (so the rows can be stacked). */
    @Override
    protected boolean batchesWith(QueuedRequest first) {
        ModelInferRequest other = ((PendingInference) first).request;
        int n = request.getInputsCount();
        if (other.getInputsCount() != n) {
            return false;
        }
        for (int i = 0; i < n; i++) {
            ModelInferRequest.InferInputTensor a = request.getInputs(i);
            ModelInferRequest.InferInputTensor b = findInput(other, a.getName(), i);
            if (b == null || a.getShapeCount() != b.getShapeCount()) {
                return false;
            }
            for (int d = 1; d < a.getShapeCount(); d++) {
                if (a.getShape(d) != b.getShape(d)) {
                    return false;
                }
            }
        }
        return true;
    }

    private static ModelInferRequest.InferInputTensor findInput(ModelInferRequest r, String name, int hint) {
        if (hint < r.getInputsCount() && r.getInputs(hint).getName().equals(name)) {
            return r.getInputs(hint);
        }
        for (ModelInferRequest.InferInputTensor t : r.getInputsList()) {
            if (t.getName().equals(name)) {
                return t;
            }
        }
        return null;
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
            long took = System.nanoTime() - receivedNanos;
            version.metrics().recordFailure(error.code(), took);
            if (version.arm() != null) {
                version.arm().failure(took);
            }
        } finally {
            version.release();
            completion.done(null, error);
        }
    }
}
