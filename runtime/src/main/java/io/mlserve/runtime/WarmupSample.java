package io.mlserve.runtime;

import java.util.Map;

/**
 * One warm-up request: run {@code count} times at {@code batchSize} rows before the model is READY.
 *
 * @param name      label for log lines
 * @param batchSize rows along a variable first dimension (0 = the model has no batch dimension)
 * @param count     how many times to run it
 * @param dims      per input, its shape without the batch dimension; inputs not listed take the model's
 *                  shape with 1 for every other variable dimension
 * @param random    random data instead of zeros
 */
public record WarmupSample(String name, int batchSize, int count, Map<String, long[]> dims, boolean random) {

    public WarmupSample {
        dims = Map.copyOf(dims);
        if (batchSize < 0 || count < 1) {
            throw new IllegalArgumentException("warm-up '" + name + "': batch_size must be >= 0 and count >= 1");
        }
    }

    /** Zero data at {@code batchSize} rows, once. */
    public static WarmupSample zeros(int batchSize) {
        return new WarmupSample("zeros@" + batchSize, batchSize, 1, Map.of(), false);
    }
}
