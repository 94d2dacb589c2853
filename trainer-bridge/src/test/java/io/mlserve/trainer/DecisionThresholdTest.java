package io.mlserve.trainer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The operating threshold chosen on scored rows, against hand counts and a brute-force search. */
class DecisionThresholdTest {
    // ten rows, three positive; the scores run high as a model trained on balanced class weights gives them
    private static final double[] P = {0.20, 0.35, 0.40, 0.55, 0.60, 0.62, 0.70, 0.75, 0.85, 0.90};
    private static final double[] Y = {0, 0, 0, 0, 0, 1, 0, 1, 0, 1};

    @Test
    void maxAccuracyPicksTheMidpointBelowTheBestSplit() {
        DecisionThreshold.Choice c = DecisionThreshold.choose(P, Y, DecisionThreshold.Rule.maxAccuracy());
        // at 0.5 accuracy is 0.6 (four false positives); predicting only 0.90 positive gets 8 of 10 right, as do 0.75
        // and up, and 0.62 and up (false positives at 0.70 and 0.85): the highest threshold wins the tie
        assertThat(DecisionThreshold.choose(P, Y, DecisionThreshold.Rule.given(0.5)).accuracy()).isEqualTo(0.6);
        assertThat(c.threshold()).isCloseTo(0.875, within(1e-12));
        assertThat(c.accuracy()).isEqualTo(0.8);
        assertThat(c.precision()).isEqualTo(1.0);
        assertThat(c.recall()).isCloseTo(1 / 3.0, within(1e-12));
        assertThat(c.expectedCost()).isNaN();
        assertThat(c.rule().toString()).isEqualTo("max_accuracy");
    }

    @Test
    void aCostRatioTradesFalsePositivesForMissedPositives() {
        // a missed positive costs 4 false positives: catching all three (>= 0.61, two FP) costs 2, against 8 at 0.875
        DecisionThreshold.Choice c = DecisionThreshold.choose(P, Y, DecisionThreshold.Rule.costRatio(4));
        assertThat(c.threshold()).isCloseTo(0.61, within(1e-12));
        assertThat(c.recall()).isEqualTo(1.0);
        assertThat(c.precision()).isEqualTo(0.6);
        assertThat(c.accuracy()).isEqualTo(0.8);
        assertThat(c.expectedCost()).isCloseTo(0.2, within(1e-12));
        assertThat(c.rule().toString()).isEqualTo("cost_ratio 4");
        assertThat(DecisionThreshold.Rule.costRatio(2.5).toString()).isEqualTo("cost_ratio 2.5");
        // the highest scores are negatives: the most accurate is to predict nothing positive, above every score
        DecisionThreshold.Choice none = DecisionThreshold.choose(new double[] {0.3, 0.8, 0.9}, new double[] {1, 0, 0},
                DecisionThreshold.Rule.maxAccuracy());
        assertThat(none.threshold()).isCloseTo(0.95, within(1e-12));
        assertThat(none.accuracy()).isCloseTo(2 / 3.0, within(1e-12));
        assertThat(none.precision()).isNaN();
        assertThat(none.recall()).isZero();
    }

    @Test
    void aGivenThresholdIsKeptAndTiesAreCountedAsPositive() {
        DecisionThreshold.Choice c = DecisionThreshold.choose(new double[] {0.3, 0.3, 0.7}, new double[] {0, 1, 1},
                DecisionThreshold.Rule.given(0.3));
        assertThat(c.threshold()).isEqualTo(0.3);
        assertThat(c.accuracy()).isCloseTo(2 / 3.0, within(1e-12));
        assertThat(c.rule().toString()).isEqualTo("given");
        assertThatThrownBy(() -> DecisionThreshold.Rule.given(1.0)).hasMessageContaining("threshold must be in (0, 1)");
        assertThatThrownBy(() -> DecisionThreshold.Rule.costRatio(0)).hasMessageContaining("cost ratio must be a "
                + "positive number");
        assertThatThrownBy(() -> DecisionThreshold.choose(new double[] {Double.NaN}, new double[] {1},
                DecisionThreshold.Rule.maxAccuracy())).hasMessageContaining("NaN");
    }

    @Test
    void theChoiceIsTheBestOfEverySplitOnRandomScoresWithTies() {
        SplittableRandom r = new SplittableRandom(9);
        for (int round = 0; round < 50; round++) {
            int n = 1 + r.nextInt(60);
            double[] p = new double[n];
            double[] y = new double[n];
            for (int i = 0; i < n; i++) {
                p[i] = r.nextInt(12) / 12.0; // many ties
                y[i] = r.nextDouble() < 0.2 + 0.6 * p[i] ? 1 : 0;
            }
            double ratio = 0.5 + r.nextDouble() * 6;
            DecisionThreshold.Choice acc = DecisionThreshold.choose(p, y, DecisionThreshold.Rule.maxAccuracy());
            DecisionThreshold.Choice cost = DecisionThreshold.choose(p, y, DecisionThreshold.Rule.costRatio(ratio));
            double bestAccuracy = 0;
            double bestCost = Double.MAX_VALUE;
            for (int k = 0; k <= 13; k++) {
                double t = k / 12.0 - 1 / 24.0; // below, between and above every distinct score
                DecisionThreshold.Choice at = DecisionThreshold.choose(p, y, new DecisionThreshold.Rule("given", t));
                bestAccuracy = Math.max(bestAccuracy, at.accuracy());
                long fn = 0;
                long fp = 0;
                for (int i = 0; i < n; i++) {
                    boolean positive = p[i] >= at.threshold();
                    fn += !positive && y[i] == 1 ? 1 : 0;
                    fp += positive && y[i] == 0 ? 1 : 0;
                }
                bestCost = Math.min(bestCost, (ratio * fn + fp) / n);
            }
            assertThat(acc.accuracy()).isCloseTo(bestAccuracy, within(1e-12));
            assertThat(cost.expectedCost()).isCloseTo(bestCost, within(1e-12));
            // what the choice reports is what its threshold gives
            assertThat(DecisionThreshold.choose(p, y, new DecisionThreshold.Rule("given", acc.threshold())).accuracy())
                    .isCloseTo(acc.accuracy(), within(1e-12));
        }
    }
}
