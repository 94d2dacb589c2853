package io.mlserve.topics;

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
 * A Kafka topic of protobuf records handed to a handler on one background thread — the Kafka plumbing the server
 * (drift events for the retrain bridge, outcomes for live quality) and the trainer (job requests) share, next to the
 * replay's producer. A new consumer group starts at the end of the topic or at its beginning, as asked; offsets are
 * committed once a poll's records are handed over (at least once: handlers make a redelivery harmless); a record the
 * handler refuses (not parseable, not valid) is logged, counted and skipped, never retried; a handler that throws
 * IllegalStateException (its owner is stopping) ends the loop with that poll uncommitted; transient Kafka errors
 * are logged and retried.
 */
public final class TopicConsumer implements AutoCloseable {
    /** Takes one record's value; {@code where} is topic-partition-offset. */
    public interface Handler {
        void handle(byte[] value, String where) throws InvalidProtocolBufferException;
    }

    /** Where a consumer group with no committed offset starts. */
    public enum Start {
        /** At the end: older records are history (events, outcomes). */
        LATEST,
        /** At the beginning: a record published while no consumer ran must still be seen (job requests). */
        EARLIEST
    }

    private static final Logger LOG = LoggerFactory.getLogger(TopicConsumer.class);

    private final KafkaConsumer<String, byte[]> consumer;
    private final Handler handler;
    private final String topic;
    private final Thread thread;
    private final AtomicBoolean running = new AtomicBoolean(true);
    private volatile boolean assigned;
    private final java.util.concurrent.atomic.AtomicLong handled = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicLong refused = new java.util.concurrent.atomic.AtomicLong();

    public TopicConsumer(String bootstrapServers, String topic, String groupId, Handler handler) {
        this(bootstrapServers, topic, groupId, Start.LATEST, handler);
    }

    public TopicConsumer(String bootstrapServers, String topic, String groupId, Start start, Handler handler) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, start == Start.EARLIEST ? "earliest" : "latest");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "100");
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
                } catch (IllegalStateException e) {
                    // the handler's owner is stopping: leave this poll uncommitted for the next consumer
                    return;
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
                handled.incrementAndGet();
            } catch (InvalidProtocolBufferException | IllegalArgumentException e) {
                refused.incrementAndGet();
                LOG.warn("{}: not a valid record, skipped: {}", where, e.getMessage());
            }
        }
        if (!records.isEmpty()) {
            consumer.commitSync();
        }
    }

    /** Records the handler took. */
    public long handled() {
        return handled.get();
    }

    /** Records refused as not valid (skipped). */
    public long refused() {
        return refused.get();
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
