package io.mlserve.bench.jmh;

import io.mlserve.featurecache.FeatureRow;
import io.mlserve.featurecache.FeatureTable;
import io.mlserve.featurecache.FeatureView;
import io.mlserve.examples.ChurnExample;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One 47-feature row read from a persisted table of 1M entities, and one row written, in each write mode (MERGE
 * keeps an event time per feature and merges under the entry lock; REPLACE writes whole rows).
 */
@State(Scope.Benchmark)
@Fork(1)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
public class FeatureReadBenchmark {
    static final int ENTITIES = 1_000_000;

    @Param({"REPLACE", "MERGE"})
    FeatureView.WriteMode writeMode;

    Path dir;
    FeatureTable table;
    String[] keys;
    FeatureRow row;
    double[] values;
    boolean[] present;
    SplittableRandom random;
    long time = 1_800_000_000_000L;

    @Setup(Level.Trial)
    public void fill() throws Exception {
        dir = Files.createTempDirectory("jmh-features");
        FeatureView view = new FeatureView("customer", "customer_id", FeatureView.KeyType.STRING,
                ChurnExample.FEATURES, Duration.ZERO, ENTITIES + 1000L, false, writeMode);
        table = FeatureTable.open(dir, view);
        keys = new String[ENTITIES];
        values = new double[view.size()];
        present = new boolean[view.size()];
        Arrays.fill(present, true);
        for (int i = 0; i < ENTITIES; i++) {
            keys[i] = "c-" + i;
            values[0] = i;
            table.write(keys[i], 1_700_000_000_000L, values, present);
        }
        row = new FeatureRow(view);
        random = new SplittableRandom(7);
    }

    @TearDown(Level.Trial)
    public void close() throws java.io.IOException {
        table.close();
        // ~700 MB per trial: the table goes with the trial
        try (var files = Files.walk(dir)) {
            for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    @Benchmark
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.NANOSECONDS)
    public double read() {
        table.read(keys[random.nextInt(ENTITIES)], 0, row);
        return row.value(0);
    }

    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public FeatureTable.WriteOutcome write() {
        return table.write(keys[random.nextInt(ENTITIES)], time++, values, present);
    }
}
