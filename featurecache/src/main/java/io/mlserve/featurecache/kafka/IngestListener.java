package io.mlserve.featurecache.kafka;

/** Observes ingestion for metrics; called on the ingester thread. */
public interface IngestListener {
    /** The outcomes of one record. */
    enum Outcome { APPLIED, IGNORED_OLDER, DEAD_LETTERED }

    void record(String topic, Outcome outcome);

    /** Records not yet consumed on {@code topic}, summed over its partitions. */
    void lag(String topic, long records);

    /**
     * The broker answered (a poll returned records, or the end offsets were read): ingestion is in contact as of
     * {@code timeMs}. While the broker is away this stops being called, and the age of the last contact is how stale
     * the feature store may be.
     */
    default void contact(long timeMs) {
    }

    IngestListener NONE = new IngestListener() {
        @Override
        public void record(String topic, Outcome outcome) {
        }

        @Override
        public void lag(String topic, long records) {
        }
    };
}
