package io.mlserve.security;

import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A token bucket per principal: {@code rate} requests a second on average, bursts up to {@code burst}. Lock-free:
 * each bucket is one atomic "time at which the bucket is full again minus the burst", advanced by one request's worth
 * of time per admitted request (GCRA, the virtual-scheduling form of a token bucket).
 */
public final class RateLimiter {
    private final long intervalNanos;
    private final long burstNanos;
    private final ConcurrentHashMap<String, AtomicLong> buckets = new ConcurrentHashMap<>();

    /** @param rate requests per second (> 0); @param burst requests that may come at once (≥ 1) */
    public RateLimiter(double rate, int burst) {
        if (!(rate > 0) || burst < 1) {
            throw new IllegalArgumentException("rate limit needs a rate > 0 and a burst >= 1");
        }
        this.intervalNanos = Math.max(1, (long) (1e9 / rate));
        this.burstNanos = intervalNanos * burst;
    }

    /** 0 when admitted; otherwise how many milliseconds until the next request would be (at least 1). */
    public long acquire(String principal) {
        AtomicLong tat = buckets.computeIfAbsent(principal, k -> new AtomicLong(0));
        long now = System.nanoTime();
        while (true) {
            long t = tat.get();
            long start = Math.max(t, now);
            if (start - now + intervalNanos > burstNanos) {
                return Math.max(1, (start + intervalNanos - burstNanos - now + 999_999) / 1_000_000);
            }
            if (tat.compareAndSet(t, start + intervalNanos)) {
                return 0;
            }
        }
    }
}
