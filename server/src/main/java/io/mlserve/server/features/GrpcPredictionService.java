package io.mlserve.server.features;

import io.grpc.stub.StreamObserver;
import io.mlserve.proto.v1.PredictRequest;
import io.mlserve.proto.v1.PredictResponse;
import io.mlserve.proto.v1.PredictionServiceGrpc;

/** {@code mlserve.v1.PredictionService}: Predict by entity id. */
public final class GrpcPredictionService extends PredictionServiceGrpc.PredictionServiceImplBase {
    private final PredictHandler handler;

    public GrpcPredictionService(PredictHandler handler) {
        this.handler = handler;
    }

    @Override
    public void predict(PredictRequest request, StreamObserver<PredictResponse> out) {
        handler.predict(request, io.mlserve.server.inference.RequestContext.ofGrpcCall(), (response, error) -> {
            if (error != null) {
                out.onError(error.toStatus().asRuntimeException());
            } else {
                out.onNext(response);
                out.onCompleted();
            }
        });
    }
}
