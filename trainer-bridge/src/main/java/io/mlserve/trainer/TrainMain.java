package io.mlserve.trainer;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code mlserve train}: one training run; runs in its own JVM with the trainer's classpath. */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train a binary classifier over a feature view with Spark MLlib, export it to ONNX with its "
                + "preprocessing, check it against Spark, gate it against the champion, and publish the next version "
                + "into a model repository. The features, their types, vocabularies and defaults come from the view "
                + "(--config/--view); the rows from --data: a directory with data.parquet or data.csv (the entity key, "
                + "event_time in epoch ms, the view's features, the label), or a server's training log "
                + "(<data_dir>/training-log/<model>: the rows it served, joined with their outcomes).")
public final class TrainMain implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--data", required = true, description = "Directory with data.parquet or data.csv, or a "
            + "training log directory (date=YYYY-MM-DD partitions).")
    Path data;

    @Option(names = "--config", required = true, description = "Server config file whose feature_views define the "
            + "model's inputs (YAML or JSON, as ./mlserve serve --config reads it).")
    Path config;

    @Option(names = "--view", description = "The feature view the model binds (default: the config's only view).")
    String view;

    @Option(names = "--label", defaultValue = TrainingSchema.DEFAULT_LABEL, description = "The label column: 0 or 1 "
            + "(default: ${DEFAULT-VALUE}; a training log's is always label).")
    String label;

    @Option(names = "--model", required = true, description = "Model name (the registry's directory).")
    String model;

    @Option(names = "--from", description = "Only rows with event time at or after this (yyyy-mm-dd UTC, or epoch "
            + "ms).")
    String from;

    @Option(names = "--to", description = "Only rows with event time before this (yyyy-mm-dd UTC, or epoch ms).")
    String to;

    @Option(names = "--window-days", defaultValue = "0", description = "Training log: the last N days of it (before "
            + "--to, or before its newest row); 0 = all.")
    int windowDays;

    @Option(names = "--bins", defaultValue = "" + ModelTrainer.DEFAULT_BINS, description = "lr: cut every numeric "
            + "feature at this many training quantiles, one-hot over the bins; 0 = none (default: ${DEFAULT-VALUE}).")
    int bins;

    @Option(names = "--champion", defaultValue = "0", description = "The serving champion's version the quality gate "
            + "compares with; 0 = the highest published version (default: ${DEFAULT-VALUE}).")
    long champion;

    @Option(names = "--registry", required = true, description = "Model repository to publish into (with "
            + "--mlflow-uri: the trainer's working copy).")
    Path registry;

    @CommandLine.Mixin
    MlflowFlags mlflow;

    @Option(names = "--spark-master", defaultValue = "local[*]", description = "Spark master (default: ${DEFAULT-VALUE}).")
    String master;

    @Option(names = "--holdout", defaultValue = "" + ModelTrainer.DEFAULT_HOLDOUT, description = "Share of the time range held out (default: ${DEFAULT-VALUE}).")
    double holdout;

    @Option(names = "--algorithm", defaultValue = "lr", description = "lr (logistic regression), gbt "
            + "(gradient-boosted trees) or mlp (a DJL/PyTorch multilayer perceptron) (default: ${DEFAULT-VALUE}).")
    String algorithm;

    @Option(names = "--gate-margin", defaultValue = "" + ModelTrainer.DEFAULT_GATE_MARGIN, description = "Publish only if the candidate's "
            + "holdout AUC >= the current champion's minus this (default: ${DEFAULT-VALUE}).")
    double gateMargin;

    @Option(names = "--threshold", description = "The version's operating threshold as given (P(1) >= it is "
            + "positive), instead of one chosen on the holdout: by default the most accurate there.")
    Double threshold;

    @Option(names = "--cost-ratio", description = "Choose the operating threshold on the holdout for the least "
            + "expected cost when a false negative costs this many false positives (not with --threshold).")
    Double costRatio;

    @Option(names = "--grid", description = "Hyperparameter grid, name=v1,v2;name2=... with Spark's parameter "
            + "names (e.g. regParam=0.0001,0.01 or maxDepth=3,5;stepSize=0.1,0.2); searched on the last 20 %% of the "
            + "training time range, the best refitted on all of it. \"\" = no search. Default: lr regParam=0.0001,0.01; "
            + "gbt none.")
    String grid;

    @Option(names = "--trees", defaultValue = "" + ModelTrainer.DEFAULT_TREES, description = "gbt: boosting iterations (default: ${DEFAULT-VALUE}).")
    int trees;

    @Option(names = "--depth", defaultValue = "" + ModelTrainer.DEFAULT_DEPTH, description = "gbt: tree depth (default: ${DEFAULT-VALUE}).")
    int depth;

    @Option(names = "--epochs", defaultValue = "" + ModelTrainer.DEFAULT_EPOCHS, description = "mlp: passes over the "
            + "training split (default: ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--balance", defaultValue = "weights", description = "mlp: class imbalance on the training split, "
            + "weights (in the loss) or smote (oversampling) (default: ${DEFAULT-VALUE}).")
    String balance;

    /** yyyy-mm-dd (UTC midnight) or epoch ms. */
    static long time(String option, String value) {
        try {
            return value.matches("\\d{4}-\\d{2}-\\d{2}") ? java.time.LocalDate.parse(value)
                    .atStartOfDay(java.time.ZoneOffset.UTC).toInstant().toEpochMilli() : Long.parseLong(value);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(option + ": expected yyyy-mm-dd or epoch ms, got '" + value + "'");
        }
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new TrainMain()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        long t0 = System.nanoTime();
        TrainingPlan plan;
        try {
            TrainingSchema schema = TrainingSchema.fromConfig(config, view, label);
            long toMs = to == null ? 0 : time("--to", to);
            long fromMs = from == null ? 0 : time("--from", from);
            if (windowDays < 0) {
                throw new IllegalArgumentException("--window-days must be >= 0, got " + windowDays);
            }
            if (windowDays > 0) {
                if (from != null) {
                    throw new IllegalArgumentException("give --from or --window-days, not both");
                }
                long end = toMs > 0 ? toMs : TrainingData.newestLogged(data);
                fromMs = end - windowDays * 86_400_000L;
            }
            plan = TrainingPlan.of(schema, TrainingData.source(data, fromMs, toMs), model, new TrainingPlan.Settings(
                    algorithm, master, holdout, trees, depth, gateMargin, threshold, grid, epochs, balance, bins,
                    champion, costRatio)).publishingTo(mlflow.publication());
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        ModelTrainer.Result r;
        try {
            r = plan.run(registry);
        } catch (IllegalArgumentException e) {
            // the data or the view: the user's to fix, in one line
            spec.commandLine().getErr().println("mlserve train: " + e.getMessage());
            return 2;
        } catch (java.io.IOException e) {
            // the registry (MLflow unreachable, a refused publication): one line, the version not served
            spec.commandLine().getErr().println("mlserve train: " + e.getMessage());
            return 1;
        }
        if (!r.published()) {
            System.out.printf(Locale.ROOT, "rejected by the quality gate: candidate AUC %.4f < champion %.4f - %.4f "
                    + "(recorded in %s); nothing published%n", r.candidateAuc(), r.championAuc(), gateMargin,
                    registry.resolve(model).resolve("training-log.jsonl"));
            return 3;
        }
        System.out.printf(Locale.ROOT, "published %s version %d (%s): holdout AUC %.4f on %d rows (trained on %d), "
                        + "log-loss %.4f, at P >= %.4f (%s) accuracy %.4f precision %.4f recall %.4f; "
                        + "ONNX Runtime vs the trainer max |delta| %.2e; data %s%s; %.1f s%n", model, r.version(),
                r.versionDir(), r.holdoutAuc(), r.holdoutRows(), r.trainRows(), r.metrics().logLoss(),
                r.metrics().threshold(), r.metrics().thresholdRule(), r.metrics().accuracy(),
                r.metrics().precision(), r.metrics().recall(), r.maxAbsDelta(), r.data(), r.skew().checked() == 0 ? "" : String.format(Locale.ROOT,
                        "; skew: %d of %d logged rows differ from the served score by more than 1e-4",
                        r.skew().rows(), r.skew().checked()), (System.nanoTime() - t0) / 1e9);
        return 0;
    }
}
