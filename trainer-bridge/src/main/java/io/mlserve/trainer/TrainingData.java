package io.mlserve.trainer;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.when;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.api.java.UDF1;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.NumericType;
import org.apache.spark.sql.types.StructField;

/**
 * The rows a training run learns from, read and encoded by the {@link TrainingSchema}: from a data directory
 * ({@code data.parquet} or {@code data.csv} with the entity key, {@code event_time} in epoch ms, the view's features
 * and the label) or from a model's training log (the Parquet files a server writes under
 * {@code <data_dir>/training-log/<model>/date=YYYY-MM-DD/}: the features exactly as served, NULL where the view's
 * default was served, the outcome as {@code label}). Every problem a user can fix is an
 * {@link IllegalArgumentException} with one line saying what and where.
 */
final class TrainingData {
    /** The training log's label column (what the server writes). */
    static final String LOG_LABEL = "label";

    /** Where the rows come from. */
    sealed interface Source permits DataDir, Log, Topics {
        /** For metadata.json and messages. */
        String describe();
    }

    /** A data directory with data.parquet or data.csv: rows with event time in [fromMs, toMs) (0 = open). */
    record DataDir(Path dir, long fromMs, long toMs) implements Source {
        @Override
        public String describe() {
            return dir + (fromMs > 0 || toMs > 0 ? " " + (fromMs > 0 ? date(fromMs) : "…") + ".."
                    + (toMs > 0 ? date(toMs) : "…") : "");
        }
    }

    /** A model's training log: rows with event time in [fromMs, toMs) (0 = open). */
    record Log(Path dir, long fromMs, long toMs) implements Source {
        @Override
        public String describe() {
            return "training log " + dir + " " + (fromMs > 0 ? date(fromMs) : "…") + ".." + (toMs > 0 ? date(toMs)
                    : "…");
        }
    }

    /** A model's prediction log and outcomes on Kafka (the scale-out path), joined as the server's log is. */
    record Topics(io.mlserve.proto.v1.LogTopics topics, String model, long fromMs, long toMs) implements Source {
        @Override
        public String describe() {
            return "prediction log " + topics.getBootstrapServers() + " " + (fromMs > 0 ? date(fromMs) : "…") + ".."
                    + (toMs > 0 ? date(toMs) : "…");
        }
    }

    /** Outcomes are joined to predictions by entity within this of their observed time (as live quality does). */
    static final long JOIN_GAP_MS = 3_600_000;

    /**
     * The encoded rows: {@link TrainingSchema#column(int)} doubles, {@code event_time} (long), {@code label} (0/1
     * double).
     *
     * @param file       the file read (data directories), for its checksum; null for the log
     * @param logged     log: rows in the window served with this encoding (labelled or not); files: the rows read
     * @param unlabelled log: rows in the window whose outcome never came (not trained on)
     * @param otherEncoding log: rows in the window served with another feature encoding (not trained on)
     * @param served     log: the logged rows of this encoding as the server wrote them (for the skew check); else null
     * @param scratch    a directory made for this run (the topics' rows), to delete after it; else null
     */
    record Loaded(Dataset<Row> rows, Source source, Path file, long labelled, long logged, long unlabelled,
                  long otherEncoding, Dataset<Row> served, Path scratch) {
        String describe() {
            return !(source instanceof DataDir) ? String.format(Locale.ROOT, "%s: %,d labelled rows (%,d logged, %,d without "
                    + "an outcome%s)", source.describe(), labelled, logged, unlabelled, otherEncoding == 0 ? ""
                    : String.format(Locale.ROOT, ", %,d served with another feature encoding left out", otherEncoding))
                    : String.format(Locale.ROOT, "%s: %,d rows", file, labelled);
        }
    }

    private TrainingData() {
    }

