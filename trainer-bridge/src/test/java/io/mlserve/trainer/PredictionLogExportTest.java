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
 * late, duplicated, missing and malformed; the export is the data set's format and the trainer trains on it.
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
            PredictionLogExport.Summary s = PredictionLogExport.export(kafka.bootstrap(), "mlserve.predictions",
                    "mlserve.outcomes", "churn", 3_600_000, out);
            assertThat(s.predictions()).isEqualTo(4_000);
            assertThat(s.otherModels()).isEqualTo(1);
            assertThat(s.joinedByRequest()).isEqualTo(2_000); // every even i
            assertThat(s.joinedByEntity()).isEqualTo(1_600); // odd i, but for i % 10 == 9
            assertThat(s.duplicateOutcomes()).isEqualTo(1);
            assertThat(s.unmatchedOutcomes()).isEqualTo(1);
            assertThat(s.malformedOutcomes()).isEqualTo(1);
            assertThat(s.unlabelled()).isEqualTo(400);
            assertThat(s.written()).isEqualTo(3_600);
            assertThat(s.versions()).containsEntry("churn/1", 1_800L).containsEntry("churn/2", 1_800L);
            assertThat(out.resolve("data.parquet")).exists();
            assertThat(out.resolve("export.json")).exists();

            // each written row is the served features and the joined label, categories back to their names
            List<String> lines = Files.readAllLines(out.resolve("data.csv"));
            assertThat(lines.get(0).split(",")).containsExactlyElementsOf(io.mlserve.datagen.ChurnFiles.columns());
            assertThat(lines).hasSize(3_601);
            for (String line : lines.subList(1, lines.size())) {
                String[] c = line.split(",", -1);
                double[] v = expected.get(c[1]);
                assertThat(v).as(c[1]).isNotNull();
                assertThat(Long.parseLong(c[0])).isEqualTo((long) v[width]);
                for (int j = 0; j < width; j++) {
                    ChurnSchema.Column col = ChurnSchema.COLUMNS.get(j);
                    String cell = c[j + 2];
                    if (col.categorical()) {
                        assertThat(cell).isEqualTo(v[j] < 0 ? "" : col.vocabulary().get((int) v[j]));
                    } else if (Double.isNaN(v[j])) {
                        assertThat(cell).isEmpty();
                    } else {
                        assertThat(Double.parseDouble(cell)).as("%s %s", c[1], col.name())
                                .isCloseTo(v[j], org.assertj.core.data.Offset.offset(5e-5 + Math.abs(v[j]) * 1e-6));
                    }
                }
                assertThat(Integer.parseInt(c[width + 2])).isEqualTo((int) v[width + 1]);
            }

            // the trainer takes it as it takes generated data
            ChurnTrainer.Result r = new ChurnTrainer("local[2]", 0.2).trainLogisticRegression(out, "churn",
                    dir.resolve("models"));
            assertThat(r.version()).isEqualTo(1);
            assertThat(r.maxAbsDelta()).isLessThan(1e-4);

            assertThatThrownBy(() -> PredictionLogExport.export(kafka.bootstrap(), "no.such.topic",
                    "mlserve.outcomes", null, 1, dir.resolve("x"))).hasMessageContaining("does not exist");
        }
    }

    private static KafkaProducer<String, byte[]> producer(String bootstrap) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        return new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
    }
}
