package io.mlserve.server.security;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.util.Map;

/**
 * The gRPC side of the {@link Guard}: every call's method needs a role (health and liveness are open; a method not
 * listed needs admin), checked before the handler runs; the caller's principal is put in the call's context for the
 * per-model allow-list. A refusal closes the call with its status (and {@code retry-after-ms} in the trailers when
 * rate limited).
 */
public final class GrpcAuth implements ServerInterceptor {
    private static final Metadata.Key<String> AUTHORIZATION =
            Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    /** Trailer of a rate-limited call: milliseconds until a request would be admitted. */
    public static final Metadata.Key<String> RETRY_AFTER_MS =
            Metadata.Key.of("retry-after-ms", Metadata.ASCII_STRING_MARSHALLER);
    /** Marks an endpoint that needs no token at all. */
    private static final String OPEN = "open";
    /** Marks an endpoint any authenticated caller may use. */
    private static final String ANY = "any";

    private static final Map<String, String> ROLES = Map.ofEntries(
            Map.entry("inference.GRPCInferenceService/ServerLive", OPEN),
            Map.entry("inference.GRPCInferenceService/ServerReady", OPEN),
            Map.entry("inference.GRPCInferenceService/ModelReady", "predict"),
            Map.entry("inference.GRPCInferenceService/ServerMetadata", "predict"),
            Map.entry("inference.GRPCInferenceService/ModelMetadata", "predict"),
            Map.entry("inference.GRPCInferenceService/ModelConfig", "predict"),
            Map.entry("inference.GRPCInferenceService/ModelInfer", "predict"),
            Map.entry("inference.GRPCInferenceService/ModelStreamInfer", "predict"),
            Map.entry("inference.GRPCInferenceService/ModelStatistics", "metrics"),
            Map.entry("inference.GRPCInferenceService/RepositoryIndex", "admin"),
            Map.entry("inference.GRPCInferenceService/RepositoryModelLoad", "admin"),
            Map.entry("inference.GRPCInferenceService/RepositoryModelUnload", "admin"),
            Map.entry("mlserve.v1.PredictionService/Predict", "predict"),
            Map.entry("mlserve.v1.FeatureService/ReadFeatures", "predict"),
            Map.entry("mlserve.v1.FeatureService/WriteFeatures", "features-write"),
            Map.entry("mlserve.v1.OutcomeService/ReportOutcomes", "predict"),
            Map.entry("mlserve.v1.DriftService/GetReport", "metrics"),
            Map.entry("mlserve.v1.RolloutService/GetRollout", "metrics"),
            Map.entry("mlserve.v1.RolloutService/Override", "admin"),
            Map.entry("grpc.health.v1.Health/Check", OPEN),
            Map.entry("grpc.health.v1.Health/Watch", OPEN),
            Map.entry("grpc.reflection.v1.ServerReflection/ServerReflectionInfo", ANY),
            Map.entry("grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", ANY));

    private final Guard guard;

    public GrpcAuth(Guard guard) {
        this.guard = guard;
    }

    /** The role a method needs: a role label, "open" or "any"; methods not listed need admin. */
    static String roleOf(String fullMethod) {
        return ROLES.getOrDefault(fullMethod, "admin");
    }

    @Override
    public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers,
                                                       ServerCallHandler<Q, A> next) {
        String method = call.getMethodDescriptor().getFullMethodName();
        String need = roleOf(method);
        if (need.equals(OPEN)) {
            return next.startCall(call, headers);
        }
        try {
            Principal p = guard.check(headers.get(AUTHORIZATION), need.equals(ANY) ? null : Role.parse(need), method,
                    String.valueOf(call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR)));
            return Contexts.interceptCall(Context.current().withValue(Guard.PRINCIPAL, p), call, headers, next);
        } catch (Guard.Denied d) {
            Metadata trailers = new Metadata();
            if (d.retryAfterMillis() > 0) {
                trailers.put(RETRY_AFTER_MS, Long.toString(d.retryAfterMillis()));
            }
            call.close(Status.fromCode(d.code()).withDescription(d.getMessage()), trailers);
            return new ServerCall.Listener<>() {
            };
        }
    }
}
