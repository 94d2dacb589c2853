package io.mlserve.trainer;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.when;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mlserve.runtime.ModelSession;
import io.mlserve.runtime.RunOutputs;
import io.mlserve.runtime.SessionConfig;
import io.mlserve.runtime.TensorBatch;
import io.mlserve.runtime.onnx.Exporters;
import io.mlserve.runtime.onnx.Preprocessing;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import java.util.stream.Stream;
import com.fasterxml.jackson.databind.JsonNode;
import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.PipelineStage;
import org.apache.spark.ml.classification.GBTClassificationModel;
import org.apache.spark.ml.classification.GBTClassifier;
import org.apache.spark.ml.classification.LogisticRegression;
import org.apache.spark.ml.classification.LogisticRegressionModel;
import org.apache.spark.ml.evaluation.BinaryClassificationEvaluator;
import org.apache.spark.ml.feature.Bucketizer;
import org.apache.spark.ml.feature.Imputer;
import org.apache.spark.ml.feature.ImputerModel;
import org.apache.spark.ml.feature.SQLTransformer;
import org.apache.spark.ml.feature.StandardScaler;
import org.apache.spark.ml.feature.StandardScalerModel;
import org.apache.spark.ml.feature.VectorAssembler;
import org.apache.spark.ml.linalg.Vector;
import org.apache.spark.ml.regression.DecisionTreeRegressionModel;
import org.apache.spark.ml.tree.ContinuousSplit;
import org.apache.spark.ml.tree.InternalNode;
import org.apache.spark.ml.tree.Node;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * Trains a binary classifier with Spark MLlib (or DJL for the perceptron) on the rows of a {@link TrainingSchema} —
 * the feature view a model binds, and a named label — exports it to ONNX with its preprocessing (so the server feeds
 * the rows it reads from the feature store, in the binding's order), checks the ONNX model against the trainer's own
 * predictions, gates it against the serving champion, and publishes a new version into a model repository.
 *
 * <p>Features as the model sees them are what the feature store serves: numbers, with the view's default where a
 * value is missing (NaN when the default is {@code nan}: the graph imputes the training mean); categories as their
 * codes (vocabulary index or hash bucket; -1 unknown). Preprocessing: numeric columns imputed and standardised;
 * categorical codes one-hot encoded (unknown = all zeros); for logistic regression every numeric feature also cut at
 * its training quantiles and one-hot encoded over the bins. Class imbalance: positive and negative rows weighted to
 * equal total weight, on the training split only. Holdout: the last {@code holdoutFraction} of the time range. The
 * version's operating threshold is chosen on the holdout ({@link DecisionThreshold}: the most accurate, or the least
 * expected cost for a cost ratio) unless given, and recorded with its rule in metadata.json.
 */
