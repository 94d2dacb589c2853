package io.mlserve.featurecache.kafka;

import java.time.Duration;
import java.util.List;

/**
 * Kafka ingestion of feature updates.
 *
 * @param bootstrapServers Kafka brokers, host:port[,host:port...]
 * @param groupId          consumer group (every replica of a server should use its own, so each fills its cache)
 * @param topics           the topics to read
 * @param pollTimeout      how long one poll waits for records
 */
public record IngestConfig(String bootstrapServers, String groupId, List<Topic> topics, Duration pollTimeout) {

    /** How a topic's record values are encoded. */
    public enum Format { PROTOBUF, JSON }

    /**
     * One topic.
     *
     * @param name            topic name, e.g. mlserve.features
     * @param format          PROTOBUF (mlserve.v1.FeatureUpdate) or JSON
     * @param view            the view records belong to when the record does not say (required for JSON)
     * @param deadLetterTopic where records that cannot be applied go; empty = only counted and logged
     */
    public record Topic(String name, Format format, String view, String deadLetterTopic) {
        public Topic {
            if (name == null || name.isEmpty()) {
                throw new IllegalArgumentException("kafka topic needs a name");
            }
            if (format == Format.JSON && (view == null || view.isEmpty())) {
                throw new IllegalArgumentException("kafka topic '" + name + "': JSON records need a view");
            }
            view = view == null ? "" : view;
            deadLetterTopic = deadLetterTopic == null ? "" : deadLetterTopic;
        }
    }

    public IngestConfig {
        if (bootstrapServers == null || bootstrapServers.isEmpty()) {
            throw new IllegalArgumentException("kafka.bootstrap_servers is required");
        }
        topics = List.copyOf(topics);
        if (topics.isEmpty()) {
            throw new IllegalArgumentException("kafka.topics: at least one topic");
        }
    }
}
