package io.mlserve.server.inference;

import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import io.mlserve.proto.inference.GRPCInferenceServiceGrpc;
import io.mlserve.proto.inference.ModelConfigRequest;
import io.mlserve.proto.inference.ModelConfigResponse;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.proto.inference.ModelInferResponse;
import io.mlserve.proto.inference.ModelMetadataRequest;
import io.mlserve.proto.inference.ModelMetadataResponse;
import io.mlserve.proto.inference.ModelReadyRequest;
import io.mlserve.proto.inference.ModelReadyResponse;
import io.mlserve.proto.inference.ModelStatisticsRequest;
import io.mlserve.proto.inference.ModelStatisticsResponse;
import io.mlserve.proto.inference.ModelStreamInferResponse;
import io.mlserve.proto.inference.RepositoryIndexRequest;
import io.mlserve.proto.inference.RepositoryIndexResponse;
import io.mlserve.proto.inference.RepositoryModelLoadRequest;
import io.mlserve.proto.inference.RepositoryModelLoadResponse;
import io.mlserve.proto.inference.RepositoryModelUnloadRequest;
import io.mlserve.proto.inference.RepositoryModelUnloadResponse;
import io.mlserve.proto.inference.ServerLiveRequest;
import io.mlserve.proto.inference.ServerLiveResponse;
import io.mlserve.proto.inference.ServerMetadataRequest;
import io.mlserve.proto.inference.ServerMetadataResponse;
import io.mlserve.proto.inference.ServerReadyRequest;
import io.mlserve.proto.inference.ServerReadyResponse;
import java.util.concurrent.CompletableFuture;

/**
 * The Open Inference Protocol gRPC service (plus Triton's streaming, config, statistics and repository
 * RPCs). Handlers run on the transport threads; each inference message becomes a {@link TensorRequest} with the call's
 * {@link RequestContext} and goes to {@link InferenceCore#submit},
 * which queues it on the model's batcher (its instance threads run the model and answer), and repository
 * loads go to the loader executor, so neither stalls the network threads.
 */
public final class GrpcInferenceService extends GRPCInferenceServiceGrpc.GRPCInferenceServiceImplBase {
    private final InferenceCore core;
    private final ModelAdmin admin;

    public GrpcInferenceService(InferenceCore core, ModelAdmin admin) {
        this.core = core;
        this.admin = admin;
    }

    @Override
    public void serverLive(ServerLiveRequest request, StreamObserver<ServerLiveResponse> out) {
        reply(out, ServerLiveResponse.newBuilder().setLive(true).build());
    }

    @Override
    public void serverReady(ServerReadyRequest request, StreamObserver<ServerReadyResponse> out) {
        reply(out, ServerReadyResponse.newBuilder().setReady(admin.serverReady()).build());
    }

    @Override
    public void modelReady(ModelReadyRequest request, StreamObserver<ModelReadyResponse> out) {
        try {
            reply(out, ModelReadyResponse.newBuilder().setReady(admin.modelReady(request.getName(),
                    request.getVersion(), RequestContext.ofGrpcCall().principal())).build());
        } catch (InferenceError e) {
            out.onError(e.toStatus().asRuntimeException());
        }
    }

    @Override
    public void serverMetadata(ServerMetadataRequest request, StreamObserver<ServerMetadataResponse> out) {
        reply(out, admin.serverMetadata());
    }

    @Override
    public void modelMetadata(ModelMetadataRequest request, StreamObserver<ModelMetadataResponse> out) {
        try {
            reply(out, admin.modelMetadata(request.getName(), request.getVersion(),
                    RequestContext.ofGrpcCall().principal()));
        } catch (InferenceError e) {
            out.onError(e.toStatus().asRuntimeException());
        }
    }

    @Override
    public void modelInfer(ModelInferRequest request, StreamObserver<ModelInferResponse> out) {
        RequestContext caller = RequestContext.ofGrpcCall();
        if (caller.ended()) {
            // the deadline passed or the client gave up before the request was read: spend nothing on it
            out.onError(caller.expired().toStatus().asRuntimeException());
            return;
        }
        core.submit(new TensorRequest(request, caller, (response, error) -> {
            if (error != null) {
                out.onError(error.toStatus().asRuntimeException());
            } else {
                out.onNext(response);
                out.onCompleted();
            }
        }));
    }

