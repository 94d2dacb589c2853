package io.mlserve.server.drift;

import io.mlserve.proto.v1.PredictionRecord;
import io.prometheus.metrics.core.metrics.Counter;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The prediction log: served predictions to {@code mlserve.predictions}, sampled, batched and asynchronous. The
 * request path only offers a record to a bounded lock-free queue — a full queue drops the record and counts it,
 * never blocks or fails the request; one background thread hands records to the Kafka producer, which batches.
 */
public final class PredictionLog implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(PredictionLog.class);

    /**
     * @param sample   the share of predictions logged, in (0, 1]
     * @param capacity records the queue holds before it drops
     */
    public record Options(String bootstrapServers, String topic, double sample, int capacity) {
        public Options {
            if (!(sample > 0 && sample <= 1)) {
                throw new IllegalArgumentException("prediction log sample must be in (0, 1], got " + sample);
            }
            if (capacity < 2) {
                throw new IllegalArgumentException("prediction log buffer must hold at least 2 records");
            }
        }
    }

    private final Options options;
    private final ManyToOneConcurrentArrayQueue<PredictionRecord> queue;
    private final KafkaProducer<String, byte[]> producer;
    private final Counter records;
    private final Thread thread;
    private final AtomicBoolean running = new AtomicBoolean(true);

    /** @param records counter labelled by outcome: queued, dropped, sent, failed */
    public PredictionLog(Options options, Counter records) {
        this.options = options;
        this.queue = new ManyToOneConcurrentArrayQueue<>(options.capacity());
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, options.bootstrapServers());
        p.put(ProducerConfig.LINGER_MS_CONFIG, "20");
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
        p.put(ProducerConfig.ACKS_CONFIG, "1");
        // while the brokers are away the log's own thread waits at most this long per record; the queue fills and
        // further records are dropped (counted) — requests never wait
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "2000");
        this.producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
        this.records = records;
        this.thread = new Thread(this::drain, "mlserve-prediction-log");
        thread.setDaemon(true);
        thread.start();
    }

    /** Whether this prediction is sampled (decide before building its record). */
    public boolean sampled() {
        return options.sample() >= 1 || ThreadLocalRandom.current().nextDouble() < options.sample();
    }

    /** Offers a record; never blocks: when the buffer is full the record is dropped and counted. */
    public void log(PredictionRecord r) {
        if (queue.offer(r)) {
            records.labelValues("queued").inc();
        } else {
            records.labelValues("dropped").inc();
        }
    }

    private void drain() {
        // idle: a few spins and yields, then parks growing to 20 ms (the producer batches sends anyway)
        org.agrona.concurrent.IdleStrategy idle = new org.agrona.concurrent.BackoffIdleStrategy(10, 10, 50_000,
                20_000_000);
        while (running.get() || !queue.isEmpty()) {
            PredictionRecord r = queue.poll();
            if (r == null) {
                idle.idle();
                continue;
            }
            idle.reset();
            try {
                producer.send(new ProducerRecord<>(options.topic(), r.getEntityId(), r.toByteArray()), (meta, error) -> {
                    records.labelValues(error == null ? "sent" : "failed").inc();
                });
            } catch (RuntimeException e) {
                records.labelValues("failed").inc();
                LOG.debug("prediction record not sent: {}", e.toString());
            }
        }
    }

    /** Sends what is queued (up to 5 s), then closes the producer. */
    @Override
    public void close() {
        if (running.compareAndSet(true, false)) {
            try {
                thread.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            producer.close(Duration.ofSeconds(5));
        }
    }
}
