package io.mlserve.trainer;

import com.google.protobuf.InvalidProtocolBufferException;
import io.mlserve.proto.v1.JobRequest;
import io.mlserve.proto.v1.SubmitJobResponse;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads job requests from {@code mlserve.retrain} (value: a serialized {@code JobRequest}) and submits them.
 * A record without a request_id gets {@code kafka:<topic>-<partition>-<offset>}, so a redelivered record is the
 * same job. Offsets are committed after the records are submitted (at least once; the request id makes the
 * second delivery a no-op). A record that is not a valid request is logged and counted, never retried.
 */
public final class RetrainConsumer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RetrainConsumer.class);

    private final KafkaConsumer<String, byte[]> consumer;
    private final TrainerJobs jobs;
    private final String topic;
    private final Thread thread;
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final AtomicLong submitted = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();

    public RetrainConsumer(String bootstrapServers, String topic, String groupId, TrainerJobs jobs) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, groupId);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        // a request published while no trainer was running must still be seen by the first one that starts
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "100");
        this.consumer = new KafkaConsumer<>(p, new StringDeserializer(), new ByteArrayDeserializer());
        this.jobs = jobs;
        this.topic = topic;
        this.thread = new Thread(this::loop, "mlserve-retrain-consumer");
        thread.setDaemon(true);
    }

    public RetrainConsumer start() {
        consumer.subscribe(List.of(topic));
        thread.start();
        return this;
    }

    private void loop() {
        try {
            while (running.get()) {
                try {
                    ConsumerRecords<String, byte[]> records = consumer.poll(Duration.ofMillis(500));
                    for (ConsumerRecord<String, byte[]> r : records) {
                        submit(r);
                    }
                    if (!records.isEmpty()) {
                        consumer.commitSync();
                    }
                } catch (WakeupException e) {
                    throw e;
                } catch (IllegalStateException e) {
                    // the trainer is stopping: leave the records uncommitted for the next one
                    return;
                } catch (RuntimeException e) {
                    // a failed commit after a rebalance, a broker timeout: log, wait, go on (records are redelivered,
                    // and their request ids make them the same jobs)
                    LOG.warn("retrain consumer: {}; retrying in 1 s", e.toString());
                    Thread.sleep(1000);
                }
            }
        } catch (WakeupException e) {
            if (running.get()) {
                LOG.error("retrain consumer woken up while running", e);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            consumer.close(Duration.ofSeconds(5));
        }
    }

    private void submit(ConsumerRecord<String, byte[]> r) {
        String where = r.topic() + "-" + r.partition() + "-" + r.offset();
        try {
            JobRequest request = JobRequest.parseFrom(r.value() == null ? new byte[0] : r.value());
            if (request.getRequestId().isEmpty()) {
                request = request.toBuilder().setRequestId("kafka:" + where).build();
            }
            SubmitJobResponse s = jobs.submit(request, "kafka");
            submitted.incrementAndGet();
            if (s.getDeduplicated()) {
                LOG.info("record {}: same as job {} ({})", where, s.getJob().getJobId(), s.getJob().getState());
            }
        } catch (InvalidProtocolBufferException | IllegalArgumentException e) {
            refused.incrementAndGet();
            LOG.warn("record {} refused: {}", where, e.getMessage());
        }
    }

    /** Records that became (or matched) a job. */
    public long submitted() {
        return submitted.get();
    }

    /** Records that were not a valid job request. */
    public long refused() {
        return refused.get();
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