public final class ModelTrainer {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ModelTrainer.class);
    /**
     * What was trained and where it went.
     *
     * @param version      the published version, or 0 when the quality gate refused the candidate
     * @param championAuc  the current champion's AUC on the same holdout rows (NaN when there was none)
     * @param candidateAuc the candidate's AUC on those rows (same computation as championAuc)
     */
    public record Result(long version, Path versionDir, double maxAbsDelta, long trainRows, long holdoutRows,
                         double candidateAuc, double championAuc, boolean published, Metrics metrics, long championVersion,
                         Skew skew, String data) {
        /** Spark's AUC over the whole holdout. */
        public double holdoutAuc() {
            return metrics.auc();
        }
    }

    /**
     * Training-serving skew found by re-scoring logged rows: {@code rows} of {@code checked} differ from the score the
     * server answered by more than {@link #SKEW_TOLERANCE}. Zero checked when the data did not come from the log.
     */
    public record Skew(long checked, long rows, double maxAbsDelta) {
        static final Skew NONE = new Skew(0, 0, 0);
    }

    /**
     * Metrics over the whole holdout from the trainer's probabilities; the class is predicted 1 when P(1) >= threshold,
     * the version's operating threshold, set by {@code thresholdRule} ({@link DecisionThreshold}: chosen on these rows,
     * or given). Precision is NaN when nothing is predicted positive. Log-loss clips P to [1e-15, 1 - 1e-15].
     *
     * @param expectedCost (C·FN + FP) per row at the threshold when the rule is a cost ratio C, else NaN
     */
    public record Metrics(double auc, double logLoss, double accuracy, double precision, double recall,
                          double threshold, String thresholdRule, double expectedCost) {
        ObjectNode toJson(ObjectNode into) {
            into.put("holdout_auc", auc).put("log_loss", logLoss).put("threshold", threshold)
                    .put("threshold_rule", thresholdRule).put("accuracy", accuracy).put("precision", precision)
                    .put("recall", recall);
            return Double.isNaN(expectedCost) ? into : into.put("expected_cost", expectedCost);
        }
    }

    /** The session function turning a bin index into its one-hot vector (bin, bins) → sparse vector. */
    private static final String ONE_HOT = "mlserve_one_hot";

    /** Rows of the holdout both the candidate and the champion are scored on for the quality gate. */
    private static final int GATE_ROWS = 50_000;
    /** A served score and the trainer's re-scoring of the same logged row may differ by this much. */
    static final double SKEW_TOLERANCE = 1e-4;
    /** Logged rows re-scored for the skew figure. */
    private static final int SKEW_ROWS = 2_000;

    /** Defaults shared by {@code ./mlserve train} and the trainer service's jobs. */
    public static final double DEFAULT_HOLDOUT = 0.2;
    public static final int DEFAULT_TREES = 50;
    public static final int DEFAULT_DEPTH = 5;
    public static final double DEFAULT_GATE_MARGIN = 0.005;
    public static final int DEFAULT_EPOCHS = 5;
    /** Logistic regression: each numeric feature cut at this many training quantiles (one-hot over the bins). */
    public static final int DEFAULT_BINS = 5;
    /** The MLP's hidden layers (ReLU). */
    static final int[] MLP_HIDDEN = {64, 32};

    private final String master;
    private final double holdoutFraction;
    private final int gbtTrees;
    private final int gbtDepth;
    private double gateMargin = DEFAULT_GATE_MARGIN;
    private DecisionThreshold.Rule thresholdRule = DecisionThreshold.Rule.maxAccuracy();
    private int epochs = DEFAULT_EPOCHS;
    private int bins = DEFAULT_BINS;
    private long championVersion;
    private Publication publication = Publication.LOCAL;
    private Balance balance = Balance.WEIGHTS;
    private String grid;
    // the run in progress (one at a time per trainer): its schema, and its data range and parameters for metadata.json
    private TrainingSchema schema;
    private TrainingData.Loaded data;
    private ObjectNode lineage;
    /** Seconds per phase of the run in progress (load, fit, export check, gate, skew, profile), for metadata.json. */
    private final java.util.Map<String, Double> timings = new java.util.LinkedHashMap<>();
    private long phaseStart;

    /** Ends the phase in progress under {@code name}. */
    private void phase(String name) {
        long now = System.nanoTime();
        timings.merge(name, (now - phaseStart) / 1e9, Double::sum);
        phaseStart = now;
    }

    public ModelTrainer(String master, double holdoutFraction) {
        this(master, holdoutFraction, DEFAULT_TREES, DEFAULT_DEPTH);
    }

    /** @param gbtTrees boosting iterations and @param gbtDepth tree depth for gradient-boosted trees */
    public ModelTrainer(String master, double holdoutFraction, int gbtTrees, int gbtDepth) {
        if (!(holdoutFraction > 0 && holdoutFraction < 1)) {
            throw new IllegalArgumentException("holdout must be in (0, 1), got " + holdoutFraction);
        }
        if (gbtTrees < 1 || gbtDepth < 1) {
            throw new IllegalArgumentException("trees and depth must be at least 1, got " + gbtTrees + " and "
                    + gbtDepth);
        }
        this.master = master;
        this.holdoutFraction = holdoutFraction;
        this.gbtTrees = gbtTrees;
        this.gbtDepth = gbtDepth;
    }

    /** lr: cut each numeric feature at this many training quantiles, one-hot over the bins; 0 = no bins. */
    public ModelTrainer withBins(int bins) {
        if (bins < 0 || bins == 1 || bins > 100) {
            throw new IllegalArgumentException("bins must be 0 (none) or 2..100, got " + bins);
        }
        this.bins = bins;
        return this;
    }

    /**
     * The serving champion the gate compares with (the rollout's champion, or the served version); 0 = the highest
     * published version.
     */
    public ModelTrainer withChampion(long version) {
        if (version < 0) {
            throw new IllegalArgumentException("champion version must be positive, got " + version);
        }
        this.championVersion = version;
        return this;
    }

    /** Where versions go besides the registry directory, and where the gate's champion comes from. */
    public ModelTrainer withPublication(Publication p) {
        this.publication = p;
        return this;
    }

    /**
     * The quality gate: a candidate is published only if its holdout AUC is at least the serving champion's
     * (scored on the same rows) minus {@code margin}.
     */
    public ModelTrainer withGateMargin(double margin) {
        if (!Double.isFinite(margin)) {
            throw new IllegalArgumentException("gate margin must be a finite number, got " + margin);
        }
        this.gateMargin = margin;
        return this;
    }

    /**
     * The operating threshold as given, instead of one chosen on the holdout (by default the threshold of maximum
     * accuracy there: the classes are weighted equal in training, so 0.5 sits too low for an imbalanced label).
     */
    public ModelTrainer withThreshold(double threshold) {
        this.thresholdRule = DecisionThreshold.Rule.given(threshold);
        return this;
    }

    /**
     * Chooses the operating threshold on the holdout for the least expected cost when a false negative costs
     * {@code ratio} false positives.
     */
    public ModelTrainer withCostRatio(double ratio) {
        this.thresholdRule = DecisionThreshold.Rule.costRatio(ratio);
        return this;
    }

    /** How the MLP meets class imbalance on the training split. */
    public enum Balance { WEIGHTS, SMOTE }

    /** mlp: class weights in the loss (default) or SMOTE-style oversampling. */
    public ModelTrainer withBalance(Balance b) {
        this.balance = b;
        return this;
    }

    /** mlp: passes over the (oversampled) training split. */
    public ModelTrainer withEpochs(int epochs) {
        if (epochs < 1) {
            throw new IllegalArgumentException("epochs must be at least 1, got " + epochs);
        }
        this.epochs = epochs;
        return this;
    }

    /**
     * The hyperparameter grid ({@link SearchGrid} syntax; "" = no search). By default logistic regression
     * searches {@code regParam=0.0001,0.01} and gradient-boosted trees fit the configured trees and depth once.
     */
    public ModelTrainer withGrid(String grid) {
        SearchGrid.parse(grid);
        this.grid = grid;
        return this;
    }

    private SearchGrid grid(Algorithm algorithm) {
        if (grid != null) {
            return SearchGrid.parse(grid);
        }
        return SearchGrid.parse(algorithm == Algorithm.LOGISTIC_REGRESSION ? "regParam=0.0001,0.01" : "");
    }

    /** Fails (IllegalArgumentException) now, before Spark starts, if the grid names what {@code algorithm} lacks. */
    public void checkGrid(Algorithm algorithm) {
        if (algorithm == Algorithm.MLP) {
            if (grid != null && !grid.isBlank()) {
                throw new IllegalArgumentException("mlp has no search grid (use --epochs); got '" + grid + "'");
            }
            return;
        }
        grid(algorithm).paramMaps(algorithm == Algorithm.LOGISTIC_REGRESSION ? new LogisticRegression()
                : new GBTClassifier());
    }

    /** The model families the trainer fits. */
    public enum Algorithm { LOGISTIC_REGRESSION, GRADIENT_BOOSTED_TREES, MLP }

    /** Trains {@code algorithm} on {@code source} read by {@code schema}, verifies the export and publishes. */
    public Result train(Algorithm algorithm, TrainingSchema schema, TrainingData.Source source, String model,
                        Path registry) throws Exception {
        long serving = publication.prepare(model, registry); // before Spark: an unreachable registry fails fast
        if (championVersion == 0 && serving > 0) {
            championVersion = serving;
        }
        SparkSession.Builder builder = SparkSession.builder().appName("mlserve-train").master(master)
                .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4")
                .config("spark.sql.session.timeZone", "UTC");
        if (master.startsWith("local")) {
            // everything stays in this process: bind the driver to loopback, not to the machine's interfaces
            builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1");
        }
        SparkSession spark = builder.getOrCreate();
        try {
            this.schema = schema;
            return run(spark, algorithm, source, model, registry);
        } finally {
            spark.stop();
            if (data != null && data.scratch() != null) {
                deleteTree(data.scratch());
            }
        }
    }

    /** Spark column names of the numeric inputs, in input order. */
    private String[] numericColumns() {
        return java.util.Arrays.stream(schema.numeric()).mapToObj(TrainingSchema::column).toArray(String[]::new);
    }

    /** The one-hot columns of every categorical input's codes, added to the encoded rows. */
    private Dataset<Row> oneHot(Dataset<Row> encoded) {
        Dataset<Row> d = encoded;
        for (int j : schema.categoricalInputs()) {
            for (int k = 0; k < schema.levels(j); k++) {
                d = d.withColumn(TrainingSchema.column(j) + "_is_" + k, when(col(TrainingSchema.column(j))
                        .equalTo((double) k), lit(1.0)).otherwise(lit(0.0)));
            }
        }
        return d;
    }

    private Result run(SparkSession spark, Algorithm algorithm, TrainingData.Source source, String model,
                       Path registry) throws Exception {
        timings.clear();
        phaseStart = System.nanoTime();
        data = TrainingData.load(spark, schema, source);
        phase("load");
        Dataset<Row> all = data.rows();
        double cut = all.stat().approxQuantile("event_time", new double[] {1 - holdoutFraction}, 0.001)[0];
        Dataset<Row> train = all.filter(col("event_time").lt(cut));
        Dataset<Row> holdout = all.filter(col("event_time").geq(cut));
        Row range = all.agg(org.apache.spark.sql.functions.min("event_time"), org.apache.spark.sql.functions.max("event_time"))
                .head();
        lineage = new ObjectMapper().createObjectNode();
        lineage.putObject("range").put("event_time_from_ms", range.getLong(0)).put("holdout_from_ms", (long) cut)
                .put("event_time_to_ms", range.getLong(1))
                .put("event_time_from", Instant.ofEpochMilli(range.getLong(0)).toString())
                .put("holdout_from", Instant.ofEpochMilli((long) cut).toString())
                .put("event_time_to", Instant.ofEpochMilli(range.getLong(1)).toString());
        ObjectNode params = lineage.putObject("parameters").put("holdout_fraction", holdoutFraction)
                .put("threshold_rule", thresholdRule.kind());
        switch (thresholdRule.kind()) {
            case DecisionThreshold.Rule.GIVEN -> params.put("threshold", thresholdRule.value());
            case DecisionThreshold.Rule.COST_RATIO -> params.put("cost_ratio", thresholdRule.value());
            default -> { }
        }
        params.put("gate_margin", gateMargin).put("grid", grid(algorithm).toString()).put("spark_master", master);
        switch (algorithm) {
            case LOGISTIC_REGRESSION -> params.put("max_iter", 100).put("class_weights", "balanced").put("bins", bins);
            case GRADIENT_BOOSTED_TREES -> params.put("trees", gbtTrees).put("depth", gbtDepth).put("step", 0.1)
                    .put("class_weights", "balanced");
            case MLP -> params.put("epochs", epochs).put("balance", balance.name().toLowerCase(java.util.Locale.ROOT));
        }
        long trainRows = train.count();
        long holdoutRows = holdout.count();
        if (trainRows == 0 || holdoutRows == 0) {
            throw new IllegalArgumentException(data.describe() + ": the rows span too short a time to hold out the "
                    + "last " + Math.round(holdoutFraction * 100) + " % of it");
        }
        long trainPositives = train.filter(col("label").equalTo(1.0)).count();
        if (trainPositives == 0 || trainPositives == trainRows) {
            throw new IllegalArgumentException(data.describe() + ": the training split has only label "
                    + (trainPositives == 0 ? "0" : "1") + "; a classifier needs both outcomes");
        }
        double positives = trainPositives / (double) trainRows;
        train = train.withColumn("w", when(col("label").equalTo(1.0), lit(0.5 / positives))
                .otherwise(lit(0.5 / (1 - positives))));

        String[] num = numericColumns();
        String[] imputed = java.util.Arrays.stream(num).map(n -> n + "_imp").toArray(String[]::new);
        if (algorithm == Algorithm.MLP) {
            return mlp(spark, train, holdout, model, registry, trainRows, holdoutRows);
        }
        if (algorithm == Algorithm.GRADIENT_BOOSTED_TREES) {
            return gbt(spark, train, holdout, num, imputed, model, registry, trainRows, holdoutRows);
        }
        train = oneHot(train);
        holdout = oneHot(holdout);
        List<String> design = new ArrayList<>();
        if (num.length > 0) {
            design.add("num_scaled");
        }
        for (int j : schema.categoricalInputs()) {
            for (int k = 0; k < schema.levels(j); k++) {
                design.add(TrainingSchema.column(j) + "_is_" + k);
            }
        }
        // every numeric feature also cut at its training quantiles (after imputation, like every number), one-hot over
        // the bins, so the linear model gets each feature's non-linear shape
        int[] numeric = schema.numeric();
        double[][] edges = bins > 0 && num.length > 0 ? quantileEdges(train, num, bins) : new double[numeric.length][0];
        List<Integer> binned = new ArrayList<>();
        List<String> binInputs = new ArrayList<>();
        List<String> binOutputs = new ArrayList<>();
        List<String> binVectors = new ArrayList<>();
        List<double[]> splits = new ArrayList<>();
        for (int f = 0; f < numeric.length; f++) {
            if (edges[f].length == 0) {
                continue; // one value (or no bins): nothing to cut
            }
            binned.add(f);
            binInputs.add(imputed[f]);
            binOutputs.add(num[f] + "_bin");
            binVectors.add(num[f] + "_bins");
            double[] sp = new double[edges[f].length + 2];
            sp[0] = Double.NEGATIVE_INFINITY;
            System.arraycopy(edges[f], 0, sp, 1, edges[f].length);
            sp[sp.length - 1] = Double.POSITIVE_INFINITY;
            splits.add(sp);
        }
        // one-hot over the bins as vectors (OneHotEncoder keeps every bin): a few hundred scalar columns would make
        // Spark generate and compile very wide plans for every pass
        design.addAll(binVectors);
        List<PipelineStage> stages = new ArrayList<>();
        if (num.length > 0) {
            stages.add(new Imputer().setInputCols(num).setOutputCols(imputed).setStrategy("mean"));
            stages.add(new VectorAssembler().setInputCols(imputed).setOutputCol("num_vec"));
            stages.add(new StandardScaler().setInputCol("num_vec").setOutputCol("num_scaled").setWithMean(true)
                    .setWithStd(true));
        }
        if (!binned.isEmpty()) {
            stages.add(new Bucketizer().setInputCols(binInputs.toArray(new String[0]))
                    .setOutputCols(binOutputs.toArray(new String[0])).setSplitsArray(splits.toArray(new double[0][])));
            spark.udf().register(ONE_HOT, (org.apache.spark.sql.api.java.UDF2<Double, Integer,
                    org.apache.spark.ml.linalg.Vector>) (bin, size) -> org.apache.spark.ml.linalg.Vectors.sparse(size,
                    new int[] {bin.intValue()}, new double[] {1}), new org.apache.spark.ml.linalg.VectorUDT());
            StringBuilder sql = new StringBuilder("SELECT *");
            for (int b = 0; b < binned.size(); b++) {
                sql.append(", ").append(ONE_HOT).append('(').append(binOutputs.get(b)).append(", ")
                        .append(edges[binned.get(b)].length + 1).append(") AS ").append(binVectors.get(b));
            }
            stages.add(new SQLTransformer().setStatement(sql.append(" FROM __THIS__").toString()));
        }
        stages.add(new VectorAssembler().setInputCols(design.toArray(new String[0])).setOutputCol("features"));
        LogisticRegression lr = new LogisticRegression().setWeightCol("w").setMaxIter(100).setRegParam(1e-4);
        stages.add(lr);
        SearchGrid.Outcome fit = grid(Algorithm.LOGISTIC_REGRESSION).fit(new Pipeline().setStages(
                stages.toArray(new PipelineStage[0])), lr, train, 0.2);
        PipelineModel fitted = fit.model();
        Dataset<Row> scored = fitted.transform(holdout).cache();
        double auc = new BinaryClassificationEvaluator().setLabelCol("label").setRawPredictionCol("rawPrediction")
                .evaluate(scored);
        phase("fit");

        LogisticRegressionModel lm = stage(fitted, LogisticRegressionModel.class);
        List<Preprocessing.Column> cols = new ArrayList<>();
        double[] impute = new double[numeric.length];
        if (num.length > 0) {
            ImputerModel im = stage(fitted, ImputerModel.class);
            StandardScalerModel sm = stage(fitted, StandardScalerModel.class);
            Row surrogate = im.surrogateDF().head();
            for (int f = 0; f < numeric.length; f++) {
                impute[f] = surrogate.getDouble(surrogate.fieldIndex(num[f]));
                double std = sm.std().apply(f);
                // a constant column scales to 0 in Spark; (x - mean) / 1 does the same for the imputed constant
                cols.add(new Preprocessing.Numeric(numeric[f], impute[f], sm.mean().apply(f), std > 0 ? std : 1));
            }
        }
        for (int j : schema.categoricalInputs()) {
            cols.add(new Preprocessing.Categorical(j, schema.levels(j)));
        }
        ObjectNode cuts = new ObjectMapper().createObjectNode();
        for (int f : binned) {
            cols.add(new Preprocessing.Binned(numeric[f], impute[f], edges[f]));
            ArrayNode e = cuts.putArray(schema.names().get(numeric[f]));
            Arrays.stream(edges[f]).forEach(e::add);
        }
        Preprocessing pre = new Preprocessing(schema.width(), cols);
        byte[] onnx = Exporters.logisticRegression(model, pre, lm.coefficients().toArray(), lm.intercept())
                .toByteArray();
        Check check = verify(onnx, scored, "Spark");
        return gateAndPublish(spark, registry, model, "logistic_regression", onnx, auc, check.maxAbsDelta(), trainRows,
                holdoutRows, spark.version(), train, scored, fit.record(),
                (ObjectNode) new ObjectMapper().createObjectNode().set("bins", cuts), check.csv());
    }

    /**
     * Gradient-boosted trees on the imputed numbers and the raw category codes (continuous splits, as Spark
     * makes them on plain columns), exported as an ai.onnx.ml tree ensemble after the same imputation.
     */
    private Result gbt(SparkSession spark, Dataset<Row> train, Dataset<Row> holdout, String[] num, String[] imputed,
                       String model, Path registry, long trainRows, long holdoutRows) throws Exception {
        // the trees see every input in input order: numbers imputed, codes as they are
        int width = schema.width();
        String[] inputs = new String[width];
        int[] numeric = schema.numeric();
        for (int j = 0; j < width; j++) {
            inputs[j] = TrainingSchema.column(j);
        }
        for (int f = 0; f < numeric.length; f++) {
            inputs[numeric[f]] = imputed[f];
        }
        List<PipelineStage> stages = new ArrayList<>();
        if (num.length > 0) {
            stages.add(new Imputer().setInputCols(num).setOutputCols(imputed).setStrategy("mean"));
        }
        stages.add(new VectorAssembler().setInputCols(inputs).setOutputCol("features"));
        GBTClassifier gbt = new GBTClassifier().setWeightCol("w").setMaxIter(gbtTrees).setMaxDepth(gbtDepth)
                .setStepSize(0.1).setSeed(7);
        stages.add(gbt);
        SearchGrid.Outcome fit = grid(Algorithm.GRADIENT_BOOSTED_TREES).fit(
                new Pipeline().setStages(stages.toArray(new PipelineStage[0])), gbt, train, 0.2);
        PipelineModel fitted = fit.model();
        Dataset<Row> scored = fitted.transform(holdout).cache();
        double auc = new BinaryClassificationEvaluator().setLabelCol("label").setRawPredictionCol("rawPrediction")
                .evaluate(scored);
        phase("fit");
        GBTClassificationModel gm = stage(fitted, GBTClassificationModel.class);
        double[] impute = new double[width];
        Arrays.fill(impute, Double.NaN);
        if (num.length > 0) {
            Row surrogate = stage(fitted, ImputerModel.class).surrogateDF().head();
            for (int f = 0; f < numeric.length; f++) {
                impute[numeric[f]] = surrogate.getDouble(surrogate.fieldIndex(num[f]));
            }
        }
        DecisionTreeRegressionModel[] sparkTrees = gm.trees();
        Exporters.Tree[] trees = new Exporters.Tree[sparkTrees.length];
        for (int t = 0; t < trees.length; t++) {
            trees[t] = flatten(sparkTrees[t].rootNode());
        }
        byte[] onnx = Exporters.gradientBoostedTrees(model, width, impute, trees, gm.treeWeights()).toByteArray();
        Check check = verify(onnx, scored, "Spark");
        return gateAndPublish(spark, registry, model, "gradient_boosted_trees", onnx, auc, check.maxAbsDelta(),
                trainRows, holdoutRows, spark.version(), train, scored, fit.record(), null, check.csv());
    }

    /** Spark's tree as flat arrays, root = 0, children numbered in visiting order. */
    private static Exporters.Tree flatten(Node root) {
        List<Node> nodes = new ArrayList<>();
        nodes.add(root);
        for (int i = 0; i < nodes.size(); i++) {
            if (nodes.get(i) instanceof InternalNode in) {
                nodes.add(in.leftChild());
                nodes.add(in.rightChild());
            }
        }
        int n = nodes.size();
        int[] feature = new int[n];
        double[] threshold = new double[n];
        int[] left = new int[n];
        int[] right = new int[n];
        boolean[] leaf = new boolean[n];
        double[] value = new double[n];
        double[] cover = new double[n];
        int next = 1;
        for (int i = 0; i < n; i++) {
            Node node = nodes.get(i);
            // the training rows that reached the node: what TreeSHAP weighs unseen branches by
            cover[i] = node.impurityStats().count();
            if (node instanceof InternalNode in) {
                if (!(in.split() instanceof ContinuousSplit split)) {
                    throw new IllegalStateException("categorical splits are not exported; codes are continuous inputs");
                }
                feature[i] = split.featureIndex();
                threshold[i] = split.threshold();
                left[i] = next++;
                right[i] = next++;
            } else {
                leaf[i] = true;
                value[i] = node.prediction();
            }
        }
        return new Exporters.Tree(feature, threshold, left, right, leaf, value, cover);
    }

    /**
     * Scores candidate and the serving champion on the same holdout rows (the freshest labelled rows) with ONNX
     * Runtime, applies the gate, counts training-serving skew on logged rows, records the decision in
     * {@code <registry>/<model>/training-log.jsonl}, and publishes only a candidate that passes.
     */
    private Result gateAndPublish(SparkSession spark, Path registry, String model, String algorithm, byte[] onnx,
                                  double sparkAuc, double delta, long trainRows, long holdoutRows, String sparkVersion,
                                  Dataset<Row> train, Dataset<Row> scored, ObjectNode search, ObjectNode preprocessing,
                                  String verification)
            throws Exception {
        phase("export_check");
        List<Row> rows = inputsThen(scored, "label", GATE_ROWS);
        double[] labels = new double[rows.size()];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = rows.get(i).getDouble(schema.width());
        }
        Metrics metrics = metrics(scored, sparkAuc, thresholdRule);
        double candidate = auc(score(onnx, rows), labels);
        Path modelDir = registry.resolve(model);
        // with a remote registry the working copy's highest version need not have served: no champion named, none
        long championV = championVersion > 0 ? championVersion : publication.remote() ? 0 : highestVersion(modelDir);
        Path champion = championV > 0 ? modelDir.resolve(Long.toString(championV)).resolve("model.onnx") : null;
        if (championVersion > 0 && !Files.isRegularFile(champion)) {
            throw new IllegalArgumentException("champion version " + championVersion + " of model '" + model
                    + "' is not in " + registry);
        }
        if (champion != null && !Files.isRegularFile(champion)) {
            champion = null;
        }
        // a champion that reads other inputs cannot be scored on these rows: the canary judges the two instead
        String incomparable = champion == null ? null : otherInputs(champion.getParent());
        double championAuc = champion == null || incomparable != null ? Double.NaN
                : auc(score(Files.readAllBytes(champion), rows), labels);
        boolean pass = champion == null || incomparable != null || candidate >= championAuc - gateMargin;
        phase("gate");
        Skew skew = skew(registry, model);
        phase("skew");
        ObjectMapper json = new ObjectMapper();
        ObjectNode log = json.createObjectNode();
        log.put("time", Instant.now().toString()).put("algorithm", algorithm)
                .put("candidate_auc", candidate).put("champion", champion == null ? null : Long.toString(championV))
                .put("champion_auc", champion == null || incomparable != null ? null : championAuc)
                .put("margin", gateMargin).put("rows", rows.size()).put("decision", pass ? "published" : "rejected");
        if (incomparable != null) {
            log.put("not_compared", incomparable);
        }
        Files.createDirectories(modelDir);
        ObjectNode profile = pass ? TrainingProfile.build(schema, train, scored) : null;
        phase("profile");
        long version = pass ? publish(registry, model, algorithm, onnx, metrics, delta, trainRows, holdoutRows,
                sparkVersion, log, search, preprocessing, lineage, profile, verification, skew) : 0;
        LOG.info("model {}: {} in {}", model, pass ? "version " + version + " published" : "rejected by the gate",
                timings.entrySet().stream().map(e -> String.format(java.util.Locale.ROOT, "%s %.1f s", e.getKey(),
                        e.getValue())).collect(java.util.stream.Collectors.joining(", ")));
        if (pass) {
            log.put("version", version);
        }
        Files.writeString(modelDir.resolve("training-log.jsonl"), json.writeValueAsString(log) + "\n",
                StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        return new Result(version, pass ? modelDir.resolve(Long.toString(version)) : null, delta,
                trainRows, holdoutRows, candidate, championAuc, pass, metrics, champion == null ? 0 : championV, skew,
                data.describe());
    }

    /** Why the version in {@code versionDir} cannot be scored on this schema's rows, or null when it can. */
    private String otherInputs(Path versionDir) {
        JsonNode features = readMetadata(versionDir).path("inputs").path("features");
        if (!features.isArray() || features.isEmpty()) {
            return null; // an older version without the record: it was trained on this view
        }
        List<String> names = new ArrayList<>();
        features.forEach(f -> names.add(f.asText()));
        return names.equals(schema.names()) ? null : "the champion reads other inputs (" + String.join(", ", names)
                + ")";
    }

    private static JsonNode readMetadata(Path versionDir) {
        Path meta = versionDir.resolve("metadata.json");
        try {
            return Files.isRegularFile(meta) ? new ObjectMapper().readTree(meta.toFile())
                    : new ObjectMapper().createObjectNode();
        } catch (IOException e) {
            return new ObjectMapper().createObjectNode();
        }
    }

    /**
     * Training-serving skew on the log's rows: up to {@link #SKEW_ROWS} logged rows, each re-scored with the version
     * that served it, its inputs encoded by the trainer — present values as logged, a cell the server filled with the
     * view's default as that version says it encodes a missing value ({@code metadata.json} inputs.missing; the view's
     * default when it says nothing) — against the score the server answered.
     */
    private Skew skew(Path registry, String model) throws Exception {
        if (!(data.source() instanceof TrainingData.Log) || data.served() == null) {
            return Skew.NONE;
        }
        List<String> pick = new ArrayList<>();
        schema.names().forEach(n -> pick.add("`" + n + "`"));
        pick.add("score");
        pick.add("version");
        double share = Math.min(1.0, 2.0 * SKEW_ROWS / Math.max(1, data.logged()));
        List<Row> sample = data.served().sample(false, share, 11).selectExpr(pick.toArray(new String[0]))
                .limit(SKEW_ROWS).collectAsList();
        java.util.Map<String, List<Row>> byVersion = new java.util.TreeMap<>();
        for (Row r : sample) {
            byVersion.computeIfAbsent(r.getString(schema.width() + 1), v -> new ArrayList<>()).add(r);
        }
        int width = schema.width();
        List<TrainingSchema.Cell> cells = schema.cells();
        long checked = 0;
        long differing = 0;
        double worst = 0;
        for (java.util.Map.Entry<String, List<Row>> e : byVersion.entrySet()) {
            Path dir = registry.resolve(model).resolve(e.getKey());
            if (!Files.isRegularFile(dir.resolve("model.onnx"))) {
                continue; // a version no longer in the registry
            }
            JsonNode declared = readMetadata(dir).path("inputs").path("missing");
            float[] missing = new float[width];
            for (int j = 0; j < width; j++) {
                JsonNode m = declared.get(schema.names().get(j));
                missing[j] = m == null ? cells.get(j).missing() : m.isNull() ? Float.NaN : (float) m.asDouble();
            }
            List<Row> rows = e.getValue();
            float[] x = new float[rows.size() * width];
            for (int i = 0; i < rows.size(); i++) {
                Row r = rows.get(i);
                for (int j = 0; j < width; j++) {
                    x[i * width + j] = r.isNullAt(j) ? missing[j] : cells.get(j).encode(r.get(j));
                }
            }
            float[] p = score(Files.readAllBytes(dir.resolve("model.onnx")), x, rows.size());
            for (int i = 0; i < rows.size(); i++) {
                double d = Math.abs(p[i] - ((Number) rows.get(i).get(width)).doubleValue());
                worst = Math.max(worst, d);
                differing += d > SKEW_TOLERANCE ? 1 : 0;
                checked++;
            }
        }
        return new Skew(checked, differing, worst);
    }

    /** The highest numbered version directory, 0 when there is none (or no model directory). */
    private static long highestVersion(Path modelDir) throws IOException {
        if (!Files.isDirectory(modelDir)) {
            return 0;
        }
        try (Stream<Path> s = Files.list(modelDir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.matches("[1-9][0-9]*"))
                    .mapToLong(Long::parseLong).max().orElse(0);
        }
    }

    /** Up to {@code limit} rows: the model's input columns in order, then {@code extra}. */
    private List<Row> inputsThen(Dataset<Row> scored, String extra, int limit) {
        List<Column> cols = new ArrayList<>();
        for (int j = 0; j < schema.width(); j++) {
            cols.add(col(TrainingSchema.column(j)));
        }
        cols.add(col(extra));
        return scored.select(cols.toArray(new Column[0])).limit(limit).collectAsList();
    }

    /** P(1) of each row (the inputs first, as doubles) from an ONNX model. */
    private float[] score(byte[] onnx, List<Row> rows) throws Exception {
        int width = schema.width();
        float[] x = new float[rows.size() * width];
        for (int i = 0; i < rows.size(); i++) {
            for (int j = 0; j < width; j++) {
                x[i * width + j] = (float) rows.get(i).getDouble(j);
            }
        }
        return score(onnx, x, rows.size());
    }

    /** P(1) of {@code n} rows of this schema's width, row-major in {@code x}, from an ONNX model. */
    private float[] score(byte[] onnx, float[] x, int n) throws Exception {
        Path tmp = Files.createTempFile("mlserve-score", ".onnx");
        try {
            Files.write(tmp, onnx);
            try (ModelSession s = ModelSession.open("score", tmp, SessionConfig.DEFAULT)) {
                int width = schema.width();
                TensorBatch batch = new TensorBatch(s.signature());
                long[] shape = batch.shape(0, 2);
                shape[0] = n;
                shape[1] = width;
                ByteBuffer in = batch.buffer(0, n * width * 4);
                for (int i = 0; i < n * width; i++) {
                    in.putFloat(i * 4, x[i]);
                }
                float[] p = new float[n];
                try (RunOutputs out = s.run(batch, null)) {
                    ByteBuffer b = out.bytes(0);
                    for (int i = 0; i < p.length; i++) {
                        p[i] = b.getFloat(i * 4);
                    }
                }
                return p;
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * The holdout's metrics from the trainer's probabilities (every row's P(1) and label brought to the driver, 16
     * bytes a row), at the threshold {@code rule} sets on them.
     */
    private static Metrics metrics(Dataset<Row> scored, double auc, DecisionThreshold.Rule rule) {
        Column p = org.apache.spark.ml.functions.vector_to_array(col("probability"), "float64").getItem(1);
        java.util.stream.DoubleStream.Builder scores = java.util.stream.DoubleStream.builder();
        java.util.stream.DoubleStream.Builder labels = java.util.stream.DoubleStream.builder();
        double loss = 0;
        long n = 0;
        for (java.util.Iterator<Row> it = scored.select(p, col("label")).toLocalIterator(); it.hasNext(); n++) {
            Row r = it.next();
            double prob = r.getDouble(0);
            double y = r.getDouble(1);
            double clipped = Math.min(Math.max(prob, 1e-15), 1 - 1e-15);
            loss -= y * Math.log(clipped) + (1 - y) * Math.log(1 - clipped);
            scores.add(prob);
            labels.add(y);
        }
        DecisionThreshold.Choice c = DecisionThreshold.choose(scores.build().toArray(), labels.build().toArray(), rule);
        return new Metrics(auc, n == 0 ? Double.NaN : loss / n, c.accuracy(), c.precision(), c.recall(), c.threshold(),
                c.rule().toString(), c.expectedCost());
    }

    /** Area under the ROC curve (Mann-Whitney U, ties counted half): the drift module's, which live quality uses too. */
    static double auc(float[] score, double[] label) {
        return io.mlserve.drift.Quality.auc(score, label);
    }

    /**
     * The export check: largest |P_onnx - P_spark| over up to 2000 holdout rows, and those rows with Spark's
     * probability as CSV (header: the input columns, then {@code spark_probability}) — published beside the
     * model as {@code verification.csv} so anyone can replay them against a server.
     */
    record Check(double maxAbsDelta, String csv) {
    }

    /** The largest allowed |ONNX Runtime − trainer| probability difference on the verification rows. */
    static final double MAX_EXPORT_DELTA = 1e-4;

    /**
     * Scores up to 2,000 holdout rows with the exported graph in ONNX Runtime and compares with the trainer's own
     * probabilities ({@code scored.probability}); fails the job, before anything is published, beyond
     * {@link #MAX_EXPORT_DELTA}.
     */
    private Check verify(byte[] onnx, Dataset<Row> scored, String trainer) throws Exception {
        Check check = compare(onnx, scored);
        if (check.maxAbsDelta() > MAX_EXPORT_DELTA) {
            throw new IllegalStateException("the ONNX export differs from " + trainer + " by " + check.maxAbsDelta()
                    + " on the holdout (allowed " + MAX_EXPORT_DELTA + "); nothing published");
        }
        return check;
    }

    private Check compare(byte[] onnx, Dataset<Row> scored) throws Exception {
        List<Row> rows = inputsThen(scored, "probability", 2000);
        float[] onnxP = score(onnx, rows);
        int width = schema.width();
        StringBuilder csv = new StringBuilder();
        schema.names().forEach(n -> csv.append(n).append(','));
        csv.append("spark_probability\n");
        double worst = 0;
        for (int i = 0; i < rows.size(); i++) {
            double spark = ((Vector) rows.get(i).get(width)).apply(1);
            worst = Math.max(worst, Math.abs(spark - onnxP[i]));
            for (int j = 0; j < width; j++) {
                csv.append((float) rows.get(i).getDouble(j)).append(',');
            }
            csv.append(spark).append('\n');
        }
        return new Check(worst, csv.toString());
    }

    /**
     * A multilayer perceptron trained with DJL (PyTorch engine) on the design matrix of the same preprocessing the
     * graph computes — mean imputation and standardisation fitted on the training split, one-hot codes — with
     * the positive class oversampled SMOTE-style on the training split only; exported as Gemm/Relu layers after
     * that preprocessing, and checked against DJL's own probabilities.
     */
    private Result mlp(SparkSession spark, Dataset<Row> train, Dataset<Row> holdout, String model, Path registry,
                       long trainRows, long holdoutRows) throws Exception {
        int width = schema.width();
        int[] numericInputs = schema.numeric();
        float[][] tr = rows(train, width);
        float[] raw = tr[0];
        int n = tr[1].length;
        List<Preprocessing.Column> cols = new ArrayList<>();
        for (int j : numericInputs) {
            double sum = 0;
            long count = 0;
            for (int i = 0; i < n; i++) {
                float v = raw[i * width + j];
                if (!Float.isNaN(v)) {
                    sum += v;
                    count++;
                }
            }
            double mean = count == 0 ? 0 : sum / count;
            double squares = 0;
            for (int i = 0; i < n; i++) {
                float v = raw[i * width + j];
                double d = (Float.isNaN(v) ? mean : v) - mean;
                squares += d * d;
            }
            double std = Math.sqrt(squares / Math.max(1, n - 1));
            cols.add(new Preprocessing.Numeric(j, mean, mean, std > 0 ? std : 1));
        }
        for (int j : schema.categoricalInputs()) {
            cols.add(new Preprocessing.Categorical(j, schema.levels(j)));
        }
        Preprocessing pre = new Preprocessing(width, cols);
        int d = pre.outputWidth();
        float[] design = design(pre, raw, n, width);
        float[] labels = tr[1];
        float[] rowWeights;
        if (balance == Balance.SMOTE) {
            float[][] balanced = MlpTrainer.smote(design, labels, d, numericInputs.length, 5, 256, 11);
            design = balanced[0];
            labels = balanced[1];
            rowWeights = new float[labels.length];
            Arrays.fill(rowWeights, 1f);
        } else {
            rowWeights = new float[labels.length];
            double positives = 0;
            for (float v : labels) {
                positives += v;
            }
            double share = positives / labels.length;
            for (int i = 0; i < labels.length; i++) {
                rowWeights[i] = (float) (labels[i] == 1 ? 0.5 / share : 0.5 / (1 - share));
            }
        }
        float[][] ho = rows(holdout, width);
        int m = ho[1].length;
        MlpTrainer.Fitted f = MlpTrainer.fit(design, labels, rowWeights, d, design(pre, ho[0], m, width), MLP_HIDDEN,
                epochs, 256, 1e-3f, 7);
        byte[] onnx = Exporters.mlp(model, pre, f.weights(), f.biases()).toByteArray();

        List<org.apache.spark.sql.types.StructField> fields = new ArrayList<>();
        for (int j = 0; j < width; j++) {
            fields.add(org.apache.spark.sql.types.DataTypes.createStructField(TrainingSchema.column(j),
                    org.apache.spark.sql.types.DataTypes.DoubleType, false));
        }
        fields.add(org.apache.spark.sql.types.DataTypes.createStructField("label",
                org.apache.spark.sql.types.DataTypes.DoubleType, false));
        fields.add(org.apache.spark.sql.types.DataTypes.createStructField("probability",
                new org.apache.spark.ml.linalg.VectorUDT(), false));
        List<Row> out = new ArrayList<>(m);
        for (int i = 0; i < m; i++) {
            Object[] values = new Object[width + 2];
            for (int j = 0; j < width; j++) {
                values[j] = (double) ho[0][i * width + j];
            }
            values[width] = (double) ho[1][i];
            double p = f.scores()[i];
            values[width + 1] = org.apache.spark.ml.linalg.Vectors.dense(1 - p, p);
            out.add(org.apache.spark.sql.RowFactory.create(values));
        }
        Dataset<Row> scored = spark.createDataFrame(out, org.apache.spark.sql.types.DataTypes.createStructType(fields))
                .cache();
        double auc = new BinaryClassificationEvaluator().setLabelCol("label").setRawPredictionCol("probability")
                .evaluate(scored);
        phase("fit");
        Check check = verify(onnx, scored, "DJL");
        ObjectMapper json = new ObjectMapper();
        ObjectNode net = json.createObjectNode().put("framework", "djl " + ai.djl.engine.Engine.getDjlVersion()
                + " pytorch " + ai.djl.engine.Engine.getEngine("PyTorch").getVersion()).put("epochs", epochs)
                .put("batch", 256).put("optimizer", "adam").put("learning_rate", 1e-3);
        ArrayNode hidden = net.putArray("hidden");
        Arrays.stream(MLP_HIDDEN).forEach(hidden::add);
        net.put("balance", balance.name().toLowerCase(java.util.Locale.ROOT)).put("training_rows", n)
                .put("rows_after", labels.length);
        if (balance == Balance.SMOTE) {
            net.putObject("smote").put("k", 5).put("candidate_pool", 256);
        }
        return gateAndPublish(spark, registry, model, "mlp", onnx, auc, check.maxAbsDelta(), trainRows, holdoutRows,
                spark.version(), train, scored, json.createObjectNode().put("grid", "none"),
                (ObjectNode) json.createObjectNode().set("mlp", net), check.csv());
    }

    /** {inputs n × width row-major as float (NaN = missing, codes), labels} of a split, in Spark's row order. */
    private static float[][] rows(Dataset<Row> split, int width) {
        List<Column> cols = new ArrayList<>();
        for (int j = 0; j < width; j++) {
            cols.add(col(TrainingSchema.column(j)));
        }
        cols.add(col("label"));
        FloatBuffer x = new FloatBuffer();
        FloatBuffer y = new FloatBuffer();
        java.util.Iterator<Row> it = split.select(cols.toArray(new Column[0])).toLocalIterator();
        while (it.hasNext()) {
            Row r = it.next();
            for (int j = 0; j < width; j++) {
                x.add((float) r.getDouble(j));
            }
            y.add((float) r.getDouble(width));
        }
        return new float[][] {x.toArray(), y.toArray()};
    }

    private static float[] design(Preprocessing pre, float[] raw, int n, int width) {
        int d = pre.outputWidth();
        float[] out = new float[n * d];
        float[] row = new float[width];
        for (int i = 0; i < n; i++) {
            System.arraycopy(raw, i * width, row, 0, width);
            double[] v = pre.apply(row);
            for (int j = 0; j < d; j++) {
                out[i * d + j] = (float) v[j];
            }
        }
        return out;
    }

    /** A growable float array. */
    private static final class FloatBuffer {
        private float[] a = new float[1 << 16];
        private int size;

        void add(float v) {
            if (size == a.length) {
                a = Arrays.copyOf(a, a.length * 2);
            }
            a[size++] = v;
        }

        float[] toArray() {
            return Arrays.copyOf(a, size);
        }
    }

    /**
     * The distinct inner quantiles (1/bins … (bins-1)/bins) of each numeric column's present values, in one pass over
     * all of them.
     */
    private static double[][] quantileEdges(Dataset<Row> train, String[] columns, int bins) {
        double[] p = new double[bins - 1];
        for (int i = 0; i < p.length; i++) {
            p[i] = (i + 1) / (double) bins;
        }
        double[][] q = train.stat().approxQuantile(columns, p, 0.001);
        double[][] out = new double[q.length][];
        for (int c = 0; c < q.length; c++) {
            out[c] = Arrays.stream(q[c]).filter(Double::isFinite).distinct().sorted().toArray();
        }
        return out;
    }

    private static <T> T stage(PipelineModel fitted, Class<T> type) {
        for (org.apache.spark.ml.Transformer t : fitted.stages()) {
            if (type.isInstance(t)) {
                return type.cast(t);
            }
        }
        throw new IllegalStateException("no " + type.getSimpleName() + " in the fitted pipeline");
    }

    /** The new version's number. */
    private long publish(Path registry, String model, String algorithm, byte[] onnx, Metrics metrics,
                         double delta, long trainRows, long holdoutRows, String sparkVersion,
                         ObjectNode gate, ObjectNode search, ObjectNode preprocessing, ObjectNode lineage,
                         ObjectNode profile, String verification, Skew skew)
            throws IOException {
        Path modelDir = registry.resolve(model);
        Files.createDirectories(modelDir);
        long version = publication.nextVersion(model, highestVersion(modelDir) + 1);
        Path tmp = modelDir.resolve(version + ".tmp-" + UUID.randomUUID());
        Files.createDirectories(tmp);
        Files.write(tmp.resolve("model.onnx"), onnx);
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode meta = json.createObjectNode();
        meta.put("model", model).put("version", version).put("algorithm", algorithm)
                .put("framework", "spark-mllib " + sparkVersion).put("created", Instant.now().toString())
                .put("sha256", sha256(onnx)).put("parent_version", version > 1 ? version - 1 : 0);
        ObjectNode d = meta.putObject("data");
        if (data.source() instanceof TrainingData.Log log) {
            d.put("source", "training_log").put("path", log.dir().toString()).put("from_ms", log.fromMs())
                    .put("to_ms", log.toMs()).put("logged_rows", data.logged()).put("unlabelled_rows", data.unlabelled())
                    .put("other_encoding_rows", data.otherEncoding());
        } else {
            d.put("source", "files").put("path", data.file().toString())
                    .put("sha256", sha256(data.file()));
        }
        d.put("rows", data.labelled()).put("train_rows", trainRows).put("holdout_rows", holdoutRows)
                .setAll((ObjectNode) lineage.get("range"));
        meta.set("parameters", lineage.get("parameters"));
        ObjectNode t = meta.putObject("timings_s");
        timings.forEach(t::put);
        CodeVersion.into(meta.putObject("code"));
        metrics.toJson(meta.putObject("metrics")).put("onnx_vs_spark_max_abs_delta", delta);
        meta.set("quality_gate", gate.deepCopy());
        meta.putObject("skew").put("checked", skew.checked()).put("rows_differing", skew.rows())
                .put("max_abs_delta", skew.maxAbsDelta()).put("tolerance", SKEW_TOLERANCE);
        meta.set("search", search);
        if (preprocessing != null) {
            meta.set("preprocessing", preprocessing);
        }
        // what the model reads and how it encodes a missing value of each input: the server refuses to bind the
        // version to a view that serves something else for a missing feature
        ObjectNode inputs = meta.putObject("inputs").put("view", schema.view()).put("entity_key", schema.entityKey())
                .put("label", schema.label()).put("encoding", schema.fingerprint());
        ArrayNode names = inputs.putArray("features");
        schema.names().forEach(names::add);
        ObjectNode missing = inputs.putObject("missing");
        for (int j = 0; j < schema.width(); j++) {
            if (Double.isNaN(schema.missing(j))) {
                missing.putNull(schema.names().get(j));
            } else {
                missing.put(schema.names().get(j), schema.missing(j));
            }
        }
        json.writeValue(tmp.resolve("metadata.json").toFile(), meta);
        json.writeValue(tmp.resolve("profile.json").toFile(), profile);
        Files.writeString(tmp.resolve("verification.csv"), verification);
        Path config = modelDir.resolve("config.json");
        if (!Files.exists(config)) {
            ObjectNode cfg = json.createObjectNode();
            cfg.put("name", model).put("platform", "onnxruntime_onnx").put("max_batch_size", 256);
            cfg.putObject("dynamic_batching").put("max_queue_delay_microseconds", 0);
            ObjectNode binding = cfg.putObject("features");
            binding.put("input", "features").put("view", schema.view());
            ArrayNode bound = binding.putArray("names");
            schema.names().forEach(bound::add);
            json.writeValue(config.toFile(), cfg);
        }
        Path target = modelDir.resolve(Long.toString(version));
        if (publication.remote() && Files.exists(target)) {
            deleteTree(target); // a working copy's leftover of a publication that failed: the registry never had it
        }
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        publication.published(model, version, target, config);
        return version;
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            // a temporary directory: the system cleans it up eventually
        }
    }

    private static String sha256(Path file) throws IOException {
        try (java.io.InputStream in = Files.newInputStream(file)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
