package io.mlserve.featurecache.kafka;

/** Observes ingestion for metrics; called on the ingester thread. */
public interface IngestListener {
    /** The outcomes of one record. */
    enum Outcome { APPLIED, IGNORED_OLDER, DEAD_LETTERED }

    void record(String topic, Outcome outcome);

    /** Records not yet consumed on {@code topic}, summed over its partitions. */
    void lag(String topic, long records);

    IngestListener NONE = new IngestListener() {
        @Override
        public void record(String topic, Outcome outcome) {
        }

        @Override
        public void lag(String topic, long records) {
        }
    };
}
