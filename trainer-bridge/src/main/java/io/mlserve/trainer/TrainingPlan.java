package io.mlserve.trainer;

import java.nio.file.Path;
import java.util.regex.Pattern;

/**
 * One validated training run: what to fit, on which rows read by which schema, under which name, with a configured
 * trainer. Built from the command line ({@link TrainMain}) or from a job request ({@link TrainerJobs}); everything
 * that can be refused is refused here, with an {@link IllegalArgumentException} naming the field, before Spark starts.
 */
public record TrainingPlan(ModelTrainer.Algorithm algorithm, TrainingSchema schema, TrainingData.Source source,
                           String model, ModelTrainer trainer) {
    private static final Pattern MODEL_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

    /**
     * How to train.
     *
     * @param algorithm "lr", "gbt" or "mlp"
     * @param grid      the search grid, or null for the algorithm's default
     * @param balance   mlp: "weights" or "smote"
     * @param bins      lr: quantile bins per numeric feature (0 = none)
     * @param champion  the serving champion's version for the gate; 0 = the highest published
     * @param threshold the operating threshold as given, or null: chosen on the holdout
     * @param costRatio null: the threshold chosen is the most accurate; else the least expected cost when a false
     *                  negative costs this many false positives
     */
    public record Settings(String algorithm, String master, double holdout, int trees, int depth, double gateMargin,
                           Double threshold, String grid, int epochs, String balance, int bins, long champion,
                           Double costRatio) {
        /** The defaults of {@code ./mlserve train}. */
        public static Settings defaults(String master) {
            return new Settings("lr", master, ModelTrainer.DEFAULT_HOLDOUT, ModelTrainer.DEFAULT_TREES,
                    ModelTrainer.DEFAULT_DEPTH, ModelTrainer.DEFAULT_GATE_MARGIN, null, null,
                    ModelTrainer.DEFAULT_EPOCHS, "weights", ModelTrainer.DEFAULT_BINS, 0, null);
        }
    }

    public static TrainingPlan of(TrainingSchema schema, TrainingData.Source source, String model, Settings s) {
        ModelTrainer.Algorithm a = switch (s.algorithm()) {
            case "lr" -> ModelTrainer.Algorithm.LOGISTIC_REGRESSION;
            case "gbt" -> ModelTrainer.Algorithm.GRADIENT_BOOSTED_TREES;
            case "mlp" -> ModelTrainer.Algorithm.MLP;
            default -> throw new IllegalArgumentException("algorithm must be lr, gbt or mlp, got '" + s.algorithm()
                    + "'");
        };
        if (model == null || !MODEL_NAME.matcher(model).matches()) {
            throw new IllegalArgumentException("model name must be 1-128 letters, digits, '.', '_' or '-' (not "
                    + "starting with '.', '_' or '-'), got '" + model + "'");
        }
        if (s.threshold() != null && s.costRatio() != null) {
            throw new IllegalArgumentException("give a threshold or a cost ratio, not both: a given threshold is used "
                    + "as it is, a cost ratio chooses one");
        }
        ModelTrainer trainer = new ModelTrainer(s.master(), s.holdout(), s.trees(), s.depth())
                .withGateMargin(s.gateMargin()).withEpochs(s.epochs())
                .withBins(s.bins()).withChampion(s.champion()).withBalance(switch (s.balance()) {
                    case "weights" -> ModelTrainer.Balance.WEIGHTS;
                    case "smote" -> ModelTrainer.Balance.SMOTE;
                    default -> throw new IllegalArgumentException("balance must be weights or smote, got '"
                            + s.balance() + "'");
                });
        if (s.threshold() != null) {
            trainer.withThreshold(s.threshold());
        }
        if (s.costRatio() != null) {
            trainer.withCostRatio(s.costRatio());
        }
        if (s.grid() != null) {
            trainer.withGrid(s.grid());
        }
        trainer.checkGrid(a);
        return new TrainingPlan(a, schema, source, model, trainer);
    }

    /** Publishes through {@code p} as well as into the registry directory (see {@link MlflowPublication}). */
    public TrainingPlan publishingTo(Publication p) {
        trainer.withPublication(p);
        return this;
    }

    public ModelTrainer.Result run(Path registry) throws Exception {
        return trainer.train(algorithm, schema, source, model, registry);
    }
}
