package io.mlserve.server;

import static io.mlserve.server.Tensors.fp32;
import static io.mlserve.server.Tensors.request;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.reflection.v1.ServerReflectionGrpc;
import io.grpc.reflection.v1.ServerReflectionRequest;
import io.grpc.reflection.v1.ServerReflectionResponse;
import io.grpc.stub.StreamObserver;
import io.mlserve.proto.inference.GRPCInferenceServiceGrpc;
import io.mlserve.proto.inference.ModelConfigRequest;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.proto.inference.ModelInferResponse;
import io.mlserve.proto.inference.ModelMetadataRequest;
import io.mlserve.proto.inference.ModelMetadataResponse;
import io.mlserve.proto.inference.ModelReadyRequest;
import io.mlserve.proto.inference.ModelStatisticsRequest;
import io.mlserve.proto.inference.ModelStatisticsResponse;
import io.mlserve.proto.inference.ModelStreamInferResponse;
import io.mlserve.proto.inference.RepositoryIndexRequest;
import io.mlserve.proto.inference.RepositoryIndexResponse;
import io.mlserve.proto.inference.RepositoryModelLoadRequest;
import io.mlserve.proto.inference.RepositoryModelUnloadRequest;
import io.mlserve.proto.inference.ServerLiveRequest;
import io.mlserve.proto.inference.ServerMetadataRequest;
import io.mlserve.proto.inference.ServerReadyRequest;
import io.mlserve.runtime.onnx.ExampleModels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every RPC of the service over a real gRPC channel on loopback. */
class OipRpcTest {
    @TempDir
    Path dir;

    TestServer t;

    @BeforeEach
    void start() throws Exception {
        t = new TestServer(dir)
                .model("churn", 1, ExampleModels.churnMlp())
                .model("churn", 2, ExampleModels.mlp("churn_v2", 47, new int[] {8}, 2))
                .config("churn", "{\"max_batch_size\": 64, \"version_policy\": {\"all\": {}}}")
                .model("add_mul", 1, ExampleModels.addMul())
                .start();
    }

    @AfterEach
    void stop() throws Exception {
        t.close();
    }

    private static float[] row(float seed) {
        float[] r = new float[47];
        for (int i = 0; i < r.length; i++) {
            r[i] = (float) Math.cos(seed + i);
        }
        return r;
    }

    @Test
    void reportsLivenessReadinessAndMetadata() {
        var stub = t.stub();
        assertThat(stub.serverLive(ServerLiveRequest.getDefaultInstance()).getLive()).isTrue();
        assertThat(stub.serverReady(ServerReadyRequest.getDefaultInstance()).getReady()).isTrue();
        var md = stub.serverMetadata(ServerMetadataRequest.getDefaultInstance());
        assertThat(md.getName()).isEqualTo("mlserve");
        assertThat(md.getExtensionsList()).contains("model_repository");
        assertThat(stub.modelReady(ModelReadyRequest.newBuilder().setName("churn").build()).getReady()).isTrue();
        assertThat(stub.modelReady(ModelReadyRequest.newBuilder().setName("churn").setVersion("1").build()).getReady())
                .isTrue();
        assertThat(stub.modelReady(ModelReadyRequest.newBuilder().setName("churn").setVersion("9").build()).getReady())
                .isFalse();
        assertThatThrownBy(() -> stub.modelReady(ModelReadyRequest.newBuilder().setName("nope").build()))
                .satisfies(e -> assertThat(Status.fromThrowable(e).getCode()).isEqualTo(Status.Code.NOT_FOUND));
    }

