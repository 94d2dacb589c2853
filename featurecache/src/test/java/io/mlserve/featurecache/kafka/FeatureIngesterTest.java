package io.mlserve.featurecache.kafka;

import static org.assertj.core.api.Assertions.assertThat;

import io.mlserve.featurecache.FeatureRow;
import io.mlserve.featurecache.FeatureSpec;
import io.mlserve.featurecache.FeatureStatus;
import io.mlserve.featurecache.FeatureStore;
import io.mlserve.featurecache.FeatureView;
import io.mlserve.proto.v1.FeatureRecord;
import io.mlserve.proto.v1.FeatureUpdate;
import io.mlserve.proto.v1.FeatureValue;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Ingestion from a real Kafka broker started by the test: formats, poison records, a broker restart, a merge view
 * fed by two topics.
 */
class FeatureIngesterTest {
    @TempDir
    Path dir;

    static FeatureView view() {
        return new FeatureView("customer", "customer_id", FeatureView.KeyType.STRING, List.of(
                FeatureSpec.numeric("tenure", -1), FeatureSpec.numeric("spend", 0)), Duration.ZERO, 100_000, false);
    }

    /** Counts outcomes so the test can wait for them. */
    static final class Counts implements IngestListener {
        final ConcurrentHashMap<Outcome, AtomicLong> n = new ConcurrentHashMap<>();

        @Override
        public void record(String topic, Outcome outcome) {
            n.computeIfAbsent(outcome, o -> new AtomicLong()).incrementAndGet();
        }

        @Override
        public void lag(String topic, long records) {
        }

        long get(Outcome o) {
            AtomicLong v = n.get(o);
            return v == null ? 0 : v.get();
        }
    }

    private static byte[] json(long time, String feature, double value) {
        return ("{\"event_time_ms\": " + time + ", \"values\": {\"" + feature + "\": " + value + "}}")
                .getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] proto(String id, long time, double tenure) {
        return FeatureUpdate.newBuilder().setView("customer").setRecord(FeatureRecord.newBuilder().setEntityId(id)
                .setEventTimeMs(time).putValues("tenure", FeatureValue.newBuilder().setNumber(tenure).build()))
                .build().toByteArray();
    }

