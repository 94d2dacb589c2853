package io.mlserve.featurecache.kafka;

import com.google.protobuf.InvalidProtocolBufferException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mlserve.featurecache.FeatureJson;
import io.mlserve.featurecache.FeatureStore;
import io.mlserve.featurecache.FeatureStoreException;
import io.mlserve.proto.v1.FeatureRecord;
import io.mlserve.proto.v1.FeatureUpdate;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Feeds the feature store from Kafka on its own thread. Key = entity id; value = {@code mlserve.v1.FeatureUpdate}
 * or JSON ({@code {"event_time_ms": ..., "values": {...}}}, optionally {@code "entity_id"}, {@code "view"}).
 * At least once: offsets are committed only after the records they cover are written. A record that
 * cannot be applied (undecodable, unknown view or feature, wrong type) goes to the topic's dead-letter
 * topic with the reason in a header, is counted, and never stops ingestion. When the broker is away the
 * consumer keeps retrying on its own; serving is not affected.
 */
public final class FeatureIngester implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(FeatureIngester.class);
    private static final long LAG_EVERY_NANOS = TimeUnit.SECONDS.toNanos(1);
    public static final String ERROR_HEADER = "mlserve.error";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final IngestConfig config;
    private final FeatureStore store;
    private final IngestListener listener;
    private final Map<String, IngestConfig.Topic> topics = new HashMap<>();
    private final KafkaConsumer<String, byte[]> consumer;
    private final KafkaProducer<String, byte[]> deadLetters;
    private final Thread thread;
    private volatile boolean running = true;

    public FeatureIngester(IngestConfig config, FeatureStore store, IngestListener listener) {
        this.config = config;
        this.store = store;
        this.listener = listener;
        for (IngestConfig.Topic t : config.topics()) {
            topics.put(t.name(), t);
        }
        Properties c = new Properties();
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapServers());
        c.put(ConsumerConfig.GROUP_ID_CONFIG, config.groupId());
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        c.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "2000");
        c.put(ConsumerConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "2000");
        this.consumer = new KafkaConsumer<>(c, new StringDeserializer(), new ByteArrayDeserializer());
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapServers());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.LINGER_MS_CONFIG, "5");
        try {
            this.deadLetters = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
        } catch (RuntimeException e) {
            consumer.close(Duration.ZERO);
            throw e;
        }
        this.thread = new Thread(this::run, "mlserve-kafka-ingest");
        thread.setDaemon(true);
    }

    /** Subscribes and starts the ingester thread. */
    public FeatureIngester start() {
        thread.start();
        return this;
    }

    /** The ingester thread: owns the consumer and the producer, and closes both when it ends. */
    private void run() {
        try {
            consumer.subscribe(topics.keySet());
            long nextLag = System.nanoTime();
            List<Future<?>> sent = new ArrayList<>();
            while (running) {
                ConsumerRecords<String, byte[]> batch = ConsumerRecords.empty();
                try {
                    batch = consumer.poll(config.pollTimeout());
                    if (!batch.isEmpty()) {
                        listener.contact(System.currentTimeMillis());
                        sent.clear();
                        Map<TopicPartition, OffsetAndMetadata> done = new HashMap<>();
                        for (ConsumerRecord<String, byte[]> r : batch) {
                            apply(r, sent);
                            done.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
                        }
                        deadLetters.flush();
                        for (Future<?> f : sent) {
                            f.get(); // a dead letter that did not reach Kafka fails the batch: it is re-read
                        }
                        consumer.commitSync(done);
                    }
                    if (System.nanoTime() >= nextLag) {
                        reportLag();
                        nextLag = System.nanoTime() + LAG_EVERY_NANOS;
                    }
                } catch (WakeupException e) {
                    // close() asked us to stop
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                } catch (RuntimeException | ExecutionException e) {
                    // e.g. the broker went away mid-commit: re-read the whole batch (writes are idempotent by
                    // event time), seeking locally so no broker call is needed
                    LOG.warn("kafka ingestion: {}; re-reading the batch", e.toString());
                    for (TopicPartition tp : batch.partitions()) {
                        consumer.seek(tp, batch.records(tp).get(0).offset());
                    }
                    sleepQuietly(1000);
                }
            }
        } finally {
            try {
                consumer.close(Duration.ofSeconds(5));
            } finally {
                deadLetters.close(Duration.ofSeconds(5));
            }
        }
    }

    private void apply(ConsumerRecord<String, byte[]> r, List<Future<?>> sent) {
        IngestConfig.Topic topic = topics.get(r.topic());
        String view;
        FeatureRecord record;
        try {
            if (topic.format() == IngestConfig.Format.PROTOBUF) {
                FeatureUpdate u = FeatureUpdate.parseFrom(r.value() == null ? new byte[0] : r.value());
                view = u.getView().isEmpty() ? topic.view() : u.getView();
                record = u.getRecord();
            } else {
                JsonNode json = r.value() == null ? null : JSON.readTree(r.value());
                JsonNode v = json == null ? null : json.get("view");
                view = v != null && v.isTextual() ? v.asText() : topic.view();
                record = FeatureJson.record(json, r.key(), "record");
            }
            if (record.getEntityId().isEmpty() && r.key() != null) {
                record = record.toBuilder().setEntityId(r.key()).build();
            }
            if (view.isEmpty()) {
                throw new FeatureStoreException(FeatureStoreException.Kind.INVALID,
                        "the record names no view and topic '" + r.topic() + "' has no default view");
            }
            FeatureStore.WriteSummary s = store.write(view, List.of(record));
            listener.record(r.topic(), s.written() > 0 ? IngestListener.Outcome.APPLIED
                    : IngestListener.Outcome.IGNORED_OLDER);
        } catch (InvalidProtocolBufferException | FeatureStoreException e) {
            deadLetter(topic, r, e.getMessage(), sent);
        } catch (java.io.IOException e) {
            deadLetter(topic, r, "not JSON: " + e.getMessage(), sent);
        } catch (RuntimeException e) {
            // e.g. a full table: retrying the record would stall every partition behind it
            LOG.error("kafka {}-{}@{}: could not be written", r.topic(), r.partition(), r.offset(), e);
            deadLetter(topic, r, "not written: " + e, sent);
        }
    }

    private void deadLetter(IngestConfig.Topic topic, ConsumerRecord<String, byte[]> r, String reason,
                            List<Future<?>> sent) {
        listener.record(r.topic(), IngestListener.Outcome.DEAD_LETTERED);
        LOG.warn("kafka {}-{}@{}: {}{}", r.topic(), r.partition(), r.offset(), reason,
                topic.deadLetterTopic().isEmpty() ? " (dropped: no dead-letter topic)" : " (dead-lettered)");
        if (topic.deadLetterTopic().isEmpty()) {
            return;
        }
        ProducerRecord<String, byte[]> dl = new ProducerRecord<>(topic.deadLetterTopic(), r.key(), r.value());
        dl.headers().add(ERROR_HEADER, reason.getBytes(StandardCharsets.UTF_8));
        dl.headers().add("mlserve.source", (r.topic() + "-" + r.partition() + "@" + r.offset())
                .getBytes(StandardCharsets.UTF_8));
        sent.add(deadLetters.send(dl));
    }

    private void reportLag() {
        try {
            Set<TopicPartition> assigned = consumer.assignment();
            if (assigned.isEmpty()) {
                return;
            }
            Map<TopicPartition, Long> end = consumer.endOffsets(assigned, Duration.ofSeconds(2));
            Map<String, Long> lag = new HashMap<>();
            for (TopicPartition tp : assigned) {
                long l = Math.max(0, end.getOrDefault(tp, 0L) - consumer.position(tp, Duration.ofSeconds(2)));
                lag.merge(tp.topic(), l, Long::sum);
            }
            lag.forEach(listener::lag);
            listener.contact(System.currentTimeMillis());
        } catch (RuntimeException e) {
            LOG.debug("kafka: lag unknown while the broker is away: {}", e.toString());
        }
    }

    private static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops after the current batch (its offsets committed); the thread closes the Kafka clients. */
    @Override
    public void close() {
        running = false;
        consumer.wakeup();
        try {
            thread.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (thread.isAlive()) {
            LOG.warn("kafka ingestion did not stop within 30 s");
        }
    }
}
