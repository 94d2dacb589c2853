package io.mlserve.trainer;

import io.mlserve.featurecache.FeatureType;
import io.mlserve.proto.v1.PredictionRecord;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroupFactory;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.schema.LogicalTypeAnnotation;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType.PrimitiveTypeName;
import org.apache.parquet.schema.Types;

/**
 * Writes prediction-log records in the training log's format (the server's {@code training-log/<model>} layout:
 * {@code date=YYYY-MM-DD/part-0.parquet}; the entity key, {@code event_time}, the features as served — NULL where the
 * view's default was served — {@code label}, {@code outcome_time}, {@code score}, {@code model}, {@code version},
 * {@code request_id}, {@code encoding}). A record whose feature names are not the schema's is written with the
 * schema's columns NULL and an encoding that matches no view, so a training run leaves it out and says so.
 */
final class TrainingLogFiles implements AutoCloseable {
    private final Path out;
    private final TrainingSchema schema;
    private final MessageType type;
    private final SimpleGroupFactory groups;
    private final String fingerprint;
    private final Map<String, ParquetWriter<Group>> byDate = new TreeMap<>();

    TrainingLogFiles(Path out, TrainingSchema schema) throws IOException {
        this.out = out;
        this.schema = schema;
        this.fingerprint = schema.fingerprint();
        Types.MessageTypeBuilder b = Types.buildMessage();
        b.required(PrimitiveTypeName.BINARY).as(LogicalTypeAnnotation.stringType()).named(schema.entityKey());
        b.required(PrimitiveTypeName.INT64).named("event_time");
        for (int j = 0; j < schema.width(); j++) {
            if (schema.inputs().get(j).type() == FeatureType.CATEGORICAL) {
                b.optional(PrimitiveTypeName.INT32).named(schema.names().get(j));
            } else {
                b.optional(PrimitiveTypeName.FLOAT).named(schema.names().get(j));
            }
        }
        b.optional(PrimitiveTypeName.DOUBLE).named("label");
        b.optional(PrimitiveTypeName.INT64).named("outcome_time");
        b.required(PrimitiveTypeName.FLOAT).named("score");
        for (String s : List.of("model", "version", "request_id", "encoding")) {
            b.required(PrimitiveTypeName.BINARY).as(LogicalTypeAnnotation.stringType()).named(s);
        }
        this.type = b.named("training_log");
        this.groups = new SimpleGroupFactory(type);
        Files.createDirectories(out);
    }

    /** Writes one logged prediction with its label (null: no outcome). */
    void write(PredictionRecord p, Double label) throws IOException {
        String date = TrainingData.date(p.getTimeMs());
        ParquetWriter<Group> w = byDate.get(date);
        if (w == null) {
            Path dir = out.resolve("date=" + date);
            Files.createDirectories(dir);
            Path file = dir.resolve("part-0.parquet");
            Files.deleteIfExists(file);
            w = ExampleParquetWriter.builder(new org.apache.hadoop.fs.Path(file.toUri())).withType(type)
                    .withConf(new Configuration(false)).withCompressionCodec(CompressionCodecName.SNAPPY)
                    .withExtraMetaData(Map.of("mlserve.encoding", schema.encoding().toString())).build();
            byDate.put(date, w);
        }
        Group g = groups.newGroup().append(schema.entityKey(), p.getEntityId()).append("event_time", p.getTimeMs());
        boolean same = p.getFeatureNamesList().equals(schema.names());
        if (same) {
            Set<Integer> defaulted = new HashSet<>(p.getDefaultedList());
            for (int j = 0; j < schema.width() && j < p.getFeaturesCount(); j++) {
                if (defaulted.contains(j)) {
                    continue;
                }
                float v = p.getFeatures(j);
                if (schema.categorical(j)) {
                    g.append(schema.names().get(j), (int) v);
                } else {
                    g.append(schema.names().get(j), v);
                }
            }
        }
        if (label != null) {
            g.append("label", label.doubleValue());
        }
        g.append("score", (float) p.getScore()).append("model", p.getModelName()).append("version",
                p.getModelVersion()).append("request_id", p.getRequestId())
                .append("encoding", same ? fingerprint
                        : "names:" + Integer.toHexString(p.getFeatureNamesList().hashCode()));
        w.write(g);
    }

    @Override
    public void close() throws IOException {
        IOException first = null;
        for (ParquetWriter<Group> w : byDate.values()) {
            try {
                w.close();
            } catch (IOException e) {
                first = first == null ? e : first;
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
