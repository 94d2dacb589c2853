package io.mlserve.server.batch;

import io.mlserve.featurecache.CategoryCodes;
import io.mlserve.featurecache.CsvSnapshot;
import io.mlserve.featurecache.FeatureSpec;
import io.mlserve.featurecache.FeatureTable;
import io.mlserve.featurecache.FeatureView;
import io.mlserve.featurecache.RowTarget;
import io.mlserve.featurecache.Snapshots;
import io.mlserve.proto.inference.ModelConfig;
import io.mlserve.proto.inference.ModelFeatureBinding;
import io.mlserve.runtime.DataType;
import io.mlserve.runtime.ModelLoadException;
import io.mlserve.runtime.ModelSession;
import io.mlserve.runtime.RunOutputs;
import io.mlserve.runtime.SessionConfig;
import io.mlserve.runtime.TensorBatch;
import io.mlserve.runtime.TensorSpec;
import io.mlserve.server.repository.ModelConfigs;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.LongConsumer;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroupFactory;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;

/**
 * Scores a whole data set (CSV or Parquet) with a published model version, in process, in large batches — with the
 * online path's pieces so batch and online cannot drift apart: the file is read by the feature store's snapshot
 * reader (same column matching, same category codes), each row becomes the model input the way Predict assembles
 * it from the store (the model's feature binding, the view's defaults for absent values), and the batch runs through
 * the server's {@link ModelSession}. Writes the entity key, the event time (when the file has one), the score, the
 * model and the version, as CSV or Parquet (by the output's extension).
 */
public final class BatchScorer implements RowTarget, AutoCloseable {
    /** What to score. {@code version} 0 = the newest version in the repository. */
    public record Options(Path data, Path registry, String model, long version, FeatureView view, Path out,
                          int batchRows, String eventTimeColumn, SessionConfig session) {
    }

    /** What a run did. */
    public record Summary(long rows, long version, double seconds) {
        public double rowsPerSecond() {
            return rows / Math.max(seconds, 1e-9);
        }
    }

    private final Options options;
    private final FeatureView view;
    private final CategoryCodes codes;
    private final ModelSession session;
    private final long version;
    private final int[] column;
    private final int width;
    private final int input;
    private final Set<String> output;
    private final TensorBatch batch;
    private final float[] rowValues;
    private final String[] keys;
    private final long[] times;
    private final Writer writer;
    private final LongConsumer progress;
    private int pending;
    private long rows;

