package io.mlserve.server.monitoring;

import io.grpc.stub.StreamObserver;
import io.mlserve.proto.v1.DriftReport;
import io.mlserve.proto.v1.DriftServiceGrpc;
import io.mlserve.proto.v1.GetReportRequest;
import io.mlserve.server.inference.InferenceCore;
import io.mlserve.server.inference.InferenceError;
import io.mlserve.server.inference.RequestContext;
import io.mlserve.server.repository.ModelRepository;

/** {@code mlserve.v1.DriftService}: the last closed drift window of a model version. */
public final class GrpcDriftService extends DriftServiceGrpc.DriftServiceImplBase {
    private final ModelRepository repository;
    private final InferenceCore core;

    /** @param core checks the caller's allow-list */
    public GrpcDriftService(ModelRepository repository, InferenceCore core) {
        this.repository = repository;
        this.core = core;
    }

    @Override
    public void getReport(GetReportRequest request, StreamObserver<DriftReport> out) {
        DriftReport report;
        try {
            core.allow(RequestContext.ofGrpcCall().principal(), request.getModelName(), "drift report");
            report = DriftReports.proto(DriftReports.find(repository, request.getModelName(),
                    request.getModelVersion()));
        } catch (InferenceError e) {
            out.onError(e.toStatus().asRuntimeException());
            return;
        }
        out.onNext(report);
        out.onCompleted();
    }
}
