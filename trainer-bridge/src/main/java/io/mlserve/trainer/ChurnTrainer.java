package io.mlserve.trainer;

import static org.apache.spark.sql.functions.avg;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.greatest;
import static org.apache.spark.sql.functions.least;
import static org.apache.spark.sql.functions.log;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.when;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mlserve.datagen.ChurnSchema;
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
import org.apache.spark.ml.feature.StandardScaler;
import org.apache.spark.ml.feature.SQLTransformer;
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
 * Trains the churn model with Spark MLlib on a data directory written by {@code ./mlserve datagen}, exports
 * it to ONNX with its preprocessing (so the server feeds raw feature rows in the view's order), checks the
 * ONNX model against Spark's own predictions, and publishes a new version into a model repository.
 *
 * <p>Features as the model sees them: numbers with NaN for missing; categories as their vocabulary codes
 * (-1 for missing), exactly what the feature store returns. Preprocessing: numeric columns imputed with
 * the training mean and standardised; categorical codes one-hot encoded (missing/unknown = all zeros). Class
 * imbalance: positive and negative rows weighted to equal total weight, on the training split only.
 * Holdout: the last {@code holdoutFraction} of the time range.
 */
public final class ChurnTrainer {
    /**
     * What was trained and where it went.
     *
     * @param version      the published version, or 0 when the quality gate refused the candidate
     * @param championAuc  the current champion's AUC on the same holdout rows (NaN when there was none)
     * @param candidateAuc the candidate's AUC on those rows (same computation as championAuc)
     */
    public record Result(long version, Path versionDir, double maxAbsDelta, long trainRows, long holdoutRows,
                         double candidateAuc, double championAuc, boolean published, Metrics metrics) {
        /** Spark's AUC over the whole holdout. */
        public double holdoutAuc() {
            return metrics.auc();
        }
    }

    /**
     * Metrics over the whole holdout from Spark's probabilities; the class is predicted 1 when P(1) >= threshold.
     * Precision is NaN when nothing is predicted positive. Log-loss clips P to [1e-15, 1 - 1e-15].
     */
    public record Metrics(double auc, double logLoss, double accuracy, double precision, double recall,
                          double threshold) {
        ObjectNode toJson(ObjectNode into) {
            return into.put("holdout_auc", auc).put("log_loss", logLoss).put("accuracy", accuracy)
                    .put("precision", precision).put("recall", recall).put("threshold", threshold);
        }
    }

    /** Rows of the holdout both the candidate and the champion are scored on for the quality gate. */
    private static final int GATE_ROWS = 50_000;

    /** The RFM-style segment features of the linear model: recency, frequency and monetary value, in that order. */
    static final List<String> RFM = List.of("days_since_last_login", "logins_30d", "monthly_charges");
    private static final List<String> RFM_ROLES = List.of("recency", "frequency", "monetary");

    /** Defaults shared by {@code ./mlserve train} and the trainer service's jobs. */
    public static final double DEFAULT_HOLDOUT = 0.2;
    public static final int DEFAULT_TREES = 50;
    public static final int DEFAULT_DEPTH = 5;
    public static final double DEFAULT_GATE_MARGIN = 0.005;
    public static final double DEFAULT_THRESHOLD = 0.5;
    public static final int DEFAULT_EPOCHS = 5;
    /** The MLP's hidden layers (ReLU). */
    static final int[] MLP_HIDDEN = {64, 32};

    private final String master;
    private final double holdoutFraction;
    private final int gbtTrees;
    private final int gbtDepth;
    private double gateMargin = DEFAULT_GATE_MARGIN;
    private double threshold = DEFAULT_THRESHOLD;
    private int epochs = DEFAULT_EPOCHS;
    private Balance balance = Balance.WEIGHTS;
    /** Data range and parameters of the run in progress, for metadata.json. */
    private ObjectNode lineage;
    private String grid;

    public ChurnTrainer(String master, double holdoutFraction) {
        this(master, holdoutFraction, DEFAULT_TREES, DEFAULT_DEPTH);
    }

    /** @param gbtTrees boosting iterations and @param gbtDepth tree depth for gradient-boosted trees */
    public ChurnTrainer(String master, double holdoutFraction, int gbtTrees, int gbtDepth) {
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

    /**
     * The quality gate: a candidate is published only if its holdout AUC is at least the current champion's
     * (the highest published version, scored on the same rows) minus {@code margin}.
     */
    public ChurnTrainer withGateMargin(double margin) {
        if (!Double.isFinite(margin)) {
            throw new IllegalArgumentException("gate margin must be a finite number, got " + margin);
        }
        this.gateMargin = margin;
        return this;
    }

    /** The decision threshold for accuracy, precision and recall (default 0.5; the classes are weighted equal). */
    public ChurnTrainer withThreshold(double threshold) {
        if (!(threshold > 0 && threshold < 1)) {
            throw new IllegalArgumentException("threshold must be in (0, 1), got " + threshold);
        }
        this.threshold = threshold;
        return this;
    }

    /** How the MLP meets class imbalance on the training split. */
    public enum Balance { WEIGHTS, SMOTE }

    /** mlp: class weights in the loss (default) or SMOTE-style oversampling. */
    public ChurnTrainer withBalance(Balance b) {
        this.balance = b;
        return this;
    }

    /** mlp: passes over the (oversampled) training split. */
    public ChurnTrainer withEpochs(int epochs) {
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
    public ChurnTrainer withGrid(String grid) {
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

    public Result trainLogisticRegression(Path dataDir, String model, Path registry) throws Exception {
        return train(Algorithm.LOGISTIC_REGRESSION, dataDir, model, registry);
    }

    /** Trains {@code algorithm} on {@code dataDir}, verifies the export and publishes the next version. */
    public Result train(Algorithm algorithm, Path dataDir, String model, Path registry) throws Exception {
        SparkSession.Builder builder = SparkSession.builder().appName("mlserve-train").master(master)
                .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4")
                .config("spark.sql.session.timeZone", "UTC");
        if (master.startsWith("local")) {
            // everything stays in this process: bind the driver to loopback, not to the machine's interfaces
            builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1");
        }
        SparkSession spark = builder.getOrCreate();
        try {
            return run(spark, algorithm, dataDir, model, registry);
        } finally {
            spark.stop();
        }
    }

    private static List<String> numeric() {
        return ChurnSchema.NUMERIC;
    }

    private static List<ChurnSchema.Column> categorical() {
        return ChurnSchema.COLUMNS.subList(ChurnSchema.NUMERIC.size(), ChurnSchema.COLUMNS.size());
    }

    /** Raw model inputs: numbers as double (null → NaN), categories as their codes (missing/unknown → -1). */
    private static Dataset<Row> encode(Dataset<Row> raw) {
        Dataset<Row> d = raw;
        for (String n : numeric()) {
            d = d.withColumn(n, when(col(n).isNull(), lit(Double.NaN)).otherwise(col(n).cast("double")));
        }
        for (ChurnSchema.Column c : categorical()) {
            Column code = lit(-1.0);
            for (int k = c.vocabulary().size() - 1; k >= 0; k--) {
                code = when(col(c.name()).equalTo(c.vocabulary().get(k)), lit((double) k)).otherwise(code);
            }
            d = d.withColumn(c.name(), when(col(c.name()).isNull(), lit(-1.0)).otherwise(code));
        }
        for (ChurnSchema.Column c : categorical()) {
            for (int k = 0; k < c.vocabulary().size(); k++) {
                d = d.withColumn(c.name() + "_is_" + k, when(col(c.name()).equalTo((double) k), lit(1.0)).otherwise(lit(0.0)));
            }
        }
        return d.withColumn("label", col("churned").cast("double"));
    }

    private Result run(SparkSession spark, Algorithm algorithm, Path dataDir, String model, Path registry)
            throws Exception {
        Path parquet = dataDir.resolve("data.parquet");
        Dataset<Row> all = encode(spark.read().parquet(parquet.toString())).cache();
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
                .put("threshold", threshold).put("gate_margin", gateMargin).put("grid", grid(algorithm).toString())
                .put("spark_master", master);
        switch (algorithm) {
            case LOGISTIC_REGRESSION -> params.put("max_iter", 100).put("class_weights", "balanced");
            case GRADIENT_BOOSTED_TREES -> params.put("trees", gbtTrees).put("depth", gbtDepth).put("step", 0.1)
                    .put("class_weights", "balanced");
            case MLP -> params.put("epochs", epochs).put("balance", balance.name().toLowerCase(java.util.Locale.ROOT));
        }
        long trainRows = train.count();
        long holdoutRows = holdout.count();
        double positives = train.filter(col("label").equalTo(1.0)).count() / (double) trainRows;
        train = train.withColumn("w", when(col("label").equalTo(1.0), lit(0.5 / positives))
                .otherwise(lit(0.5 / (1 - positives))));

        String[] num = numeric().toArray(new String[0]);
        String[] imputed = numeric().stream().map(n -> n + "_imp").toArray(String[]::new);
        if (algorithm == Algorithm.MLP) {
            return mlp(spark, train, holdout, model, registry, parquet, trainRows, holdoutRows);
        }
        if (algorithm == Algorithm.GRADIENT_BOOSTED_TREES) {
            return gbt(spark, train, holdout, num, imputed, model, registry, parquet, trainRows, holdoutRows);
        }
        List<String> design = new ArrayList<>(List.of("num_scaled"));
        for (ChurnSchema.Column c : categorical()) {
            for (int k = 0; k < c.vocabulary().size(); k++) {
                design.add(c.name() + "_is_" + k);
            }
        }
        // RFM-style segments: recency, frequency and monetary value each cut at the training quintiles (after
        // imputation, like every number), one-hot over the bins, so the linear model gets their non-linear shape
        double[][] rfmEdges = new double[RFM.size()][];
        String[] rfmImputed = new String[RFM.size()];
        String[] rfmBins = new String[RFM.size()];
        double[][] splits = new double[RFM.size()][];
        StringBuilder oneHot = new StringBuilder("SELECT *");
        for (int r = 0; r < RFM.size(); r++) {
            String feature = RFM.get(r);
            rfmEdges[r] = quintileEdges(train, feature);
            rfmImputed[r] = feature + "_imp";
            rfmBins[r] = "rfm_" + feature + "_bin";
            splits[r] = new double[rfmEdges[r].length + 2];
            splits[r][0] = Double.NEGATIVE_INFINITY;
            System.arraycopy(rfmEdges[r], 0, splits[r], 1, rfmEdges[r].length);
            splits[r][splits[r].length - 1] = Double.POSITIVE_INFINITY;
            for (int b = 0; b <= rfmEdges[r].length; b++) {
                String name = rfmBins[r] + "_is_" + b;
                oneHot.append(", CAST(").append(rfmBins[r]).append(" = ").append(b).append(" AS DOUBLE) AS ").append(name);
                design.add(name);
            }
        }
        Imputer imputer = new Imputer().setInputCols(num).setOutputCols(imputed).setStrategy("mean");
        VectorAssembler numVec = new VectorAssembler().setInputCols(imputed).setOutputCol("num_vec");
        StandardScaler scaler = new StandardScaler().setInputCol("num_vec").setOutputCol("num_scaled")
                .setWithMean(true).setWithStd(true);
        Bucketizer bins = new Bucketizer().setInputCols(rfmImputed).setOutputCols(rfmBins).setSplitsArray(splits);
        SQLTransformer segments = new SQLTransformer().setStatement(oneHot.append(" FROM __THIS__").toString());
        VectorAssembler features = new VectorAssembler().setInputCols(design.toArray(new String[0]))
                .setOutputCol("features");
        LogisticRegression lr = new LogisticRegression().setWeightCol("w").setMaxIter(100).setRegParam(1e-4);
        SearchGrid.Outcome fit = grid(Algorithm.LOGISTIC_REGRESSION).fit(new Pipeline().setStages(
                new PipelineStage[] {imputer, numVec, scaler, bins, segments, features, lr}), lr, train, 0.2);
        PipelineModel fitted = fit.model();
        Dataset<Row> scored = fitted.transform(holdout).cache();
        double auc = new BinaryClassificationEvaluator().setLabelCol("label").setRawPredictionCol("rawPrediction")
                .evaluate(scored);

        ImputerModel im = stage(fitted, ImputerModel.class);
        StandardScalerModel sm = stage(fitted, StandardScalerModel.class);
        LogisticRegressionModel lm = stage(fitted, LogisticRegressionModel.class);
        Row surrogate = im.surrogateDF().head();
        List<Preprocessing.Column> cols = new ArrayList<>();
        for (int i = 0; i < num.length; i++) {
            double mean = sm.mean().apply(i);
            double std = sm.std().apply(i);
            // a constant column scales to 0 in Spark; (x - mean) / 1 does the same for the imputed constant
            cols.add(new Preprocessing.Numeric(i, surrogate.getDouble(surrogate.fieldIndex(num[i])), mean,
                    std > 0 ? std : 1));
        }
        int index = num.length;
        for (ChurnSchema.Column c : categorical()) {
            cols.add(new Preprocessing.Categorical(index++, c.vocabulary().size()));
        }
        ObjectNode rfm = new ObjectMapper().createObjectNode();
        for (int r = 0; r < RFM.size(); r++) {
            String feature = RFM.get(r);
            int column = ChurnSchema.NUMERIC.indexOf(feature);
            cols.add(new Preprocessing.Binned(column, surrogate.getDouble(surrogate.fieldIndex(feature)), rfmEdges[r]));
            ArrayNode e = rfm.putObject(RFM_ROLES.get(r)).put("feature", feature).putArray("edges");
            Arrays.stream(rfmEdges[r]).forEach(e::add);
        }
        Preprocessing pre = new Preprocessing(ChurnSchema.COLUMNS.size(), cols);
        byte[] onnx = Exporters.logisticRegression(model, pre, lm.coefficients().toArray(), lm.intercept())
                .toByteArray();
        Check check = verify(onnx, scored, "Spark");
        double delta = check.maxAbsDelta();
        return gateAndPublish(registry, model, "logistic_regression", onnx, auc, delta, trainRows, holdoutRows,
                parquet, spark.version(), train, scored, fit.record(), (ObjectNode) new ObjectMapper().createObjectNode().set("rfm", rfm), check.csv());
    }

    /**
     * Gradient-boosted trees on the imputed numbers and the raw category codes (continuous splits, as Spark
     * makes them on plain columns), exported as an ai.onnx.ml tree ensemble after the same imputation.
     */
    private Result gbt(SparkSession spark, Dataset<Row> train, Dataset<Row> holdout, String[] num, String[] imputed,
                       String model, Path registry, Path parquet, long trainRows, long holdoutRows) throws Exception {
        List<String> inputs = new ArrayList<>(List.of(imputed));
        for (ChurnSchema.Column c : categorical()) {
            inputs.add(c.name());
        }
        Imputer imputer = new Imputer().setInputCols(num).setOutputCols(imputed).setStrategy("mean");
        VectorAssembler features = new VectorAssembler().setInputCols(inputs.toArray(new String[0]))
                .setOutputCol("features");
        GBTClassifier gbt = new GBTClassifier().setWeightCol("w").setMaxIter(gbtTrees).setMaxDepth(gbtDepth)
                .setStepSize(0.1).setSeed(7);
        SearchGrid.Outcome fit = grid(Algorithm.GRADIENT_BOOSTED_TREES).fit(
                new Pipeline().setStages(new PipelineStage[] {imputer, features, gbt}), gbt, train, 0.2);
        PipelineModel fitted = fit.model();
        Dataset<Row> scored = fitted.transform(holdout).cache();
        double auc = new BinaryClassificationEvaluator().setLabelCol("label").setRawPredictionCol("rawPrediction")
                .evaluate(scored);
        ImputerModel im = (ImputerModel) fitted.stages()[0];
        GBTClassificationModel gm = (GBTClassificationModel) fitted.stages()[2];
        Row surrogate = im.surrogateDF().head();
        int width = ChurnSchema.COLUMNS.size();
        double[] impute = new double[width];
        for (int i = 0; i < width; i++) {
            impute[i] = i < num.length ? surrogate.getDouble(surrogate.fieldIndex(num[i])) : Double.NaN;
        }
        DecisionTreeRegressionModel[] sparkTrees = gm.trees();
        Exporters.Tree[] trees = new Exporters.Tree[sparkTrees.length];
        for (int t = 0; t < trees.length; t++) {
            trees[t] = flatten(sparkTrees[t].rootNode());
        }
        byte[] onnx = Exporters.gradientBoostedTrees(model, width, impute, trees, gm.treeWeights()).toByteArray();
        Check check = verify(onnx, scored, "Spark");
        double delta = check.maxAbsDelta();
        return gateAndPublish(registry, model, "gradient_boosted_trees", onnx, auc, delta, trainRows, holdoutRows,
                parquet, spark.version(), train, scored, fit.record(), null, check.csv());
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
     * Scores candidate and champion on the same holdout rows with ONNX Runtime, applies the gate, records the
     * decision in {@code <registry>/<model>/training-log.jsonl}, and publishes only a candidate that passes.
     */
    private Result gateAndPublish(Path registry, String model, String algorithm, byte[] onnx, double sparkAuc,
                                  double delta, long trainRows, long holdoutRows, Path data, String sparkVersion,
                                  Dataset<Row> train, Dataset<Row> scored, ObjectNode search, ObjectNode preprocessing,
                                  String verification)
            throws Exception {
        List<Row> rows = inputsThen(scored, "label", GATE_ROWS);
        double[] labels = new double[rows.size()];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = rows.get(i).getDouble(ChurnSchema.COLUMNS.size());
        }
        Metrics metrics = metrics(scored, sparkAuc, threshold);
        double candidate = auc(score(onnx, rows), labels);
        Path champion = championFile(registry.resolve(model));
        double championAuc = champion == null ? Double.NaN : auc(score(Files.readAllBytes(champion), rows), labels);
        boolean pass = champion == null || candidate >= championAuc - gateMargin;
        ObjectMapper json = new ObjectMapper();
        ObjectNode log = json.createObjectNode();
        log.put("time", Instant.now().toString()).put("algorithm", algorithm)
                .put("candidate_auc", candidate).put("champion", champion == null ? null : champion.getParent()
                        .getFileName().toString())
                .put("champion_auc", champion == null ? null : championAuc).put("margin", gateMargin)
                .put("rows", rows.size()).put("decision", pass ? "published" : "rejected");
        Files.createDirectories(registry.resolve(model));
        long version = pass ? publish(registry, model, algorithm, onnx, metrics, delta, trainRows, holdoutRows, data,
                sparkVersion, log, search, preprocessing, lineage, TrainingProfile.build(train, scored), verification) : 0;
        if (pass) {
            log.put("version", version);
        }
        Files.writeString(registry.resolve(model).resolve("training-log.jsonl"), json.writeValueAsString(log) + "\n",
                StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        return new Result(version, pass ? registry.resolve(model).resolve(Long.toString(version)) : null, delta,
                trainRows, holdoutRows, candidate, championAuc, pass, metrics);
    }

    /** model.onnx of the highest published version, or null. */
    private static Path championFile(Path modelDir) throws IOException {
        long version = highestVersion(modelDir);
        Path onnx = modelDir.resolve(Long.toString(version)).resolve("model.onnx");
        return version > 0 && Files.exists(onnx) ? onnx : null;
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
    private static List<Row> inputsThen(Dataset<Row> scored, String extra, int limit) {
        List<Column> cols = new ArrayList<>();
        ChurnSchema.COLUMNS.forEach(c -> cols.add(col(c.name())));
        cols.add(col(extra));
        return scored.select(cols.toArray(new Column[0])).limit(limit).collectAsList();
    }

    /** P(1) of each row (the ChurnSchema columns first) from an ONNX model. */
    private static float[] score(byte[] onnx, List<Row> rows) throws Exception {
        Path tmp = Files.createTempFile("mlserve-score", ".onnx");
        try {
            Files.write(tmp, onnx);
            try (ModelSession s = ModelSession.open("score", tmp, SessionConfig.DEFAULT)) {
                int width = ChurnSchema.COLUMNS.size();
                TensorBatch batch = new TensorBatch(s.signature());
                long[] shape = batch.shape(0, 2);
                shape[0] = rows.size();
                shape[1] = width;
                ByteBuffer in = batch.buffer(0, rows.size() * width * 4);
                for (int i = 0; i < rows.size(); i++) {
                    for (int j = 0; j < width; j++) {
                        in.putFloat((i * width + j) * 4, (float) rows.get(i).getDouble(j));
                    }
                }
                float[] p = new float[rows.size()];
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

    private static Metrics metrics(Dataset<Row> scored, double auc, double threshold) {
        Column p = org.apache.spark.ml.functions.vector_to_array(col("probability"), "float64").getItem(1);
        Column clipped = greatest(least(p, lit(1 - 1e-15)), lit(1e-15));
        Column y = col("label");
        Column predicted = when(p.geq(threshold), lit(1.0)).otherwise(lit(0.0));
        Row r = scored.agg(
                avg(y.multiply(log(clipped)).plus(lit(1.0).minus(y).multiply(log(lit(1.0).minus(clipped)))).multiply(-1)),
                avg(when(predicted.equalTo(y), lit(1.0)).otherwise(lit(0.0))),
                sum(predicted.multiply(y)), sum(predicted), sum(y)).head();
        double truePositives = r.getDouble(2);
        double predictedPositives = r.getDouble(3);
        double positives = r.getDouble(4);
        return new Metrics(auc, r.getDouble(0), r.getDouble(1),
                predictedPositives == 0 ? Double.NaN : truePositives / predictedPositives,
                positives == 0 ? Double.NaN : truePositives / positives, threshold);
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
    private static Check verify(byte[] onnx, Dataset<Row> scored, String trainer) throws Exception {
        Check check = compare(onnx, scored);
        if (check.maxAbsDelta() > MAX_EXPORT_DELTA) {
            throw new IllegalStateException("the ONNX export differs from " + trainer + " by " + check.maxAbsDelta()
                    + " on the holdout (allowed " + MAX_EXPORT_DELTA + "); nothing published");
        }
        return check;
    }

    private static Check compare(byte[] onnx, Dataset<Row> scored) throws Exception {
        List<Row> rows = inputsThen(scored, "probability", 2000);
        float[] onnxP = score(onnx, rows);
        int width = ChurnSchema.COLUMNS.size();
        StringBuilder csv = new StringBuilder();
        ChurnSchema.COLUMNS.forEach(c -> csv.append(c.name()).append(','));
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
                       Path parquet, long trainRows, long holdoutRows) throws Exception {
        int width = ChurnSchema.COLUMNS.size();
        int numeric = ChurnSchema.NUMERIC.size();
        float[][] tr = rows(train, width);
        float[] raw = tr[0];
        int n = tr[1].length;
        List<Preprocessing.Column> cols = new ArrayList<>();
        for (int j = 0; j < numeric; j++) {
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
        for (int j = numeric; j < width; j++) {
            cols.add(new Preprocessing.Categorical(j, ChurnSchema.COLUMNS.get(j).vocabulary().size()));
        }
        Preprocessing pre = new Preprocessing(width, cols);
        int d = pre.outputWidth();
        float[] design = design(pre, raw, n, width);
        float[] labels = tr[1];
        float[] rowWeights;
        if (balance == Balance.SMOTE) {
            float[][] balanced = MlpTrainer.smote(design, labels, d, numeric, 5, 256, 11);
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
        for (ChurnSchema.Column c : ChurnSchema.COLUMNS) {
            fields.add(org.apache.spark.sql.types.DataTypes.createStructField(c.name(),
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
        return gateAndPublish(registry, model, "mlp", onnx, auc, check.maxAbsDelta(), trainRows, holdoutRows, parquet,
                spark.version(), train, scored, json.createObjectNode().put("grid", "none"),
                (ObjectNode) json.createObjectNode().set("mlp", net), check.csv());
    }

    /** {inputs n × width row-major as float (NaN = missing, codes), labels} of a split, in Spark's row order. */
    private static float[][] rows(Dataset<Row> split, int width) {
        List<Column> cols = new ArrayList<>();
        ChurnSchema.COLUMNS.forEach(c -> cols.add(col(c.name())));
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

    /** The distinct training quintiles (20/40/60/80 %) of a numeric column's present values. */
    private static double[] quintileEdges(Dataset<Row> train, String column) {
        double[] q = train.stat().approxQuantile(column, new double[] {0.2, 0.4, 0.6, 0.8}, 0.001);
        return Arrays.stream(q).filter(Double::isFinite).distinct().sorted().toArray();
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
    private static long publish(Path registry, String model, String algorithm, byte[] onnx, Metrics metrics,
                                  double delta, long trainRows, long holdoutRows, Path data, String sparkVersion,
                                  ObjectNode gate, ObjectNode search, ObjectNode preprocessing, ObjectNode lineage,
                                  ObjectNode profile, String verification)
            throws IOException {
        Path modelDir = registry.resolve(model);
        Files.createDirectories(modelDir);
        long version = highestVersion(modelDir) + 1;
        Path tmp = modelDir.resolve(version + ".tmp-" + UUID.randomUUID());
        Files.createDirectories(tmp);
        Files.write(tmp.resolve("model.onnx"), onnx);
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode meta = json.createObjectNode();
        meta.put("model", model).put("version", version).put("algorithm", algorithm)
                .put("framework", "spark-mllib " + sparkVersion).put("created", Instant.now().toString())
                .put("sha256", sha256(onnx)).put("parent_version", version > 1 ? version - 1 : 0);
        meta.putObject("data").put("path", data.toString()).put("sha256", sha256(Files.readAllBytes(data)))
                .put("train_rows", trainRows).put("holdout_rows", holdoutRows).setAll((ObjectNode) lineage.get("range"));
        meta.set("parameters", lineage.get("parameters"));
        CodeVersion.into(meta.putObject("code"));
        metrics.toJson(meta.putObject("metrics")).put("onnx_vs_spark_max_abs_delta", delta);
        meta.set("quality_gate", gate.deepCopy());
        meta.set("search", search);
        if (preprocessing != null) {
            meta.set("preprocessing", preprocessing);
        }
        ArrayNode inputs = meta.putObject("inputs").putArray("features");
        ChurnSchema.COLUMNS.forEach(c -> inputs.add(c.name()));
        json.writeValue(tmp.resolve("metadata.json").toFile(), meta);
        json.writeValue(tmp.resolve("profile.json").toFile(), profile);
        Files.writeString(tmp.resolve("verification.csv"), verification);
        Path config = modelDir.resolve("config.json");
        if (!Files.exists(config)) {
            ObjectNode cfg = json.createObjectNode();
            cfg.put("name", model).put("platform", "onnxruntime_onnx").put("max_batch_size", 256);
            cfg.putObject("dynamic_batching").put("max_queue_delay_microseconds", 0);
            ObjectNode binding = cfg.putObject("features");
            binding.put("input", "features").put("view", "customer");
            ArrayNode names = binding.putArray("names");
            ChurnSchema.COLUMNS.forEach(c -> names.add(c.name()));
            json.writeValue(config.toFile(), cfg);
        }
        Path target = modelDir.resolve(Long.toString(version));
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
        return version;
    }

    private static String sha256(byte[] b) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
