package io.mlserve.server.security;

import io.netty.handler.codec.http.HttpMethod;

/**
 * The roles of the HTTP endpoints, mirroring the gRPC ones ({@link GrpcAuth}): health is open; inference, model
 * metadata, feature reads and outcomes need predict; feature writes features-write; listings, statistics, drift,
 * quality and rollout status metrics; the repository, rollout overrides, retraining and the audit log admin.
 * Anything else needs admin.
 */
public final class HttpAuth {
    /** No token needed. */
    public static final Role OPEN = null;

    private HttpAuth() {
    }

    private static final java.util.regex.Pattern SLASHES = java.util.regex.Pattern.compile("/+");

    /** Whether the endpoint is open to callers without a token. */
    public static boolean open(HttpMethod m, String path) {
        return path.startsWith("/v2/health/");
    }

    /** The role {@code m path} needs (not called for open endpoints). */
    public static Role role(HttpMethod m, String path) {
        // split once with a compiled pattern: this runs on every HTTP request
        String[] p = java.util.Arrays.stream(SLASHES.split(path)).filter(x -> !x.isEmpty()).toArray(String[]::new);
        boolean read = m == HttpMethod.GET || m == HttpMethod.HEAD;
        if (p.length >= 1 && p[0].equals("v2")) {
            if (p.length >= 2 && p[1].equals("repository")) {
                return Role.ADMIN;
            }
            if (p.length >= 2 && p[1].equals("models")) {
                String last = p[p.length - 1];
                return last.equals("stats") ? Role.METRICS : Role.PREDICT;
            }
            return Role.PREDICT; // GET /v2: server metadata
        }
        if (p.length >= 2 && p[0].equals("v1")) {
            switch (p[1]) {
                case "features" -> {
                    return read ? Role.PREDICT : Role.FEATURES_WRITE;
                }
                case "outcomes" -> {
                    return Role.PREDICT;
                }
                case "drift", "quality" -> {
                    return Role.METRICS;
                }
                case "audit" -> {
                    return Role.ADMIN;
                }
                case "models" -> {
                    String last = p.length >= 4 ? p[3] : "";
                    return switch (last) {
                        case "predict" -> Role.PREDICT;
                        case "retrain" -> Role.ADMIN;
                        case "rollout", "importance" -> read ? Role.METRICS : Role.ADMIN;
                        default -> read ? Role.METRICS : Role.ADMIN;
                    };
                }
                default -> {
                    return Role.ADMIN;
                }
            }
        }
        return Role.ADMIN;
    }
}
