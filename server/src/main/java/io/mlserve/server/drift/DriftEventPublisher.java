package io.mlserve.server.drift;

import io.mlserve.proto.v1.DriftEvent;
import java.time.Duration;
import java.util.Properties;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Publishes raised drift alerts to {@code mlserve.drift} (value: a serialized DriftEvent, key: the model). */
public final class DriftEventPublisher implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DriftEventPublisher.class);

    private final KafkaProducer<String, byte[]> producer;
    private final String topic;

    public DriftEventPublisher(String bootstrapServers, String topic) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        // never block the monitor's thread for long when the brokers are away: the event is logged as lost
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "2000");
        this.producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
        this.topic = topic;
    }

    /** Sends asynchronously; a failure is logged (the event also went to in-process listeners). */
    public void publish(DriftEvent event) {
        try {
            producer.send(new ProducerRecord<>(topic, event.getModelName(), event.toByteArray()), (meta, error) -> {
                if (error != null) {
                    LOG.error("drift event {} not published to {}: {}", event.getEventId(), topic, error.toString());
                }
            });
        } catch (RuntimeException e) {
            LOG.error("drift event {} not published to {}: {}", event.getEventId(), topic, e.toString());
        }
    }

    @Override
    public void close() {
        producer.close(Duration.ofSeconds(5));
    }
}