    /** A data directory as given on the command line: the log when it holds date= partitions. */
    static Source source(Path dir, long fromMs, long toMs) {
        if (dir == null) {
            throw new IllegalArgumentException("no data: give --data DIR");
        }
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException("data " + dir + ": no such directory");
        }
        if (Files.exists(dir.resolve("data.parquet")) || Files.exists(dir.resolve("data.csv"))) {
            return new DataDir(dir, fromMs, toMs);
        }
        if (hasPartitions(dir)) {
            return new Log(dir, fromMs, toMs);
        }
        throw new IllegalArgumentException("data " + dir + ": neither data.parquet nor data.csv there, nor a training "
                + "log (date=YYYY-MM-DD directories)");
    }

    /**
     * The end of the newest day a training log holds rows for (midnight UTC after its newest date= partition): where
     * "the last N days" of a log end when no end is given.
     */
    static long newestLogged(Path dir) {
        if (!Files.isDirectory(dir) || !hasPartitions(dir)) {
            throw new IllegalArgumentException("--window-days selects rows of a training log; " + dir + " is none");
        }
        try (Stream<Path> s = Files.list(dir)) {
            LocalDate newest = s.map(p -> p.getFileName().toString()).filter(n -> n.matches("date=\\d{4}-\\d{2}-\\d{2}"))
                    .map(n -> LocalDate.parse(n.substring(5))).max(LocalDate::compareTo)
                    .orElseThrow(() -> new IllegalArgumentException(dir + ": no date=YYYY-MM-DD partitions"));
            return newest.plusDays(1).atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli();
        } catch (IOException e) {
            throw new IllegalArgumentException(dir + ": " + e.getMessage());
        }
    }

    private static boolean hasPartitions(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.anyMatch(p -> p.getFileName().toString().startsWith("date=") && Files.isDirectory(p));
        } catch (IOException e) {
            return false;
        }
    }

    static Loaded load(SparkSession spark, TrainingSchema schema, Source source) throws IOException {
        if (source instanceof Topics t) {
            Path scratch = Files.createTempDirectory("mlserve-prediction-log-");
            io.mlserve.proto.v1.LogTopics k = t.topics();
            PredictionLogExport.export(k.getBootstrapServers(), k.getPredictionsTopic().isEmpty()
                    ? "mlserve.predictions" : k.getPredictionsTopic(), k.getOutcomesTopic().isEmpty()
                    ? "mlserve.outcomes" : k.getOutcomesTopic(), t.model(), schema, JOIN_GAP_MS, scratch);
            Loaded l = log(spark, schema, new Log(scratch, t.fromMs(), t.toMs()));
            return new Loaded(l.rows(), t, null, l.labelled(), l.logged(), l.unlabelled(), l.otherEncoding(),
                    l.served(), scratch);
        }
        return source instanceof Log log ? log(spark, schema, log) : files(spark, schema, (DataDir) source);
    }

    private static Loaded files(SparkSession spark, TrainingSchema schema, DataDir source) {
        Path parquet = source.dir().resolve("data.parquet");
        Path csv = source.dir().resolve("data.csv");
        Path file = Files.exists(parquet) ? parquet : csv;
        Dataset<Row> raw = file == parquet ? spark.read().parquet(file.toString())
                : spark.read().option("header", "true").option("mode", "FAILFAST").csv(file.toString());
        List<String> columns = Arrays.asList(raw.columns());
        require(columns, schema.entityKey(), file, "the entity key of view '" + schema.view() + "'");
        require(columns, "event_time", file, "the event time in epoch ms");
        require(columns, schema.label(), file, "the label (--label)");
        for (String f : schema.names()) {
            require(columns, f, file, "a feature of view '" + schema.view() + "'");
        }
        checkNumbers(raw, schema, schema.label(), file);
        Dataset<Row> encoded = encode(raw, schema, schema.label());
        if (source.fromMs() > 0) {
            encoded = encoded.filter(col("event_time").geq(source.fromMs()));
        }
        if (source.toMs() > 0) {
            encoded = encoded.filter(col("event_time").lt(source.toMs()));
        }
        encoded = encoded.cache();
        long rows = encoded.count();
        long noTime = encoded.filter(col("event_time").isNull()).count();
        if (noTime > 0) {
            throw new IllegalArgumentException(file + ": " + noTime + " rows have no event_time (epoch ms)");
        }
        Dataset<Row> labelled = checkLabels(encoded, file.toString(), schema.label());
        long n = labelled.count();
        if (n == 0) {
            throw new IllegalArgumentException(source.describe() + ": no rows with a label in column '"
                    + schema.label() + "'" + (rows == 0 ? " (none in the time range)" : ""));
        }
        return new Loaded(labelled, source, file, n, rows, rows - n, 0, null, null);
    }

    private static Loaded log(SparkSession spark, TrainingSchema schema, Log source) {
        Path dir = source.dir();
        if (!Files.isDirectory(dir) || !hasPartitions(dir)) {
            throw new IllegalArgumentException("the training log " + dir + " holds no rows yet (the server writes it "
                    + "from Predict calls of a model bound to a feature view, joined with their outcomes)");
        }
        Dataset<Row> raw;
        try {
            raw = spark.read().option("mergeSchema", "true").option("basePath", dir.toString())
                    .parquet(dir.toString());
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("the training log " + dir + " holds no readable rows: "
                    + e.getMessage().lines().findFirst().orElse(""));
        }
        List<String> columns = Arrays.asList(raw.columns());
        for (String c : List.of("event_time", LOG_LABEL, "encoding", "score", "version")) {
            require(columns, c, dir, "a training-log column");
        }
        Dataset<Row> window = raw;
        if (source.fromMs() > 0) {
            window = window.filter(col("event_time").geq(source.fromMs()));
        }
        if (source.toMs() > 0) {
            window = window.filter(col("event_time").lt(source.toMs()));
        }
        window = window.cache();
        long inWindow = window.count();
        if (inWindow == 0) {
            throw new IllegalArgumentException(source.describe() + ": no rows logged in that time range");
        }
        String fingerprint = schema.fingerprint();
        Dataset<Row> same = window.filter(col("encoding").equalTo(fingerprint));
        long logged = same.count();
        if (logged == 0) {
            List<String> seen = window.select("encoding").distinct().limit(5).collectAsList().stream()
                    .map(r -> r.getString(0)).toList();
            throw new IllegalArgumentException(source.describe() + ": " + inWindow + " rows, none served with the "
                    + "feature encoding of view '" + schema.view() + "' as it is now (" + fingerprint + "; the log has "
                    + String.join(", ", seen) + "): the view or the model's bound features changed since they were "
                    + "logged — retrain on rows served with the current view, or from a data directory");
        }
        for (String f : schema.names()) {
            require(columns, f, dir, "a feature of view '" + schema.view() + "' (logged under its encoding)");
        }
        require(columns, schema.entityKey(), dir, "the entity key of view '" + schema.view() + "'");
        Dataset<Row> encoded = encode(same, schema, LOG_LABEL);
        Dataset<Row> labelled = checkLabels(encoded, source.describe(), LOG_LABEL).cache();
        long n = labelled.count();
        if (n == 0) {
            throw new IllegalArgumentException(source.describe() + ": " + logged + " rows logged, none with an "
                    + "outcome: report outcomes (POST /v1/outcomes, gRPC OutcomeService or the outcomes topic) for the "
                    + "entities this model predicted");
        }
        return new Loaded(labelled, source, null, n, logged, logged - n, inWindow - logged, same, null);
    }

    /** Rows whose label is not null, after checking every label is 0 or 1. */
    private static Dataset<Row> checkLabels(Dataset<Row> encoded, String where, String label) {
        Dataset<Row> labelled = encoded.filter(col("label").isNotNull());
        List<Row> bad = labelled.filter(col("label").notEqual(0.0).and(col("label").notEqual(1.0))).limit(1)
                .collectAsList();
        if (!bad.isEmpty()) {
            throw new IllegalArgumentException(where + ": label '" + label + "' must be 0 or 1 (a binary outcome), "
                    + "found " + bad.get(0).get(bad.get(0).fieldIndex("label")));
        }
        return labelled;
    }

    private static void require(List<String> columns, String name, Object where, String what) {
        if (!columns.contains(name)) {
            throw new IllegalArgumentException(where + ": no column '" + name + "' (" + what + ")");
        }
    }

    /**
     * The schema's inputs as doubles ({@link TrainingSchema#column}), {@code event_time} and {@code label}; the raw
     * label column {@code labelColumn} cast to double (booleans as 0/1; text that is no number fails).
     */
    static Dataset<Row> encode(Dataset<Row> raw, TrainingSchema schema, String labelColumn) {
        List<Column> out = new ArrayList<>();
        List<TrainingSchema.Cell> cells = schema.cells();
        for (int j = 0; j < schema.width(); j++) {
            String name = schema.names().get(j);
            TrainingSchema.Cell cell = cells.get(j);
            StructField field = raw.schema().apply(name);
            Column c = col("`" + name + "`");
            Column value;
            if (field.dataType() instanceof NumericType) {
                value = c.cast("double");
            } else if (cell.category()) {
                UDF1<String, Double> code = s -> (double) cell.encode(s);
                value = org.apache.spark.sql.functions.udf(code, DataTypes.DoubleType).apply(c.cast("string"));
            } else {
                Column text = org.apache.spark.sql.functions.trim(c.cast("string"));
                value = when(text.equalTo(""), lit(null)).otherwise(text.try_cast("double"));
            }
            out.add(when(value.isNull(), lit((double) cell.missing())).otherwise(value).alias(TrainingSchema.column(j)));
        }
        out.add(col("`event_time`").try_cast("double").cast("long").alias("event_time"));
        out.add(col("`" + labelColumn + "`").try_cast("double").alias("label"));
        return raw.select(out.toArray(new Column[0]));
    }

    /**
     * Fails on the first text value that should be a number and is not (a numeric feature, the label, event_time):
     * CSV cells are text, and a cell that does not parse must not pass for a missing value.
     */
    static void checkNumbers(Dataset<Row> raw, TrainingSchema schema, String labelColumn, Object where) {
        List<String> numbers = new ArrayList<>();
        for (int j = 0; j < schema.width(); j++) {
            if (!schema.categorical(j)) {
                numbers.add(schema.names().get(j));
            }
        }
        numbers.add(labelColumn);
        numbers.add("event_time");
        Column anyBad = lit(false);
        List<String> checked = new ArrayList<>();
        for (String name : numbers) {
            if (raw.schema().apply(name).dataType() != DataTypes.StringType) {
                continue;
            }
            Column text = org.apache.spark.sql.functions.trim(col("`" + name + "`"));
            anyBad = anyBad.or(text.notEqual("").and(text.try_cast("double").isNull()));
            checked.add(name);
        }
        if (checked.isEmpty()) {
            return;
        }
        List<Row> bad = raw.filter(anyBad).limit(1).collectAsList();
        if (bad.isEmpty()) {
            return;
        }
        Row r = bad.get(0);
        for (String name : checked) {
            Object v = r.get(r.fieldIndex(name));
            String text = v == null ? "" : v.toString().trim();
            if (!text.isEmpty()) {
                try {
                    Double.parseDouble(text);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException(where + ": column '" + name + "' holds '" + text
                            + "', which is not a number");
                }
            }
        }
    }

    static String date(long ms) {
        return LocalDate.ofInstant(Instant.ofEpochMilli(ms), ZoneOffset.UTC).toString();
    }
}