    @Test
    void describesModelSignatureVersionsAndConfig() {
        var stub = t.stub();
        ModelMetadataResponse md = stub.modelMetadata(ModelMetadataRequest.newBuilder().setName("churn").build());
        assertThat(md.getVersionsList()).containsExactly("1", "2");
        assertThat(md.getPlatform()).isEqualTo("onnxruntime_onnx");
        assertThat(md.getInputs(0).getName()).isEqualTo("features");
        assertThat(md.getInputs(0).getDatatype()).isEqualTo("FP32");
        assertThat(md.getInputs(0).getShapeList()).containsExactly(-1L, 47L);
        assertThat(md.getOutputs(0).getShapeList()).containsExactly(-1L, 1L);
        var config = stub.modelConfig(ModelConfigRequest.newBuilder().setName("churn").build()).getConfig();
        assertThat(config.getName()).isEqualTo("churn");
        assertThat(config.getMaxBatchSize()).isEqualTo(64);
        assertThat(config.getVersionPolicy().hasAll()).isTrue();
    }

    @Test
    void infersOnLatestOrRequestedVersionAndEchoesId() {
        var stub = t.stub();
        ModelInferResponse latest = stub.modelInfer(request("churn", fp32("features", row(1), 1, 47)).setId("abc").build());
        assertThat(latest.getModelVersion()).isEqualTo("2");
        assertThat(latest.getId()).isEqualTo("abc");
        ModelInferResponse v1 = stub.modelInfer(request("churn", fp32("features", row(1), 1, 47))
                .setModelVersion("1").build());
        assertThat(v1.getModelVersion()).isEqualTo("1");
        assertThat(v1.getOutputs(0).getContents().getFp32Contents(0))
                .isNotEqualTo(latest.getOutputs(0).getContents().getFp32Contents(0));
    }

    @Test
    void countsStatisticsPerVersion() {
        var stub = t.stub();
        for (int i = 0; i < 3; i++) {
            stub.modelInfer(request("churn", fp32("features", new float[47 * 2], 2, 47)).setModelVersion("1").build());
        }
        ModelStatisticsResponse s = stub.modelStatistics(ModelStatisticsRequest.newBuilder().setName("churn")
                .setVersion("1").build());
        assertThat(s.getModelStats(0).getInferenceCount()).isEqualTo(6);
        assertThat(s.getModelStats(0).getExecutionCount()).isEqualTo(3);
        assertThat(s.getModelStats(0).getInferenceStats().getSuccess().getCount()).isEqualTo(3);
        assertThat(s.getModelStats(0).getInferenceStats().getSuccess().getNs()).isPositive();
        assertThat(stub.modelStatistics(ModelStatisticsRequest.getDefaultInstance()).getModelStatsCount()).isEqualTo(3);
    }

    @Test
    void indexesUnloadsAndReloadsModels() {
        var stub = t.stub();
        RepositoryIndexResponse idx = stub.repositoryIndex(RepositoryIndexRequest.getDefaultInstance());
        assertThat(idx.getModelsList()).extracting(m -> m.getName() + ":" + m.getVersion() + ":" + m.getState())
                .containsExactly("add_mul:1:READY", "churn:1:READY", "churn:2:READY");
        stub.repositoryModelUnload(RepositoryModelUnloadRequest.newBuilder().setModelName("add_mul").build());
        assertThat(stub.modelReady(ModelReadyRequest.newBuilder().setName("add_mul").build()).getReady()).isFalse();
        assertThatThrownBy(() -> stub.modelInfer(request("add_mul", fp32("a", new float[4], 1, 4),
                fp32("b", new float[4], 1, 4)).build()))
                .satisfies(e -> assertThat(Status.fromThrowable(e).getCode()).isEqualTo(Status.Code.NOT_FOUND));
        assertThat(stub.repositoryIndex(RepositoryIndexRequest.newBuilder().setReady(true).build()).getModelsCount())
                .isEqualTo(2);
        // an unloaded model does not make the server unready: it was taken out on purpose
        assertThat(stub.serverReady(ServerReadyRequest.getDefaultInstance()).getReady()).isTrue();
        stub.repositoryModelLoad(RepositoryModelLoadRequest.newBuilder().setModelName("add_mul").build());
        assertThat(stub.modelInfer(request("add_mul", fp32("a", new float[] {1, 2, 3, 4}, 1, 4),
                fp32("b", new float[] {1, 1, 1, 1}, 1, 4)).build()).getOutputs(0).getContents().getFp32ContentsList())
                .containsExactly(2f, 3f, 4f, 5f);
        assertThatThrownBy(() -> stub.repositoryModelLoad(RepositoryModelLoadRequest.newBuilder()
                .setModelName("absent").build()))
                .satisfies(e -> assertThat(Status.fromThrowable(e).getCode()).isEqualTo(Status.Code.NOT_FOUND));
        assertThatThrownBy(() -> stub.repositoryModelUnload(RepositoryModelUnloadRequest.newBuilder()
                .setModelName("absent").build()))
                .satisfies(e -> assertThat(Status.fromThrowable(e).getCode()).isEqualTo(Status.Code.NOT_FOUND));
    }

