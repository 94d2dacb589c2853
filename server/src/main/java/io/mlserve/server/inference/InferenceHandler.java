package io.mlserve.server.inference;

import ai.onnxruntime.OrtException;
import io.grpc.Context;
import io.grpc.Status;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.proto.inference.ModelInferResponse;
import io.mlserve.runtime.ModelSignature;
import io.mlserve.runtime.RunOutputs;
import io.mlserve.runtime.TensorBatch;
import io.mlserve.server.metrics.ServerMetrics;
import io.mlserve.server.repository.ModelEntry;
import io.mlserve.server.repository.ModelRepository;
import io.mlserve.server.repository.ModelState;
import io.mlserve.server.repository.ServedVersion;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Answers one ModelInferRequest: resolve the model version, decode and check the inputs, run ONNX
 * Runtime, encode the outputs, record metrics. The single inference path behind gRPC unary, gRPC
 * streaming and REST. {@link #submit} moves the work off the network threads onto the compute
 * executor, so health checks, metrics scrapes and other connections stay responsive while models run.
 * Holds a reference on the version for the whole call so an unload or swap never closes a session
 * under it.
 */
public final class InferenceHandler {
    private static final Logger LOG = LoggerFactory.getLogger(InferenceHandler.class);

    /** Receives the outcome of {@link #submit}: exactly one of the two arguments is non-null. */
    @FunctionalInterface
    public interface Completion {
        void done(ModelInferResponse response, InferenceError error);
    }

    private final ModelRepository repository;
    private final ServerMetrics metrics;
    private final Executor compute;

    /**
     * @param compute where models run; {@link Runnable#run} executes on the caller's thread
     */
    public InferenceHandler(ModelRepository repository, ServerMetrics metrics, Executor compute) {
        this.repository = repository;
        this.metrics = metrics;
        this.compute = compute;
    }

    /**
     * Runs {@code request} on the compute executor and reports the outcome to {@code completion} from
     * there. The time between this call and the start of execution is the request's queue time; a call
     * whose {@code context} was cancelled or whose deadline passed meanwhile is dropped without running.
     */
    public void submit(ModelInferRequest request, Context context, Completion completion) {
        long received = System.nanoTime();
        try {
            compute.execute(() -> {
                ModelInferResponse response;
                try {
                    if (context.isCancelled()) {
                        throw recordExpired(request, context, received);
                    }
                    response = infer(request, received);
                } catch (InferenceError e) {
                    completion.done(null, e);
                    return;
                }
                completion.done(response, null);
            });
        } catch (RejectedExecutionException e) {
            completion.done(null, new InferenceError(Status.Code.UNAVAILABLE, "the server is shutting down"));
        }
    }

    /**
     * Resolves {@code name} and {@code version} ("" = the latest serving version) to a serving version.
     *
     * @throws InferenceError NOT_FOUND for unknown models or versions, UNAVAILABLE while loading
     */
    public ServedVersion resolve(String name, String version) {
        if (name.isEmpty()) {
            throw InferenceError.invalid("model_name: required");
        }
        ModelEntry entry = repository.model(name);
        if (entry == null) {
            throw new InferenceError(Status.Code.NOT_FOUND, "model '" + name + "' is not in the repository");
        }
        ServedVersion v;
        if (version.isEmpty()) {
            v = entry.latest();
        } else {
            long n = parseVersion(version);
            v = entry.version(n);
            if (v == null && entry.versions().length > 0) {
                throw new InferenceError(Status.Code.NOT_FOUND, "model '" + name + "' has no serving version "
                        + version + "; serving: " + servingVersions(entry));
            }
        }
        if (v == null) {
            Status.Code code = entry.state() == ModelState.LOADING ? Status.Code.UNAVAILABLE : Status.Code.NOT_FOUND;
            throw new InferenceError(code, "model '" + name + "'"
                    + (version.isEmpty() ? "" : " version " + version) + " is not serving ("
                    + entry.state() + (entry.reason().isEmpty() ? "" : ": " + entry.reason()) + ")");
        }
        return v;
    }

    private static long parseVersion(String version) {
        try {
            long n = Long.parseLong(version);
            if (n > 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw InferenceError.invalid("model_version: expected a positive integer or empty, got '" + version + "'");
    }

    private static String servingVersions(ModelEntry entry) {
        StringBuilder sb = new StringBuilder();
        for (ServedVersion s : entry.versions()) {
            if (sb.length() > 0) {
                sb.append(", ");
            }
            sb.append(s.versionLabel());
        }
        return sb.toString();
    }

    /** Counts a request dropped unexecuted (against its model when it resolves) and returns its error. */
    private InferenceError recordExpired(ModelInferRequest request, Context context, long received) {
        InferenceError e = expired(context);
        try {
            resolve(request.getModelName(), request.getModelVersion()).metrics()
                    .recordFailure(e.code(), System.nanoTime() - received);
        } catch (InferenceError unresolved) {
            metrics.recordUnattributedFailure(ServerMetrics.UNKNOWN_MODEL, e.code());
        }
        return e;
    }

    /** The error for a call whose context ended before it ran: DEADLINE_EXCEEDED or CANCELLED. */
    public static InferenceError expired(Context context) {
        boolean deadline = context.getDeadline() != null && context.getDeadline().isExpired();
        return deadline ? new InferenceError(Status.Code.DEADLINE_EXCEEDED, "the deadline passed before the request ran")
                : new InferenceError(Status.Code.CANCELLED, "the caller cancelled the request before it ran");
    }

    /** Runs {@code request} on this thread; failures are {@link InferenceError}s with their status. */
    public ModelInferResponse infer(ModelInferRequest request) {
        return infer(request, System.nanoTime());
    }

    private ModelInferResponse infer(ModelInferRequest request, long start) {
        long dequeued = System.nanoTime();
        ServedVersion v;
        try {
            v = resolve(request.getModelName(), request.getModelVersion());
        } catch (InferenceError e) {
            ModelEntry known = request.getModelName().isEmpty() ? null : repository.model(request.getModelName());
            metrics.recordUnattributedFailure(known == null ? ServerMetrics.UNKNOWN_MODEL : known.name(), e.code());
            throw e;
        }
        if (!v.acquire()) {
            // unloaded between lookup and use: the caller may retry and land on the new version
            InferenceError e = new InferenceError(Status.Code.UNAVAILABLE, "model '" + v.model() + "' version "
                    + v.versionLabel() + " was unloaded while the request arrived; retry");
            metrics.recordUnattributedFailure(v.model(), e.code());
            throw e;
        }
        v.metrics().started();
        try {
            return run(request, v, start, dequeued);
        } catch (InferenceError e) {
            v.metrics().recordFailure(e.code(), System.nanoTime() - start);
            throw e;
        } catch (OrtException | RuntimeException e) {
            InferenceError mapped = mapRuntimeFailure(v, e);
            v.metrics().recordFailure(mapped.code(), System.nanoTime() - start);
            throw mapped;
        } finally {
            v.metrics().finished();
            v.release();
        }
    }

    private ModelInferResponse run(ModelInferRequest request, ServedVersion v, long start, long dequeued)
            throws OrtException {
        ModelSignature sig = v.signature();
        Set<String> selected = selectedOutputs(request, v);
        TensorBatch batch = v.threadBatch();
        int rows = RequestDecoder.decode(request, v.model(), sig, v.maxBatchSize(), batch);
        boolean raw = request.getRawInputContentsCount() > 0;
        long computeStart = System.nanoTime();
        ModelInferResponse.Builder response = ModelInferResponse.newBuilder()
                .setModelName(v.model()).setModelVersion(v.versionLabel()).setId(request.getId());
        long inferEnd;
        try (RunOutputs out = v.session().run(batch, selected)) {
            inferEnd = System.nanoTime();
            if (request.getOutputsCount() == 0) {
                for (int j = 0; j < sig.outputs().size(); j++) {
                    ResponseEncoder.addOutput(response, out, j, sig.outputs().get(j), raw);
                }
            } else {
                for (int k = 0; k < request.getOutputsCount(); k++) {
                    int j = sig.outputIndex(request.getOutputs(k).getName());
                    ResponseEncoder.addOutput(response, out, j, sig.outputs().get(j), raw);
                }
            }
        }
        ModelInferResponse built = response.build();
        long end = System.nanoTime();
        v.metrics().recordSuccess(rows, end - start, dequeued - start, computeStart - dequeued,
                inferEnd - computeStart, end - inferEnd);
        return built;
    }

    /** Requested output names, checked; null for "all outputs". */
    private static Set<String> selectedOutputs(ModelInferRequest request, ServedVersion v) {
        int n = request.getOutputsCount();
        if (n == 0) {
            return null;
        }
        ModelSignature sig = v.signature();
        Set<String> names = new LinkedHashSet<>(n * 2);
        for (int k = 0; k < n; k++) {
            String name = request.getOutputs(k).getName();
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

    private static InferenceError mapRuntimeFailure(ServedVersion v, Exception e) {
        if (e instanceof OrtException ort && ort.getCode() == OrtException.OrtErrorCode.ORT_INVALID_ARGUMENT) {
            // shapes the signature allows but the graph rejects (e.g. mismatched dynamic dimensions)
            return InferenceError.invalid("model '" + v.model() + "' rejected the inputs: " + e.getMessage());
        }
        LOG.error("{}: inference failed", v, e);
        return new InferenceError(Status.Code.INTERNAL, "model '" + v.model() + "' version " + v.versionLabel()
                + " failed: " + e.getMessage());
    }
}
