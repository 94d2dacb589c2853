package io.mlserve.batching;

import java.util.Arrays;

/**
 * Scheduling of one model version (Triton's {@code max_batch_size}, {@code dynamic_batching} and
 * {@code instance_group} count).
 *
 * @param maxBatchSize        rows per execution; 0 = the model does not batch (one request per execution)
 * @param dynamic             whether requests are combined (a {@code dynamic_batching} section exists)
 * @param preferredBatchSizes batch sizes sent as soon as they can be formed, ascending
 * @param maxQueueDelayMicros how long the oldest request may wait for a fuller batch; 0 = never wait
 * @param preserveOrdering    responses leave in the order requests arrived, across instances
 * @param priorityLevels      number of levels, 1 = highest; at least 1
 * @param defaultPriorityLevel level of requests that name none
 * @param policies            queue policy per level, index 0 = level 1
 * @param instances           batches that may execute at once (instance_group count)
 */
public record BatchingConfig(int maxBatchSize, boolean dynamic, int[] preferredBatchSizes, long maxQueueDelayMicros,
                             boolean preserveOrdering, int priorityLevels, int defaultPriorityLevel,
                             QueuePolicy[] policies, int instances) {

    public BatchingConfig {
        if (maxBatchSize < 0) {
            throw new IllegalArgumentException("max_batch_size must be >= 0, got " + maxBatchSize);
        }
        preferredBatchSizes = preferredBatchSizes.clone();
        Arrays.sort(preferredBatchSizes);
        for (int p : preferredBatchSizes) {
            if (p < 1 || (maxBatchSize > 0 && p > maxBatchSize)) {
                throw new IllegalArgumentException("dynamic_batching.preferred_batch_size " + p
                        + " must be between 1 and max_batch_size " + maxBatchSize);
            }
        }
        if (maxQueueDelayMicros < 0) {
            throw new IllegalArgumentException("dynamic_batching.max_queue_delay_microseconds must be >= 0");
        }
        if (priorityLevels < 1) {
            throw new IllegalArgumentException("priority levels must be >= 1, got " + priorityLevels);
        }
        if (defaultPriorityLevel < 1 || defaultPriorityLevel > priorityLevels) {
            throw new IllegalArgumentException("dynamic_batching.default_priority_level " + defaultPriorityLevel
                    + " must be between 1 and priority_levels " + priorityLevels);
        }
        if (policies.length != priorityLevels) {
            throw new IllegalArgumentException("one queue policy per priority level is needed");
        }
        policies = policies.clone();
        if (instances < 1) {
            throw new IllegalArgumentException("instance_group count must be >= 1, got " + instances);
        }
    }

    /** No batching: each request executes alone, on {@code instances} parallel instances. */
    public static BatchingConfig unbatched(int maxBatchSize, int instances) {
        return new BatchingConfig(maxBatchSize, false, new int[0], 0, false, 1, 1,
                new QueuePolicy[] {QueuePolicy.DEFAULT}, instances);
    }

    @Override
    public int[] preferredBatchSizes() {
        return preferredBatchSizes.clone();
    }

    @Override
    public QueuePolicy[] policies() {
        return policies.clone();
    }

    public QueuePolicy policy(int level) {
        return policies[level - 1];
    }

    /** Whether {@code rows} is one of the preferred batch sizes. */
    public boolean preferred(int rows) {
        return Arrays.binarySearch(preferredBatchSizes, rows) >= 0;
    }

    /** Whether requests may be combined into one execution. */
    public boolean combines() {
        return dynamic && maxBatchSize > 0;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BatchingConfig c && c.maxBatchSize == maxBatchSize && c.dynamic == dynamic
                && Arrays.equals(c.preferredBatchSizes, preferredBatchSizes)
                && c.maxQueueDelayMicros == maxQueueDelayMicros && c.preserveOrdering == preserveOrdering
                && c.priorityLevels == priorityLevels && c.defaultPriorityLevel == defaultPriorityLevel
                && Arrays.equals(c.policies, policies) && c.instances == instances;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(preferredBatchSizes) * 31 + maxBatchSize * 7 + instances;
    }

    @Override
    public String toString() {
        return "BatchingConfig[max_batch_size=" + maxBatchSize + ", dynamic=" + dynamic + ", preferred="
                + Arrays.toString(preferredBatchSizes) + ", max_queue_delay_us=" + maxQueueDelayMicros
                + ", preserve_ordering=" + preserveOrdering + ", priority_levels=" + priorityLevels
                + ", instances=" + instances + "]";
    }
}
