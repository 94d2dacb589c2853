package io.mlserve.trainer;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code mlserve train}: one training run; runs in its own JVM with the trainer's classpath. */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train the churn model with Spark MLlib on a datagen directory, export it to ONNX with its "
                + "preprocessing, check it against Spark, and publish the next version into a model repository.")
public final class TrainMain implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--data", required = true, description = "Directory with data.parquet (./mlserve datagen --out).")
    Path data;

    @Option(names = "--model", defaultValue = "churn", description = "Model name (default: ${DEFAULT-VALUE}).")
    String model;

    @Option(names = "--registry", required = true, description = "Model repository to publish into.")
    Path registry;

    @Option(names = "--spark-master", defaultValue = "local[*]", description = "Spark master (default: ${DEFAULT-VALUE}).")
    String master;

    @Option(names = "--holdout", defaultValue = "" + ChurnTrainer.DEFAULT_HOLDOUT, description = "Share of the time range held out (default: ${DEFAULT-VALUE}).")
    double holdout;

    @Option(names = "--algorithm", defaultValue = "lr", description = "lr (logistic regression), gbt "
            + "(gradient-boosted trees) or mlp (a DJL/PyTorch multilayer perceptron) (default: ${DEFAULT-VALUE}).")
    String algorithm;

    @Option(names = "--gate-margin", defaultValue = "" + ChurnTrainer.DEFAULT_GATE_MARGIN, description = "Publish only if the candidate's "
            + "holdout AUC >= the current champion's minus this (default: ${DEFAULT-VALUE}).")
    double gateMargin;

    @Option(names = "--threshold", defaultValue = "" + ChurnTrainer.DEFAULT_THRESHOLD, description = "Decision threshold for accuracy, "
            + "precision and recall (default: ${DEFAULT-VALUE}).")
    double threshold;

    @Option(names = "--grid", description = "Hyperparameter grid, name=v1,v2;name2=... with Spark's parameter "
            + "names (e.g. regParam=0.0001,0.01 or maxDepth=3,5;stepSize=0.1,0.2); searched on the last 20 %% of the "
            + "training time range, the best refitted on all of it. \"\" = no search. Default: lr regParam=0.0001,0.01; "
            + "gbt none.")
    String grid;

    @Option(names = "--trees", defaultValue = "" + ChurnTrainer.DEFAULT_TREES, description = "gbt: boosting iterations (default: ${DEFAULT-VALUE}).")
    int trees;

    @Option(names = "--depth", defaultValue = "" + ChurnTrainer.DEFAULT_DEPTH, description = "gbt: tree depth (default: ${DEFAULT-VALUE}).")
    int depth;

    @Option(names = "--epochs", defaultValue = "" + ChurnTrainer.DEFAULT_EPOCHS, description = "mlp: passes over the "
            + "training split (default: ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--balance", defaultValue = "weights", description = "mlp: class imbalance on the training split, "
            + "weights (in the loss) or smote (oversampling) (default: ${DEFAULT-VALUE}).")
    String balance;

    public static void main(String[] args) {
        System.exit(new CommandLine(new TrainMain()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        long t0 = System.nanoTime();
        TrainingPlan plan;
        try {
            plan = TrainingPlan.of(algorithm, data, model, master, holdout, trees, depth, gateMargin, threshold, grid,
                    epochs, balance);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        ChurnTrainer.Result r = plan.run(registry);
        if (!r.published()) {
            System.out.printf(Locale.ROOT, "rejected by the quality gate: candidate AUC %.4f < champion %.4f - %.4f "
                    + "(recorded in %s); nothing published%n", r.candidateAuc(), r.championAuc(), gateMargin,
                    registry.resolve(model).resolve("training-log.jsonl"));
            return 3;
        }
        System.out.printf(Locale.ROOT, "published %s version %d (%s): holdout AUC %.4f on %d rows (trained on %d), "
                        + "log-loss %.4f, at P >= %.2f accuracy %.4f precision %.4f recall %.4f; "
                        + "ONNX Runtime vs the trainer max |delta| %.2e, %.1f s%n", model, r.version(), r.versionDir(), r.holdoutAuc(),
                r.holdoutRows(), r.trainRows(), r.metrics().logLoss(), r.metrics().threshold(),
                r.metrics().accuracy(), r.metrics().precision(), r.metrics().recall(), r.maxAbsDelta(),
                (System.nanoTime() - t0) / 1e9);
        return 0;
    }
}
