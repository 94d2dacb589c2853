package io.mlserve.server.inference;

import io.grpc.Status;
import io.mlserve.batching.BatchingConfig;
import io.mlserve.security.Guard;
import io.mlserve.security.Principal;
import io.mlserve.server.metrics.ServerMetrics;
import io.mlserve.server.repository.ModelEntry;
import io.mlserve.server.repository.ModelRepository;
import io.mlserve.server.repository.ModelState;
import io.mlserve.server.repository.ServedVersion;
import java.util.Set;

/**
 * The one inference path behind every protocol (gRPC ModelInfer and its stream, REST v2 infer, Predict by entity):
 * takes an {@link InferenceRequest}, resolves its version once, checks the caller's principal against the model's
 * allow-list once, validates the inputs and parameters once, and queues the request in the version's dynamic batcher.
 * Runs on the caller's thread (often a Netty event loop) and never blocks; the batcher's instances execute and answer.
 * A request holds a reference on its version until answered, so an unload or swap never closes a session under it.
 */
public final class InferenceCore {
    /** A request routes again at most this many times (a swap is one; back-to-back swaps are rarer still). */
    static final int MAX_REROUTES = 3;

    private final ModelRepository repository;
    private final ServerMetrics metrics;
    private RequestLimits limits = RequestLimits.NONE;
    private Guard guard;

    public InferenceCore(ModelRepository repository, ServerMetrics metrics) {
        this.repository = repository;
        this.metrics = metrics;
    }

    /** Refuses requests over these limits (set before serving). */
    public InferenceCore withLimits(RequestLimits l) {
        this.limits = l;
        return this;
    }

    /** Counts and audits allow-list refusals through this guard. */
    public InferenceCore withGuard(Guard g) {
        this.guard = g;
        return this;
    }

