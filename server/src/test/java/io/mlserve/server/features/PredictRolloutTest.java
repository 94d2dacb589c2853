package io.mlserve.server.features;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mlserve.proto.v1.PredictRequest;
import io.mlserve.proto.v1.PredictResponse;
import io.mlserve.proto.v1.PredictionServiceGrpc;
import io.mlserve.server.RegistryOptions;
import io.mlserve.server.ServerOptions;
import io.mlserve.server.TestServer;
import io.mlserve.server.config.ServerConfigFile;
import io.mlserve.examples.ChurnExample;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Predict by entity under a rollout: its rows go straight into the batch of the version routing chose, and the
 * rollout sees them as it sees ModelInfer — under shadow every answer comes from the champion while the challenger
 * runs a copy of each request; under canary the entities split between the two, each entity always on the same one.
 */
class PredictRolloutTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private TestServer start(String rollout) throws Exception {
        Path config = ChurnExample.writeTo(dir);
        ServerConfigFile file = ServerConfigFile.read(config);
        Path model = file.modelRepository().resolve(ChurnExample.MODEL);
        ObjectNode c = (ObjectNode) JSON.readTree(model.resolve("config.json").toFile());
        c.set("rollout", JSON.readTree(rollout));
        Files.writeString(model.resolve("config.json"), JSON.writeValueAsString(c));
        copy(model.resolve("1"), model.resolve("2"));
        TestServer t = new TestServer(file.modelRepository()).start(ServerOptions.ephemeral(file.modelRepository())
                .withFeatureViews(dir.resolve("tables"), file.featureViews()).withRegistry(RegistryOptions.defaults()));
        // first start: the newest version is the champion; a third one published now is the challenger
        copy(model.resolve("1"), model.resolve("3"));
        t.server.poller().pollOnce();
        return t;
    }

    private static void copy(Path from, Path to) throws Exception {
        Files.createDirectories(to);
        try (Stream<Path> files = Files.list(from)) {
            for (Path f : files.toList()) {
                Files.copy(f, to.resolve(f.getFileName()));
            }
        }
    }

    /** Predict for entities c0..c(n-1), one call each; entity → the version that answered. */
    private static Map<String, String> predict(TestServer t, int n) {
        var stub = PredictionServiceGrpc.newBlockingStub(t.channel());
        Map<String, String> by = new HashMap<>();
        for (int i = 0; i < n; i++) {
            PredictResponse r = stub.withDeadlineAfter(10, TimeUnit.SECONDS).predict(PredictRequest.newBuilder()
                    .setModelName(ChurnExample.MODEL).addEntityIds("c" + i).build());
            assertThat(r.getPredictions(0).getScore()).isBetween(0.0, 1.0);
            by.put("c" + i, r.getModelVersion());
        }
        return by;
    }

    /** Successful requests the metrics count for {@code version} of the model. */
    private static long successes(TestServer t, String version) throws Exception {
        String metrics = t.get(t.server.metricsPort(), "/metrics").body();
        Matcher m = Pattern.compile("mlserve_request_success_total\\{model=\"" + ChurnExample.MODEL
                + "\",version=\"" + version + "\"} ([0-9.eE+]+)").matcher(metrics);
        return m.find() ? (long) Double.parseDouble(m.group(1)) : 0;
    }

    @Test
    void shadowAnswersFromTheChampionAndCopiesEveryPredictToTheChallenger() throws Exception {
        try (TestServer t = start("{\"mode\": \"shadow\", \"window_seconds\": 3600, \"no_auto_promote\": true}")) {
            Map<String, String> answered = predict(t, 200);
            assertThat(answered.values()).containsOnly("2");
            // the copies run after the answers: wait for the challenger to have taken all of them
            long deadline = System.nanoTime() + 10_000_000_000L;
            while (successes(t, "3") < 200 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertThat(successes(t, "3")).isEqualTo(200);
            assertThat(successes(t, "2")).isEqualTo(200);
        }
    }

    @Test
    void canarySplitsEntitiesStickily() throws Exception {
        try (TestServer t = start("{\"mode\": \"canary\", \"challenger_weight\": 0.5, \"window_seconds\": 3600, "
                + "\"no_auto_promote\": true}")) {
            Map<String, String> first = predict(t, 200);
            assertThat(first.values()).contains("2", "3");
            long challenger = first.values().stream().filter("3"::equals).count();
            assertThat(challenger).isBetween(60L, 140L);
            assertThat(predict(t, 200)).as("each entity stays on its version").isEqualTo(first);
        }
    }
}
