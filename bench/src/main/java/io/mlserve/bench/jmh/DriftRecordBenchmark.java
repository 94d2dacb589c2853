package io.mlserve.bench.jmh;

import io.mlserve.drift.ProfileBuilder;
import io.mlserve.drift.ReferenceProfile;
import io.mlserve.drift.WindowRecorder;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Cost of recording rows into a drift window: 41 numeric features (a count in one of 100 percentile bins each)
 * and 6 categorical (one count each) plus the score — the churn model's shape — per call of {@code rows} rows,
 * on one thread. The window is closed every 100k rows, as a background closer would.
 */
@State(Scope.Thread)
@Fork(1)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
public class DriftRecordBenchmark {
    static final int NUMERIC = 41;
    static final int CATEGORICAL = 6;
    static final int WIDTH = NUMERIC + CATEGORICAL;

    @Param({"1", "64"})
    int rows;

    WindowRecorder recorder;
    float[] data;
    WindowRecorder.Rows view;
    long recorded;

    @Setup(Level.Trial)
    public void setUp() {
        SplittableRandom r = new SplittableRandom(3);
        int n = 20_000;
        float[] ref = new float[n * WIDTH];
        for (int i = 0; i < ref.length; i++) {
            ref[i] = i % WIDTH < NUMERIC ? (float) r.nextDouble() : r.nextInt(4);
        }
        List<ProfileBuilder.Column> cols = new ArrayList<>();
        for (int j = 0; j < WIDTH; j++) {
            cols.add(j < NUMERIC ? ProfileBuilder.Column.numeric("n" + j)
                    : new ProfileBuilder.Column("c" + j, List.of("a", "b", "c", "d")));
        }
        float[] scores = new float[n];
        for (int i = 0; i < n; i++) {
            scores[i] = (float) r.nextDouble();
        }
        recorder = new WindowRecorder(ReferenceProfile.parse(ProfileBuilder.build(cols, ref, null, scores), "jmh"),
                1, 0);
        data = new float[64 * WIDTH];
        for (int i = 0; i < data.length; i++) {
            data[i] = i % WIDTH < NUMERIC ? (float) r.nextDouble() : r.nextInt(4);
        }
        view = new WindowRecorder.Rows() {
            @Override
            public float value(int row, int column) {
                return data[row * WIDTH + column];
            }

            @Override
            public float score(int row) {
                return data[row * WIDTH];
            }
        };
    }

    @Benchmark
    @BenchmarkMode(Mode.AverageTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public void record() {
        recorder.record(view, rows, 0);
        recorded += rows;
        if (recorded >= 100_000) {
            recorder.close(0);
            recorded = 0;
        }
    }
}