    /**
     * The serving version {@code principal} gets for {@code name} and {@code version} ("" = routed: the latest
     * serving version, or under a canary rollout the champion or the challenger by {@code routingKey} — sticky by
     * entity, the default — or by {@code requestId} when the rollout is sticky by request; the same key always lands
     * on the same version, a request with neither at random).
     *
     * @throws InferenceError PERMISSION_DENIED outside the principal's allow-list, NOT_FOUND for unknown models or
     *                        versions, UNAVAILABLE while loading, INVALID_ARGUMENT for a malformed version
     */
    public ServedVersion resolve(String name, String version, String routingKey, String requestId,
                                 Principal principal) {
        if (name.isEmpty()) {
            throw InferenceError.invalid("model_name: required");
        }
        allow(principal, name, "infer");
        ModelEntry entry = repository.model(name);
        if (entry == null) {
            throw new InferenceError(Status.Code.NOT_FOUND, "model '" + name + "' is not in the repository");
        }
        ServedVersion v;
        if (version.isEmpty()) {
            ModelEntry.Rollout r = entry.rollout();
            String key = r != null && r.stickyByRequest() ? requestId : routingKey != null ? routingKey : requestId;
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

    /**
     * The per-model allow-list, for every entry point that names a model (inference, metadata, drift, quality,
     * rollout, retraining): refuses {@code principal} a model its token line does not list, counted and audited as
     * {@code action}.
     *
     * @throws InferenceError PERMISSION_DENIED
     */
    public void allow(Principal principal, String model, String action) {
        if (!principal.mayUse(model)) {
            String message = guard != null ? guard.modelNotAllowed(principal, model, action).getMessage()
                    : "principal '" + principal.name() + "' may not use model '" + model + "'";
            throw new InferenceError(Status.Code.PERMISSION_DENIED, message);
        }
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
     * Checks {@code r} and queues it; it is answered exactly once — right here when refused, otherwise from the
     * batcher once executed or dropped. The earlier of the call's deadline and the request's {@code timeout} applies;
     * a request whose caller cancels or whose deadline passes while it waits never runs.
     */
    public void submit(InferenceRequest r) {
        if (r.context.ended()) {
            r.fail(r.context.expired());
            return;
        }
        ServedVersion v = r.pinned;
        r.pinned = null; // a pinned request that follows a swap is routed afresh
        try {
            if (v == null) {
                v = resolve(r.model, r.routed ? "" : r.version, r.routingKey, r.id, r.context.principal());
            } else {
                // pinned by a resolve for this caller; checked again so a request built around the core cannot pass
                allow(r.context.principal(), v.model(), "infer");
            }
        } catch (InferenceError e) {
            ModelEntry known = r.model.isEmpty() ? null : repository.model(r.model);
            metrics.recordUnattributedFailure(known == null ? ServerMetrics.UNKNOWN_MODEL : known.name(), e.code());
            r.fail(e);
            return;
        }
        if (!v.acquire()) {
            // unloaded between lookup and use: a routed request goes to the version that replaced it
            if (r.routed && r.attempt < MAX_REROUTES && swapped(v)) {
                r.attempt++;
                submit(r);
                return;
            }
            InferenceError e = new InferenceError(Status.Code.UNAVAILABLE, "model '" + v.model() + "' version "
                    + v.versionLabel() + " was unloaded while the request arrived; retry");
            metrics.recordUnattributedFailure(v.model(), e.code());
            r.fail(e);
            return;
        }
        PendingInference pending;
        try {
            pending = queued(r, v, r.context.deadlineNanos(r.receivedNanos), r.timeoutMicros(), priority(r, v));
        } catch (InferenceError e) {
            v.metrics().recordFailure(e.code(), System.nanoTime() - r.receivedNanos);
            v.release();
            r.fail(e);
            return;
        }
        v.batcher().submit(pending);
        if (r.routed && r.attempt == 0) {
            shadow(r, v);
        }
    }

    /** {@code r} checked against {@code v} (held), ready to queue. */
    private PendingInference queued(InferenceRequest r, ServedVersion v, long deadlineNanos, long timeoutMicros,
                                    int level) {
        Set<String> outputs = r.outputs(v);
        int rows = r.check(v, limits);
        PendingInference p = new PendingInference(r, v, outputs, rows, level, deadlineNanos, timeoutMicros);
        if (r.routed && r.attempt < MAX_REROUTES) {
            p.reroutable(this::reroute);
        }
        return p;
    }

    /**
     * Submits {@code p}'s request again if its version was swapped out (not the server stopping) for one that reads
     * the same features; returns false, doing nothing, otherwise.
     */
    boolean reroute(PendingInference p) {
        if (!swapped(p.version) || !sameBinding(p.version)) {
            return false;
        }
        p.version.release();
        try {
            p.request.attempt++;
            submit(p.request);
        } catch (RuntimeException e) {
            p.request.fail(new InferenceError(Status.Code.INTERNAL, "rerouting after a swap: " + e));
        }
        return true;
    }

    /**
     * Whether the version a request would be rerouted to reads the same features as {@code v} (a Predict request's
     * values were assembled for v's binding; rerouting them to a version that binds other features would be wrong).
     */
    private boolean sameBinding(ServedVersion v) {
        ModelEntry e = repository.model(v.model());
        ServedVersion now = e == null ? null : e.latest();
        return now == null || now.config().getFeatures().equals(v.config().getFeatures());
    }

    /** Whether the model now routes to a version other than {@code v} (v was swapped out, not the server stopping). */
    private boolean swapped(ServedVersion v) {
        ModelEntry e = repository.model(v.model());
        return e != null && e.version(v.version()) != v;
    }

    /**
     * Under a shadow rollout, a copy of a request the champion ({@code served}) takes also runs on the challenger:
     * its answer is discarded, its latency, errors and scores recorded for the rollout's judgement. The copy never
     * affects the caller: it has no deadline of the caller's and a refusal is only counted.
     */
    private void shadow(InferenceRequest r, ServedVersion served) {
        ModelEntry entry = repository.model(served.model());
        ModelEntry.Rollout rollout = entry == null ? null : entry.rollout();
        if (rollout == null || !rollout.shadow() || served != rollout.champion()) {
            return;
        }
        ServedVersion c = rollout.challenger();
        if (!c.acquire()) {
            return;
        }
        InferenceRequest copy = r.shadowCopy();
        try {
            c.batcher().submit(queued(copy, c, Long.MAX_VALUE, 0, c.batcher().config().defaultPriorityLevel()));
        } catch (InferenceError e) {
            long took = System.nanoTime() - copy.receivedNanos;
            c.metrics().recordFailure(e.code(), took);
            if (c.arm() != null) {
                c.arm().failure(took);
            }
            c.release();
        }
    }

    private static int priority(InferenceRequest r, ServedVersion v) {
        BatchingConfig scheduling = v.batcher().config();
        long p = r.priority();
        if (p == 0) {
            return scheduling.defaultPriorityLevel();
        }
        if (p > scheduling.priorityLevels()) {
            throw InferenceError.invalid("parameters.priority: " + p + " is not a level of model '" + v.model()
                    + "', which has levels 1.." + scheduling.priorityLevels() + " (1 = highest; 0 = the default level "
                    + scheduling.defaultPriorityLevel() + ")");
        }
        return (int) p;
    }
}
