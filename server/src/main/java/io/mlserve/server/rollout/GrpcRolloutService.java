package io.mlserve.server.rollout;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.mlserve.proto.v1.GetRolloutRequest;
import io.mlserve.proto.v1.OverrideRequest;
import io.mlserve.proto.v1.RolloutServiceGrpc;
import io.mlserve.proto.v1.RolloutStatus;
import java.util.NoSuchElementException;

/** {@code mlserve.v1.RolloutService}: a model's rollout, and the operator's override. */
public final class GrpcRolloutService extends RolloutServiceGrpc.RolloutServiceImplBase {
    private final RolloutManager rollout;

    public GrpcRolloutService(RolloutManager rollout) {
        this.rollout = rollout;
    }

    @Override
    public void getRollout(GetRolloutRequest request, StreamObserver<RolloutStatus> out) {
        try {
            out.onNext(rollout.status(request.getModelName()));
            out.onCompleted();
        } catch (NoSuchElementException e) {
            out.onError(Status.NOT_FOUND.withDescription(e.getMessage()).asRuntimeException());
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
            io.mlserve.server.security.Principal who = io.mlserve.server.security.Guard.PRINCIPAL.get();
            String actor = who == null || who == io.mlserve.server.security.Principal.ANONYMOUS ? "grpc"
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
        } catch (IllegalArgumentException e) {
            out.onError(Status.FAILED_PRECONDITION.withDescription(e.getMessage()).asRuntimeException());
        }
    }
}
