package io.mlserve.server.inference;

import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Status;
import io.mlserve.batching.BatchingConfig;
import io.mlserve.proto.inference.InferParameter;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.proto.inference.ModelInferResponse;
import io.mlserve.runtime.ModelSignature;
import io.mlserve.server.metrics.ServerMetrics;
import io.mlserve.server.repository.ModelEntry;
import io.mlserve.server.repository.ModelRepository;
import io.mlserve.server.repository.ModelState;
import io.mlserve.server.repository.ServedVersion;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The single inference path behind gRPC unary, gRPC streaming and REST: resolve the model version,
 * check the request against its signature, read its priority and timeout, and queue it in the
 * version's dynamic batcher. Runs on the network thread and never blocks; the batcher's instances
 * execute and answer. A request holds a reference on its version until answered, so an unload or swap
 * never closes a session under it.
 */
public final class InferenceHandler {
    /** Receives the outcome of {@link #submit}: exactly one of the two arguments is non-null. */
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

    private final ModelRepository repository;
    private final ServerMetrics metrics;

    private RequestLimits limits = RequestLimits.NONE;

    public InferenceHandler(ModelRepository repository, ServerMetrics metrics) {
        this.repository = repository;
        this.metrics = metrics;
    }

    /** Refuses requests over these limits (set before serving). */
    public InferenceHandler withLimits(RequestLimits l) {
        this.limits = l;
        return this;
    }

    /**
     * Resolves {@code name} and {@code version} ("" = the latest serving version, or the champion) to a serving
     * version.
     *
     * @throws InferenceError NOT_FOUND for unknown models or versions, UNAVAILABLE while loading
     */
    public ServedVersion resolve(String name, String version) {
        return resolve(name, version, null, null);
    }

    /**
     * As {@link #resolve(String, String)}; a request without a version under a canary rollout goes to the champion
     * or the challenger by its routing key — the entity (sticky by entity, the default) or the request id (sticky by
     * request); the same key always lands on the same version, a request with neither at random.
     */
    public ServedVersion resolve(String name, String version, String entity, String requestId) {
        return resolve(name, version, entity, requestId, io.mlserve.server.security.Guard.PRINCIPAL.get());
    }

    private io.mlserve.server.security.Guard guard;

    /** Counts and audits allow-list refusals through this guard. */
    public InferenceHandler withGuard(io.mlserve.server.security.Guard g) {
        this.guard = g;
        return this;
    }

