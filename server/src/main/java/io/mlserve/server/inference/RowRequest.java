package io.mlserve.server.inference;

import io.grpc.Status;
import io.mlserve.runtime.DataType;
import io.mlserve.runtime.ModelSignature;
import io.mlserve.runtime.RunOutputs;
import io.mlserve.runtime.TensorBatch;
import io.mlserve.runtime.TensorSpec;
import io.mlserve.server.repository.ServedVersion;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Set;

/**
 * Rows of FP32 features for a model's one input, answered with the first output's values per row: Predict by entity
 * builds one from the features it read. The rows go from the caller's array straight into the batch — no wire
 * message in between — and the scores come back as numbers, not as a response to decode.
 */
public final class RowRequest extends InferenceRequest {
    /** The first output's values, {@code perRow} per row in row order, from {@code version}. */
    public record Scores(ServedVersion version, double[] values, int perRow) {
    }

    /** Receives the outcome: exactly one of the two arguments is non-null. */
    @FunctionalInterface
    public interface Completion {
        void done(Scores scores, InferenceError error);
    }

    private static final Completion DISCARD = (scores, error) -> {
    };

    private final String input;
    private final float[] values;
    private final int rows;
    private final int width;
    private final Completion completion;
    private Scores answer;

    /**
     * Rows for {@code chosen}, the version the core resolved for this caller (its features were read for that
     * version's binding).
     *
     * @param routed  the caller named no version: routing chose it, and the request follows a swap to a version that
     *                binds the same features
     * @param entity  the key routing chose by
     * @param values  {@code rows × width} values, row-major
     */
    public RowRequest(ServedVersion chosen, boolean routed, String id, String entity, RequestContext context,
                      String input, float[] values, int rows, int width, Completion completion) {
        this(chosen.model(), routed ? "" : chosen.versionLabel(), routed, id, entity, context, input, values, rows,
                width, completion);
        this.pinned = chosen;
    }

    private RowRequest(String model, String version, boolean routed, String id, String entity,
                       RequestContext context, String input, float[] values, int rows, int width,
                       Completion completion) {
        super(model, version, id, context, entity, routed, System.nanoTime());
        this.input = input;
        this.values = values;
        this.rows = rows;
        this.width = width;
        this.completion = completion;
    }

    @Override
    int check(ServedVersion v, RequestLimits limits) {
        ModelSignature sig = v.signature();
        int idx = sig.inputIndex(input);
        if (idx < 0) {
            throw new InferenceError(Status.Code.FAILED_PRECONDITION, "model '" + v.model() + "' binds its features "
                    + "to input '" + input + "', which it does not have; its inputs are "
                    + ModelSignature.names(sig.inputs()));
        }
        TensorSpec spec = sig.inputs().get(idx);
        if (spec.dataType() != DataType.FP32 || spec.rank() != 2 || (spec.dim(1) >= 0 && spec.dim(1) != width)
                || (spec.dim(0) >= 0 && spec.dim(0) != rows)) {
            throw new InferenceError(Status.Code.FAILED_PRECONDITION, "model '" + v.model() + "' input '" + input
                    + "' is " + spec.dataType().oipName() + " " + Arrays.toString(spec.shape()) + "; Predict sends FP32 ["
                    + rows + ", " + width + "]");
        }
        for (TensorSpec other : sig.inputs()) {
            if (other != spec) {
                throw new InferenceError(Status.Code.FAILED_PRECONDITION, "model '" + v.model() + "' also needs input '"
                        + other.name() + "', which Predict cannot fill; call ModelInfer instead");
            }
        }
        DataType scores = sig.outputs().get(0).dataType();
        if (scores != DataType.FP32 && scores != DataType.FP64 && scores != DataType.INT32 && scores != DataType.INT64) {
            throw new InferenceError(Status.Code.FAILED_PRECONDITION, "model '" + v.model() + "': Predict reads a "
                    + "score from the first output, which is " + scores.oipName() + "; it must be FP32, FP64, INT32 "
                    + "or INT64");
        }
        if (v.maxBatchSize() > 0 && rows > v.maxBatchSize()) {
            throw InferenceError.invalid("entity_ids: " + rows + " entities exceed max_batch_size " + v.maxBatchSize()
                    + " of model '" + v.model() + "'");
        }
        if (rows > limits.maxRows()) {
            throw InferenceError.invalid("entity_ids: " + rows + " entities exceed the server's limit of "
                    + limits.maxRows() + " rows per request (--max-rows-per-request)");
        }
        return spec.hasBatchDimension() ? rows : 1;
    }

    @Override
    Set<String> outputs(ServedVersion v) {
        return null; // all: drift and the rollout read their outputs from the same run
    }

    @Override
    long priority() {
        return 0;
    }

    @Override
    long timeoutMicros() {
        return 0;
    }

    @Override
    int inputCount() {
        return 1;
    }

    @Override
    String inputName(int i) {
        return input;
    }

    @Override
    int rank(int i) {
        return 2;
    }

    @Override
    long dim(int i, int d) {
        return d == 0 ? rows : width;
    }

    @Override
    void copyInto(TensorBatch batch, ModelSignature sig, int rowOffset) {
        ByteBuffer b = batch.bufferOf(sig.inputIndex(input));
        int at = rowOffset * width * Float.BYTES;
        for (float f : values) {
            b.putFloat(at, f);
            at += Float.BYTES;
        }
    }

    @Override
    void encode(ServedVersion v, RunOutputs out, int offset, int rowCount, int totalRows) {
        DataType type = v.signature().outputs().get(0).dataType();
        ByteBuffer data = out.bytes(0);
        int size = type.byteSize();
        int elements = data.remaining() / size;
        int perRow = totalRows > 0 ? elements / totalRows : elements / Math.max(1, rows);
        if (perRow == 0) {
            throw new InferenceError(Status.Code.INTERNAL, "model '" + v.model() + "' returned no values for " + rows
                    + " entities");
        }
        double[] scores = new double[rows * perRow];
        int from = (totalRows > 0 ? offset * perRow : 0) * size;
        for (int k = 0; k < scores.length; k++) {
            int at = from + k * size;
            scores[k] = switch (type) {
                case FP32 -> data.getFloat(at);
                case FP64 -> data.getDouble(at);
                case INT32 -> data.getInt(at);
                default -> data.getLong(at);
            };
        }
        answer = new Scores(v, scores, perRow);
    }

    @Override
    void succeed() {
        Scores s = answer;
        answer = null;
        completion.done(s, null);
    }

    @Override
    void fail(InferenceError error) {
        completion.done(null, error);
    }

    @Override
    InferenceRequest shadowCopy() {
        return new RowRequest(model, version, false, id, routingKey, RequestContext.INTERNAL, input, values, rows, width,
                DISCARD);
    }
}
