package io.mlserve.bench;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.mlserve.datagen.DeviceDataGenerator;
import io.mlserve.drift.Quality;
import io.mlserve.featurecache.FeatureView;
import io.mlserve.app.ServerProcess;
import io.mlserve.app.TrainerProcess;
import io.mlserve.server.config.ServerConfigFile;
import io.mlserve.server.replay.Replay;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model that is not churn — another entity key (int64), other features (numbers, a vocabulary, a hashed category),
 * another label — through the whole loop, as the README's "bring your own model" section runs it, and only through
 * public interfaces: {@code mlserve train --config --view --label} for v1, then the trainer service and
 * {@code mlserve serve --replay-clock --trainer} as processes, and the replay over gRPC (feature writes, Predict with
 * event_time_ms, outcomes a day later). Nothing is written by the test once the replay starts: the server keeps its
 * own training log, the concept drift shows in the outcomes, the quality alert starts a retraining job on the last
 * days of that log, the new version is canaried and promoted, and its served AUC recovers while a static copy of v1
 * stays degraded.
 */
class BringYourOwnModelTest {
    @TempDir
    Path dir;

    private static final long DAY = 86_400_000L;

    @Test
    void aModelOverAnotherViewClosesTheLoopFromTheServersOwnLog() throws Exception {
        System.setProperty("mlserve.home", Path.of("..").toAbsolutePath().normalize().toString());
        Path data = dir.resolve("devices");
        // 120 days of 400 devices; the concept drift at day 75; v1 learns days 0-45, the replay runs days 45-120
        DeviceDataGenerator gen = new DeviceDataGenerator(new DeviceDataGenerator.Options(120, 400, 75 / 120.0, 5));
        gen.generate(data);
        long replayFrom = DeviceDataGenerator.START_MS + 45 * DAY;
        Path registry = dir.resolve("models");
        Process v1 = TrainerProcess.start(dir.resolve("train-v1.log"), "TrainMain", "--data", data.toString(),
                "--config", data.resolve("mlserve.yaml").toString(), "--view", "device", "--label", "failed",
                "--model", "devices", "--registry", registry.toString(), "--to", Long.toString(replayFrom),
                "--spark-master", "local[2]");
        assertThat(v1.waitFor(5, TimeUnit.MINUTES)).isTrue();
        assertThat(v1.exitValue()).as(Files.readString(dir.resolve("train-v1.log"))).isZero();
        JsonNode meta = Json.read(registry.resolve("devices/1/metadata.json"));
        assertThat(meta.at("/inputs/view").asText()).isEqualTo("device");
        assertThat(meta.at("/inputs/missing/humidity_pct").isNull()).isTrue();
        assertThat(meta.at("/metrics/holdout_auc").asDouble()).isGreaterThan(0.75);

        // the user's configuration: the server's config, the loop's config.json, a static copy of v1 beside it
        Path config = dir.resolve("mlserve.yaml");
        Files.writeString(config, "model_repository: models\ndata_dir: server-data\n"
                + Files.readString(data.resolve("mlserve.yaml")));
        JsonNode cfg = Json.read(registry.resolve("devices/config.json"));
        Files.writeString(registry.resolve("devices/config.json"), Json.with(cfg, """
                {"version_policy": {"latest": {"num_versions": 2}},
                 "retrain": {"enabled": true, "cooldown_seconds": 259200,
                             "train": {"data": "log", "window_days": 4, "algorithm": "lr"}},
                 "drift": {"quality_window_pairs": 300, "quality_min_auc": 0.7},
                 "rollout": {"mode": "canary", "challenger_weight": 0.5, "window_seconds": 172800,
                             "min_requests": 300, "max_score_psi": 10.0, "max_auc_drop": 0.02}}"""));
        Files.createDirectories(registry.resolve("devices_static/1"));
        try (Stream<Path> files = Files.list(registry.resolve("devices/1"))) {
            for (Path f : files.toList()) {
                Files.copy(f, registry.resolve("devices_static/1").resolve(f.getFileName()));
            }
        }
        Files.writeString(registry.resolve("devices_static/config.json"), Json.with(cfg,
                "{\"name\": \"devices_static\", \"drift\": {\"disabled\": true}}"));

        int trainerPort;
        try (ServerSocket s = new ServerSocket(0)) {
            trainerPort = s.getLocalPort();
        }
        Process trainer = TrainerProcess.start(dir.resolve("trainer.log"), "TrainerMain", "--host", "127.0.0.1",
                "--port", Integer.toString(trainerPort), "--registry", registry.toString(), "--spark-master",
                "local[2]");
        try (ServerProcess server = ServerProcess.start(dir.resolve("server.log"), 120, "--config", config.toString(),
                "--replay-clock", "--trainer", "127.0.0.1:" + trainerPort, "--repository-poll-secs", "1",
                "--audit-log", dir.resolve("audit.jsonl").toString())) {
            FeatureView view = ServerConfigFile.read(config).featureViews().get(0);
            Replay.Options o = new Replay.Options(data.resolve("data.csv"), view, "failed",
                    List.of("devices", "devices_static"), server.grpc(), server.http(), 1, replayFrom, 0, 200, 16,
                    true, null);
            Replay replay = new Replay(o, null);
            Replay.Records records = Replay.read(o.data(), view, "failed", replayFrom, 0);
            List<Replay.Served> served = replay.run(records);
            String logs = "\n--- server\n" + tail(server.log()) + "\n--- trainer\n" + tail(dir.resolve("trainer.log"));
            assertThat(replay.failures()).as(replay.lastFailure() + logs).isZero();

            // the drift shows in the outcomes: a quality alert on v1 after the drift began
            JsonNode history = replay.get("/v1/drift/devices/history");
            List<JsonNode> quality = new ArrayList<>();
            history.path("alerts").forEach(a -> {
                if (a.path("kind").asText().equals("QUALITY")) {
                    quality.add(a);
                }
            });
            assertThat(quality).as(history + logs).isNotEmpty();
            assertThat(quality.get(0).path("detected_ms").asLong()).isGreaterThan(gen.driftMs());

            // retrained from the server's own log, skew counted by the trainer, canaried and promoted
            JsonNode model = replay.get("/v1/models/devices");
            JsonNode job = model.at("/retrain/job");
            assertThat(job.path("state").asText()).as(model + logs).isEqualTo("SUCCEEDED");
            assertThat(job.at("/result/data").asText()).contains("training log");
            assertThat(job.at("/result/skew_checked").asLong()).isPositive();
            assertThat(job.at("/result/skew_rows").asLong()).as("served vs the trainer's own encoding").isZero();
            JsonNode rollout = replay.get("/v1/models/devices/rollout");
            assertThat(rollout.path("champion").asText()).as(rollout + logs).isNotEqualTo("1");
            assertThat(registry.resolve("devices/2/metadata.json")).exists();
            assertThat(Json.read(registry.resolve("devices/2/metadata.json")).at("/data/source").asText())
                    .isEqualTo("training_log");
            try (Stream<Path> parts = Files.list(dir.resolve("server-data/training-log/devices"))) {
                assertThat(parts.map(p -> p.getFileName().toString())).anyMatch(n -> n.startsWith("date=2024-"));
            }

            // the loop recovers; the static copy stays degraded (last 25 days of the replay)
            long tail = records.time[records.n - 1] - 25 * DAY;
            double loop = auc(records, served.get(0), tail);
            double fixed = auc(records, served.get(1), tail);
            double before = auc(records, served.get(1), replayFrom, gen.driftMs());
            System.out.printf(java.util.Locale.ROOT, "bring your own model: v1 before the drift AUC %.4f; last 25 days: "
                    + "static v1 %.4f, the loop %.4f (champion v%s)%n", before, fixed, loop,
                    replay.get("/v1/models/devices/rollout").path("champion").asText());
            assertThat(before).as("v1 before the drift").isGreaterThan(0.75);
            assertThat(fixed).as("the static copy after the drift").isLessThan(before - 0.15);
            assertThat(loop).as("the loop after its retrain").isGreaterThan(fixed + 0.15).isGreaterThan(0.7);
        } finally {
            trainer.destroy();
            trainer.waitFor(60, TimeUnit.SECONDS);
        }
    }

