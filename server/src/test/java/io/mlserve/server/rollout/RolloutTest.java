package io.mlserve.server.rollout;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mlserve.proto.inference.GRPCInferenceServiceGrpc;
import io.mlserve.proto.inference.ModelInferResponse;
import io.mlserve.proto.v1.GetRolloutRequest;
import io.mlserve.proto.v1.OverrideRequest;
import io.mlserve.proto.v1.RolloutServiceGrpc;
import io.mlserve.proto.v1.RolloutStatus;
import io.mlserve.runtime.DataType;
import io.mlserve.runtime.onnx.OnnxModelBuilder;
import io.mlserve.server.RegistryOptions;
import io.mlserve.server.ServerOptions;
import io.mlserve.server.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Champion/challenger end to end over real gRPC and HTTP: a new version becomes the challenger, takes its sticky
 * share (canary) or copies (shadow), and is promoted on a passing window or rolled back on a failing one; the
 * state survives a restart, an operator can override, every step is in the audit log.
 */
class RolloutTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    /** x FP32 [-1, 1] → p = sigmoid(x + b) [-1, 1]. */
    static OnnxModelBuilder scorer(float b) {
        return new OnnxModelBuilder("scorer").input("x", DataType.FP32, -1, 1)
                .initializer("b", new float[] {b}, 1)
                .node("Add", OnnxModelBuilder.names("x", "b"), OnnxModelBuilder.names("z"))
                .node("Sigmoid", OnnxModelBuilder.names("z"), OnnxModelBuilder.names("p"))
                .output("p", DataType.FP32, -1, 1);
    }

    private static final String CANARY = """
            {"rollout": {"mode": "canary", "challenger_weight": 0.5, "window_seconds": 1, "min_requests": 500}}""";

    private TestServer start(Path repo) throws Exception {
        return new TestServer(repo).start(ServerOptions.ephemeral(repo).withRegistry(RegistryOptions.defaults()));
    }

    /** Sends n requests with keys k0..k(n-1); returns version → count. */
    private static Map<String, Integer> traffic(TestServer t, int n, SplittableRandom r) {
        var stub = GRPCInferenceServiceGrpc.newBlockingStub(t.channel());
        Map<String, Integer> by = new HashMap<>();
        for (int i = 0; i < n; i++) {
            ModelInferResponse res = stub.withDeadlineAfter(10, TimeUnit.SECONDS)
                    .modelInfer(RegistrySyncTest.scoreRequest("k" + i, (float) (r.nextGaussian())));
            by.merge(res.getModelVersion(), 1, Integer::sum);
        }
        return by;
    }

    private static RolloutStatus awaitStatus(TestServer t, Predicate<RolloutStatus> done, SplittableRandom r)
            throws Exception {
        var stub = RolloutServiceGrpc.newBlockingStub(t.channel());
        long deadline = System.nanoTime() + 30_000_000_000L;
        RolloutStatus s = stub.getRollout(GetRolloutRequest.newBuilder().setModelName("m").build());
        while (!done.test(s) && System.nanoTime() < deadline) {
            traffic(t, 100, r);
            s = stub.getRollout(GetRolloutRequest.newBuilder().setModelName("m").build());
        }
        assertThat(done.test(s)).as("rollout status %s", s).isTrue();
        return s;
    }

    @Test
    void aCanaryIsPromotedOnAPassingWindowAndAFailingOneIsRolledBackForGood() throws Exception {
        Path repo = dir.resolve("models");
        Files.createDirectories(repo.resolve("m"));
        Files.writeString(repo.resolve("m/config.json"), CANARY);
        RegistrySyncTest.publish(repo, "m", 1, scorer(0));
        SplittableRandom r = new SplittableRandom(3);
        try (TestServer t = start(repo)) {
            assertThat(traffic(t, 50, r)).containsOnlyKeys("1");
            // v2 scores like v1: it becomes the challenger and takes about half the keys, each key always the same
            RegistrySyncTest.publish(repo, "m", 2, scorer(0.01f));
            t.server.poller().pollOnce();
            RolloutStatus s = RolloutServiceGrpc.newBlockingStub(t.channel())
                    .getRollout(GetRolloutRequest.newBuilder().setModelName("m").build());
            assertThat(s.getChampion()).isEqualTo("1");
            assertThat(s.getChallenger()).isEqualTo("2");
            var stub = GRPCInferenceServiceGrpc.newBlockingStub(t.channel());
            Map<String, String> first = new HashMap<>();
            for (int i = 0; i < 100; i++) {
                first.put("k" + i, stub.modelInfer(RegistrySyncTest.scoreRequest("k" + i, 0)).getModelVersion());
            }
            assertThat(first.values().stream().filter("2"::equals).count()).isBetween(25L, 75L);
            for (int i = 0; i < 100; i++) {
                assertThat(stub.modelInfer(RegistrySyncTest.scoreRequest("k" + i, 0)).getModelVersion())
                        .as("sticky key k%d", i).isEqualTo(first.get("k" + i));
            }
            s = awaitStatus(t, x -> x.getChampion().equals("2"), r);
            assertThat(s.getChallenger()).isEmpty();
            assertThat(t.server.repository().model("m").version(1)).as("old champion retired").isNull();
            JsonNode promote = t.server.repository().audit().read("m", "promote", 10).get(0);
            assertThat(promote.get("actor").asText()).isEqualTo("rollout");
            assertThat(promote.get("from_version").asLong()).isEqualTo(1);
            assertThat(promote.get("to_version").asLong()).isEqualTo(2);
            assertThat(promote.get("evidence").get("challenger").get("requests").asLong()).isGreaterThanOrEqualTo(500);
            assertThat(promote.get("evidence").get("score_psi").asDouble()).isLessThan(0.25);

            // v3 scores far higher: rolled back on score divergence, and never served again
            RegistrySyncTest.publish(repo, "m", 3, scorer(3));
            t.server.poller().pollOnce();
            s = awaitStatus(t, x -> x.getRejectedList().contains("3"), r);
            assertThat(s.getChampion()).isEqualTo("2");
            assertThat(s.getLastDecision()).isEqualTo("rollback");
            assertThat(s.getLastReasonsList()).anyMatch(x -> x.startsWith("score PSI"));
            t.server.poller().pollOnce();
            assertThat(traffic(t, 100, r)).containsOnlyKeys("2");
            JsonNode rollback = t.server.repository().audit().read("m", "rollback", 10).get(0);
            assertThat(rollback.get("from_version").asLong()).isEqualTo(3);
            String metrics = t.get(t.server.metricsPort(), "/metrics").body();
            assertThat(metrics.lines()).anyMatch(l -> l.startsWith("mlserve_rollout_events_total{")
                    && l.contains("action=\"rollback\"") && l.contains("model=\"m\"") && l.endsWith(" 1.0"));
            assertThat(metrics).contains("mlserve_rollout_champion_version{model=\"m\"} 2.0");
        }
        // a restart (or a crash) keeps the roles and the refusal
        try (TestServer t = start(repo)) {
            RolloutStatus s = RolloutServiceGrpc.newBlockingStub(t.channel())
                    .getRollout(GetRolloutRequest.newBuilder().setModelName("m").build());
            assertThat(s.getChampion()).isEqualTo("2");
            assertThat(s.getChallenger()).isEmpty();
            assertThat(s.getRejectedList()).containsExactly("3");
            assertThat(traffic(t, 50, r)).containsOnlyKeys("2");
        }
    }

    @Test
    void shadowRunsCopiesOnTheChallengerAndOperatorsOverride() throws Exception {
        Path repo = dir.resolve("models");
        Files.createDirectories(repo.resolve("m"));
        Files.writeString(repo.resolve("m/config.json"), """
                {"rollout": {"mode": "shadow", "window_seconds": 1, "min_requests": 500, "no_auto_promote": true}}""");
        RegistrySyncTest.publish(repo, "m", 1, scorer(0));
        RegistrySyncTest.publish(repo, "m", 2, scorer(0));
        SplittableRandom r = new SplittableRandom(5);
        try (TestServer t = start(repo)) {
            // first start: the newest version is the champion, no challenger
            RolloutStatus s = RolloutServiceGrpc.newBlockingStub(t.channel())
                    .getRollout(GetRolloutRequest.newBuilder().setModelName("m").build());
            assertThat(s.getChampion()).isEqualTo("2");
            RegistrySyncTest.publish(repo, "m", 3, scorer(0));
            t.server.poller().pollOnce();
            // every answer comes from the champion; the challenger sees copies and is judged, but waits for an operator
            assertThat(traffic(t, 300, r)).containsOnlyKeys("2");
            s = awaitStatus(t, x -> x.getLastDecision().equals("promote"), r);
            assertThat(s.getLastChallenger().getRequests()).isGreaterThanOrEqualTo(500);
            assertThat(s.getChampion()).isEqualTo("2");
            assertThat(s.getChallenger()).isEqualTo("3");

            var http = t.post(t.server.httpPort(), "/v1/models/m/rollout", "{\"action\": \"promote\", \"reason\": "
                    + "\"shadow looked fine\"}");
            assertThat(http.statusCode()).isEqualTo(200);
            assertThat(JSON.readTree(http.body()).get("champion").asText()).isEqualTo("3");
            assertThat(traffic(t, 20, r)).containsOnlyKeys("3");
            // roll back by pinning the old champion over gRPC, then refuse bad input
            RolloutStatus back = RolloutServiceGrpc.newBlockingStub(t.channel()).override(OverrideRequest.newBuilder()
                    .setModelName("m").setAction("set_champion").setVersion("2").setReason("revert").build());
            assertThat(back.getChampion()).isEqualTo("2");
            assertThat(t.post(t.server.httpPort(), "/v1/models/m/rollout", "{\"action\": \"fly\"}").statusCode())
                    .isEqualTo(409);
            assertThat(t.post(t.server.httpPort(), "/v1/models/nope/rollout", "{\"action\": \"promote\"}")
                    .statusCode()).isEqualTo(404);
            assertThat(t.post(t.server.httpPort(), "/v1/models/m/rollout", "{\"action\": \"promote\", "
                    + "\"version\": -4}").statusCode()).isEqualTo(400);
            List<JsonNode> audit = t.server.repository().audit().read("m", null, 100);
            assertThat(audit).extracting(n -> n.get("action").asText()).contains("challenger", "promote",
                    "set_champion");
            JsonNode manual = t.server.repository().audit().read("m", "promote", 10).get(0);
            assertThat(manual.get("actor").asText()).startsWith("http:");
            assertThat(manual.get("evidence").get("reason").asText()).isEqualTo("shadow looked fine");
            assertThat(manual.get("evidence").get("last_window").get("challenger").get("requests").asLong())
                    .isGreaterThanOrEqualTo(500);
        }
    }
}
