package io.mlserve.server.inference;

/**
 * What one inference request may carry, beyond the transport's message size: rows (the batch dimension), the length
 * of one BYTES element, and the bytes its tensors decode to. A request over a limit is refused with
 * INVALID_ARGUMENT naming the limit; nothing is queued.
 */
public record RequestLimits(long maxRows, int maxElementBytes, long maxDecodedBytes) {
    /** No limit beyond the model's own (tests, embedded use). */
    public static final RequestLimits NONE = new RequestLimits(Long.MAX_VALUE, Integer.MAX_VALUE, Long.MAX_VALUE);
    /** 100,000 rows, 1 MiB per BYTES element, 256 MiB decoded. */
    public static final RequestLimits DEFAULTS = new RequestLimits(100_000, 1 << 20, 256L << 20);

    public RequestLimits {
        if (maxRows < 1 || maxElementBytes < 1 || maxDecodedBytes < 1) {
            throw new IllegalArgumentException("--max-rows-per-request, --max-bytes-element and --max-decoded-bytes "
                    + "must be at least 1");
        }
    }
}
