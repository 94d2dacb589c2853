package io.mlserve.bench;

import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.HdrHistogram.Histogram;

/**
 * What one load run measured: completed calls per second and the latency distribution (microseconds),
 * with failures counted by gRPC status.
 */
public record LoadResult(String label, String mode, int concurrency, double targetRate, int rowsPerRequest,
                         double seconds, long ok, Map<String, Long> errors, double throughput,
                         double p50Us, double p95Us, double p99Us, double p999Us, double maxUs, double meanUs) {

    static LoadResult of(String label, String mode, int concurrency, double targetRate, int rows, double seconds,
                         Histogram latencyNanos, Map<String, Long> errors) {
        long ok = latencyNanos.getTotalCount();
        return new LoadResult(label, mode, concurrency, targetRate, rows, seconds, ok, new TreeMap<>(errors),
                ok / seconds,
                latencyNanos.getValueAtPercentile(50) / 1e3, latencyNanos.getValueAtPercentile(95) / 1e3,
                latencyNanos.getValueAtPercentile(99) / 1e3, latencyNanos.getValueAtPercentile(99.9) / 1e3,
                latencyNanos.getMaxValue() / 1e3, latencyNanos.getMean() / 1e3);
    }

    /** One line for a terminal. */
    public String summary() {
        return String.format(Locale.ROOT, "%-28s %-6s %9.0f req/s  p50 %8.0f µs  p95 %8.0f µs  p99 %8.0f µs  "
                + "p99.9 %8.0f µs  ok %d  errors %s", label, mode, throughput, p50Us, p95Us, p99Us, p999Us, ok, errors);
    }

    /** The result as a JSON object. */
    public String toJson() {
        StringBuilder e = new StringBuilder("{");
        errors.forEach((k, v) -> e.append(e.length() > 1 ? "," : "").append('"').append(k).append("\":").append(v));
        e.append('}');
        return String.format(Locale.ROOT, "{\"label\":\"%s\",\"mode\":\"%s\",\"concurrency\":%d,\"target_rate\":%.1f,"
                + "\"rows_per_request\":%d,\"seconds\":%.3f,\"ok\":%d,\"errors\":%s,\"throughput_rps\":%.1f,"
                + "\"latency_us\":{\"p50\":%.1f,\"p95\":%.1f,\"p99\":%.1f,\"p99_9\":%.1f,\"max\":%.1f,\"mean\":%.1f}}",
                label, mode, concurrency, targetRate, rowsPerRequest, seconds, ok, e, throughput, p50Us, p95Us, p99Us,
                p999Us, maxUs, meanUs);
    }
}
