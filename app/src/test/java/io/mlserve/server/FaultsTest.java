package io.mlserve.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.mlserve.proto.inference.GRPCInferenceServiceGrpc;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.proto.inference.RepositoryIndexRequest;
import io.mlserve.proto.inference.RepositoryIndexResponse;
import io.mlserve.registry.VersionChecksum;
import io.mlserve.runtime.onnx.ExampleModels;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Faults with real processes: the server killed with SIGKILL right after a promotion comes back with the same roles
 * and an intact audit log; a registry full of garbage serves what is good and reports the rest; a model file cut short
 * after its checksum was written is refused while the current version serves. (Kafka going away during ingestion:
 * KafkaIngestServerTest; kill -9 during feature writes: FeatureDurabilityTest; the trainer unreachable:
 * RetrainBridgeTest.)
 */
class FaultsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private static String http(String method, int port, String path, String body) throws Exception {
        return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString())
                .body();
    }

    private static String version(ServerProcess p) {
        ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", p.grpcPort).usePlaintext().build();
        try {
            float[] x = new float[4];
            return GRPCInferenceServiceGrpc.newBlockingStub(ch).withDeadlineAfter(10, TimeUnit.SECONDS)
                    .modelInfer(ModelInferRequest.newBuilder().setModelName("m")
                            .addInputs(Tensors.fp32("a", x, 1, 4)).addInputs(Tensors.fp32("b", x, 1, 4)).build())
                    .getModelVersion();
        } finally {
            ch.shutdownNow();
        }
    }

    @Test
    void aKilledServerComesBackWithItsRolesAndAudit() throws Exception {
        Path repo = dir.resolve("models");
        Files.createDirectories(repo.resolve("m"));
        Files.writeString(repo.resolve("m/config.json"), "{\"rollout\": {\"mode\": \"canary\", \"window_seconds\": "
                + "3600, \"challenger_weight\": 0.5}}");
        TestServer.publish(repo, "m", 1, ExampleModels.addMul().toByteArray());
        String[] args = {"--model-repository", repo.toString(), "--data-dir", dir.resolve("data").toString(),
            "--repository-poll-secs", "1"};
        try (ServerProcess first = ServerProcess.start(dir.resolve("first.log"), args)) {
            TestServer.publish(repo, "m", 2, ExampleModels.addMul().toByteArray());
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (!JSON.readTree(http("GET", first.httpPort, "/v1/models/m/rollout", null)).path("challenger")
                    .asText().equals("2") && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            JsonNode promoted = JSON.readTree(http("POST", first.httpPort, "/v1/models/m/rollout",
                    "{\"action\": \"promote\", \"reason\": \"before the crash\"}"));
            assertThat(promoted.path("champion").asText()).isEqualTo("2");
            first.kill(); // SIGKILL: no shutdown code runs
        }
        try (ServerProcess second = ServerProcess.start(dir.resolve("second.log"), args)) {
            JsonNode s = JSON.readTree(http("GET", second.httpPort, "/v1/models/m/rollout", null));
            assertThat(s.path("champion").asText()).isEqualTo("2");
            assertThat(s.path("challenger").asText("")).isEmpty();
            for (int i = 0; i < 10; i++) {
                assertThat(version(second)).isEqualTo("2");
            }
            JsonNode audit = JSON.readTree(http("GET", second.httpPort, "/v1/audit?model=m&action=promote", null));
            assertThat(audit.path("entries")).hasSize(1);
            assertThat(audit.path("entries").get(0).path("evidence").path("reason").asText())
                    .isEqualTo("before the crash");
        }
    }

    @Test
    void aRegistryFullOfGarbageServesWhatIsGoodAndCutShortFilesAreRefused() throws Exception {
        Path repo = dir.resolve("models");
        TestServer.publish(repo, "m", 1, ExampleModels.addMul().toByteArray());
        // garbage beside it: stray files, non-version directories, a version without a model, a broken config
        Files.writeString(repo.resolve("README.txt"), "not a model");
        Files.write(repo.resolve("m/core.12345"), new byte[] {0, 1, 2});
        Files.createDirectories(repo.resolve("m/0"));
        Files.createDirectories(repo.resolve("m/007"));
        Files.createDirectories(repo.resolve("m/-3"));
        Files.createDirectories(repo.resolve("m/9/empty"));
        Files.createDirectories(repo.resolve("broken/1"));
        Files.write(repo.resolve("broken/config.json"), new byte[] {(byte) 0xff, '{', 0});
        Files.write(repo.resolve("broken/1/model.onnx"), new byte[] {8, 1});
        Files.createDirectories(repo.resolve(".hidden/1"));
        try (ServerProcess p = ServerProcess.start(dir.resolve("server.log"), "--model-repository", repo.toString(),
                "--data-dir", dir.resolve("data").toString(), "--repository-poll-secs", "1")) {
            assertThat(version(p)).isEqualTo("1");
            ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", p.grpcPort).usePlaintext().build();
            try {
                RepositoryIndexResponse idx = GRPCInferenceServiceGrpc.newBlockingStub(ch)
                        .repositoryIndex(RepositoryIndexRequest.getDefaultInstance());
                assertThat(idx.getModelsList()).anySatisfy(m -> {
                    assertThat(m.getName()).isEqualTo("broken");
                    assertThat(m.getState()).isEqualTo("UNAVAILABLE");
                    assertThat(m.getReason()).contains("config.json");
                });
            } finally {
                ch.shutdownNow();
            }
            // a version whose model file is cut short after its checksum was taken (a copy that died half-way)
            Path v2 = repo.resolve("m/2.tmp-y");
            Files.createDirectories(v2);
            byte[] model = ExampleModels.addMul().toByteArray();
            Files.write(v2.resolve("model.onnx"), model);
            VersionChecksum.writeMetadata(v2, "model.onnx");
            Files.write(v2.resolve("model.onnx"), java.util.Arrays.copyOf(model, model.length / 2),
                    StandardOpenOption.TRUNCATE_EXISTING);
            Files.move(v2, repo.resolve("m/2"));
            long deadline = System.nanoTime() + 20_000_000_000L;
            while (!http("GET", p.httpPort, "/v1/audit?model=m&action=reject", null).contains("\"to_version\":2")
                    && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            assertThat(http("GET", p.httpPort, "/v1/audit?model=m&action=reject", null))
                    .contains("\"to_version\":2").contains("sha256 of model.onnx");
            for (int i = 0; i < 10; i++) {
                assertThat(version(p)).isEqualTo("1");
            }
            assertThat(p.process.isAlive()).isTrue();
        }
    }
}
