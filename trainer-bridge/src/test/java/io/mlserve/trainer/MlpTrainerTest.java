package io.mlserve.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** SMOTE-style oversampling: balanced classes, synthetic rows on segments between positives. */
class MlpTrainerTest {
    @Test
    void smoteBalancesWithPointsBetweenPositivesAndKeepsOneHotColumns() {
        int n = 1000;
        int d = 4; // two numeric columns, then a one-hot pair
        float[] x = new float[n * d];
        float[] y = new float[n];
        SplittableRandom r = new SplittableRandom(3);
        for (int i = 0; i < n; i++) {
            boolean positive = i % 10 == 0;
            y[i] = positive ? 1 : 0;
            // positives live in [10, 11] x [20, 21]; negatives elsewhere
            x[i * d] = (float) (positive ? 10 + r.nextDouble() : r.nextDouble() * 5);
            x[i * d + 1] = (float) (positive ? 20 + r.nextDouble() : r.nextDouble() * 5);
            x[i * d + 2] = positive ? 1 : 0;
            x[i * d + 3] = positive ? 0 : 1;
        }
        float[][] out = MlpTrainer.smote(x, y, d, 2, 5, 64, 1);
        float[] ny = out[1];
        assertThat(ny).hasSize(1800);
        int positives = 0;
        for (float v : ny) {
            positives += (int) v;
        }
        assertThat(positives).as("as many positives as negatives").isEqualTo(900);
        for (int i = n; i < ny.length; i++) {
            assertThat(ny[i]).isEqualTo(1f);
            // on a segment between two positives: inside their box; one-hot columns copied, not interpolated
            assertThat(out[0][i * d]).isBetween(10f, 11f);
            assertThat(out[0][i * d + 1]).isBetween(20f, 21f);
            assertThat(out[0][i * d + 2]).isEqualTo(1f);
            assertThat(out[0][i * d + 3]).isEqualTo(0f);
        }
        // the original rows are untouched, in order
        for (int i = 0; i < n * d; i++) {
            assertThat(out[0][i]).isEqualTo(x[i]);
        }
    }
}
