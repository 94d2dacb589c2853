package io.mlserve.security;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.health.v1.HealthGrpc;
import io.mlserve.proto.inference.GRPCInferenceServiceGrpc;
import io.mlserve.proto.v1.DriftServiceGrpc;
import io.mlserve.proto.v1.FeatureServiceGrpc;
import io.mlserve.proto.v1.OutcomeServiceGrpc;
import io.mlserve.proto.v1.PredictionServiceGrpc;
import io.mlserve.proto.v1.RolloutServiceGrpc;
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
    /** What a method needs: nothing (open), any valid token (role null), or a token with {@code role}. */
    private record Access(boolean open, Role role) {
        static final Access OPEN = new Access(true, null);
        static final Access ANY = new Access(false, null);

        static Access needs(Role r) {
            return new Access(false, r);
        }
    }

    /** Every method's access, keyed by the generated descriptors' full names (a renamed RPC fails to compile here). */
    private static final Map<String, Access> ROLES = Map.ofEntries(
            entry(GRPCInferenceServiceGrpc.getServerLiveMethod(), Access.OPEN),
            entry(GRPCInferenceServiceGrpc.getServerReadyMethod(), Access.OPEN),
            entry(GRPCInferenceServiceGrpc.getModelReadyMethod(), Access.needs(Role.PREDICT)),
            entry(GRPCInferenceServiceGrpc.getServerMetadataMethod(), Access.needs(Role.PREDICT)),
            entry(GRPCInferenceServiceGrpc.getModelMetadataMethod(), Access.needs(Role.PREDICT)),
            entry(GRPCInferenceServiceGrpc.getModelConfigMethod(), Access.needs(Role.PREDICT)),
            entry(GRPCInferenceServiceGrpc.getModelInferMethod(), Access.needs(Role.PREDICT)),
            entry(GRPCInferenceServiceGrpc.getModelStreamInferMethod(), Access.needs(Role.PREDICT)),
            entry(GRPCInferenceServiceGrpc.getModelStatisticsMethod(), Access.needs(Role.METRICS)),
            entry(GRPCInferenceServiceGrpc.getRepositoryIndexMethod(), Access.needs(Role.ADMIN)),
            entry(GRPCInferenceServiceGrpc.getRepositoryModelLoadMethod(), Access.needs(Role.ADMIN)),
            entry(GRPCInferenceServiceGrpc.getRepositoryModelUnloadMethod(), Access.needs(Role.ADMIN)),
            entry(PredictionServiceGrpc.getPredictMethod(), Access.needs(Role.PREDICT)),
            entry(FeatureServiceGrpc.getReadFeaturesMethod(), Access.needs(Role.PREDICT)),
            entry(FeatureServiceGrpc.getWriteFeaturesMethod(), Access.needs(Role.FEATURES_WRITE)),
            entry(OutcomeServiceGrpc.getReportOutcomesMethod(), Access.needs(Role.PREDICT)),
            entry(DriftServiceGrpc.getGetReportMethod(), Access.needs(Role.METRICS)),
            entry(RolloutServiceGrpc.getGetRolloutMethod(), Access.needs(Role.METRICS)),
            entry(RolloutServiceGrpc.getOverrideMethod(), Access.needs(Role.ADMIN)),
            entry(HealthGrpc.getCheckMethod(), Access.OPEN),
            entry(HealthGrpc.getWatchMethod(), Access.OPEN),
            entry(io.grpc.reflection.v1.ServerReflectionGrpc.getServerReflectionInfoMethod(), Access.ANY),
            entry(io.grpc.reflection.v1alpha.ServerReflectionGrpc.getServerReflectionInfoMethod(), Access.ANY));

    private static Map.Entry<String, Access> entry(MethodDescriptor<?, ?> method, Access access) {
        return Map.entry(method.getFullMethodName(), access);
    }

    private final Guard guard;

    public GrpcAuth(Guard guard) {
        this.guard = guard;
    }

    /** What a method needs; a method not listed needs admin. */
    private static Access accessOf(String fullMethod) {
        return ROLES.getOrDefault(fullMethod, Access.needs(Role.ADMIN));
    }

    @Override
    public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers,
                                                       ServerCallHandler<Q, A> next) {
        String method = call.getMethodDescriptor().getFullMethodName();
        Access need = accessOf(method);
        if (need.open()) {
            return next.startCall(call, headers);
        }
        try {
            Principal p = guard.check(headers.get(AUTHORIZATION), need.role(), method,
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