    @Test
    void streamsResponsesInOrderAndReportsBadRequestsInPlace() throws Exception {
        List<ModelStreamInferResponse> got = new ArrayList<>();
        CountDownLatch done = new CountDownLatch(1);
        StreamObserver<ModelInferRequest> in = GRPCInferenceServiceGrpc.newStub(t.channel()).modelStreamInfer(
                new StreamObserver<>() {
                    @Override
                    public void onNext(ModelStreamInferResponse r) {
                        got.add(r);
                    }

                    @Override
                    public void onError(Throwable e) {
                        done.countDown();
                    }

                    @Override
                    public void onCompleted() {
                        done.countDown();
                    }
                });
        in.onNext(request("churn", fp32("features", row(1), 1, 47)).setId("1").build());
        in.onNext(request("churn", fp32("features", new float[3], 1, 3)).setId("2").build());
        in.onNext(request("churn", fp32("features", row(2), 1, 47)).setId("3").build());
        in.onCompleted();
        assertThat(done.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(got).hasSize(3);
        assertThat(got.get(0).getErrorMessage()).isEmpty();
        assertThat(got.get(0).getInferResponse().getId()).isEqualTo("1");
        assertThat(got.get(1).getErrorMessage()).contains("INVALID_ARGUMENT").contains("inputs[0].shape");
        assertThat(got.get(1).getInferResponse().getId()).isEqualTo("2");
        assertThat(got.get(2).getInferResponse().getId()).isEqualTo("3");
    }

    @Test
    void servesGrpcHealthAndReflection() throws Exception {
        HealthCheckResponse h = HealthGrpc.newBlockingStub(t.channel()).check(HealthCheckRequest.newBuilder()
                .setService("inference.GRPCInferenceService").build());
        assertThat(h.getStatus()).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
        List<String> services = new ArrayList<>();
        CountDownLatch done = new CountDownLatch(1);
        StreamObserver<ServerReflectionRequest> req = ServerReflectionGrpc.newStub(t.channel()).serverReflectionInfo(
                new StreamObserver<>() {
                    @Override
                    public void onNext(ServerReflectionResponse r) {
                        r.getListServicesResponse().getServiceList().forEach(s -> services.add(s.getName()));
                    }

                    @Override
                    public void onError(Throwable e) {
                        done.countDown();
                    }

                    @Override
                    public void onCompleted() {
                        done.countDown();
                    }
                });
        req.onNext(ServerReflectionRequest.newBuilder().setListServices("").build());
        req.onCompleted();
        assertThat(done.await(10, TimeUnit.SECONDS)).isTrue();
        assertThat(services).contains("inference.GRPCInferenceService", "grpc.health.v1.Health");
    }

    @Test
    void expiredDeadlineIsNotExecuted() {
        var stub = GRPCInferenceServiceGrpc.newBlockingStub(t.channel()).withDeadlineAfter(1, TimeUnit.NANOSECONDS);
        assertThatThrownBy(() -> stub.modelInfer(request("churn", fp32("features", row(1), 1, 47)).build()))
                .isInstanceOf(StatusRuntimeException.class)
                .satisfies(e -> assertThat(Status.fromThrowable(e).getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED));
    }
}
