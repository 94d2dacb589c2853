package io.mlserve.server.rollout;

import static io.mlserve.server.rollout.RegistrySyncTest.deleteTree;
import static io.mlserve.server.rollout.RegistrySyncTest.offset;
import static io.mlserve.server.rollout.RegistrySyncTest.publish;
import static io.mlserve.server.rollout.RegistrySyncTest.request;
import static org.assertj.core.api.Assertions.assertThat;

import io.mlserve.proto.inference.GRPCInferenceServiceGrpc;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Registry swaps in a real {@code mlserve serve} process: native memory does not grow with them. */
class SwapMemoryTest {
    @TempDir
    Path dir;

    /**
     * 200 swaps in a server process of its own whose heap is fixed and pre-touched, so that its RSS moves only with
     * native memory (ONNX Runtime sessions, arenas, threads) and metaspace: after 20 warm-up swaps, 180 more may not
     * add more than 32 MB — one leaked session per swap would add far more.
     */
    @Test
    void nativeMemoryStaysFlatAcross200Swaps() throws Exception {
        Path repo = dir.resolve("models");
        publish(repo, "m", 1, offset(1));
        try (io.mlserve.server.ServerProcess p = io.mlserve.server.ServerProcess.start(dir.resolve("server.log"),
                List.of("-Xms160m", "-Xmx160m", "-XX:+AlwaysPreTouch"), "--model-repository", repo.toString(),
                "--data-dir", dir.resolve("data").toString(), "--default-instance-count", "1")) {
            var channel = io.grpc.netty.NettyChannelBuilder.forAddress("127.0.0.1", p.grpcPort).usePlaintext().build();
            var http = java.net.http.HttpClient.newHttpClient();
            try {
                var stub = GRPCInferenceServiceGrpc.newBlockingStub(channel);
                long warm = 0;
                List<Long> trend = new ArrayList<>();
                for (long v = 2; v <= 201; v++) {
                    publish(repo, "m", v, offset(v));
                    var load = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:"
                                    + p.httpPort + "/v2/repository/models/m/load"))
                            .POST(java.net.http.HttpRequest.BodyPublishers.noBody()).build(),
                            java.net.http.HttpResponse.BodyHandlers.ofString());
                    assertThat(load.statusCode()).as(load.body()).isEqualTo(200);
                    for (int i = 0; i < 5; i++) {
                        assertThat(stub.withDeadlineAfter(10, TimeUnit.SECONDS).modelInfer(request("s" + v))
                                .getModelVersion()).isEqualTo(Long.toString(v));
                    }
                    // a registry cleaner removes the retired version's files
                    deleteTree(repo.resolve("m").resolve(Long.toString(v - 1)));
                    if (v == 21) {
                        warm = p.rssBytes();
                    }
                    if (v % 20 == 1) {
                        trend.add(p.rssBytes() >> 20);
                    }
                }
                long growth = p.rssBytes() - warm;
                System.out.printf("server RSS every 20 swaps (MB): %s; growth after warm-up %d MB%n", trend,
                        growth >> 20);
                assertThat(growth).as("RSS growth over 180 swaps, trend %s MB", trend).isLessThan(32L << 20);
                assertThat(http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:"
                        + p.metricsPort + "/metrics")).build(), java.net.http.HttpResponse.BodyHandlers.ofString())
                        .body().lines().filter(l -> l.startsWith("mlserve_request_success_total{")).count())
                        .as("per-version series of retired versions are dropped").isEqualTo(1);
            } finally {
                channel.shutdownNow();
            }
        }
    }

}
