package io.mlserve.drift;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Recording from many threads while windows close: every row lands in exactly one window. */
class WindowRecorderTest {
    private static float[] scores(SplittableRandom r, int n) {
        float[] s = new float[n];
        for (int i = 0; i < n; i++) {
            s[i] = (float) r.nextDouble();
        }
        return s;
    }

    @Test
    void eightThreadsRecordingWhileWindowsCloseLoseNoCount() throws Exception {
        int width = 3;
        float[] ref = new float[30_000];
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < ref.length; i++) {
            ref[i] = i % 3 == 2 ? r.nextInt(4) : (float) r.nextDouble();
        }
        ReferenceProfile profile = ReferenceProfile.parse(ProfileBuilder.build(List.of(
                ProfileBuilder.Column.numeric("a"), ProfileBuilder.Column.numeric("b"),
                new ProfileBuilder.Column("c", List.of("w", "x", "y", "z"))), ref, null, scores(r, 10_000)), "test");
        WindowRecorder rec = new WindowRecorder(profile, 1, 0);
        int threads = 8;
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong recorded = new AtomicLong();
        CountDownLatch done = new CountDownLatch(threads);
        for (int t = 0; t < threads; t++) {
            int seed = t;
            Thread th = new Thread(() -> {
                SplittableRandom rr = new SplittableRandom(seed);
                float[] rows = new float[4 * width];
                WindowRecorder.Rows view = new WindowRecorder.Rows() {
                    @Override
                    public float value(int row, int column) {
                        return rows[row * width + column];
                    }

                    @Override
                    public float score(int row) {
                        return 0.5f;
                    }
                };
                while (!stop.get()) {
                    int n = 1 + rr.nextInt(4);
                    for (int i = 0; i < n * width; i++) {
                        rows[i] = i % width == 2 ? rr.nextInt(5) - 1 : (float) rr.nextDouble();
                    }
                    rec.record(view, n, System.currentTimeMillis());
                    recorded.addAndGet(n);
                }
                done.countDown();
            });
            th.start();
        }
        List<WindowRecorder.Window> windows = new ArrayList<>();
        long end = System.nanoTime() + 2_000_000_000L;
        while (System.nanoTime() < end) {
            Thread.sleep(20);
            windows.add(rec.close(System.currentTimeMillis()));
        }
        stop.set(true);
        done.await();
        windows.add(rec.close(System.currentTimeMillis()));
        long rows = 0;
        for (WindowRecorder.Window w : windows) {
            rows += w.rows();
            // within a window every feature saw every row: numeric bins + missing, category counts
            long a = w.numericMissing()[0];
            for (long c : w.bins()[0]) {
                a += c;
            }
            long c = 0;
            for (long x : w.codes()[0]) {
                c += x;
            }
            assertThat(a).isEqualTo(w.rows());
            assertThat(c).isEqualTo(w.rows());
            long scores = 0;
            for (long x : w.scoreFine()) {
                scores += x;
            }
            assertThat(scores).isEqualTo(w.rows());
            assertThat(w.seen()).isEqualTo(w.rows());
        }
        assertThat(windows.size()).isGreaterThan(20);
        assertThat(rows).as("rows recorded = rows in closed windows").isEqualTo(recorded.get()).isPositive();
    }
}
