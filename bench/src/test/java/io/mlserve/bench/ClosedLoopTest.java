package io.mlserve.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The closed loop end to end at a small size, with the real pieces: Spark trains v1 and the retrains in their own
 * JVMs, the server judges drift and quality on the simulated clock, the rollout decides. Checked: every record was
 * answered by both models, served scores equal the artifacts' offline scores (no skew), the drift monitor judged
 * windows and raised an alert, a version retrained from the server's own training log was published (the trainer's
 * skew check found no differing row) and put to a canary that ended in a decision, and the report and chart are
 * written — all through the server's public interfaces, with the server and the trainer in their own processes.
 */
class ClosedLoopTest {
    @TempDir
    Path dir;

    @Test
    void driftRetrainCanaryDecisionOnTheSimulatedClock() throws Exception {
        System.setProperty("mlserve.home", Path.of("..").toAbsolutePath().normalize().toString());
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        ClosedLoop.Options o = new ClosedLoop.Options(40_000, 2, 7, 7, 90, 0, 120, "lr", "local[2]", 16,
                dir.resolve("work"));
        ClosedLoop run = new ClosedLoop(o, new PrintStream(console, true, StandardCharsets.UTF_8), false).run();
        String log = console.toString(StandardCharsets.UTF_8);

        int streamed = run.n - run.streamFrom;
        assertThat(streamed).as(log).isBetween(19_000, 21_000);
        assertThat(run.errors.get()).as(log).isZero();
        assertThat(run.v1HoldoutAuc).isBetween(0.6, 0.9);
        for (int i = 0; i < streamed; i++) {
            assertThat(run.loopVersion[i]).as("row %d answered by the loop", i).isPositive();
            assertThat(run.staticScore[i]).as("row %d answered by the conventional copy", i).isBetween(0f, 1f);
        }

        LoopReport report = new LoopReport(run);
        assertThat(report.loop.compared()).isEqualTo(streamed);
        assertThat(report.conventional.compared()).isEqualTo(streamed);
        assertThat(report.loop.skewRows()).as("served vs offline").isZero();
        assertThat(report.conventional.skewRows()).isZero();
        assertThat(report.daysJudged).isBetween(360, 367);
        assertThat(report.dayAccuracy).isBetween(0.0, 1.0);
        assertThat(run.alerts).as(log).isNotEmpty();
        assertThat(run.retrains).as(log).isNotEmpty();
        // the first job may see only days of the server's own log and be refused by the gate; a later one publishes
        assertThat(run.retrains).as(log).anyMatch(r -> r.job().getResult().getPublished());
        assertThat(run.retrains).as(log).allMatch(r -> r.job().getResult().getData().contains("training log"));
        assertThat(new LoopReport(run).trainerSkew()[1]).as("the trainer re-scored logged rows").isPositive();
        assertThat(new LoopReport(run).trainerSkew()[0]).as("served = the trainer's own encoding").isZero();
        List<String> kinds = run.timeline.stream().map(ClosedLoop.Mark::kind).toList();
        assertThat(kinds).as(log).contains("alert", "retrain", "published", "canary");
        assertThat(kinds).as(log).containsAnyOf("promote", "rollback");
        assertThat(report.months).hasSize(12);
        assertThat(report.loop.meanAuc()).isBetween(0.6, 0.9);
        assertThat(report.table()).contains("mlserve closed loop", "91.8 %", "false alarms");

        Path png = dir.resolve("chart.png");
        report.chart(png);
        assertThat(javax.imageio.ImageIO.read(png.toFile()).getWidth()).isEqualTo(1400);
        assertThat(Files.size(png)).isGreaterThan(10_000);
    }
}
