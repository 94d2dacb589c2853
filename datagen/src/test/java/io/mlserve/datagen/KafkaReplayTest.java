package io.mlserve.datagen;

import static org.assertj.core.api.Assertions.assertThat;

import io.mlserve.featurecache.kafka.KafkaBroker;
import io.mlserve.proto.v1.FeatureUpdate;
import io.mlserve.proto.v1.Outcome;
import java.nio.file.Path;
import java.util.List;
import org.apache.kafka.clients.consumer.ConsumerRecord;
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
            List<ConsumerRecord<String, byte[]>> features = broker.readAll("mlserve.features", rows);
            List<ConsumerRecord<String, byte[]>> outcomes = broker.readAll("mlserve.outcomes", rows);
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
}
