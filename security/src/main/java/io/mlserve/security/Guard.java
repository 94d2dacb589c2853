package io.mlserve.security;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.grpc.Context;
import io.grpc.Status;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Who may call what: checks a request's bearer token against the token file, the role its endpoint needs, and the
 * principal's rate limit. Refusals are UNAUTHENTICATED (no or unknown token; HTTP 401), PERMISSION_DENIED (the role is
 * missing; 403) or RESOURCE_EXHAUSTED (over the rate; 429, with the milliseconds to wait); each is counted
 * ({@code mlserve_auth_denied_total{reason}}) and the first two are written to the audit log — at most once per
 * principal, reason and endpoint every 10 seconds, with the number suppressed, so a flood cannot flood the disk.
 * Tokens are never logged or audited.
 */
public final class Guard {
    /** The principal of the request being handled (set by the gRPC interceptor and the HTTP layer). */
    public static final Context.Key<Principal> PRINCIPAL = Context.key("mlserve-principal");
    private static final long AUDIT_EVERY_NANOS = 10_000_000_000L;

    private final TokenFile tokens;
    private final RateLimiter limiter;
    private final AuditLog audit;
    /** Refusals are appended (and forced to disk) here, never on the thread that refused: often a Netty event loop. */
    private final java.util.concurrent.ExecutorService auditing;
    private final Counter denied;
    private final Map<String, long[]> lastAudit = new ConcurrentHashMap<>();

    /** A refused request. */
    public static final class Denied extends RuntimeException {
        private final Status.Code code;
        private final long retryAfterMillis;

        Denied(Status.Code code, String message, long retryAfterMillis) {
            super(message, null, false, false);
            this.code = code;
            this.retryAfterMillis = retryAfterMillis;
        }

        public Status.Code code() {
            return code;
        }

        /** For RESOURCE_EXHAUSTED: how long to wait before the next request is admitted. */
        public long retryAfterMillis() {
            return retryAfterMillis;
        }

        public int httpStatus() {
            return switch (code) {
                case UNAUTHENTICATED -> 401;
                case PERMISSION_DENIED -> 403;
                default -> 429;
            };
        }
    }

    /**
     * @param tokens  the token file, or null: authentication off (everyone is {@link Principal#ANONYMOUS})
     * @param limiter per-principal rate limit, or null for none
     * @param audit   where refusals are recorded, or null
     */
    public Guard(TokenFile tokens, RateLimiter limiter, AuditLog audit, PrometheusRegistry registry) {
        this.tokens = tokens;
        this.limiter = limiter;
        this.audit = audit;
        this.auditing = audit == null ? null : Watchers.daemon("mlserve-audit-denied");
        this.denied = Counter.builder().name("mlserve_auth_denied_total")
                .help("Requests refused: unauthenticated (no or unknown token), permission_denied (role or model not "
                        + "allowed), rate_limited").labelNames("reason").register(registry);
    }

    /** Writes the refusals still queued for the audit log (up to 5 s) and stops its thread. */
    public void close() {
        if (auditing != null) {
            auditing.shutdown();
            try {
                auditing.awaitTermination(5, java.util.concurrent.TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    public boolean enabled() {
        return tokens != null;
    }

    /**
     * The caller of a request to {@code what} that needs {@code role} (null: any authenticated caller; open endpoints
     * are not checked at all), given its {@code authorization} header value (may be null).
     *
     * @throws Denied when it may not
     */
    public Principal check(String authorization, Role role, String what, String peer) {
        Principal p = Principal.ANONYMOUS;
        if (tokens != null) {
            String token = authorization != null && authorization.regionMatches(true, 0, "Bearer ", 0, 7)
                    ? authorization.substring(7).strip() : null;
            p = token == null || token.isEmpty() ? null : tokens.principal(token);
            if (p == null) {
                throw refuse(Status.Code.UNAUTHENTICATED, token == null ? "no bearer token"
                        : "unknown token", "anonymous", what, peer, "unauthenticated", 0, role);
            }
            if (role != null && !p.has(role)) {
                throw refuse(Status.Code.PERMISSION_DENIED, "principal '" + p.name() + "' lacks the role '"
                        + role.label() + "'", p.name(), what, peer, "permission_denied", 0, role);
            }
        }
        if (limiter != null) {
            long wait = limiter.acquire(p.name());
            if (wait > 0) {
                throw refuse(Status.Code.RESOURCE_EXHAUSTED, "rate limit of principal '" + p.name()
                        + "' reached; retry after " + wait + " ms", p.name(), what, peer, "rate_limited", wait, role);
            }
        }
        return p;
    }

    /** Counts (and audits) a principal refused a model by its allow-list. */
    public Denied modelNotAllowed(Principal p, String model, String what) {
        return refuse(Status.Code.PERMISSION_DENIED, "principal '" + p.name() + "' may not use model '" + model + "'",
                p.name(), what + " " + model, "", "permission_denied", 0, Role.PREDICT);
    }

    private Denied refuse(Status.Code code, String message, String actor, String what, String peer, String reason,
                          long retryAfter, Role role) {
        denied.labelValues(reason).inc();
        if (audit != null && code != Status.Code.RESOURCE_EXHAUSTED) {
            // keyed by principal, reason and the role the endpoint needs — never by the caller-chosen path — so the
            // number of keys is bounded by the token file, whatever a caller sends
            String key = actor + "\u0000" + reason + "\u0000" + (role == null ? "any" : role.label());
            long now = System.nanoTime();
            long[] last = lastAudit.computeIfAbsent(key, k -> new long[] {now - AUDIT_EVERY_NANOS - 1, 0});
            boolean write;
            long suppressed;
            synchronized (last) {
                write = now - last[0] > AUDIT_EVERY_NANOS;
                suppressed = last[1];
                if (write) {
                    last[0] = now;
                    last[1] = 0;
                } else {
                    last[1]++;
                }
            }
            if (write) {
                var evidence = JsonNodeFactory.instance.objectNode()
                        .put("what", what.length() > 200 ? what.substring(0, 200) + "..." : what)
                        .put("reason", reason).put("detail", message).put("peer", peer)
                        .put("suppressed_since_last", suppressed);
                try {
                    auditing.execute(() -> audit.record(actor, "denied", "", 0, 0, evidence));
                } catch (java.util.concurrent.RejectedExecutionException e) {
                    // stopping: the refusal is still counted in mlserve_auth_denied_total
                }
            }
        }
        return new Denied(code, message + (code == Status.Code.UNAUTHENTICATED
                ? "; send authorization: Bearer <token>" : ""), retryAfter);
    }
}
