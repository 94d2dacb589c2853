package io.mlserve.server.drift;

import com.google.protobuf.InvalidProtocolBufferException;
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
 * A Kafka topic of protobuf records handed to a handler on one background thread: drift events
 * ({@code mlserve.drift}) for the retrain bridge, outcomes ({@code mlserve.outcomes}) for live quality. A new
 * consumer group starts at the end of the topic (older records are history); offsets are committed once a poll's
 * records are handed over; a record the handler cannot parse is logged and skipped; transient Kafka errors are
 * logged and retried.
 */
public final class TopicConsumer implements AutoCloseable {
    /** Takes one record's value. */
    public interface Handler {
        void handle(byte[] value, String where) throws InvalidProtocolBufferException;
    }

    private static final Logger LOG = LoggerFactory.getLogger(TopicConsumer.class);

    private final KafkaConsumer<String, byte[]> consumer;
    private final Handler handler;
    private final String topic;
    private final Thread thread;
    private final AtomicBoolean running = new AtomicBoolean(true);
    private volatile boolean assigned;

    public TopicConsumer(String bootstrapServers, String topic, String groupId, Handler handler) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest");
        p.put(ConsumerConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "2000");
        this.consumer = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
        this.handler = handler;
        this.topic = topic;
        this.thread = new Thread(this::loop, "mlserve-consumer-" + topic);
        thread.setDaemon(true);
    }

    public TopicConsumer start() {
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
                    LOG.warn("{} consumer: {}; retrying in 1 s", topic, e.toString());
                    Thread.sleep(1000);
                }
            }
        } catch (WakeupException e) {
            if (running.get()) {
                LOG.error("{} consumer woken up while running", topic, e);
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
            String where = r.topic() + "-" + r.partition() + "-" + r.offset();
            try {
                handler.handle(r.value() == null ? new byte[0] : r.value(), where);
            } catch (InvalidProtocolBufferException e) {
                LOG.warn("{}: not a valid record, skipped: {}", where, e.getMessage());
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
