package io.mlserve.batching;

/**
 * A request as the batcher sees it: its rows, priority level and deadlines. Subclasses carry the payload
 * and say how to fail. Fields are set by the constructor and by {@link DynamicBatcher#submit}, then only read.
 */
public abstract class QueuedRequest {
    final int rows;
    final int level;
    /** When the batcher accepted the request, on its clock. Set at submit. */
    long enqueuedNanos;
    /** Time after which the request must not run (caller's deadline), on the batcher's clock (System.nanoTime()
     * unless one was injected); Long.MAX_VALUE = none. */
    final long deadlineNanos;
    /** Time after which the queue timeout applies; Long.MAX_VALUE = none. Set at submit. */
    long queueTimeoutNanos = Long.MAX_VALUE;
    final long requestedTimeoutMicros;
    boolean delayed;

    /**
     * @param rows                   rows this request adds to a batch (1 for unbatched models)
     * @param level                  priority level, 1 = highest
     * @param deadlineNanos          caller's deadline on the batcher's clock (System.nanoTime() by default),
     *                               Long.MAX_VALUE for none
     * @param requestedTimeoutMicros the request's own {@code timeout} parameter, 0 for none
     */
    protected QueuedRequest(int rows, int level, long deadlineNanos, long requestedTimeoutMicros) {
        this.rows = rows;
        this.level = level;
        this.deadlineNanos = deadlineNanos;
        this.requestedTimeoutMicros = requestedTimeoutMicros;
    }

    public int rows() {
        return rows;
    }

    public int level() {
        return level;
    }

    /** When the batcher accepted this request, on its clock (0 before {@link DynamicBatcher#submit}). */
    public long enqueuedNanos() {
        return enqueuedNanos;
    }

    /** Whether the caller has gone away (checked before the request takes a batch slot). */
    protected abstract boolean cancelled();

    /**
     * Whether this request may share a batch with {@code first}: the same shape apart from the batch
     * dimension (and the same outputs, if the subclass requires it).
     */
    protected abstract boolean batchesWith(QueuedRequest first);

    /** Answers the caller with the rejection; called once, from a batcher thread or the submitter. */
    protected abstract void reject(Rejection reason, String message);
}
