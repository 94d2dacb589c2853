package io.mlserve.server.cli;

import io.mlserve.datagen.ChurnDataGenerator;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code mlserve datagen}: synthetic churn data with known drift (see {@link ChurnDataGenerator}). */
@Command(name = "datagen", mixinStandardHelpOptions = true,
        description = "Write synthetic churn data: DIR/data.csv, DIR/data.parquet and DIR/manifest.json (drift "
                + "ground truth). Deterministic by seed.")
public final class DatagenCommand implements Callable<Integer> {
    @Option(names = "--rows", defaultValue = "1000000", description = "Customer-event records (default: ${DEFAULT-VALUE}).")
    long rows;

    @Option(names = "--years", defaultValue = "3", description = "Years covered, from 2022-01-01 (default: ${DEFAULT-VALUE}).")
    int years;

    @Option(names = "--seed", defaultValue = "42", description = "Seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--out", required = true, description = "Output directory.")
    Path out;

    @Override
    public Integer call() throws Exception {
        long t0 = System.nanoTime();
        ChurnDataGenerator.Manifest m = new ChurnDataGenerator(new ChurnDataGenerator.Options(rows, years, seed))
                .generate(out);
        System.out.printf(Locale.ROOT, "wrote %d rows to %s (data.csv, data.parquet, manifest.json) in %.1f s; "
                        + "churn rate %.3f; drifts: %s%n", m.rows(), out, (System.nanoTime() - t0) / 1e9, m.positiveRate(),
                m.drifts().stream().map(d -> d.kind()).toList());
        return 0;
    }
}
