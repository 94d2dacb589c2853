package io.mlserve.server.inference;

import ai.onnxruntime.OrtException;
import io.mlserve.runtime.DataType;
import io.mlserve.runtime.ModelSignature;
import io.mlserve.runtime.RunOutputs;
import io.mlserve.runtime.TensorBatch;
import io.mlserve.runtime.TensorSpec;
import io.mlserve.server.repository.ServedVersion;
import java.util.Set;

/**
 * One inference request as the core sees it, whatever protocol brought it: which model (and version, or "" to be
 * routed), the caller's {@link RequestContext}, the input tensors and how to answer. Adapters build one of the two
 * kinds — {@link TensorRequest} (Open Inference Protocol tensors: gRPC ModelInfer and its stream, REST v2 infer) or
 * {@link RowRequest} (rows of float features: Predict by entity) — and hand it to {@link InferenceCore#submit}, which
 * resolves the version, checks the principal, validates and batches, each once, the same way for both.
 *
 * <p>A request is used by one thread at a time: the adapter's until submitted, the batcher's instance while it runs,
 * the answering thread after. Its answer is computed on the instance thread ({@link #encode}) and delivered after the
 * batch ({@link #succeed}), so a slow caller never holds the instance.
 */
public abstract class InferenceRequest {
    final String model;
    final String version;
    final String id;
    final RequestContext context;
    /** The key a canary routes by (an entity id), or null for the request id. */
    final String routingKey;
    /** Routed (no version asked, or chosen by routing): it follows a swap that happens before it runs. */
    final boolean routed;
    final long receivedNanos;
    /** The version routing chose before the request was built (Predict reads that version's features); or null. */
    ServedVersion pinned;
    /** How many times it followed a swap. */
    int attempt;

    InferenceRequest(String model, String version, String id, RequestContext context, String routingKey,
                     boolean routed, long receivedNanos) {
        this.model = model;
        this.version = version;
        this.id = id;
        this.context = context;
        this.routingKey = routingKey;
        this.routed = routed;
        this.receivedNanos = receivedNanos;
    }

    public String model() {
        return model;
    }

    public RequestContext context() {
        return context;
    }

    /** Checks the inputs against {@code v}'s signature and the server's limits; returns the rows (1 unbatched). */
    abstract int check(ServedVersion v, RequestLimits limits);

    /** The outputs asked for, checked against {@code v}; null for all of them. */
    abstract Set<String> outputs(ServedVersion v);

    /** The priority level asked for (1 = highest), or 0 for the model's default. */
    abstract long priority();

    /** The queue timeout asked for in microseconds, or 0 for none. */
    abstract long timeoutMicros();

    /** The number of inputs the request carries, and input {@code i}'s name and shape (checked by {@link #check}). */
    abstract int inputCount();

    abstract String inputName(int i);

    abstract int rank(int i);

    abstract long dim(int i, int d);

    /** Copies the checked inputs into {@code batch} at row {@code rowOffset} (sized by {@link #prepare}). */
    abstract void copyInto(TensorBatch batch, ModelSignature sig, int rowOffset);

    /**
     * Computes the answer from rows [{@code offset}, {@code offset + rows}) of the batch's outputs ({@code totalRows}
     * 0: the model does not batch, the outputs are the request's own); kept until {@link #succeed}.
     */
    abstract void encode(ServedVersion v, RunOutputs out, int offset, int rows, int totalRows) throws OrtException;

    /** Delivers the answer {@link #encode} computed. */
    abstract void succeed();

    /** Answers with {@code error} (exactly once, instead of {@link #succeed}). */
    abstract void fail(InferenceError error);

    /** A copy for a shadow rollout's challenger: same inputs, answered to nobody, no caller deadline. */
    abstract InferenceRequest shadowCopy();

    /**
     * Sizes {@code batch}'s inputs for {@code rows} rows shaped like this (checked) request: every input's shape is
     * its own with the first dimension replaced by {@code rows} when the model batches.
     */
    final void prepare(TensorBatch batch, ModelSignature sig, int rows, boolean batched) {
        for (int i = 0, n = inputCount(); i < n; i++) {
            int idx = sig.inputIndex(inputName(i));
            TensorSpec spec = sig.inputs().get(idx);
            int rank = rank(i);
            long[] shape = batch.shape(idx, rank);
            long elements = 1;
            for (int d = 0; d < rank; d++) {
                shape[d] = d == 0 && batched ? rows : dim(i, d);
                elements *= shape[d];
            }
            if (spec.dataType() == DataType.BYTES) {
                batch.strings(idx, (int) elements);
            } else {
                batch.buffer(idx, (int) elements * spec.dataType().byteSize());
            }
        }
    }

    /** Same inputs with the same shape in every dimension but the first (so the rows of both can be stacked). */
    final boolean stacksWith(InferenceRequest other) {
        int n = inputCount();
        if (other.inputCount() != n) {
            return false;
        }
        for (int i = 0; i < n; i++) {
            int j = other.indexOf(inputName(i), i);
            if (j < 0 || rank(i) != other.rank(j)) {
                return false;
            }
            for (int d = 1; d < rank(i); d++) {
                if (dim(i, d) != other.dim(j, d)) {
                    return false;
                }
            }
        }
        return true;
    }

    private int indexOf(String name, int hint) {
        if (hint < inputCount() && inputName(hint).equals(name)) {
            return hint;
        }
        for (int i = 0; i < inputCount(); i++) {
            if (inputName(i).equals(name)) {
                return i;
            }
        }
        return -1;
    }
}
