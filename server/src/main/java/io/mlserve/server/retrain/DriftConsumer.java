package io.mlserve.server.retrain;

import com.google.protobuf.InvalidProtocolBufferException;
import io.mlserve.proto.v1.DriftEvent;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drift events from Kafka ({@code mlserve.drift}, value: a serialized {@code DriftEvent}) handed to the
 * retrain bridge, for drift detected in another process. A new consumer group starts at the end of the
 * topic: events from before this server first ran are history, not a reason to retrain now. Offsets are
 * committed once the events are handed over; the bridge drops a redelivered event as a duplicate (same event
 * id) and the trainer deduplicates by request id across servers.
 */
public final class DriftConsumer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DriftConsumer.class);

    private final KafkaConsumer<String, byte[]> consumer;
    private final RetrainBridge bridge;
    private final String topic;
    private final Thread thread;
    private final AtomicBoolean running = new AtomicBoolean(true);
    private volatile boolean assigned;

    public DriftConsumer(String bootstrapServers, String topic, String groupId, RetrainBridge bridge) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
        p.put(ConsumerConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "2000");
        this.consumer = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
        this.bridge = bridge;
        this.topic = topic;
        this.thread = new Thread(this::loop, "mlserve-drift-consumer");
        thread.setDaemon(true);
    }

    public DriftConsumer start() {
        consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
            @Override
            public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            }

            @Override
            public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                // resolve "latest" now, so everything published after assigned() turns true is read
                for (TopicPartition tp : partitions) {
                    consumer.position(tp);
                }
                assigned = !partitions.isEmpty();
            }
        });
        thread.start();
        return this;
    }

    private void loop() {
        try {
            while (running.get()) {
                try {
                    pollOnce();
                } catch (WakeupException e) {
                    throw e;
                } catch (RuntimeException e) {
                    // a failed commit after a rebalance, a broker timeout: log, wait, go on (records are redelivered)
                    LOG.warn("drift consumer: {}; retrying in 1 s", e.toString());
                    Thread.sleep(1000);
                }
            }
        } catch (WakeupException e) {
            if (running.get()) {
                LOG.error("drift consumer woken up while running", e);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            consumer.close(Duration.ofSeconds(5));
        }
    }

    private void pollOnce() {
        ConsumerRecords<String, byte[]> records = consumer.poll(Duration.ofMillis(500));
        for (ConsumerRecord<String, byte[]> r : records) {
            try {
                DriftEvent event = DriftEvent.parseFrom(r.value() == null ? new byte[0] : r.value());
                if (event.getKind() == io.mlserve.proto.v1.DriftKind.MANUAL) {
                    // MANUAL skips the cooldown: only an operator (the REST endpoint) may ask for that
                    LOG.warn("{}-{}-{}: MANUAL events are not taken from Kafka; skipped", r.topic(),
                            r.partition(), r.offset());
                    continue;
                }
                bridge.onDrift(event);
            } catch (InvalidProtocolBufferException e) {
                LOG.warn("{}-{}-{}: not a drift event, skipped: {}", r.topic(), r.partition(), r.offset(),
                        e.getMessage());
            }
        }
        if (!records.isEmpty()) {
            consumer.commitSync();
        }
    }

    /** True once partitions are assigned: events published from then on are read. */
    public boolean assigned() {
        return assigned;
    }

    @Override
    public void close() {
        if (running.compareAndSet(true, false)) {
            consumer.wakeup();
            try {
                thread.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
