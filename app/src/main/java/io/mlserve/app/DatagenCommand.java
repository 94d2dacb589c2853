package io.mlserve.app;

import io.mlserve.datagen.ChurnDataGenerator;
import io.mlserve.datagen.KafkaReplay;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code mlserve datagen}: synthetic churn data with known drift (see {@link ChurnDataGenerator}). */
@Command(name = "datagen", mixinStandardHelpOptions = true,
        description = "Write synthetic churn data: DIR/data.csv, DIR/data.parquet, DIR/manifest.json (drift "
                + "ground truth) and DIR/mlserve.yaml (its feature view, label column churned); or replay it to Kafka. "
                + "Deterministic by seed.")
public final class DatagenCommand implements Callable<Integer> {
    @Option(names = "--rows", defaultValue = "1000000", description = "Customer-event records (default: ${DEFAULT-VALUE}).")
    long rows;

    @Option(names = "--years", defaultValue = "3", description = "Years covered, from 2022-01-01 (default: ${DEFAULT-VALUE}).")
    int years;

    @Option(names = "--seed", defaultValue = "42", description = "Seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--out", description = "Output directory for data.csv, data.parquet and manifest.json.")
    Path out;

    @Option(names = "--dataset", defaultValue = "churn", description = "churn (the paper's 47 features, three drifts) or "
            + "devices (another domain for bringing your own model: device readings, int64 key device_id, label "
            + "failed, a concept drift at --drift-at; writes data.csv and mlserve.yaml) (default: ${DEFAULT-VALUE}).")
    String dataset;

    @Option(names = "--days", defaultValue = "120", description = "devices: days covered, from 2024-01-01 (default: "
            + "${DEFAULT-VALUE}).")
    int days;

    @Option(names = "--devices", defaultValue = "400", description = "devices: how many report, each about once a "
            + "day (default: ${DEFAULT-VALUE}).")
    int devices;

    @Option(names = "--drift-at", defaultValue = "0.625", description = "devices: where in the span the concept drift "
            + "starts, 0..1 (>= 1: none) (default: ${DEFAULT-VALUE}).")
    double driftAt;

    @Option(names = "--kafka", description = "Instead (or as well): replay to these Kafka brokers on a simulated "
            + "clock — features as mlserve.v1.FeatureUpdate, labels as mlserve.v1.Outcome after the outcome delay.")
    String kafka;

    @Option(names = "--features-topic", defaultValue = "mlserve.features", description = "Default: ${DEFAULT-VALUE}.")
    String featuresTopic;

    @Option(names = "--outcomes-topic", defaultValue = "mlserve.outcomes", description = "Default: ${DEFAULT-VALUE}.")
    String outcomesTopic;

    @Option(names = "--view", defaultValue = "customer", description = "Feature view named in the updates "
            + "(default: ${DEFAULT-VALUE}).")
    String view;

    @Option(names = "--rate", defaultValue = "1000", description = "Records per second of wall time; 0 = as fast "
            + "as possible (default: ${DEFAULT-VALUE}).")
    double rate;

    @Option(names = "--outcome-delay-days", defaultValue = "90", description = "Simulated days until a label is "
            + "known (default: ${DEFAULT-VALUE}).")
    int outcomeDelayDays;

    @Override
    public Integer call() throws Exception {
        if (dataset.equals("devices")) {
            if (out == null || kafka != null) {
                throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
                        "--dataset devices writes files only: give --out DIR");
            }
            io.mlserve.datagen.DeviceDataGenerator g = new io.mlserve.datagen.DeviceDataGenerator(
                    new io.mlserve.datagen.DeviceDataGenerator.Options(days, devices, driftAt, seed));
            long n = g.generate(out);
            System.out.printf(Locale.ROOT, "wrote %d rows to %s (data.csv, mlserve.yaml: view device, label %s)%s%n",
                    n, out, io.mlserve.datagen.DeviceDataGenerator.LABEL, g.driftMs() == Long.MAX_VALUE ? ""
                            : "; concept drift from " + java.time.Instant.ofEpochMilli(g.driftMs()));
            return 0;
        }
        if (!dataset.equals("churn")) {
            throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
                    "--dataset must be churn or devices, got '" + dataset + "'");
        }
        if (out == null && kafka == null) {
            throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
                    "give --out DIR, --kafka HOST:PORT, or both");
        }
        if (kafka != null) {
            KafkaReplay.Summary s = KafkaReplay.replay(new ChurnDataGenerator(
                    new ChurnDataGenerator.Options(rows, years, seed)), new KafkaReplay.Options(kafka, featuresTopic,
                    outcomesTopic, view, rate, outcomeDelayDays * 86_400_000L));
            System.out.printf(Locale.ROOT, "replayed %d feature updates to %s and %d outcomes to %s in %.1f s%n",
                    s.features(), featuresTopic, s.outcomes(), outcomesTopic, s.seconds());
            if (out == null) {
                return 0;
            }
        }
        long t0 = System.nanoTime();
        ChurnDataGenerator.Manifest m = new ChurnDataGenerator(new ChurnDataGenerator.Options(rows, years, seed))
                .generate(out);
        System.out.printf(Locale.ROOT, "wrote %d rows to %s (data.csv, data.parquet, manifest.json, mlserve.yaml) in %.1f s; "
                        + "churn rate %.3f; drifts: %s%n", m.rows(), out, (System.nanoTime() - t0) / 1e9, m.positiveRate(),
                m.drifts().stream().map(d -> d.kind()).toList());
        return 0;
    }
}
