package io.mlserve.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.NettyChannelBuilder;
import io.mlserve.proto.inference.GRPCInferenceServiceGrpc;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.proto.inference.ModelInferResponse;
import io.mlserve.runtime.onnx.ExampleModels;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** SIGTERM with calls in flight: the real program drains them, answers them all, closes sessions, exits 0. */
class ShutdownTest {
    private static final int CALLS = 4;
    private static final int WIDTH = 512;
    private static final int ROWS = 1024;

    @TempDir
    Path dir;

    @Test
    void sigtermDrainsCallsInFlightAndExitsZero() throws Exception {
        ExampleModels.slow(WIDTH, 200).writeTo(dir.resolve("slow/1/model.onnx"));
        ServerProcess sp = ServerProcess.start(dir.resolve("server.log"), "--model-repository", dir.toString(),
                "--default-instance-count", String.valueOf(CALLS), "--shutdown-grace-secs", "60");
        Process server = sp.process;
        java.util.function.Supplier<String> log = sp::log;
        List<ManagedChannel> channels = new ArrayList<>();
        try {
            int[] p = {sp.grpcPort, sp.metricsPort};
            ModelInferRequest request = ModelInferRequest.newBuilder().setModelName("slow")
                    .addInputs(Tensors.input("x", "FP32", ROWS, WIDTH))
                    .addRawInputContents(Tensors.rawFp32(new float[ROWS * WIDTH])).build();
            List<CompletableFuture<ModelInferResponse>> calls = new ArrayList<>();
            for (int i = 0; i < CALLS; i++) {
                ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", p[0]).usePlaintext()
                        .maxInboundMessageSize(64 << 20).build();
                channels.add(ch);
                var stub = GRPCInferenceServiceGrpc.newFutureStub(ch).withDeadlineAfter(120, TimeUnit.SECONDS);
                var f = stub.modelInfer(request);
                CompletableFuture<ModelInferResponse> cf = new CompletableFuture<>();
                f.addListener(() -> {
                    try {
                        cf.complete(f.get());
                    } catch (Exception e) {
                        cf.completeExceptionally(e);
                    }
                }, Runnable::run);
                calls.add(cf);
            }
            awaitInFlight(p[1], CALLS, log);
            server.destroy(); // SIGTERM
            for (CompletableFuture<ModelInferResponse> c : calls) {
                ModelInferResponse r;
                try {
                    r = c.get(120, TimeUnit.SECONDS);
                } catch (java.util.concurrent.ExecutionException e) {
                    server.waitFor(30, TimeUnit.SECONDS);
                    throw new AssertionError("a call in flight failed; server log:\n" + log.get(), e);
                }
                assertThat(r.getRawOutputContents(0).size()).isEqualTo(ROWS * 4);
            }
            assertThat(server.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(server.exitValue()).as(log.get()).isZero();
            assertThat(log.get()).contains("shutting down").contains("closed session slow:1").contains("stopped")
                    .doesNotContain("still open");
            ManagedChannel late = channels.get(0);
            try {
                GRPCInferenceServiceGrpc.newBlockingStub(late).withDeadlineAfter(5, TimeUnit.SECONDS).modelInfer(request);
                throw new AssertionError("a call after shutdown was answered");
            } catch (io.grpc.StatusRuntimeException e) {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNAVAILABLE);
            }
        } finally {
            for (ManagedChannel ch : channels) {
                ch.shutdownNow();
            }
            server.destroyForcibly();
        }
    }

    /** Polls /metrics until {@code n} requests are executing (so they are truly in flight, not queued). */
    private static void awaitInFlight(int metricsPort, int n, java.util.function.Supplier<String> log)
            throws Exception {
        HttpClient http = HttpClient.newHttpClient();
        Pattern gauge = Pattern.compile("mlserve_inflight_requests\\{model=\"slow\",version=\"1\"} (\\S+)");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            String body = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metricsPort + "/metrics"))
                    .build(), HttpResponse.BodyHandlers.ofString()).body();
            Matcher m = gauge.matcher(body);
            if (m.find() && Double.parseDouble(m.group(1)) >= n) {
                return;
            }
            Thread.sleep(10);
        }
        throw new AssertionError("the calls never were all in flight at once; server log:\n" + log.get());
    }
}