    private static void await(String what, java.util.function.BooleanSupplier done) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (!done.getAsBoolean()) {
            assertThat(System.nanoTime()).as("waiting for " + what).isLessThan(deadline);
            Thread.sleep(50);
        }
    }

    @Test
    void ingestsProtobufAndJsonDeadLettersPoisonAndSurvivesABrokerRestart() throws Exception {
        try (KafkaBroker broker = new KafkaBroker(dir.resolve("kafka")).start();
             FeatureStore store = FeatureStore.open(dir.resolve("tables"), List.of(view()),
                     io.mlserve.featurecache.FeatureStoreListener.NONE)) {
            Counts counts = new Counts();
            IngestConfig cfg = new IngestConfig(broker.bootstrap(), "test", List.of(
                    new IngestConfig.Topic("mlserve.features", IngestConfig.Format.PROTOBUF, "customer", "mlserve.dlq"),
                    new IngestConfig.Topic("features.json", IngestConfig.Format.JSON, "customer", "mlserve.dlq")),
                    Duration.ofMillis(200));
            try (FeatureIngester ingester = new FeatureIngester(cfg, store, counts).start();
                 KafkaProducer<String, byte[]> producer = broker.producer()) {
                producer.send(new ProducerRecord<>("mlserve.features", "p-1", proto("p-1", 100, 7))).get();
                producer.send(new ProducerRecord<>("features.json", "j-1",
                        "{\"event_time_ms\": 100, \"values\": {\"tenure\": 12, \"spend\": 3.5}}"
                                .getBytes(StandardCharsets.UTF_8))).get();
                producer.send(new ProducerRecord<>("features.json", "bad", "{not json".getBytes(StandardCharsets.UTF_8))).get();
                producer.send(new ProducerRecord<>("mlserve.features", "bad", new byte[] {1, 2, 3, 4, 5})).get();
                producer.send(new ProducerRecord<>("features.json", "j-2",
                        "{\"event_time_ms\": 100, \"values\": {\"height\": 180}}".getBytes(StandardCharsets.UTF_8))).get();
                producer.send(new ProducerRecord<>("mlserve.features", "p-1", proto("p-1", 50, 1))).get(); // older
                await("6 records", () -> counts.get(IngestListener.Outcome.APPLIED) == 2
                        && counts.get(IngestListener.Outcome.DEAD_LETTERED) == 3
                        && counts.get(IngestListener.Outcome.IGNORED_OLDER) == 1);
                FeatureRow row = new FeatureRow(view());
                store.read("customer", "p-1", 0, row, "id");
                assertThat(row.value(0)).isEqualTo(7);
                store.read("customer", "j-1", 0, row, "id");
                assertThat(row.value(1)).isEqualTo(3.5);
                List<ConsumerRecord<String, byte[]>> dead = broker.readAll("mlserve.dlq", 3);
                assertThat(dead).extracting(r -> new String(r.headers().lastHeader(FeatureIngester.ERROR_HEADER).value(),
                        StandardCharsets.UTF_8)).anyMatch(m -> m.contains("no feature 'height'"));

                // the broker goes away while producers keep writing; ingestion resumes by itself
                broker.stop();
                Thread.sleep(2000);
                broker.start();
                for (int i = 0; i < 200; i++) {
                    producer.send(new ProducerRecord<>("mlserve.features", "r-" + i, proto("r-" + i, 1000 + i, i)));
                }
                producer.flush();
                await("200 records after the restart", () -> counts.get(IngestListener.Outcome.APPLIED) == 202);
                for (int i = 0; i < 200; i++) {
                    store.read("customer", "r-" + i, 0, row, "id");
                    assertThat(row.value(0)).isEqualTo(i);
                }
            }
        }
    }

    @Test
    void aMergeViewFedByTwoTopicsKeepsEachTopicsFeatures() throws Exception {
        assertThat(view().writeMode()).isEqualTo(FeatureView.WriteMode.MERGE);
        try (KafkaBroker broker = new KafkaBroker(dir.resolve("kafka")).start();
             FeatureStore store = FeatureStore.open(dir.resolve("tables"), List.of(view()),
                     io.mlserve.featurecache.FeatureStoreListener.NONE)) {
            Counts counts = new Counts();
            // usage events carry tenure (protobuf), billing events carry spend (JSON)
            IngestConfig cfg = new IngestConfig(broker.bootstrap(), "test", List.of(
                    new IngestConfig.Topic("usage", IngestConfig.Format.PROTOBUF, "customer", "mlserve.dlq"),
                    new IngestConfig.Topic("billing", IngestConfig.Format.JSON, "customer", "mlserve.dlq")),
                    Duration.ofMillis(200));
            try (FeatureIngester ingester = new FeatureIngester(cfg, store, counts).start();
                 KafkaProducer<String, byte[]> producer = broker.producer()) {
                producer.send(new ProducerRecord<>("usage", "u-1", proto("u-1", 100, 7))).get();
                producer.send(new ProducerRecord<>("billing", "u-1", json(200, "spend", 3.5))).get();
                // older than the row, newer than tenure's own time: applies
                producer.send(new ProducerRecord<>("usage", "u-1", proto("u-1", 150, 8))).get();
                producer.send(new ProducerRecord<>("billing", "u-1", json(120, "spend", 1))).get(); // older spend
                producer.send(new ProducerRecord<>("billing", "u-1", json(300, "height", 180))).get(); // poison
                for (int i = 0; i < 100; i++) {
                    producer.send(new ProducerRecord<>("usage", "r-" + i, proto("r-" + i, 2000 - i, i)));
                    producer.send(new ProducerRecord<>("billing", "r-" + i, json(1000 + i, "spend", i * 0.5)));
                }
                producer.flush();
                await("205 records", () -> counts.get(IngestListener.Outcome.APPLIED) == 203
                        && counts.get(IngestListener.Outcome.IGNORED_OLDER) == 1
                        && counts.get(IngestListener.Outcome.DEAD_LETTERED) == 1);
                FeatureRow row = new FeatureRow(view());
                store.read("customer", "u-1", 0, row, "id");
                assertThat(new double[] {row.value(0), row.value(1)}).containsExactly(8, 3.5);
                assertThat(row.status(0)).isEqualTo(FeatureStatus.PRESENT);
                assertThat(row.eventTimeMs()).isEqualTo(200);
                for (int i = 0; i < 100; i++) {
                    store.read("customer", "r-" + i, 0, row, "id");
                    assertThat(new double[] {row.value(0), row.value(1)}).as("r-" + i).containsExactly(i, i * 0.5);
                }
                List<ConsumerRecord<String, byte[]>> dead = broker.readAll("mlserve.dlq", 1);
                assertThat(dead).extracting(r -> new String(r.headers().lastHeader(FeatureIngester.ERROR_HEADER).value(),
                        StandardCharsets.UTF_8)).anyMatch(m -> m.contains("no feature 'height'"));
            }
        }
    }
}
