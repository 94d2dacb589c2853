package io.mlserve.server.rollout;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mlserve.proto.inference.GRPCInferenceServiceGrpc;
import io.mlserve.proto.inference.InferParameter;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.proto.inference.ModelInferResponse;
import io.mlserve.runtime.DataType;
import io.mlserve.runtime.ModelSession;
import io.mlserve.runtime.onnx.OnnxModelBuilder;
import io.mlserve.server.RegistryOptions;
import io.mlserve.server.ServerOptions;
import io.mlserve.server.Tensors;
import io.mlserve.server.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Versions published into the file-system registry while clients call: swaps without a dropped request, broken
 * versions refused while the current one serves, all of it in the audit log. Real gRPC on loopback; each registry
 * pass is the poller's own ({@link RepositoryPoller#pollOnce}), run on demand instead of on its timer.
 */
class RegistrySyncTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    /** x FP32 [-1, 4] → y = x + c: a version's answers tell which version computed them. */
    static OnnxModelBuilder offset(float c) {
        return new OnnxModelBuilder("offset").input("x", DataType.FP32, -1, 4)
                .initializer("c", new float[] {c}, 1)
                .node("Add", OnnxModelBuilder.names("x", "c"), OnnxModelBuilder.names("y"))
                .output("y", DataType.FP32, -1, 4);
    }

    /** Publishes a version the way the trainer does: written beside, checksummed, renamed into place. */
    static Path publish(Path repo, String model, long version, OnnxModelBuilder m) throws Exception {
        return TestServer.publish(repo, model, version, m.toByteArray());
    }

    private static ServerOptions options(Path repo, Path data) {
        return ServerOptions.ephemeral(repo).withFeatureViews(data, List.of()).withRegistry(RegistryOptions.defaults());
    }

    static ModelInferRequest request(String id) {
        return ModelInferRequest.newBuilder().setModelName("m").setId(id)
                .addInputs(Tensors.fp32("x", new float[] {0, 0, 0, 0}, 1, 4)).build();
    }

    @Test
    void fiftySwapsUnderLoadDropNoRequestAndVersionsOnlyMoveForward() throws Exception {
        Path repo = dir.resolve("models");
        publish(repo, "m", 1, offset(1));
        try (TestServer t = new TestServer(repo).start(options(repo, dir.resolve("data")))) {
            AtomicBoolean stop = new AtomicBoolean();
            ExecutorService clients = Executors.newFixedThreadPool(4);
            List<Future<long[]>> results = new ArrayList<>();
            for (int c = 0; c < 4; c++) {
                results.add(clients.submit(() -> {
                    var stub = GRPCInferenceServiceGrpc.newBlockingStub(t.channel());
                    long answered = 0;
                    long inconsistent = 0;
                    long last = 0;
                    while (!stop.get()) {
                        ModelInferResponse r = stub.withDeadlineAfter(30, TimeUnit.SECONDS)
                                .modelInfer(request("r" + answered));
                        long v = Long.parseLong(r.getModelVersion());
                        float y = r.getOutputs(0).getContents().getFp32Contents(0);
                        // the answer comes from the version the response names, and versions never go back
                        if (y != v || v < last) {
                            inconsistent++;
                        }
                        last = v;
                        answered++;
                    }
                    return new long[] {answered, inconsistent, last};
                }));
            }
            for (long v = 2; v <= 51; v++) {
                publish(repo, "m", v, offset(v));
                assertThat(t.server.poller().pollOnce()).containsExactly("m");
                assertThat(t.server.repository().model("m").latest().version()).isEqualTo(v);
                Thread.sleep(20);
            }
            Thread.sleep(200);
            stop.set(true);
            long answered = 0;
            for (Future<long[]> f : results) {
                long[] r = f.get(60, TimeUnit.SECONDS); // a failed call would throw here
                answered += r[0];
                assertThat(r[1]).as("inconsistent answers").isZero();
                assertThat(r[2]).isEqualTo(51);
            }
            clients.shutdown();
            assertThat(answered).isGreaterThan(200);
            List<JsonNode> loads = t.server.repository().audit().read("m", "load", 1000);
            assertThat(loads).hasSize(51);
            assertThat(loads.get(50).get("to_version").asLong()).isEqualTo(51);
            assertThat(loads.get(50).get("evidence").get("checksum").asText()).isEqualTo("verified");
        }
    }

    @Test
    void corruptChecksumMismatchAndHalfWrittenVersionsAreRefusedWhileTheCurrentOneServes() throws Exception {
        Path repo = dir.resolve("models");
        publish(repo, "m", 1, offset(1));
        try (TestServer t = new TestServer(repo).start(options(repo, dir.resolve("data")))) {
            // not an ONNX model at all
            Path v2 = Files.createDirectories(repo.resolve("m/2.tmp-x"));
            Files.write(v2.resolve("model.onnx"), new byte[] {1, 2, 3, 4, 5});
            Files.move(v2, repo.resolve("m/2"));
            assertThat(t.server.poller().pollOnce()).containsExactly("m");
            assertThat(t.stub().modelInfer(request("a")).getModelVersion()).isEqualTo("1");
            // a model whose bytes are not those its metadata.json names
            publish(repo, "m", 3, offset(3));
            Files.writeString(repo.resolve("m/3/metadata.json"), "{\"sha256\": \"" + "0".repeat(64) + "\"}");
            t.server.poller().pollOnce();
            assertThat(t.stub().modelInfer(request("b")).getModelVersion()).isEqualTo("1");
            // still being written: not a version yet
            offset(4).writeTo(repo.resolve("m/4.tmp-abc/model.onnx"));
            assertThat(t.server.poller().pollOnce()).isEmpty();
            assertThat(t.stub().modelInfer(request("c")).getModelVersion()).isEqualTo("1");

            List<JsonNode> rejects = t.server.repository().audit().read("m", "reject", 100);
            assertThat(rejects).extracting(n -> n.get("to_version").asLong()).containsExactly(2L, 3L);
            assertThat(rejects.get(1).get("evidence").get("reason").asText()).contains("sha256 of model.onnx is");
            // a refused version is not tried again until its files or config.json change
            t.server.poller().pollOnce();
            t.server.repository().load("m");
            assertThat(t.server.repository().audit().read("m", "reject", 100)).hasSize(2);
            Files.writeString(repo.resolve("m/config.json"), "{\"version_policy\": {\"latest\": {\"num_versions\": 1}}}");
            t.server.poller().pollOnce();
            // the config changed: the newest refused version (the one latest-1 selects) is tried again, and refused
            assertThat(t.server.repository().audit().read("m", "reject", 100)).extracting(n -> n.get("to_version")
                    .asLong()).containsExactly(2L, 3L, 3L);
            assertThat(t.server.repository().model("m").latest().version()).isEqualTo(1);
            // the finished version is picked up
            Files.move(repo.resolve("m/4.tmp-abc"), repo.resolve("m/4"));
            t.server.poller().pollOnce();
            assertThat(t.stub().modelInfer(request("d")).getModelVersion()).isEqualTo("4");
            assertThat(t.get(t.server.httpPort(), "/v1/audit?model=m&action=reject").body())
                    .contains("\"to_version\":2").contains("\"to_version\":3");
        }
    }

    static void deleteTree(Path p) throws Exception {
        if (!Files.exists(p)) {
            return;
        }
        try (var s = Files.walk(p)) {
            for (Path f : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(f);
            }
        }
    }

    /** Used by the rollout tests: a request whose rows are {@code x} and whose routing key is {@code key}. */
    static ModelInferRequest scoreRequest(String key, float x) {
        return ModelInferRequest.newBuilder().setModelName("m").setId(key + ":" + System.nanoTime())
                .putParameters("routing_key", InferParameter.newBuilder().setStringParam(key).build())
                .addInputs(Tensors.fp32("x", new float[] {x}, 1, 1)).build();
    }
}
