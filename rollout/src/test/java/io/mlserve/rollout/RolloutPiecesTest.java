package io.mlserve.rollout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mlserve.proto.v1.RolloutVerdict;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The rollout's arithmetic: arm windows and the verdict per criterion. */
class RolloutPiecesTest {
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
        assertThat(noisy.verdict()).isEqualTo(RolloutVerdict.ROLLOUT_VERDICT_PROMOTE);
        // 0.05 lower on fifty thousand each: certainly worse by more than 0.02, rolled back with the interval
        RolloutDecision.Result worse = RolloutDecision.judge(CRITERIA, champion, arm(2000, 1, 0.3, 0, 10),
                new RolloutDecision.Auc(0.80, 5_000, 45_000), new RolloutDecision.Auc(0.75, 5_000, 45_000));
        assertThat(worse.verdict()).isEqualTo(RolloutVerdict.ROLLOUT_VERDICT_ROLLBACK);
        assertThat(worse.reasons()).singleElement().asString().startsWith("AUC 0.7500").contains("at 95 %");
        // no outcomes on one side: AUC does not decide
        assertThat(RolloutDecision.judge(CRITERIA, champion, arm(2000, 1, 0.3, 0, 11), RolloutDecision.Auc.NONE,
                new RolloutDecision.Auc(0.5, 100, 100)).verdict()).isEqualTo(RolloutVerdict.ROLLOUT_VERDICT_PROMOTE);
    }

    @Test
    void eachCriterionDecidesOnItsOwn() {
        ArmRecorder.Window champion = arm(2000, 1, 0.3, 0, 1);
        assertThat(RolloutDecision.judge(CRITERIA, champion, arm(50, 1, 0.3, 0, 2), Double.NaN, Double.NaN).verdict())
                .isEqualTo(RolloutVerdict.ROLLOUT_VERDICT_WAIT);
        RolloutDecision.Result pass = RolloutDecision.judge(CRITERIA, champion, arm(2000, 1.2, 0.3, 10, 3), 0.80, 0.79);
        assertThat(pass.verdict()).isEqualTo(RolloutVerdict.ROLLOUT_VERDICT_PROMOTE);
        assertThat(pass.reasons()).isEmpty();
        assertThat(RolloutDecision.judge(CRITERIA, champion, arm(2000, 1, 0.3, 60, 4), Double.NaN, Double.NaN)
                .reasons()).singleElement().asString().startsWith("error rate 0.0300");
        // twice the champion's p99 plus the slack: 1 ms vs 8 ms fails, 1 ms vs 6 ms does not
        assertThat(RolloutDecision.judge(CRITERIA, champion, arm(2000, 8, 0.3, 0, 5), Double.NaN, Double.NaN)
                .reasons()).singleElement().asString().startsWith("p99");
        assertThat(RolloutDecision.judge(CRITERIA, champion, arm(2000, 6, 0.3, 0, 6), Double.NaN, Double.NaN)
                .verdict()).isEqualTo(RolloutVerdict.ROLLOUT_VERDICT_PROMOTE);
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
}