    @Override
    public StreamObserver<ModelInferRequest> modelStreamInfer(StreamObserver<ModelStreamInferResponse> out) {
        ServerCallStreamObserver<ModelStreamInferResponse> call = (ServerCallStreamObserver<ModelStreamInferResponse>) out;
        RequestContext caller = RequestContext.ofGrpcCall(); // every message of the stream is the same caller's
        // requests of one stream run one after another, so responses come back in request order
        Object lock = new Object();
        CompletableFuture<?>[] tail = {CompletableFuture.completedFuture(null)};
        return new StreamObserver<>() {
            @Override
            public void onNext(ModelInferRequest request) {
                synchronized (lock) {
                    tail[0] = tail[0].thenCompose(ignored -> {
                        CompletableFuture<Void> done = new CompletableFuture<>();
                        core.submit(new TensorRequest(request, caller, (response, error) -> {
                            ModelStreamInferResponse r = error == null
                                    ? ModelStreamInferResponse.newBuilder().setInferResponse(response).build()
                                    // one bad request does not end the stream: it gets its error in its place
                                    : ModelStreamInferResponse.newBuilder().setErrorMessage(error.code() + ": "
                                            + error.getMessage()).setInferResponse(ModelInferResponse.newBuilder()
                                            .setId(request.getId()).setModelName(request.getModelName())
                                            .setModelVersion(request.getModelVersion())).build();
                            synchronized (call) {
                                if (!call.isCancelled()) {
                                    call.onNext(r);
                                }
                            }
                            done.complete(null);
                        }));
                        return done;
                    });
                }
            }

            @Override
            public void onError(Throwable t) {
                // the client went away; nothing to answer
            }

            @Override
            public void onCompleted() {
                synchronized (lock) {
                    tail[0].whenComplete((ok, err) -> {
                        synchronized (call) {
                            call.onCompleted();
                        }
                    });
                }
            }
        };
    }

    @Override
    public void modelConfig(ModelConfigRequest request, StreamObserver<ModelConfigResponse> out) {
        try {
            reply(out, ModelConfigResponse.newBuilder().setConfig(admin.modelConfig(request.getName(),
                    request.getVersion(), RequestContext.ofGrpcCall().principal())).build());
        } catch (InferenceError e) {
            out.onError(e.toStatus().asRuntimeException());
        }
    }

    @Override
    public void modelStatistics(ModelStatisticsRequest request, StreamObserver<ModelStatisticsResponse> out) {
        try {
            reply(out, admin.statistics(request.getName(), request.getVersion(),
                    RequestContext.ofGrpcCall().principal()));
        } catch (InferenceError e) {
            out.onError(e.toStatus().asRuntimeException());
        }
    }

    @Override
    public void repositoryIndex(RepositoryIndexRequest request, StreamObserver<RepositoryIndexResponse> out) {
        try {
            reply(out, admin.index(request.getRepositoryName(), request.getReady()));
        } catch (InferenceError e) {
            out.onError(e.toStatus().asRuntimeException());
        }
    }

    @Override
    public void repositoryModelLoad(RepositoryModelLoadRequest request,
                                    StreamObserver<RepositoryModelLoadResponse> out) {
        try {
            core.allow(RequestContext.ofGrpcCall().principal(), request.getModelName(), "load");
        } catch (InferenceError e) {
            out.onError(e.toStatus().asRuntimeException());
            return;
        }
        admin.load(request.getRepositoryName(), request.getModelName()).whenComplete((ok, err) -> {
            if (err != null) {
                out.onError(statusOf(err).asRuntimeException());
            } else {
                reply(out, RepositoryModelLoadResponse.getDefaultInstance());
            }
        });
    }

    @Override
    public void repositoryModelUnload(RepositoryModelUnloadRequest request,
                                      StreamObserver<RepositoryModelUnloadResponse> out) {
        try {
            core.allow(RequestContext.ofGrpcCall().principal(), request.getModelName(), "unload");
        } catch (InferenceError e) {
            out.onError(e.toStatus().asRuntimeException());
            return;
        }
        admin.unload(request.getRepositoryName(), request.getModelName()).whenComplete((ok, err) -> {
            if (err != null) {
                out.onError(statusOf(err).asRuntimeException());
            } else {
                reply(out, RepositoryModelUnloadResponse.getDefaultInstance());
            }
        });
    }

    private static Status statusOf(Throwable t) {
        Throwable cause = t instanceof java.util.concurrent.CompletionException && t.getCause() != null ? t.getCause() : t;
        return cause instanceof InferenceError e ? e.toStatus() : Status.INTERNAL.withDescription(cause.toString());
    }

    private static <T> void reply(StreamObserver<T> out, T value) {
        out.onNext(value);
        out.onCompleted();
    }
}