    /** As {@link #resolve(String, String, String, String)} for {@code principal} (null: no authentication). */
    public ServedVersion resolve(String name, String version, String entity, String requestId,
                                 io.mlserve.server.security.Principal principal) {
        if (name.isEmpty()) {
            throw InferenceError.invalid("model_name: required");
        }
        if (principal != null && !principal.mayUse(name)) {
            String message = guard != null ? guard.modelNotAllowed(principal, name, "infer").getMessage()
                    : "principal '" + principal.name() + "' may not use model '" + name + "'";
            throw new InferenceError(Status.Code.PERMISSION_DENIED, message);
        }
        ModelEntry entry = repository.model(name);
        if (entry == null) {
            throw new InferenceError(Status.Code.NOT_FOUND, "model '" + name + "' is not in the repository");
        }
        ServedVersion v;
        if (version.isEmpty()) {
            ModelEntry.Rollout r = entry.rollout();
            String key = r != null && r.stickyByRequest() ? requestId : entity != null ? entity : requestId;
            v = entry.route(key == null || key.isEmpty() ? null : key);
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

    /**
     * Checks {@code request} and queues it; {@code completion} is called exactly once — right here for a
     * request that is refused, otherwise from the batcher when it has been executed or dropped. The
     * earlier of {@code context}'s deadline and the request's {@code timeout} parameter applies; a
     * request whose caller cancels or whose deadline passes while it waits never runs.
     */
    public void submit(ModelInferRequest request, Context context, Completion completion) {
        boolean routed = request.getModelVersion().isEmpty();
        submit(request, context, completion, routed ? routingKey(request) : null, routed, 0, System.nanoTime());
    }

    /**
     * As {@link #submit(ModelInferRequest, Context, Completion)} for a request whose version was chosen by routing
     * (Predict: by {@code entity}) even though it names one: if that version leaves service before the request runs,
     * it is routed again to the version serving now instead of failing.
     */
    public void submitRouted(ModelInferRequest request, Context context, Completion completion, String entity) {
        submit(request, context, completion, entity, true, 0, System.nanoTime());
    }

    /** A request routes again at most this many times (a swap is one; back-to-back swaps are rarer still). */
    static final int MAX_REROUTES = 3;

    private void submit(ModelInferRequest request, Context context, Completion completion, String entity,
                        boolean routed, int attempt, long received) {
        if (context.isCancelled()) {
            completion.done(null, expired(context));
            return;
        }
        ServedVersion v;
        try {
            // the principal of the call this request belongs to (a stream's later messages run on other threads)
            v = resolve(request.getModelName(), routed ? "" : request.getModelVersion(), entity, request.getId(),
                    io.mlserve.server.security.Guard.PRINCIPAL.get(context));
        } catch (InferenceError e) {
            ModelEntry known = request.getModelName().isEmpty() ? null : repository.model(request.getModelName());
            metrics.recordUnattributedFailure(known == null ? ServerMetrics.UNKNOWN_MODEL : known.name(), e.code());
            completion.done(null, e);
            return;
        }
        if (!v.acquire()) {
            // unloaded between lookup and use: a routed request goes to the version that replaced it
            if (routed && attempt < MAX_REROUTES && swapped(v)) {
                submit(request, context, completion, entity, true, attempt + 1, received);
                return;
            }
            InferenceError e = new InferenceError(Status.Code.UNAVAILABLE, "model '" + v.model() + "' version "
                    + v.versionLabel() + " was unloaded while the request arrived; retry");
            metrics.recordUnattributedFailure(v.model(), e.code());
            completion.done(null, e);
            return;
        }
        PendingInference pending;
        try {
            Set<String> outputs = selectedOutputs(request, v);
            int rows = RequestDecoder.check(request, v.model(), v.signature(), v.maxBatchSize(), limits);
            BatchingConfig scheduling = v.batcher().config();
            int level = priority(request, scheduling);
            long timeoutMicros = nonNegative(request, TIMEOUT);
            Deadline deadline = context.getDeadline();
            long deadlineNanos = deadline == null ? Long.MAX_VALUE
                    : received + Math.max(0, deadline.timeRemaining(TimeUnit.NANOSECONDS));
            pending = new PendingInference(request, v, context, completion, received, outputs, rows, level,
                    deadlineNanos, timeoutMicros);
            if (routed && attempt < MAX_REROUTES) {
                pending.reroutable(this, entity, attempt);
            }
        } catch (InferenceError e) {
            v.metrics().recordFailure(e.code(), System.nanoTime() - received);
            v.release();
            completion.done(null, e);
            return;
        }
        v.batcher().submit(pending);
        if (routed && attempt == 0) {
            shadow(request.getModelName(), request, v);
        }
    }

    /**
     * Submits {@code p} again if its version was swapped out (not the server stopping) for one that reads the same
     * features; returns false, doing nothing, otherwise.
     */
    boolean reroute(PendingInference p) {
        if (!swapped(p.version) || !sameBinding(p.version)) {
            return false;
        }
        p.version.release();
        try {
            submit(p.request, p.context, p.completion, p.entity, true, p.attempt + 1, p.receivedNanos);
        } catch (RuntimeException e) {
            p.completion.done(null, new InferenceError(Status.Code.INTERNAL, "rerouting after a swap: " + e));
        }
        return true;
    }

    /**
     * Whether the version a request would be rerouted to reads the same features as {@code v} (a Predict request's
     * values were assembled for v's binding; rerouting them to a version that binds other features would be wrong).
     */
    boolean sameBinding(ServedVersion v) {
        ModelEntry e = repository.model(v.model());
        ServedVersion now = e == null ? null : e.latest();
        return now == null || now.config().getFeatures().equals(v.config().getFeatures());
    }

    /** Whether the model now routes to a version other than {@code v} (v was swapped out, not the server stopping). */
    boolean swapped(ServedVersion v) {
        ModelEntry e = repository.model(v.model());
        return e != null && e.version(v.version()) != v;
    }

    private static final Completion DISCARD = (response, error) -> {
    };

    /**
     * Under a shadow rollout, a copy of a request the champion ({@code served}) takes also runs on the challenger:
     * its answer is discarded, its latency, errors and scores recorded for the rollout's judgement. The copy never
     * affects the caller: it has no deadline of the caller's and a refusal is only counted.
     */
    public void shadow(String model, ModelInferRequest request, ServedVersion served) {
        ModelEntry entry = repository.model(model);
        ModelEntry.Rollout r = entry == null ? null : entry.rollout();
        if (r == null || !r.shadow() || served != r.champion()) {
            return;
        }
        ServedVersion c = r.challenger();
        if (!c.acquire()) {
            return;
        }
        long received = System.nanoTime();
        try {
            int rows = RequestDecoder.check(request, c.model(), c.signature(), c.maxBatchSize(), limits);
            c.batcher().submit(new PendingInference(request, c, Context.ROOT, DISCARD, received,
                    selectedOutputs(request, c), rows, c.batcher().config().defaultPriorityLevel(), Long.MAX_VALUE, 0));
        } catch (InferenceError e) {
            c.metrics().recordFailure(e.code(), System.nanoTime() - received);
            if (c.arm() != null) {
                c.arm().failure(System.nanoTime() - received);
            }
            c.release();
        }
    }

    /** A ModelInfer request's entity for routing: its {@code routing_key} string parameter, or null. */
    static String routingKey(ModelInferRequest request) {
        InferParameter p = request.getParametersMap().get(ROUTING_KEY);
        if (p != null && p.getParameterChoiceCase() == InferParameter.ParameterChoiceCase.STRING_PARAM) {
            return p.getStringParam();
        }
        return null;
    }

    /** The error for a call whose context ended before it ran: DEADLINE_EXCEEDED or CANCELLED. */
    public static InferenceError expired(Context context) {
        boolean deadline = context.getDeadline() != null && context.getDeadline().isExpired();
        return deadline ? new InferenceError(Status.Code.DEADLINE_EXCEEDED, "the deadline passed before the request ran")
                : new InferenceError(Status.Code.CANCELLED, "the caller cancelled the request before it ran");
    }

    private static int priority(ModelInferRequest request, BatchingConfig scheduling) {
        long p = nonNegative(request, PRIORITY);
        if (p == 0) {
            return scheduling.defaultPriorityLevel();
        }
        if (p > scheduling.priorityLevels()) {
            throw InferenceError.invalid("parameters.priority: " + p + " is not a level of model '"
                    + request.getModelName() + "', which has levels 1.." + scheduling.priorityLevels()
                    + " (1 = highest; 0 = the default level " + scheduling.defaultPriorityLevel() + ")");
        }
        return (int) p;
    }

    private static long nonNegative(ModelInferRequest request, String name) {
        InferParameter p = request.getParametersMap().get(name);
        if (p == null) {
            return 0;
        }
        long v = switch (p.getParameterChoiceCase()) {
            case INT64_PARAM -> p.getInt64Param();
            case UINT64_PARAM -> p.getUint64Param();
            default -> throw InferenceError.invalid("parameters." + name + ": expected an integer, got "
                    + p.getParameterChoiceCase().name().toLowerCase(java.util.Locale.ROOT));
        };
        if (v < 0) {
            throw InferenceError.invalid("parameters." + name + ": must be >= 0, got " + v);
        }
        return v;
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
}
