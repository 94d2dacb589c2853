package io.mlserve.bench;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code bench scenario} (the twelve simulated months, conventional vs the loop, side by side with the paper) and
 * {@code demo} (the same run at a size that takes a few minutes, for a newcomer): see {@link ClosedLoop}.
 */
@Command(name = "scenario", mixinStandardHelpOptions = true,
        description = "The closed loop on a simulated clock: a year of training data, then 12 months replayed "
                + "through the server (conventional v1 vs the loop: drift, retrain with Spark, canary, promotion), "
                + "with the table, the timeline and a chart.")
class ScenarioBench implements Callable<Integer> {
    @Option(names = "--rows", description = "Records over the two years; half are replayed (default: 1,000,000 "
            + "for scenario, the paper's size; 200,000 for demo).")
    Long rows;

    @Option(names = "--full", description = "The paper's 1M records (same as --rows 1000000).")
    boolean full;

    @Option(names = "--seed", defaultValue = "42", description = "Generator seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--label-delay-days", defaultValue = "7", description = "Simulated days until a prediction's "
            + "outcome is reported (default: ${DEFAULT-VALUE}).")
    int labelDelayDays;

    @Option(names = "--train-days", defaultValue = "90", description = "A retrain uses the labelled records of "
            + "this many days of the server's training log before the alert (default: ${DEFAULT-VALUE}).")
    int trainDays;

    @Option(names = "--window", defaultValue = "0", description = "Drift window size in records; 0 = the server's "
            + "default (sequential detection raises the alerts either way) (default: ${DEFAULT-VALUE}).")
    int window;

    @Option(names = "--cooldown-days", defaultValue = "14", description = "Simulated days after a retrain before "
            + "the next may start (default: ${DEFAULT-VALUE}).")
    int cooldownDays;

    @Option(names = "--algorithm", defaultValue = "lr", description = "lr, gbt or mlp (default: ${DEFAULT-VALUE}).")
    String algorithm;

    @Option(names = "--spark-master", defaultValue = "local[*]", description = "Spark master for training "
            + "(default: ${DEFAULT-VALUE}).")
    String sparkMaster;

    @Option(names = "--concurrency", defaultValue = "32", description = "Predict calls in flight "
            + "(default: ${DEFAULT-VALUE}).")
    int concurrency;

    @Option(names = "--work", defaultValue = "data/scenario", description = "Working directory (registry, "
            + "feature store, training slices, logs) (default: ${DEFAULT-VALUE}).")
    Path work;

    @Option(names = "--out", description = "Where to write report.md, chart.png and result.json "
            + "(default: the working directory).")
    Path out;

    /** The demo's defaults: a size that runs in a few minutes on two cores. */
    static final long DEMO_ROWS = 200_000;

    @Override
    public Integer call() throws Exception {
        return run(full || rows == null ? 1_000_000 : rows, System.out);
    }

    int run(long records, PrintStream console) throws Exception {
        ClosedLoop.Options o = new ClosedLoop.Options(records, 2, seed, labelDelayDays, trainDays, window, cooldownDays, algorithm,
                sparkMaster, concurrency, work.toAbsolutePath());
        long t0 = System.nanoTime();
        ClosedLoop run = new ClosedLoop(o, console, System.console() != null).run();
        LoopReport report = new LoopReport(run);
        Path dir = out == null ? o.work() : out;
        Files.createDirectories(dir);
        report.chart(dir.resolve("chart.png"));
        String md = String.format(Locale.ROOT, "%s%n## Timeline (simulated dates)%n%n```%n%s```%n%n## Month by month%n"
                + "%n%s%n## Each version on the records it served%n%n%s", report.table(), report.timeline(),
                report.monthly(), report.perVersion());
        Files.writeString(dir.resolve("report.md"), md);
        Files.writeString(dir.resolve("result.json"), report.json());
        console.printf(Locale.ROOT, "%nTimeline (simulated dates):%n%s%n%s%n", report.timeline(), report.table());
        console.printf(Locale.ROOT, "done in %.1f min: replay %.0f s (of which %.0f s waiting for the trainer); "
                        + "report %s, chart %s%n", (System.nanoTime() - t0) / 60e9, run.replayWallSeconds,
                run.pausedWallSeconds, dir.resolve("report.md"), dir.resolve("chart.png"));
        return 0;
    }

    /** {@code ./mlserve demo}: the scenario at the demo's size unless told otherwise. */
    @Command(name = "loop-demo", hidden = true, mixinStandardHelpOptions = true)
    static final class Demo extends ScenarioBench {
        @Override
        public Integer call() throws Exception {
            System.out.println("mlserve demo: the closed loop on a simulated clock — a year of customer events to "
                    + "train v1, then a year replayed through the server with a price rise (sudden drift) that also "
                    + "turns who churns (concept drift), a rival's launch in one region (concept), a usage shift past "
                    + "a fair-use cap (gradual) and the holiday season; the server detects drift, the trainer "
                    + "retrains on the server's own training log, the new version is canaried and promoted or rolled "
                    + "back. A conventional copy of v1 runs beside it for comparison.\n");
            return run(full ? 1_000_000 : rows == null ? DEMO_ROWS : rows, System.out);
        }
    }
}
