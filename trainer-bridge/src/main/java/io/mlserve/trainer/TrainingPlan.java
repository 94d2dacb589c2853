package io.mlserve.trainer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;

/**
 * One validated training run: what to fit, on which data, under which name, with a configured trainer. Built
 * from the command line ({@link TrainMain}) or from a job request ({@link TrainerJobs}); everything that can be
 * refused is refused here, with an {@link IllegalArgumentException} naming the field, before Spark starts.
 */
public record TrainingPlan(ChurnTrainer.Algorithm algorithm, Path data, String model, ChurnTrainer trainer) {
    private static final Pattern MODEL_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

    /**
     * @param algorithm "lr", "gbt" or "mlp"
     * @param grid      the search grid, or null for the algorithm's default
     * @param balance   mlp: "weights" or "smote"
     */
    public static TrainingPlan of(String algorithm, Path data, String model, String master, double holdout, int trees,
                                  int depth, double gateMargin, double threshold, String grid, int epochs,
                                  String balance) {
        ChurnTrainer.Algorithm a = switch (algorithm) {
            case "lr" -> ChurnTrainer.Algorithm.LOGISTIC_REGRESSION;
            case "gbt" -> ChurnTrainer.Algorithm.GRADIENT_BOOSTED_TREES;
            case "mlp" -> ChurnTrainer.Algorithm.MLP;
            default -> throw new IllegalArgumentException("algorithm must be lr, gbt or mlp, got '" + algorithm + "'");
        };
        if (model == null || !MODEL_NAME.matcher(model).matches()) {
            throw new IllegalArgumentException("model name must be 1-128 letters, digits, '.', '_' or '-' (not "
                    + "starting with '.', '_' or '-'), got '" + model + "'");
        }
        if (data == null || !Files.isRegularFile(data.resolve("data.parquet"))) {
            throw new IllegalArgumentException("data " + data + ": no data.parquet there (write one with "
                    + "./mlserve datagen --out DIR)");
        }
        ChurnTrainer trainer = new ChurnTrainer(master, holdout, trees, depth).withGateMargin(gateMargin)
                .withThreshold(threshold).withEpochs(epochs).withBalance(switch (balance) {
                    case "weights" -> ChurnTrainer.Balance.WEIGHTS;
                    case "smote" -> ChurnTrainer.Balance.SMOTE;
                    default -> throw new IllegalArgumentException("balance must be weights or smote, got '" + balance
                            + "'");
                });
        if (grid != null) {
            trainer.withGrid(grid);
        }
        trainer.checkGrid(a);
        return new TrainingPlan(a, data, model, trainer);
    }

    public ChurnTrainer.Result run(Path registry) throws Exception {
        return trainer.train(algorithm, data, model, registry);
    }
}
