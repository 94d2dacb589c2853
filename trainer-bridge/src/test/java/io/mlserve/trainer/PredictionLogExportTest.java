package io.mlserve.trainer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mlserve.datagen.ChurnDataGenerator;
import io.mlserve.datagen.ChurnSchema;
import io.mlserve.featurecache.kafka.KafkaBroker;
import io.mlserve.proto.v1.Outcome;
import io.mlserve.proto.v1.PredictionRecord;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The prediction log as training data, through a real Kafka broker: records as the server logs them (feature
 * names, values as served — categories as vocabulary codes), outcomes joined by request id, by entity and time,
 * late, duplicated, missing and malformed; the export is the training log's format (features as served, NULL where
 * the view's default was served) and the trainer trains on it.
 */
class PredictionLogExportTest {
    @TempDir
    Path dir;

    @Test
    void joinsTheLogWithOutcomesIntoDataTheTrainerTrainsOn() throws Exception {
        List<double[]> values = new ArrayList<>();
        new ChurnDataGenerator(new ChurnDataGenerator.Options(4_000, 1, 17)).stream(r -> {
            double[] v = new double[ChurnSchema.COLUMNS.size() + 2];
            for (int j = 0; j < ChurnSchema.COLUMNS.size(); j++) {
                ChurnSchema.Column c = ChurnSchema.COLUMNS.get(j);
                String cat = c.categorical() ? r.category(j) : null;
                v[j] = c.categorical() ? (cat == null ? -1 : c.vocabulary().indexOf(cat)) : (float) r.number(j);
            }
            v[v.length - 2] = r.eventTime();
            v[v.length - 1] = r.churned();
            values.add(v);
        });
        int width = ChurnSchema.COLUMNS.size();
        List<String> names = ChurnSchema.COLUMNS.stream().map(ChurnSchema.Column::name).toList();
        Map<String, double[]> expected = new HashMap<>();
        try (KafkaBroker kafka = new KafkaBroker(dir.resolve("kafka")).start();
             KafkaProducer<String, byte[]> producer = producer(kafka.bootstrap())) {
            for (int i = 0; i < values.size(); i++) {
                double[] v = values.get(i);
                String entity = "c-" + i;
                PredictionRecord.Builder p = PredictionRecord.newBuilder().setRequestId("req-" + i)
                        .setEntityId(entity).setModelName("churn").setModelVersion(i < 2_000 ? "1" : "2")
                        .setTimeMs((long) v[width]).addAllFeatureNames(names).setScore(0.5);
                for (int j = 0; j < width; j++) {
                    p.addFeatures((float) v[j]);
                    boolean missing = ChurnSchema.COLUMNS.get(j).categorical() ? v[j] < 0 : Double.isNaN(v[j]);
                    if (missing) {
                        p.addDefaulted(j); // what the server marks: the view's default was served
                    }
                }
                producer.send(new ProducerRecord<>("mlserve.predictions", entity, p.build().toByteArray()));
                // every 10th has no outcome yet; half the rest name the request, half only entity and time
                if (i % 10 == 9) {
                    continue;
                }
                Outcome.Builder o = Outcome.newBuilder().setEntityId(entity).setLabel(v[width + 1])
                        .setEventTimeMs((long) v[width] + 90L * 86_400_000L);
                if (i % 2 == 0) {
                    o.setRequestId("req-" + i);
                } else {
                    o.setObservedEventTimeMs((long) v[width] + 1_000);
                }
                producer.send(new ProducerRecord<>("mlserve.outcomes", entity, o.build().toByteArray()));
                expected.put(entity, v);
            }
            // another model's prediction, a duplicate outcome, one for a prediction never logged, garbage
            producer.send(new ProducerRecord<>("mlserve.predictions", "x", PredictionRecord.newBuilder()
                    .setModelName("other").setEntityId("c-0").setTimeMs(1).build().toByteArray()));
            producer.send(new ProducerRecord<>("mlserve.outcomes", "c-0", Outcome.newBuilder().setEntityId("c-0")
                    .setRequestId("req-0").setLabel(1).build().toByteArray()));
            producer.send(new ProducerRecord<>("mlserve.outcomes", "nobody", Outcome.newBuilder()
                    .setEntityId("nobody").setObservedEventTimeMs(5).setLabel(1).build().toByteArray()));
            producer.send(new ProducerRecord<>("mlserve.outcomes", "bad", new byte[] {(byte) 0xff, 1, 2}));
            producer.flush();

            Path out = dir.resolve("from-log");
            Path config = dir.resolve("mlserve.yaml");
            Files.writeString(config, "feature_views:\n" + ChurnSchema.viewYaml("  "));
            TrainingSchema schema = TrainingSchema.fromConfig(config, "customer", TrainingData.LOG_LABEL);
            PredictionLogExport.Summary s = PredictionLogExport.export(kafka.bootstrap(), "mlserve.predictions",
                    "mlserve.outcomes", "churn", schema, 3_600_000, out);
            assertThat(s.predictions()).isEqualTo(4_000);
            assertThat(s.otherModels()).isEqualTo(1);
            assertThat(s.joinedByRequest()).isEqualTo(2_000); // every even i
            assertThat(s.joinedByEntity()).isEqualTo(1_600); // odd i, but for i % 10 == 9
            assertThat(s.duplicateOutcomes()).isEqualTo(1);
            assertThat(s.unmatchedOutcomes()).isEqualTo(1);
            assertThat(s.malformedOutcomes()).isEqualTo(1);
            assertThat(s.unlabelled()).isEqualTo(400);
            assertThat(s.written()).as("unlabelled rows are kept, without a label").isEqualTo(4_000);
            assertThat(s.versions()).containsEntry("churn/1", 2_000L).containsEntry("churn/2", 2_000L);
            assertThat(out.resolve("_export.json")).exists();

            // each written row is the served features (NULL where the default was served) and the joined label
            int labelled = 0;
            try (java.util.stream.Stream<Path> files = Files.walk(out)) {
                for (Path f : files.filter(x -> x.toString().endsWith(".parquet")).toList()) {
                    assertThat(f.getParent().getFileName().toString()).startsWith("date=");
                    try (org.apache.parquet.hadoop.ParquetReader<org.apache.parquet.example.data.Group> reader =
                                 org.apache.parquet.hadoop.ParquetReader.builder(
                                         new org.apache.parquet.hadoop.example.GroupReadSupport(),
                                         new org.apache.hadoop.fs.Path(f.toUri())).build()) {
                        for (org.apache.parquet.example.data.Group g; (g = reader.read()) != null; ) {
                            String entity = g.getString("customer_id", 0);
                            assertThat(g.getString("encoding", 0)).isEqualTo(schema.fingerprint());
                            double[] v = expected.get(entity);
                            if (v == null) {
                                assertThat(g.getFieldRepetitionCount("label")).as(entity).isZero();
                                continue;
                            }
                            labelled++;
                            assertThat(g.getLong("event_time", 0)).isEqualTo((long) v[width]);
                            assertThat(g.getDouble("label", 0)).isEqualTo(v[width + 1]);
                            for (int j = 0; j < width; j++) {
                                ChurnSchema.Column col = ChurnSchema.COLUMNS.get(j);
                                boolean missing = col.categorical() ? v[j] < 0 : Double.isNaN(v[j]);
                                assertThat(g.getFieldRepetitionCount(col.name())).as("%s %s", entity, col.name())
                                        .isEqualTo(missing ? 0 : 1);
                                if (!missing) {
                                    assertThat(col.categorical() ? g.getInteger(col.name(), 0)
                                            : (double) g.getFloat(col.name(), 0)).isEqualTo(col.categorical()
                                            ? (int) v[j] : (double) (float) v[j]);
                                }
                            }
                        }
                    }
                }
            }
            assertThat(labelled).isEqualTo(3_600);

            // the trainer takes it as it takes a server's training log
            ModelTrainer.Result r = new ModelTrainer("local[2]", 0.2).train(ModelTrainer.Algorithm.LOGISTIC_REGRESSION,
                    schema, TrainingData.source(out, 0, 0), "churn", dir.resolve("models"));
            assertThat(r.version()).isEqualTo(1);
            assertThat(r.maxAbsDelta()).isLessThan(1e-4);
            assertThat(r.data()).contains("3,600 labelled rows").contains("400 without an outcome");

            assertThatThrownBy(() -> PredictionLogExport.export(kafka.bootstrap(), "no.such.topic",
                    "mlserve.outcomes", "churn", schema, 1, dir.resolve("x"))).hasMessageContaining("does not exist");
        }
    }

    private static KafkaProducer<String, byte[]> producer(String bootstrap) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        return new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
    }
}
