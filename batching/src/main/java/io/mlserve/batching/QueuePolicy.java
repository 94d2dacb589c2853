package io.mlserve.batching;

/**
 * How one priority level's queue treats waiting requests (Triton's {@code ModelQueuePolicy}).
 *
 * @param timeoutAction           what happens to a request that waited past its queue timeout
 * @param defaultTimeoutMicros    queue timeout for requests that set none; 0 = none
 * @param allowTimeoutOverride    whether a request's {@code timeout} parameter may lower the default
 * @param maxQueueSize            requests this level may hold; 0 = unbounded (up to {@link #UNBOUNDED_CAPACITY})
 */
public record QueuePolicy(TimeoutAction timeoutAction, long defaultTimeoutMicros, boolean allowTimeoutOverride,
                          int maxQueueSize) {

    /** What to do with a request whose queue timeout passed before it could run. */
    public enum TimeoutAction {
        /** Fail it (DEADLINE_EXCEEDED). */
        REJECT,
        /** Keep it, behind the requests of its own and higher levels that have not timed out. */
        DELAY
    }

    /** Capacity of an "unbounded" queue: beyond this many waiting requests a level rejects anyway. */
    public static final int UNBOUNDED_CAPACITY = 1 << 16;

    public static final QueuePolicy DEFAULT = new QueuePolicy(TimeoutAction.REJECT, 0, false, 0);

    public QueuePolicy {
        if (defaultTimeoutMicros < 0) {
            throw new IllegalArgumentException("default_timeout_microseconds must be >= 0, got " + defaultTimeoutMicros);
        }
        if (maxQueueSize < 0) {
            throw new IllegalArgumentException("max_queue_size must be >= 0, got " + maxQueueSize);
        }
    }

    /** The queue capacity this policy allows. */
    public int capacity() {
        return maxQueueSize == 0 ? UNBOUNDED_CAPACITY : maxQueueSize;
    }

    /**
     * The queue timeout for a request asking for {@code requestedMicros} (0 = none asked): the default,
     * lowered to the request's value only when overrides are allowed; 0 = no queue timeout.
     */
    public long effectiveTimeoutMicros(long requestedMicros) {
        if (requestedMicros <= 0 || !allowTimeoutOverride) {
            return defaultTimeoutMicros;
        }
        return defaultTimeoutMicros == 0 ? requestedMicros : Math.min(defaultTimeoutMicros, requestedMicros);
    }
}