    private BatchScorer(Options o, LongConsumer progress) throws IOException, ModelLoadException {
        this.options = o;
        this.progress = progress;
        if (o.batchRows() < 1) {
            throw new IllegalArgumentException("--batch must be >= 1, got " + o.batchRows());
        }
        Path modelDir = o.registry().resolve(o.model());
        if (!Files.isDirectory(modelDir)) {
            throw new IllegalArgumentException("no model '" + o.model() + "' in " + o.registry());
        }
        this.version = o.version() > 0 ? o.version() : newest(modelDir);
        Path file = modelDir.resolve(Long.toString(version)).resolve("model.onnx");
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(o.model() + " version " + version + ": no " + file);
        }
        ModelConfig config = ModelConfigs.read(modelDir, o.model());
        ModelFeatureBinding binding = config.getFeatures();
        if (binding.getNamesCount() == 0) {
            throw new IllegalArgumentException(modelDir.resolve("config.json") + ": the model has no feature binding "
                    + "(features.names): batch scoring reads the features it binds from the data's columns");
        }
        this.view = o.view();
        if (!view.name().equals(binding.getView())) {
            throw new IllegalArgumentException("model '" + o.model() + "' reads view '" + binding.getView()
                    + "', the config defines '" + view.name() + "'");
        }
        this.codes = new CategoryCodes(view);
        List<String> names = binding.getNamesList();
        this.width = names.size();
        this.column = new int[width];
        for (int j = 0; j < width; j++) {
            column[j] = view.indexOf(names.get(j));
            if (column[j] < 0) {
                throw new IllegalArgumentException("model '" + o.model() + "' binds feature '" + names.get(j)
                        + "', which view '" + view.name() + "' does not have");
            }
        }
        this.session = ModelSession.open(o.model() + ":" + version, file, o.session());
        try {
            String inputName = binding.getInput().isEmpty() ? session.signature().inputs().get(0).name()
                    : binding.getInput();
            this.input = session.signature().inputIndex(inputName);
            TensorSpec in = input < 0 ? null : session.signature().inputs().get(input);
            if (in == null || in.dataType() != DataType.FP32 || session.signature().inputs().size() != 1) {
                throw new IllegalArgumentException("batch scoring needs one FP32 [batch, " + width + "] input; "
                        + o.model() + " has " + session.signature().inputs());
            }
            TensorSpec first = session.signature().outputs().get(0);
            if (first.dataType() != DataType.FP32) {
                throw new IllegalArgumentException("the first output of " + o.model() + " is " + first.dataType()
                        + "; batch scoring writes an FP32 score");
            }
            this.output = Set.of(first.name());
            this.batch = new TensorBatch(session.signature());
            this.rowValues = new float[o.batchRows() * width];
            this.keys = new String[o.batchRows()];
            this.times = new long[o.batchRows()];
            this.writer = o.out().getFileName().toString().endsWith(".parquet")
                    ? new ParquetOut(o.out(), view.entityKey()) : new CsvOut(o.out(), view.entityKey());
        } catch (IOException | RuntimeException e) {
            session.close();
            throw e;
        }
    }

    /** Scores {@code o.data()} into {@code o.out()}; {@code progress} gets the rows scored so far, per batch. */
    public static Summary run(Options o, LongConsumer progress) throws IOException, ModelLoadException {
        long start = System.nanoTime();
        try (BatchScorer s = new BatchScorer(o, progress)) {
            CsvSnapshot.LoadSummary read;
            try {
                read = Snapshots.load(o.data(), s, o.eventTimeColumn(), Long.MIN_VALUE);
            } catch (UncheckedIOException e) {
                throw e.getCause();
            }
            s.flush();
            if (read.rows() != s.rows) {
                throw new IllegalStateException("read " + read.rows() + " rows, scored " + s.rows);
            }
            return new Summary(s.rows, s.version, (System.nanoTime() - start) / 1e9);
        }
    }

    /**
     * The encoding Spark scoring applies (see the trainer's SparkScorer): the model file, and the view's features the
     * model binds, in input order, with their types, vocabularies and defaults — the same definitions as here.
     */
    public static String sparkEncoding(Path registry, String model, long version, FeatureView view,
                                       String eventTimeColumn) throws IOException, ModelLoadException {
        Path modelDir = registry.resolve(model);
        long v = version > 0 ? version : newest(modelDir);
        ModelConfig config = ModelConfigs.read(modelDir, model);
        com.fasterxml.jackson.databind.node.ObjectNode e = com.fasterxml.jackson.databind.node.JsonNodeFactory
                .instance.objectNode().put("model", model).put("version", v)
                .put("model_file", modelDir.resolve(Long.toString(v)).resolve("model.onnx").toAbsolutePath().toString())
                .put("event_time_column", eventTimeColumn);
        try {
            e.setAll(io.mlserve.featurecache.ViewEncoding.json(view, config.getFeatures().getNamesList()));
        } catch (IllegalArgumentException bad) {
            throw new IllegalArgumentException("model '" + model + "': " + bad.getMessage());
        }
        return e.toString();
    }

    /** The newest version directory with a model.onnx. */
    static long newest(Path modelDir) throws IOException {
        try (Stream<Path> dirs = Files.list(modelDir)) {
            return dirs.filter(d -> d.getFileName().toString().matches("[1-9][0-9]{0,17}")
                            && Files.isRegularFile(d.resolve("model.onnx")))
                    .mapToLong(d -> Long.parseLong(d.getFileName().toString())).max()
                    .orElseThrow(() -> new IllegalArgumentException(modelDir + ": no published version"));
        }
    }

    @Override
    public FeatureView view() {
        return view;
    }

    @Override
    public long categoryCode(int feature, String value) {
        return codes.code(feature, value);
    }

    /** One row of the file, as the snapshot reader encodes it: assembled like Predict reads it from the store. */
    @Override
    public FeatureTable.WriteOutcome write(CharSequence entity, long eventTimeMs, double[] values, boolean[] present) {
        List<FeatureSpec> specs = view.features();
        int at = pending * width;
        for (int j = 0; j < width; j++) {
            int f = column[j];
            rowValues[at + j] = (float) (present[f] && !Double.isNaN(values[f]) ? values[f] : specs.get(f).defaultValue());
        }
        keys[pending] = entity.toString();
        times[pending] = eventTimeMs;
        if (++pending == keys.length) {
            try {
                flush();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return FeatureTable.WriteOutcome.APPLIED;
    }

    private void flush() throws IOException {
        if (pending == 0) {
            return;
        }
        int n = pending;
        ByteBuffer in = batch.buffer(input, n * width * 4);
        for (int i = 0; i < n * width; i++) {
            in.putFloat(i * 4, rowValues[i]);
        }
        long[] shape = batch.shape(input, 2);
        shape[0] = n;
        shape[1] = width;
        try (RunOutputs out = session.run(batch, output, n)) {
            ByteBuffer scores = out.bytes(0).order(ByteOrder.nativeOrder());
            long[] s = out.shape(0);
            int per = 1;
            for (int d = 1; d < s.length; d++) {
                per *= (int) s[d];
            }
            for (int i = 0; i < n; i++) {
                writer.row(keys[i], times[i], scores.getFloat(i * per * 4), options.model(), version);
            }
        } catch (ai.onnxruntime.OrtException e) {
            throw new IOException("ONNX Runtime failed on rows " + rows + ".." + (rows + n) + ": " + e.getMessage(), e);
        }
        rows += n;
        pending = 0;
        if (progress != null) {
            progress.accept(rows);
        }
    }

    @Override
    public void close() throws IOException {
        try {
            writer.close();
        } finally {
            session.close();
        }
    }

    private interface Writer extends AutoCloseable {
        void row(String key, long time, float score, String model, long version) throws IOException;

        @Override
        void close() throws IOException;
    }

    private static final class CsvOut implements Writer {
        private final BufferedWriter out;

        CsvOut(Path file, String key) throws IOException {
            out = Files.newBufferedWriter(file);
            out.write(key + ",event_time,score,model,version\n");
        }

        @Override
        public void row(String key, long time, float score, String model, long version) throws IOException {
            out.write(key.indexOf(',') >= 0 || key.indexOf('"') >= 0 ? '"' + key.replace("\"", "\"\"") + '"' : key);
            out.write(',');
            out.write(time == Long.MIN_VALUE ? "" : Long.toString(time));
            out.write(',');
            // shortest text that reads back as the same float
            out.write(Float.toString(score));
            out.write(',');
            out.write(model);
            out.write(',');
            out.write(Long.toString(version));
            out.write('\n');
        }

        @Override
        public void close() throws IOException {
            out.close();
        }
    }

    private static final class ParquetOut implements Writer {
        private final ParquetWriter<Group> out;
        private final SimpleGroupFactory groups;
        private final String key;

        ParquetOut(Path file, String key) throws IOException {
            this.key = key;
            MessageType schema = MessageTypeParser.parseMessageType(String.format(Locale.ROOT,
                    "message scores { required binary %s (STRING); optional int64 event_time; required float score; "
                            + "required binary model (STRING); required int64 version; }", key));
            groups = new SimpleGroupFactory(schema);
            Files.deleteIfExists(file);
            out = ExampleParquetWriter.builder(new org.apache.hadoop.fs.Path(file.toAbsolutePath().toUri()))
                    .withType(schema).withConf(new Configuration(false))
                    .withCompressionCodec(CompressionCodecName.SNAPPY).build();
        }

        @Override
        public void row(String k, long time, float score, String model, long version) throws IOException {
            Group g = groups.newGroup().append(key, k);
            if (time != Long.MIN_VALUE) {
                g.append("event_time", time);
            }
            out.write(g.append("score", score).append("model", model).append("version", version));
        }

        @Override
        public void close() throws IOException {
            out.close();
        }
    }
}
