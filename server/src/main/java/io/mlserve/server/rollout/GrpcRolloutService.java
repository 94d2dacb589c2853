package io.mlserve.server.rollout;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.mlserve.proto.v1.GetRolloutRequest;
import io.mlserve.proto.v1.OverrideRequest;
import io.mlserve.proto.v1.RolloutServiceGrpc;
import io.mlserve.proto.v1.RolloutStatus;
import io.mlserve.server.inference.InferenceCore;
import io.mlserve.server.inference.InferenceError;
import io.mlserve.server.inference.RequestContext;
import java.util.NoSuchElementException;

/** {@code mlserve.v1.RolloutService}: a model's rollout, and the operator's override. */
public final class GrpcRolloutService extends RolloutServiceGrpc.RolloutServiceImplBase {
    private final RolloutManager rollout;
    private final InferenceCore core;

    /** @param core checks the caller's allow-list */
    public GrpcRolloutService(RolloutManager rollout, InferenceCore core) {
        this.rollout = rollout;
        this.core = core;
    }

    @Override
    public void getRollout(GetRolloutRequest request, StreamObserver<RolloutStatus> out) {
        try {
            core.allow(RequestContext.ofGrpcCall().principal(), request.getModelName(), "rollout status");
            out.onNext(rollout.status(request.getModelName()));
            out.onCompleted();
        } catch (NoSuchElementException e) {
            out.onError(Status.NOT_FOUND.withDescription(e.getMessage()).asRuntimeException());
        } catch (InferenceError e) {
            out.onError(e.toStatus().asRuntimeException());
        }
    }

    @Override
    public void override(OverrideRequest request, StreamObserver<RolloutStatus> out) {
        long version;
        try {
            version = request.getVersion().isEmpty() ? 0 : Long.parseLong(request.getVersion());
            if (!request.getVersion().isEmpty() && version < 1) {
                throw new NumberFormatException();
            }
        } catch (NumberFormatException e) {
            out.onError(Status.INVALID_ARGUMENT.withDescription("version: expected a positive integer, got '"
                    + request.getVersion() + "'").asRuntimeException());
            return;
        }
        try {
            io.mlserve.security.Principal who = RequestContext.ofGrpcCall().principal();
            core.allow(who, request.getModelName(), "rollout override");
            String actor = who == io.mlserve.security.Principal.ANONYMOUS ? "grpc"
                    : "grpc:" + who.name();
            rollout.override(request.getModelName(), request.getAction(), version, actor, request.getReason())
                    .whenComplete((entry, error) -> {
                        if (error != null) {
                            out.onError(Status.INTERNAL.withDescription(error.toString()).asRuntimeException());
                        } else {
                            out.onNext(rollout.status(request.getModelName()));
                            out.onCompleted();
                        }
                    });
        } catch (NoSuchElementException e) {
            out.onError(Status.NOT_FOUND.withDescription(e.getMessage()).asRuntimeException());
        } catch (InferenceError e) {
            out.onError(e.toStatus().asRuntimeException());
        } catch (IllegalArgumentException e) {
            out.onError(Status.FAILED_PRECONDITION.withDescription(e.getMessage()).asRuntimeException());
        }
    }
}
