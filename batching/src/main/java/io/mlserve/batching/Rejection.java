package io.mlserve.batching;

/** Why the batcher refused or dropped a request without executing it. */
public enum Rejection {
    /** The priority level's queue was at max_queue_size. */
    QUEUE_FULL,
    /** The request waited past its queue timeout (REJECT) or the caller's deadline passed. */
    TIMEOUT,
    /** The caller cancelled while the request waited. */
    CANCELLED,
    /** The batcher is shutting down (or the grace period ended before the request could run). */
    SHUTDOWN,
    /** The executor failed in a way it did not report itself (a bug: logged with its stack trace). */
    EXECUTION_FAILED
}
