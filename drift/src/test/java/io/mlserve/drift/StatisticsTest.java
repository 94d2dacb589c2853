package io.mlserve.drift;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The statistics against direct computations and table values. */
class StatisticsTest {
    @Test
    void psiIsTheDirectFormula() {
        long[] ref = {100, 300, 400, 200};
        long[] win = {50, 250, 450, 250};
        double expected = 0;
        for (int i = 0; i < ref.length; i++) {
            double p = ref[i] / 1000.0;
            double q = win[i] / 1000.0;
            expected += (q - p) * Math.log(q / p);
        }
        assertThat(Statistics.psi(ref, win)).isCloseTo(expected, within(1e-12));
        assertThat(Statistics.psi(ref, ref)).isZero();
        // an empty window bin counts with the floor share, not as infinite
        assertThat(Statistics.psi(ref, new long[] {0, 300, 400, 300})).isFinite().isGreaterThan(0.1);
    }

    @Test
    void jensenShannonDistanceOfKnownDistributions() {
        assertThat(Statistics.jensenShannon(new long[] {1, 0}, new long[] {0, 1})).isCloseTo(1, within(1e-12));
        assertThat(Statistics.jensenShannon(new long[] {5, 5}, new long[] {50, 50})).isCloseTo(0, within(1e-12));
        // p = (1/2, 1/2), q = (1, 0): JSD = 1 - (3/4)·log2(4/3) … computed directly
        double m0 = 0.75;
        double m1 = 0.25;
        double jsd = 0.5 * (0.5 * log2(0.5 / m0) + 0.5 * log2(0.5 / m1)) + 0.5 * (log2(1 / m0));
        assertThat(Statistics.jensenShannon(new long[] {1, 1}, new long[] {1, 0})).isCloseTo(Math.sqrt(jsd),
                within(1e-12));
    }

    @Test
    void chiSquaredPValuesMatchTheTable() {
        // critical values: 3.841 (1 dof), 5.991 (2), 11.070 (5), 18.307 (10) at p = 0.05; 6.635 (1) at 0.01
        assertThat(Statistics.upperRegularizedGamma(0.5, 3.841 / 2)).isCloseTo(0.05, within(2e-4));
        assertThat(Statistics.upperRegularizedGamma(1.0, 5.991 / 2)).isCloseTo(0.05, within(2e-4));
        assertThat(Statistics.upperRegularizedGamma(2.5, 11.070 / 2)).isCloseTo(0.05, within(2e-4));
        assertThat(Statistics.upperRegularizedGamma(5.0, 18.307 / 2)).isCloseTo(0.05, within(2e-4));
        assertThat(Statistics.upperRegularizedGamma(0.5, 6.635 / 2)).isCloseTo(0.01, within(1e-4));
        // a two-category window: 60/40 against a 50/50 reference of 100 rows → X² = 4, 1 dof, p = 0.0455
        Statistics.ChiSquared c = Statistics.chiSquared(new long[] {500, 500}, new long[] {60, 40});
        assertThat(c.statistic()).isCloseTo(4, within(1e-12));
        assertThat(c.degreesOfFreedom()).isEqualTo(1);
        assertThat(c.pValue()).isCloseTo(0.0455, within(1e-4));
        // a category the reference never had is certain drift
        assertThat(Statistics.chiSquared(new long[] {10, 0}, new long[] {5, 1}).pValue()).isZero();
    }

    @Test
    void ksFromTheWindowBinsIsWithinItsStatedBoundOfTheExactTwoSampleKs() {
        SplittableRandom r = new SplittableRandom(7);
        int refRows = 50_000;
        float[] ref = new float[refRows];
        for (int i = 0; i < refRows; i++) {
            ref[i] = (float) gaussian(r);
        }
        ReferenceProfile profile = ReferenceProfile.parse(ProfileBuilder.build(
                List.of(ProfileBuilder.Column.numeric("x")), ref, null, null), "test");
        for (double shift : new double[] {0, 0.05, 0.2, 0.5}) {
            WindowRecorder rec = new WindowRecorder(profile, 1, 0);
            int n = 20_000;
            float[] win = new float[n];
            for (int i = 0; i < n; i++) {
                win[i] = (float) (gaussian(r) + shift);
            }
            rec.record(rows(win), n, 0);
            DriftDetector.Report report = new DriftDetector(DriftDetector.Config.defaults(), profile)
                    .evaluate(rec.close(1));
            DriftDetector.FeatureResult x = report.features().get("x");
            double exact = exactKs(ref, win);
            assertThat(Math.abs(x.ks() - exact)).as("shift %s: binned KS %s vs exact %s, bound %s", shift, x.ks(),
                    exact, x.ksErrorBound()).isLessThanOrEqualTo(x.ksErrorBound());
            assertThat(x.ksErrorBound()).isLessThan(0.03);
        }
    }

    static WindowRecorder.Rows rows(float[] column) {
        return new WindowRecorder.Rows() {
            @Override
            public float value(int row, int col) {
                return column[row];
            }

            @Override
            public float score(int row) {
                return Float.NaN;
            }
        };
    }

    /** sup |F_a − F_b| over all points, by merging the sorted samples. */
    static double exactKs(float[] a, float[] b) {
        float[] x = a.clone();
        float[] y = b.clone();
        Arrays.sort(x);
        Arrays.sort(y);
        int i = 0;
        int j = 0;
        double d = 0;
        while (i < x.length && j < y.length) {
            float v = Math.min(x[i], y[j]);
            while (i < x.length && x[i] == v) {
                i++;
            }
            while (j < y.length && y[j] == v) {
                j++;
            }
            d = Math.max(d, Math.abs(i / (double) x.length - j / (double) y.length));
        }
        return d;
    }

    static double gaussian(SplittableRandom r) {
        double u = r.nextDouble();
        double v = r.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * v);
    }

    private static double log2(double v) {
        return Math.log(v) / Math.log(2);
    }
}
