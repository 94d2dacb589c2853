package io.mlserve.server.inference;

import ai.onnxruntime.OrtException;
import io.mlserve.proto.inference.InferParameter;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.proto.inference.ModelInferResponse;
import io.mlserve.runtime.ModelSignature;
import io.mlserve.runtime.RunOutputs;
import io.mlserve.runtime.TensorBatch;
import io.mlserve.server.repository.ServedVersion;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Set;

/**
 * An Open Inference Protocol request — gRPC ModelInfer, one message of ModelStreamInfer, or REST v2 infer (decoded to
 * the same message) — answered with a ModelInferResponse, raw or typed as it was asked. Its parameters {@code
 * priority} and {@code timeout} (Triton's names) and {@code routing_key} are read here.
 */
public final class TensorRequest extends InferenceRequest {
    /** Receives the outcome: exactly one of the two arguments is non-null. */
    @FunctionalInterface
    public interface Completion {
        void done(ModelInferResponse response, InferenceError error);
    }

    /** Request parameter: priority level, 1 = highest (Triton's reserved name). */
    static final String PRIORITY = "priority";
    /** Request parameter: queue timeout in microseconds (Triton's reserved name). */
    static final String TIMEOUT = "timeout";
    /** Request parameter: the key a canary rollout routes by (an entity id), instead of the request id. */
    static final String ROUTING_KEY = "routing_key";

    private static final Completion DISCARD = (response, error) -> {
    };

    final ModelInferRequest wire;
    private final Completion completion;
    private final boolean raw;
    private ModelInferResponse answer;

    /** A request as the caller sent it: routed when it names no version. */
    public TensorRequest(ModelInferRequest wire, RequestContext context, Completion completion) {
        this(wire, context, completion, System.nanoTime());
    }

    private TensorRequest(ModelInferRequest wire, RequestContext context, Completion completion, long received) {
        super(wire.getModelName(), wire.getModelVersion(), wire.getId(), context, routingKey(wire),
                wire.getModelVersion().isEmpty(), received);
        this.wire = wire;
        this.completion = completion;
        this.raw = wire.getRawInputContentsCount() > 0;
    }

    /** The request's {@code routing_key} string parameter, or null. */
    private static String routingKey(ModelInferRequest request) {
        if (!request.getModelVersion().isEmpty()) {
            return null;
        }
        InferParameter p = request.getParametersMap().get(ROUTING_KEY);
        return p != null && p.getParameterChoiceCase() == InferParameter.ParameterChoiceCase.STRING_PARAM
                ? p.getStringParam() : null;
    }

    @Override
    int check(ServedVersion v, RequestLimits limits) {
        return RequestDecoder.check(wire, v.model(), v.signature(), v.maxBatchSize(), limits);
    }

    @Override
    Set<String> outputs(ServedVersion v) {
        int n = wire.getOutputsCount();
        if (n == 0) {
            return null;
        }
        ModelSignature sig = v.signature();
        Set<String> names = new LinkedHashSet<>(n * 2);
        for (int k = 0; k < n; k++) {
            String name = wire.getOutputs(k).getName();
            if (sig.outputIndex(name) < 0) {
                throw InferenceError.invalid("outputs[" + k + "].name: model '" + v.model() + "' has no output '"
                        + name + "'; its outputs are " + ModelSignature.names(sig.outputs()));
            }
            if (!names.add(name)) {
                throw InferenceError.invalid("outputs[" + k + "].name: output '" + name + "' is requested twice");
            }
        }
        return names;
    }

    @Override
    long priority() {
        return nonNegative(PRIORITY);
    }

    @Override
    long timeoutMicros() {
        return nonNegative(TIMEOUT);
    }

    private long nonNegative(String name) {
        InferParameter p = wire.getParametersMap().get(name);
        if (p == null) {
            return 0;
        }
        long v = switch (p.getParameterChoiceCase()) {
            case INT64_PARAM -> p.getInt64Param();
            case UINT64_PARAM -> p.getUint64Param();
            default -> throw InferenceError.invalid("parameters." + name + ": expected an integer, got "
                    + p.getParameterChoiceCase().name().toLowerCase(Locale.ROOT));
        };
        if (v < 0) {
            throw InferenceError.invalid("parameters." + name + ": must be >= 0, got " + v);
        }
        return v;
    }

    @Override
    int inputCount() {
        return wire.getInputsCount();
    }

    @Override
    String inputName(int i) {
        return wire.getInputs(i).getName();
    }

    @Override
    int rank(int i) {
        return wire.getInputs(i).getShapeCount();
    }

    @Override
    long dim(int i, int d) {
        return wire.getInputs(i).getShape(d);
    }

    @Override
    void copyInto(TensorBatch batch, ModelSignature sig, int rowOffset) {
        RequestDecoder.copy(wire, sig, batch, rowOffset);
    }

    @Override
    void encode(ServedVersion v, RunOutputs out, int offset, int rows, int totalRows) throws OrtException {
        ModelSignature sig = v.signature();
        ModelInferResponse.Builder r = ModelInferResponse.newBuilder().setModelName(v.model())
                .setModelVersion(v.versionLabel()).setId(id);
        if (wire.getOutputsCount() == 0) {
            for (int j = 0; j < sig.outputs().size(); j++) {
                ResponseEncoder.addOutput(r, out, j, sig.outputs().get(j), raw, offset, rows, totalRows);
            }
        } else {
            for (int k = 0; k < wire.getOutputsCount(); k++) {
                int j = sig.outputIndex(wire.getOutputs(k).getName());
                ResponseEncoder.addOutput(r, out, j, sig.outputs().get(j), raw, offset, rows, totalRows);
            }
        }
        answer = r.build();
    }

    @Override
    void succeed() {
        ModelInferResponse a = answer;
        answer = null;
        completion.done(a, null);
    }

    @Override
    void fail(InferenceError error) {
        completion.done(null, error);
    }

    @Override
    InferenceRequest shadowCopy() {
        return new TensorRequest(wire, RequestContext.INTERNAL, DISCARD, System.nanoTime());
    }
}
