package io.mlserve.trainer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

/** The gate's AUC against hand-counted pairs. */
class AucTest {
    @Test
    void countsOrderedPairsAndHalvesTies() {
        double[] label = {0, 1, 0, 1};
        assertThat(ChurnTrainer.auc(new float[] {0.1f, 0.9f, 0.2f, 0.8f}, label)).isEqualTo(1.0);
        assertThat(ChurnTrainer.auc(new float[] {0.9f, 0.1f, 0.8f, 0.2f}, label)).isEqualTo(0.0);
        // pairs (pos, neg): (0.5,0.5) tie, (0.5,0.3) win, (0.2,0.5) loss, (0.2,0.3) loss → 1.5 / 4
        assertThat(ChurnTrainer.auc(new float[] {0.5f, 0.5f, 0.3f, 0.2f}, label)).isCloseTo(0.375, within(1e-12));
        assertThat(ChurnTrainer.auc(new float[] {0.5f, 0.5f}, new double[] {1, 1})).isNaN();
    }
}
