package io.mlserve.batching;

/** Observes a batcher for metrics; called on batcher threads, so implementations must be cheap and thread-safe. */
public interface BatcherListener {
    /** A batch of {@code requests} requests and {@code rows} rows was handed to an instance. */
    void batchFormed(int rows, int requests);

    /** The number of requests waiting at {@code level} changed by {@code delta}. */
    void pendingChanged(int level, int delta);

    /** A request was refused or dropped without executing. */
    void rejected(Rejection reason);

    BatcherListener NONE = new BatcherListener() {
        @Override
        public void batchFormed(int rows, int requests) {
        }

        @Override
        public void pendingChanged(int level, int delta) {
        }

        @Override
        public void rejected(Rejection reason) {
        }
    };
}
