package io.mlserve.datagen;

import static org.assertj.core.api.Assertions.assertThat;

import io.mlserve.featurecache.kafka.KafkaBroker;
import io.mlserve.proto.v1.FeatureUpdate;
import io.mlserve.proto.v1.Outcome;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Replaying generated data to a real broker: every record's features, and each label 90 simulated days later. */
class KafkaReplayTest {
    private static final long DAY = 86_400_000L;

    @TempDir
    Path dir;

    @Test
    void sendsFeaturesInOrderAndOutcomesAfterTheirDelay() throws Exception {
        int rows = 3000;
        try (KafkaBroker broker = new KafkaBroker(dir.resolve("kafka")).start()) {
            KafkaReplay.Summary s = KafkaReplay.replay(new ChurnDataGenerator(new ChurnDataGenerator.Options(rows, 3, 5)),
                    new KafkaReplay.Options(broker.bootstrap(), "mlserve.features", "mlserve.outcomes", "customer",
                            20_000, 90 * DAY));
            assertThat(s.features()).isEqualTo(rows);
            assertThat(s.outcomes()).isEqualTo(rows);
            List<ConsumerRecord<String, byte[]>> features = readAll(broker.bootstrap(), "mlserve.features", rows);
            List<ConsumerRecord<String, byte[]>> outcomes = readAll(broker.bootstrap(), "mlserve.outcomes", rows);
            assertThat(features).hasSize(rows);
            assertThat(outcomes).hasSize(rows);
            long previous = 0;
            for (ConsumerRecord<String, byte[]> r : features) {
                FeatureUpdate u = FeatureUpdate.parseFrom(r.value());
                assertThat(u.getView()).isEqualTo("customer");
                assertThat(u.getRecord().getEntityId()).isEqualTo(r.key());
                assertThat(u.getRecord().getEventTimeMs()).isGreaterThanOrEqualTo(previous);
                assertThat(u.getRecord().getValuesCount()).isGreaterThan(40);
                previous = u.getRecord().getEventTimeMs();
            }
            double positives = 0;
            for (ConsumerRecord<String, byte[]> r : outcomes) {
                Outcome o = Outcome.parseFrom(r.value());
                assertThat(o.getEventTimeMs() - o.getObservedEventTimeMs()).isEqualTo(90 * DAY);
                positives += o.getLabel();
            }
            assertThat(positives / rows).isBetween(0.11, 0.19);
        }
    }

    private static List<ConsumerRecord<String, byte[]>> readAll(String bootstrap, String topic, int n) {
        Properties c = new Properties();
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        c.put(ConsumerConfig.GROUP_ID_CONFIG, "reader-" + topic);
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        List<ConsumerRecord<String, byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(c, new StringDeserializer(),
                new ByteArrayDeserializer())) {
            consumer.subscribe(List.of(topic));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (out.size() < n && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(500)).forEach(out::add);
            }
        }
        return out;
    }
}
