package io.mlserve.app;

import io.mlserve.featurecache.FeatureView;
import io.mlserve.proto.inference.ModelConfig;
import io.mlserve.runtime.SessionConfig;
import io.mlserve.server.batch.BatchScorer;
import io.mlserve.server.config.ServerConfigFile;
import io.mlserve.server.repository.ModelConfigs;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code mlserve score}: batch scoring of a data set with a published version (see {@link BatchScorer}). */
@Command(name = "score", mixinStandardHelpOptions = true,
        description = "Score a whole data set (CSV or Parquet) with a model version from the registry, in process or on "
                + "Spark (--spark-master), with the same feature definitions and ONNX artifact as online serving; writes "
                + "the entity key, event time, score, model and version (CSV, or Parquet when --out ends in .parquet).")
public final class ScoreCommand implements Callable<Integer> {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--data", description = "CSV file or Parquet file/directory (required unless --print-encoding).")
    Path data;

    @Option(names = "--model", required = true, description = "Model name in the registry.")
    String model;

    @Option(names = "--version", defaultValue = "0", description = "Version; 0 = the newest (default: ${DEFAULT-VALUE}).")
    long version;

    @Option(names = "--registry", required = true, description = "Model repository (the directory a server serves).")
    Path registry;

    @Option(names = "--config", required = true, description = "The server config whose feature view the model "
            + "binds (the same definitions online serving uses).")
    Path config;

    @Option(names = "--out", description = "Output file (.csv or .parquet; with --spark-master a directory) (required "
            + "unless --print-encoding).")
    Path out;

    @Option(names = "--batch", defaultValue = "8192", description = "Rows per ONNX Runtime run (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--event-time-column", defaultValue = "event_time", description = "Column copied to the output "
            + "as event_time when the data has it (default: ${DEFAULT-VALUE}).")
    String eventTimeColumn;

    @Option(names = "--spark-master", description = "Score on Spark instead (e.g. local[*], spark://host:7077): the "
            + "trainer's JVM reads the data, encodes it with this view's definitions and writes --out as a directory of "
            + "part files (Parquet, or CSV when --out ends in .csv).")
    String sparkMaster;

    @Option(names = "--print-encoding", description = "Print the encoding JSON a trainer SCORE job needs "
            + "(ScoreSpec.encoding) for this model, version and view, then exit; --data and --out are not used.")
    boolean printEncoding;

    @Option(names = "--intra-op-threads", defaultValue = "0", description = "ONNX Runtime threads; 0 = all cores "
            + "(default: ${DEFAULT-VALUE}).")
    int threads;

    @Override
    public Integer call() throws Exception {
        if (!java.nio.file.Files.isDirectory(registry.resolve(model))) {
            throw new IllegalArgumentException("no model '" + model + "' in " + registry);
        }
        ModelConfig mc = ModelConfigs.read(registry.resolve(model), model);
        String viewName = mc.getFeatures().getView();
        FeatureView view = ServerConfigFile.read(config).featureViews().stream()
                .filter(v -> v.name().equals(viewName)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException(config + " defines no feature view '" + viewName
                        + "' (the view model '" + model + "' binds)"));
        if (printEncoding) {
            System.out.println(BatchScorer.sparkEncoding(registry, model, version, view, eventTimeColumn));
            return 0;
        }
        if (data == null || out == null) {
            throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--data and --out are required "
                    + "(unless --print-encoding)");
        }
        if (sparkMaster != null) {
            java.nio.file.Path enc = java.nio.file.Files.createTempFile("mlserve-encoding", ".json");
            try {
                java.nio.file.Files.writeString(enc, BatchScorer.sparkEncoding(registry, model, version, view,
                        eventTimeColumn));
                Process p = TrainerProcess.start(null, "SparkScorer", "--encoding", enc.toString(), "--data",
                        data.toString(), "--out", out.toString(), "--spark-master", sparkMaster, "--batch",
                        Integer.toString(batch));
                return p.waitFor();
            } finally {
                java.nio.file.Files.deleteIfExists(enc);
            }
        }
        long[] last = {System.nanoTime(), 0};
        long start = System.nanoTime();
        boolean console = System.console() != null;
        BatchScorer.Summary s = BatchScorer.run(new BatchScorer.Options(data, registry, model, version, view, out, batch,
                eventTimeColumn, SessionConfig.DEFAULT.withIntraOpThreads(threads)), rows -> {
                    long now = System.nanoTime();
                    if (now - last[0] > 1_000_000_000L) {
                        last[0] = now;
                        String line = String.format(Locale.ROOT, "scored %,d rows, %,.0f rows/s", rows,
                                rows / ((now - start) / 1e9));
                        System.err.print(console ? "\r" + line : line + "\n");
                    }
                });
        if (console) {
            System.err.println();
        }
        System.out.printf(Locale.ROOT, "scored %,d rows with %s version %d in %.1f s (%,.0f rows/s) -> %s%n", s.rows(),
                model, s.version(), s.seconds(), s.rowsPerSecond(), out);
        return 0;
    }
}
