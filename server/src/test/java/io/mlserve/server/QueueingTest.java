package io.mlserve.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Status;
import io.mlserve.proto.inference.GRPCInferenceServiceGrpc;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.proto.inference.ModelInferResponse;
import io.mlserve.runtime.onnx.ExampleModels;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Requests waiting for a busy compute pool: expired ones are dropped unexecuted; probes still answer. */
class QueueingTest {
    private static final int WIDTH = 512;
    private static final int ROWS = 1024;

    @TempDir
    Path dir;

    @Test
    void expiredRequestIsNotExecutedAndHealthAnswersWhileModelsRun() throws Exception {
        try (TestServer t = new TestServer(dir).model("slow", 1, ExampleModels.slow(WIDTH, 200))
                .start(ServerOptions.ephemeral(dir).withDefaultInstances(1))) {
            ModelInferRequest heavy = ModelInferRequest.newBuilder().setModelName("slow")
                    .addInputs(Tensors.input("x", "FP32", ROWS, WIDTH))
                    .addRawInputContents(Tensors.rawFp32(new float[ROWS * WIDTH])).build();
            var busy = GRPCInferenceServiceGrpc.newFutureStub(t.channel()).modelInfer(heavy);
            var stats = t.server.repository().model("slow").latest().metrics();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (t.get(t.server.metricsPort(), "/metrics").body()
                    .contains("mlserve_inflight_requests{model=\"slow\",version=\"1\"} 0.0")
                    && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            // the only compute thread is busy: this call waits in the queue past its deadline
            assertThatThrownBy(() -> t.stub().withDeadlineAfter(50, TimeUnit.MILLISECONDS).modelInfer(heavy))
                    .satisfies(e -> assertThat(Status.fromThrowable(e).getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED));
            // probes are served by the network threads, not behind the model
            long probe = System.nanoTime();
            assertThat(t.get(t.server.httpPort(), "/v2/health/live").statusCode()).isEqualTo(200);
            assertThat(System.nanoTime() - probe).isLessThan(TimeUnit.MILLISECONDS.toNanos(200));
            ModelInferResponse first = busy.get(60, TimeUnit.SECONDS);
            assertThat(first.getModelName()).isEqualTo("slow");
            Thread.sleep(200);
            assertThat(stats.statistics().getExecutionCount()).isEqualTo(1);
            assertThat(stats.statistics().getInferenceStats().getFail().getCount()).isEqualTo(1);
            assertThat(t.get(t.server.metricsPort(), "/metrics").body()).contains(
                    "mlserve_request_failure_total{model=\"slow\",reason=\"deadline_exceeded\",version=\"1\"} 1.0");
        }
    }

    @Test
    void oversizedHttpBodyIsRefusedWith413() throws Exception {
        try (TestServer t = new TestServer(dir).model("add_mul", 1, ExampleModels.addMul())
                .start(ServerOptions.ephemeral(dir).withMaxMessageBytes(4096))) {
            HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create("http://127.0.0.1:" + t.server.httpPort() + "/v2/models/add_mul/infer"))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"inputs\":[],\"pad\":\"" + "x".repeat(8192) + "\"}"))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertThat(r.statusCode()).isEqualTo(413);
            assertThat(t.get(t.server.httpPort(), "/v2/health/ready").statusCode()).isEqualTo(200);
        }
    }
}
