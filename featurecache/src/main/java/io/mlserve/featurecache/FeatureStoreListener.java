package io.mlserve.featurecache;

/** Observes a feature store for metrics; called on the calling threads, so it must be cheap and thread-safe. */
public interface FeatureStoreListener {
    /**
     * A write to {@code view} with event time {@code eventTimeMs} was applied, or ignored because newer values were
     * stored (of the whole row in REPLACE mode, of every feature it names in MERGE mode).
     */
    void written(String view, boolean applied, long eventTimeMs);

    /** A read of {@code view} returned {@code row} at {@code nowMs}. */
    void read(String view, FeatureRow row, long nowMs);

    FeatureStoreListener NONE = new FeatureStoreListener() {
        @Override
        public void written(String view, boolean applied, long eventTimeMs) {
        }

        @Override
        public void read(String view, FeatureRow row, long nowMs) {
        }
    };
}