    private static double auc(Replay.Records r, Replay.Served s, long from) {
        return auc(r, s, from, Long.MAX_VALUE);
    }

    private static double auc(Replay.Records r, Replay.Served s, long from, long to) {
        List<Integer> rows = new ArrayList<>();
        for (int i = 0; i < r.n; i++) {
            if (r.time[i] >= from && r.time[i] < to && r.label[i] >= 0 && !Float.isNaN(s.score()[i])) {
                rows.add(i);
            }
        }
        float[] score = new float[rows.size()];
        double[] label = new double[rows.size()];
        for (int k = 0; k < rows.size(); k++) {
            score[k] = s.score()[rows.get(k)];
            label[k] = r.label[rows.get(k)];
        }
        return Quality.auc(score, label);
    }

    private static String tail(Path log) throws Exception {
        if (!Files.exists(log)) {
            return "(no log)";
        }
        List<String> lines = Files.readAllLines(log);
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
    }

    /** JSON helpers for the config files. */
    static final class Json {
        static final com.fasterxml.jackson.databind.ObjectMapper M = new com.fasterxml.jackson.databind.ObjectMapper();

        static JsonNode read(Path p) throws Exception {
            return M.readTree(p.toFile());
        }

        /** {@code base} with the top-level keys of {@code overlay} set. */
        static String with(JsonNode base, String overlay) throws Exception {
            com.fasterxml.jackson.databind.node.ObjectNode copy = base.deepCopy();
            copy.setAll((com.fasterxml.jackson.databind.node.ObjectNode) M.readTree(overlay));
            return M.writerWithDefaultPrettyPrinter().writeValueAsString(copy);
        }
    }
}
