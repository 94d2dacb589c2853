package io.mlserve.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The rollout's arithmetic and records: arm windows, the verdict per criterion, checksums, the audit log. */
class RolloutPiecesTest {
    @TempDir
    Path dir;

    private static final RolloutDecision.Criteria CRITERIA = new RolloutDecision.Criteria(100, 0.01, 2.0, 5.0, 0.25,
            0.02);

    /** n requests at {@code ms} each with scores from N(mean, 0.1) clipped to [0, 1], {@code errors} of them failed. */
    private static ArmRecorder.Window arm(int n, double ms, double mean, int errors, long seed) {
        ArmRecorder a = new ArmRecorder();
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < n; i++) {
            if (i < errors) {
                a.failure((long) (ms * 1e6));
            } else {
                a.success((long) (ms * 1e6));
                a.score((float) (mean + 0.1 * r.nextGaussian()));
            }
        }
        return a.drain();
    }

    @Test
    void latencyBucketsBoundTheQuantileWithin25Percent() {
        for (double ms : new double[] {0.05, 0.3, 1, 7.5, 42, 900}) {
            ArmRecorder.Window w = arm(1000, ms, 0.5, 0, 1);
            assertThat(w.latencyMs(0.99)).as("%s ms", ms).isGreaterThanOrEqualTo(ms * 0.999)
                    .isLessThanOrEqualTo(ms * 1.25 + 0.002);
        }
    }

    @Test
    void anAucDropMustBeBeyondTheAllowanceWith95PercentConfidence() {
        // Hanley and McNeil at AUC 0.5 with 50 + 50: sqrt((0.25 + 49·(1/3 − 1/4) · 2) / 2500)
        assertThat(new RolloutDecision.Auc(0.5, 50, 50).standardError()).isCloseTo(0.05802,
                org.assertj.core.data.Offset.offset(1e-4));
        ArmRecorder.Window champion = arm(2000, 1, 0.3, 0, 1);
        // 0.03 lower on a thousand outcomes each (150 churners): within the noise, promoted
        RolloutDecision.Result noisy = RolloutDecision.judge(CRITERIA, champion, arm(2000, 1, 0.3, 0, 9),
                new RolloutDecision.Auc(0.75, 150, 850), new RolloutDecision.Auc(0.72, 150, 850));
        assertThat(noisy.verdict()).isEqualTo(RolloutDecision.Verdict.PROMOTE);
        // 0.05 lower on fifty thousand each: certainly worse by more than 0.02, rolled back with the interval
        RolloutDecision.Result worse = RolloutDecision.judge(CRITERIA, champion, arm(2000, 1, 0.3, 0, 10),
                new RolloutDecision.Auc(0.80, 5_000, 45_000), new RolloutDecision.Auc(0.75, 5_000, 45_000));
        assertThat(worse.verdict()).isEqualTo(RolloutDecision.Verdict.ROLLBACK);
        assertThat(worse.reasons()).singleElement().asString().startsWith("AUC 0.7500").contains("at 95 %");
        // no outcomes on one side: AUC does not decide
        assertThat(RolloutDecision.judge(CRITERIA, champion, arm(2000, 1, 0.3, 0, 11), RolloutDecision.Auc.NONE,
                new RolloutDecision.Auc(0.5, 100, 100)).verdict()).isEqualTo(RolloutDecision.Verdict.PROMOTE);
    }

    @Test
    void eachCriterionDecidesOnItsOwn() {
        ArmRecorder.Window champion = arm(2000, 1, 0.3, 0, 1);
        assertThat(RolloutDecision.judge(CRITERIA, champion, arm(50, 1, 0.3, 0, 2), Double.NaN, Double.NaN).verdict())
                .isEqualTo(RolloutDecision.Verdict.WAIT);
        RolloutDecision.Result pass = RolloutDecision.judge(CRITERIA, champion, arm(2000, 1.2, 0.3, 10, 3), 0.80, 0.79);
        assertThat(pass.verdict()).isEqualTo(RolloutDecision.Verdict.PROMOTE);
        assertThat(pass.reasons()).isEmpty();
        assertThat(RolloutDecision.judge(CRITERIA, champion, arm(2000, 1, 0.3, 60, 4), Double.NaN, Double.NaN)
                .reasons()).singleElement().asString().startsWith("error rate 0.0300");
        // twice the champion's p99 plus the slack: 1 ms vs 8 ms fails, 1 ms vs 6 ms does not
        assertThat(RolloutDecision.judge(CRITERIA, champion, arm(2000, 8, 0.3, 0, 5), Double.NaN, Double.NaN)
                .reasons()).singleElement().asString().startsWith("p99");
        assertThat(RolloutDecision.judge(CRITERIA, champion, arm(2000, 6, 0.3, 0, 6), Double.NaN, Double.NaN)
                .verdict()).isEqualTo(RolloutDecision.Verdict.PROMOTE);
        RolloutDecision.Result shifted = RolloutDecision.judge(CRITERIA, champion, arm(2000, 1, 0.6, 0, 7), Double.NaN,
                Double.NaN);
        assertThat(shifted.reasons()).singleElement().asString().startsWith("score PSI");
        assertThat(shifted.scorePsi()).isGreaterThan(1);
        assertThat(RolloutDecision.judge(CRITERIA, champion, arm(2000, 1, 0.3, 0, 8), 0.80, 0.75).reasons())
                .singleElement().asString().startsWith("AUC 0.7500");
        assertThatThrownBy(() -> new RolloutDecision.Criteria(0, 0.01, 2, 5, 0.25, 0.02))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void windowsConserveEveryEventUnderConcurrentRecording() throws Exception {
        ArmRecorder a = new ArmRecorder();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        for (int t = 0; t < 4; t++) {
            pool.submit(() -> {
                for (int i = 0; i < 100_000; i++) {
                    a.success(100_000);
                    a.score(0.5f);
                }
            });
        }
        long requests = 0;
        long scores = 0;
        pool.shutdown();
        while (!pool.awaitTermination(1, TimeUnit.MILLISECONDS)) {
            ArmRecorder.Window w = a.drain();
            requests += w.requests();
            scores += w.scored();
        }
        ArmRecorder.Window w = a.drain();
        assertThat(requests + w.requests()).isEqualTo(400_000);
        assertThat(scores + w.scored()).isEqualTo(400_000);
    }

    @Test
    void checksumsVerifyTheModelAndListedFiles() throws Exception {
        Path v = Files.createDirectories(dir.resolve("7"));
        Files.writeString(v.resolve("model.onnx"), "model bytes");
        Files.writeString(v.resolve("weights.bin"), "weights");
        assertThat(VersionChecksum.verify(v, "model.onnx")).isEqualTo(VersionChecksum.Result.UNVERIFIED);
        String m = VersionChecksum.sha256(v.resolve("model.onnx"));
        String w = VersionChecksum.sha256(v.resolve("weights.bin"));
        assertThat(m).hasSize(64).matches("[0-9a-f]+");
        Files.writeString(v.resolve("metadata.json"), "{\"sha256\": \"" + m + "\", \"files\": {\"weights.bin\": \""
                + w + "\"}}");
        assertThat(VersionChecksum.verify(v, "model.onnx")).isEqualTo(VersionChecksum.Result.VERIFIED);
        Files.writeString(v.resolve("weights.bin"), "weightz");
        assertThatThrownBy(() -> VersionChecksum.verify(v, "model.onnx")).isInstanceOf(VersionChecksum.Mismatch.class)
                .hasMessageContaining("sha256 of weights.bin is");
        Files.delete(v.resolve("weights.bin"));
        assertThatThrownBy(() -> VersionChecksum.verify(v, "model.onnx")).hasMessageContaining("which is missing");
        Files.writeString(v.resolve("metadata.json"), "{\"files\": {\"../../etc/passwd\": \"00\"}}");
        assertThatThrownBy(() -> VersionChecksum.verify(v, "model.onnx")).hasMessageContaining("outside");
        Files.writeString(v.resolve("metadata.json"), "{not json");
        assertThatThrownBy(() -> VersionChecksum.verify(v, "model.onnx")).hasMessageContaining("not valid JSON");
    }

    @Test
    void theAuditLogAppendsFiltersAndSkipsATornLine() throws Exception {
        Path file = dir.resolve("audit/audit.log");
        try (AuditLog log = new AuditLog(file)) {
            log.record("rollout", "promote", "m", 1, 2, JsonNodeFactory.instance.objectNode().put("score_psi", 0.01));
            log.record("admin", "unload", "n", 3, 0, null);
        }
        Files.writeString(file, "{\"time\": \"torn", java.nio.file.StandardOpenOption.APPEND);
        try (AuditLog log = new AuditLog(file)) {
            log.record("registry", "load", "m", 0, 3, null);
            List<JsonNode> all = log.read(null, null, 10);
            // the torn line is skipped; the record appended after it starts a line of its own
            assertThat(all).extracting(n -> n.get("action").asText()).containsExactly("promote", "unload", "load");
            assertThat(log.read("m", "promote", 10)).singleElement().satisfies(n -> {
                assertThat(n.get("from_version").asLong()).isEqualTo(1);
                assertThat(n.get("to_version").asLong()).isEqualTo(2);
                assertThat(n.get("evidence").get("score_psi").asDouble()).isEqualTo(0.01);
            });
            assertThat(log.read("n", null, 10).get(0).has("to_version")).isFalse();
            assertThat(log.read(null, null, 1)).extracting(n -> n.get("action").asText()).containsExactly("load");
        }
    }

    @Test
    void theFileSystemSourceReportsWhatChangedAndIgnoresVersionsBeingWritten() throws Exception {
        Path root = Files.createDirectories(dir.resolve("repo"));
        Files.createDirectories(root.resolve("a/1"));
        Files.writeString(root.resolve("a/1/model.onnx"), "x");
        FileSystemSource s = new FileSystemSource(root);
        assertThat(s.sync().changed()).containsExactly("a");
        assertThat(s.sync().changed()).isEmpty();
        Files.createDirectories(root.resolve("a/2.tmp-123"));
        Files.writeString(root.resolve("a/2.tmp-123/model.onnx"), "y");
        Files.createDirectories(root.resolve(".hidden/1"));
        assertThat(s.sync().changed()).isEmpty();
        Files.move(root.resolve("a/2.tmp-123"), root.resolve("a/2"));
        Files.createDirectories(root.resolve("b/1"));
        assertThat(s.sync().changed()).containsExactlyInAnyOrder("a", "b");
        Files.writeString(root.resolve("b/config.json"), "{}");
        assertThat(s.sync().changed()).containsExactly("b");
        Files.delete(root.resolve("b/config.json"));
        Files.delete(root.resolve("b/1"));
        Files.delete(root.resolve("b"));
        assertThat(s.sync().changed()).containsExactly("b");
    }
}
