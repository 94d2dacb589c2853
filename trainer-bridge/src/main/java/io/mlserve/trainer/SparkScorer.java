package io.mlserve.trainer;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.Serializable;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Batch scoring on Spark, for data that does not fit one machine: the same model artifact and the same encoding as
 * online serving and {@code ./mlserve score} in process. The encoding comes from the server side
 * ({@code ./mlserve score --spark-master}) as JSON: the model's input features in input order, each a number (its
 * default for a missing cell; null = NaN) or a category (vocabulary index or hash bucket; its default when missing,
 * -1 when unknown), the entity key and the event time column. Each partition opens one ONNX Runtime session from
 * the broadcast model and scores its rows in batches; the output (entity key, event_time, score, model, version) is
 * written as Parquet or CSV part files into the {@code --out} directory.
 */
@Command(name = "score-spark", mixinStandardHelpOptions = true,
        description = "Score a data set on Spark with a model and the server's feature encoding.")
public final class SparkScorer implements Callable<Integer> {
    @Option(names = "--encoding", required = true, description = "The encoding JSON (written by ./mlserve score).")
    Path encoding;

    @Option(names = "--data", required = true, description = "CSV file (with a header) or Parquet file/directory.")
    String data;

    @Option(names = "--out", required = true, description = "Output directory; Parquet unless it ends in .csv.")
    String out;

    @Option(names = "--spark-master", defaultValue = "local[*]", description = "Default: ${DEFAULT-VALUE}.")
    String master;

    @Option(names = "--batch", defaultValue = "8192", description = "Rows per ONNX Runtime run.")
    int batch;

    /** The encoding file, read. */
    record Encoding(String model, long version, String modelFile, String entityKey, String eventTime,
                    List<TrainingSchema.Cell> inputs) implements Serializable {
        static Encoding read(Path file) throws java.io.IOException {
            return parse(Files.readString(file));
        }

        static Encoding parse(String json) throws java.io.IOException {
            JsonNode e = new ObjectMapper().readTree(json);
            TrainingSchema schema = TrainingSchema.fromEncoding(json, null);
            return new Encoding(e.get("model").asText(), e.get("version").asLong(), e.get("model_file").asText(),
                    e.get("entity_key").asText(), e.path("event_time_column").asText(""), schema.cells());
        }
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new SparkScorer()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        long start = System.nanoTime();
        Encoding enc = Encoding.read(encoding);
        long rows = run(master, enc, data, out, batch);
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf(Locale.ROOT, "scored %,d rows with %s version %d on Spark (%s) in %.1f s (%,.0f rows/s) "
                + "-> %s%n", rows, enc.model(), enc.version(), master, seconds, rows / seconds, out);
        return 0;
    }

    /** A Spark session on {@code master} for one scoring run; returns the rows scored. */
    static long run(String master, Encoding enc, String data, String out, int batch) throws Exception {
        SparkSession.Builder builder = SparkSession.builder().appName("mlserve-score").master(master)
                .config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC");
        if (master.startsWith("local")) {
            builder.config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1");
        }
        SparkSession spark = builder.getOrCreate();
        try {
            return score(spark, enc, data, out, batch);
        } finally {
            spark.stop();
        }
    }

    /** Scores {@code data} into {@code out}; returns the rows scored. */
    static long score(SparkSession spark, Encoding enc, String data, String out, int batch) throws Exception {
        boolean csvIn = data.endsWith(".csv");
        Dataset<Row> in = csvIn ? spark.read().option("header", "true").csv(data) : spark.read().parquet(data);
        List<String> columns = List.of(in.columns());
        if (!columns.contains(enc.entityKey())) {
            throw new IllegalArgumentException(data + ": no column '" + enc.entityKey() + "' (the entity key)");
        }
        boolean hasTime = !enc.eventTime().isEmpty() && columns.contains(enc.eventTime());
        int[] at = new int[enc.inputs().size()];
        for (int j = 0; j < at.length; j++) {
            at[j] = columns.indexOf(enc.inputs().get(j).name());
        }
        int keyAt = columns.indexOf(enc.entityKey());
        int timeAt = hasTime ? columns.indexOf(enc.eventTime()) : -1;
        Broadcast<byte[]> model = org.apache.spark.api.java.JavaSparkContext.fromSparkContext(spark.sparkContext())
                .broadcast(Files.readAllBytes(Path.of(enc.modelFile())));
        StructType schema = new StructType().add(enc.entityKey(), DataTypes.StringType, false)
                .add("event_time", DataTypes.LongType, true).add("score", DataTypes.FloatType, false)
                .add("model", DataTypes.StringType, false).add("version", DataTypes.LongType, false);
        MapPartitionsFunction<Row, Row> scoreRows = rows -> scorePartition(rows, model.value(), enc, at, keyAt, timeAt,
                batch);
        Dataset<Row> scored = in.mapPartitions(scoreRows, Encoders.row(schema)).cache();
        long n = scored.count();
        if (out.endsWith(".csv")) {
            scored.write().mode("overwrite").option("header", "true").csv(out);
        } else {
            scored.write().mode("overwrite").parquet(out);
        }
        scored.unpersist();
        return n;
    }

    private static Iterator<Row> scorePartition(Iterator<Row> rows, byte[] model, Encoding enc, int[] at, int keyAt,
                                                int timeAt, int batch) throws Exception {
        int width = at.length;
        List<Row> out = new ArrayList<>();
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions so = new OrtSession.SessionOptions();
             OrtSession session = env.createSession(model, so)) {
            String input = session.getInputNames().iterator().next();
            float[] x = new float[batch * width];
            String[] keys = new String[batch];
            Long[] times = new Long[batch];
            int n = 0;
            while (rows.hasNext() || n > 0) {
                if (rows.hasNext()) {
                    Row r = rows.next();
                    for (int j = 0; j < width; j++) {
                        x[n * width + j] = enc.inputs().get(j).encode(at[j] < 0 ? null : r.get(at[j]));
                    }
                    keys[n] = String.valueOf(r.get(keyAt));
                    Object t = timeAt < 0 ? null : r.get(timeAt);
                    times[n] = t == null ? null
                            : t instanceof Number num ? num.longValue() : Long.parseLong(t.toString());
                    if (++n < batch && rows.hasNext()) {
                        continue;
                    }
                }
                try (OnnxTensor tensor = OnnxTensor.createTensor(env, FloatBuffer.wrap(x, 0, n * width),
                        new long[] {n, width}); OrtSession.Result res = session.run(Map.of(input, tensor))) {
                    FloatBuffer scores = ((OnnxTensor) res.get(0)).getFloatBuffer();
                    int per = scores.remaining() / n;
                    for (int i = 0; i < n; i++) {
                        out.add(RowFactory.create(keys[i], times[i], scores.get(i * per), enc.model(), enc.version()));
                    }
                }
                n = 0;
            }
        }
        return out.iterator();
    }
}
