package io.mlserve.server.rollout;

import static org.assertj.core.api.Assertions.assertThat;

import io.mlserve.proto.inference.GRPCInferenceServiceGrpc;
import io.mlserve.proto.v1.GetRolloutRequest;
import io.mlserve.proto.v1.RolloutServiceGrpc;
import io.mlserve.proto.v1.RolloutStatus;
import io.mlserve.registry.FakeMlflow;
import io.mlserve.server.RegistryOptions;
import io.mlserve.server.ServerOptions;
import io.mlserve.server.TestServer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The server on an MLflow registry (an HTTP server in the test answering MLflow's documented endpoints): the
 * champion alias serves, the challenger alias becomes a canary, its promotion is written back to MLflow as alias
 * moves, and an unreachable MLflow changes nothing for callers.
 */
class MlflowServingTest {
    @TempDir
    Path dir;

    private static Map<String, byte[]> version(long v) throws Exception {
        return version(v, """
                {"rollout": {"mode": "canary", "challenger_weight": 0.5, "window_seconds": 1, "min_requests": 200}}""");
    }

    /**
     * A version's files as a publisher uploads them to MLflow: {@link RegistrySyncTest#offset} as model.onnx, its
     * checksum in metadata.json, and {@code config} as config.json.
     */
    static Map<String, byte[]> version(long v, String config) throws Exception {
        byte[] model = RegistrySyncTest.offset(v).toByteArray();
        Map<String, byte[]> files = new TreeMap<>();
        files.put("model.onnx", model);
        files.put("metadata.json", ("{\"sha256\": \"" + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                .digest(model)) + "\"}").getBytes(StandardCharsets.UTF_8));
        files.put("config.json", config.getBytes(StandardCharsets.UTF_8));
        return files;
    }

    @Test
    void servesTheAliasesAndWritesPromotionsBackToMlflow() throws Exception {
        try (FakeMlflow mlflow = new FakeMlflow("s3cret")) {
            mlflow.addVersion("m", 1, "READY", version(1));
            mlflow.setAlias("m", "champion", 1);
            Path cache = dir.resolve("cache");
            ServerOptions options = ServerOptions.ephemeral(cache).withRegistry(RegistryOptions.defaults()
                    .withMlflow(mlflow.uri().toString(), "s3cret", List.of("m")));
            try (TestServer t = new TestServer(cache).start(options)) {
                var stub = GRPCInferenceServiceGrpc.newBlockingStub(t.channel());
                var rollout = RolloutServiceGrpc.newBlockingStub(t.channel());
                assertThat(stub.modelInfer(RegistrySyncTest.scoreRequest("a", 0).toBuilder().clearInputs()
                        .addInputs(io.mlserve.server.Tensors.fp32("x", new float[4], 1, 4)).build())
                        .getModelVersion()).isEqualTo("1");

                mlflow.addVersion("m", 2, "READY", version(2));
                mlflow.setAlias("m", "challenger", 2);
                t.server.poller().pollOnce();
                RolloutStatus s = rollout.getRollout(GetRolloutRequest.newBuilder().setModelName("m").build());
                assertThat(s.getChampion()).isEqualTo("1");
                assertThat(s.getChallenger()).isEqualTo("2");

                long deadline = System.nanoTime() + 30_000_000_000L;
                int i = 0;
                while (!s.getChampion().equals("2") && System.nanoTime() < deadline) {
                    for (int k = 0; k < 100; k++, i++) {
                        stub.modelInfer(RegistrySyncTest.scoreRequest("k" + i, 0).toBuilder().clearInputs()
                                .addInputs(io.mlserve.server.Tensors.fp32("x", new float[4], 1, 4)).build());
                    }
                    s = rollout.getRollout(GetRolloutRequest.newBuilder().setModelName("m").build());
                }
                assertThat(s.getChampion()).as("%s", s).isEqualTo("2");
                // the promotion moved MLflow's aliases: champion on 2, no challenger
                assertThat(mlflow.aliases.get("m")).containsEntry("champion", 2L).doesNotContainKey("challenger");
                t.server.poller().pollOnce();
                assertThat(t.server.repository().model("m").rollout().champion().version()).isEqualTo(2);

                // MLflow goes away: nothing changes for callers
                mlflow.close();
                t.server.poller().pollOnce();
                assertThat(stub.modelInfer(RegistrySyncTest.scoreRequest("z", 0).toBuilder().clearInputs()
                        .addInputs(io.mlserve.server.Tensors.fp32("x", new float[4], 1, 4)).build())
                        .getModelVersion()).isEqualTo("2");
                assertThat(t.get(t.server.metricsPort(), "/metrics").body())
                        .contains("mlserve_registry_syncs_total{result=\"error\"}");
            }
        }
    }
}
