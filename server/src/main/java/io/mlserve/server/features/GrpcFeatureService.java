package io.mlserve.server.features;

import io.grpc.stub.StreamObserver;
import io.mlserve.proto.v1.FeatureServiceGrpc;
import io.mlserve.proto.v1.ReadFeaturesRequest;
import io.mlserve.proto.v1.ReadFeaturesResponse;
import io.mlserve.proto.v1.WriteFeaturesRequest;
import io.mlserve.proto.v1.WriteFeaturesResponse;
import io.mlserve.server.inference.InferenceError;

/** {@code mlserve.v1.FeatureService}: writes and reads go straight to the memory-mapped tables. */
public final class GrpcFeatureService extends FeatureServiceGrpc.FeatureServiceImplBase {
    private final FeatureApi api;

    public GrpcFeatureService(FeatureApi api) {
        this.api = api;
    }

    @Override
    public void writeFeatures(WriteFeaturesRequest request, StreamObserver<WriteFeaturesResponse> out) {
        try {
            out.onNext(api.write(request));
            out.onCompleted();
        } catch (InferenceError e) {
            out.onError(e.toStatus().asRuntimeException());
        }
    }

    @Override
    public void readFeatures(ReadFeaturesRequest request, StreamObserver<ReadFeaturesResponse> out) {
        try {
            out.onNext(api.read(request));
            out.onCompleted();
        } catch (InferenceError e) {
            out.onError(e.toStatus().asRuntimeException());
        }
    }
}
