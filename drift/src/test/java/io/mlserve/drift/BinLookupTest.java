package io.mlserve.drift;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The grid lookup gives the binary search's bin for every value, on skewed edges and on the edges themselves. */
class BinLookupTest {
    @Test
    void agreesWithTheBinarySearchEverywhere() {
        SplittableRandom r = new SplittableRandom(2);
        for (int trial = 0; trial < 50; trial++) {
            int m = 1 + r.nextInt(99);
            double[] edges = new double[m];
            for (int i = 0; i < m; i++) {
                // heavy-tailed: most edges packed near 0, a few far out
                edges[i] = Math.exp(r.nextDouble() * 12) - 1 + (r.nextBoolean() ? 0 : r.nextInt(3));
            }
            edges = Arrays.stream(edges).map(e -> (float) e).distinct().sorted().toArray();
            BinLookup lookup = new BinLookup(edges);
            for (int k = 0; k < 5_000; k++) {
                float v = k % 5 == 0 ? (float) edges[r.nextInt(edges.length)]
                        : k % 5 == 1 ? Math.nextDown((float) edges[r.nextInt(edges.length)])
                        : (float) (Math.exp(r.nextDouble() * 13) - 2);
                assertThat(lookup.bin(v)).as("v=%s", v).isEqualTo(WindowRecorder.bin(edges, v));
            }
            assertThat(lookup.bin(Float.NEGATIVE_INFINITY)).isZero();
            assertThat(lookup.bin(Float.POSITIVE_INFINITY)).isEqualTo(edges.length);
        }
    }
}
