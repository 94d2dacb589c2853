package io.mlserve.batching;

import java.util.List;

/**
 * Runs one batch on one instance. Called on that instance's thread; each instance owns its buffers, so
 * the executor may keep per-instance state indexed by {@code instance}.
 *
 * @param <R> the request type
 */
@FunctionalInterface
public interface BatchExecutor<R extends QueuedRequest> {
    /**
     * Executes {@code requests} ({@code rows} rows in all) as one model execution and returns the action
     * that delivers each request's answer; the batcher runs it at once, or in arrival order when
     * preserve_ordering is on. Every request must be answered exactly once by that action. The list is
     * reused for the next batch once this returns: copy what the delivery action needs.
     */
    Runnable execute(List<R> requests, int rows, int instance);
}
