package io.mlserve.datagen;

import io.mlserve.proto.v1.FeatureRecord;
import io.mlserve.proto.v1.FeatureUpdate;
import io.mlserve.proto.v1.FeatureValue;
import io.mlserve.proto.v1.Outcome;
import java.util.ArrayDeque;
import java.util.Properties;
import java.util.concurrent.locks.LockSupport;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Replays generated records to Kafka on a simulated clock: each record's features as a
 * {@code mlserve.v1.FeatureUpdate} (key = customer id), and its label as a {@code mlserve.v1.Outcome} once the
 * simulated clock has passed the record's event time plus the outcome delay (churn is known 90 days later).
 * Outcomes still pending when the data ends are sent last, as if the clock ran on.
 */
public final class KafkaReplay {
    /** Where and how fast to replay. */
    public record Options(String bootstrapServers, String featuresTopic, String outcomesTopic, String view,
                          double recordsPerSecond, long outcomeDelayMs) {
    }

    /** What was sent. */
    public record Summary(long features, long outcomes, double seconds) {
    }

    private record Pending(long knownAt, String entity, long observedAt, int label) {
    }

    private KafkaReplay() {
    }

    public static Summary replay(ChurnDataGenerator generator, Options o) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, o.bootstrapServers());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        long start = System.nanoTime();
        long[] counts = new long[2];
        ArrayDeque<Pending> pending = new ArrayDeque<>();
        try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p, new StringSerializer(),
                new ByteArraySerializer())) {
            double interval = o.recordsPerSecond() > 0 ? 1e9 / o.recordsPerSecond() : 0;
            generator.stream(row -> {
                while (!pending.isEmpty() && pending.peekFirst().knownAt() <= row.eventTime()) {
                    send(producer, o, pending.pollFirst());
                    counts[1]++;
                }
                long due = start + (long) (counts[0] * interval);
                long wait = due - System.nanoTime();
                if (wait > 0) {
                    LockSupport.parkNanos(wait);
                }
                producer.send(new ProducerRecord<>(o.featuresTopic(), row.customerId(), update(row, o.view())));
                counts[0]++;
                pending.addLast(new Pending(row.eventTime() + o.outcomeDelayMs(), row.customerId(), row.eventTime(),
                        row.churned()));
            });
            while (!pending.isEmpty()) {
                send(producer, o, pending.pollFirst());
                counts[1]++;
            }
            producer.flush();
        }
        return new Summary(counts[0], counts[1], (System.nanoTime() - start) / 1e9);
    }

    private static void send(KafkaProducer<String, byte[]> producer, Options o, Pending x) {
        producer.send(new ProducerRecord<>(o.outcomesTopic(), x.entity(), Outcome.newBuilder().setEntityId(x.entity())
                .setEventTimeMs(x.knownAt()).setObservedEventTimeMs(x.observedAt()).setLabel(x.label()).build()
                .toByteArray()));
    }

    private static byte[] update(ChurnDataGenerator.Row row, String view) {
        FeatureRecord.Builder r = FeatureRecord.newBuilder().setEntityId(row.customerId()).setEventTimeMs(row.eventTime());
        for (int c = 0; c < ChurnSchema.COLUMNS.size(); c++) {
            ChurnSchema.Column col = ChurnSchema.COLUMNS.get(c);
            // a missing cell is sent as missing (a value without a kind), not left out: a merge view keeps a
            // feature a record leaves out
            if (col.categorical()) {
                String v = row.category(c);
                r.putValues(col.name(), v == null ? FeatureValue.getDefaultInstance()
                        : FeatureValue.newBuilder().setCategory(v).build());
            } else {
                r.putValues(col.name(), Double.isNaN(row.number(c)) ? FeatureValue.getDefaultInstance()
                        : FeatureValue.newBuilder().setNumber(row.number(c)).build());
            }
        }
        return FeatureUpdate.newBuilder().setView(view).setRecord(r).build().toByteArray();
    }
}
