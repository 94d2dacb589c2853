package io.mlserve.server.drift;

import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import io.mlserve.proto.v1.Outcome;
import io.mlserve.proto.v1.OutcomeServiceGrpc;
import io.mlserve.proto.v1.ReportOutcomesRequest;
import io.mlserve.proto.v1.ReportOutcomesResponse;

/** {@code mlserve.v1.OutcomeService}: labels for live quality. */
public final class GrpcOutcomeService extends OutcomeServiceGrpc.OutcomeServiceImplBase {
    private final QualityMonitor quality;

    public GrpcOutcomeService(QualityMonitor quality) {
        this.quality = quality;
    }

    @Override
    public void reportOutcomes(ReportOutcomesRequest request, StreamObserver<ReportOutcomesResponse> out) {
        String bad = check(request);
        if (bad != null) {
            out.onError(Status.INVALID_ARGUMENT.withDescription(bad).asRuntimeException());
            return;
        }
        long accepted = 0;
        for (Outcome o : request.getOutcomesList()) {
            accepted += quality.outcome(o) ? 1 : 0;
        }
        out.onNext(ReportOutcomesResponse.newBuilder().setAccepted(accepted)
                .setDropped(request.getOutcomesCount() - accepted).build());
        out.onCompleted();
    }

    /** The first problem of the request, or null: every outcome needs an entity and a label of 0 or 1. */
    public static String check(ReportOutcomesRequest request) {
        for (int i = 0; i < request.getOutcomesCount(); i++) {
            Outcome o = request.getOutcomes(i);
            if (o.getEntityId().isEmpty()) {
                return "outcomes[" + i + "].entity_id: required";
            }
            if (o.getLabel() != 0 && o.getLabel() != 1) {
                return "outcomes[" + i + "].label: expected 0 or 1, got " + o.getLabel();
            }
        }
        return null;
    }
}
