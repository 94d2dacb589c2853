package io.mlserve.bench;

import io.mlserve.examples.ChurnExample;
import io.mlserve.featurecache.CsvSnapshot;
import io.mlserve.featurecache.FeatureRow;
import io.mlserve.featurecache.FeatureSpec;
import io.mlserve.featurecache.FeatureTable;
import io.mlserve.featurecache.FeatureType;
import io.mlserve.featurecache.FeatureView;
import java.io.BufferedWriter;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.Pipeline;

/**
 * The feature store against the conventional online store, in one run: bulk load of a CSV snapshot,
 * in-process reads of one 47-feature row (the churn example's view), in-process writes, and the same
 * lookup from Redis on loopback (a packed value per entity, Jedis, one connection) when redis-server is
 * installed. Latencies are per call, measured with System.nanoTime around each call.
 */
@Command(name = "features", mixinStandardHelpOptions = true,
        description = "Feature store: snapshot load, read latency and write throughput, vs Redis on loopback.")
final class FeatureBench implements Callable<Integer> {
    @Option(names = "--entities", defaultValue = "1000000", description = "Entities (default: ${DEFAULT-VALUE}).")
    int entities;

    @Option(names = "--reads", defaultValue = "2000000", description = "Reads measured (default: ${DEFAULT-VALUE}).")
    int reads;

    @Option(names = "--redis-reads", defaultValue = "200000", description = "Redis reads measured.")
    int redisReads;

    @Option(names = "--redis-server", defaultValue = "redis-server",
            description = "The redis-server program (Debian: apt-get install redis-server); skipped when absent.")
    String redisServer;

    @Option(names = "--json", description = "Write the results as JSON to this file.")
    Path json;

    @Override
    public Integer call() throws Exception {
        Path work = Files.createTempDirectory("mlserve-features");
        FeatureView view = new FeatureView("customer", "customer_id", FeatureView.KeyType.STRING,
                ChurnExample.FEATURES, Duration.ZERO, entities + 1000L, false);
        Path csv = work.resolve("snapshot.csv");
        writeCsv(csv, view, entities);
        StringBuilder out = new StringBuilder();
        try (FeatureTable table = FeatureTable.open(work.resolve("tables"), view)) {
            CsvSnapshot.LoadSummary load = CsvSnapshot.load(csv, table, "event_time", 0);
            line(out, "snapshot load: %d entities x %d features in %.1f s (%.0f rows/s)", load.rows(), view.size(),
                    load.seconds(), load.rows() / load.seconds());
            String[] keys = new String[entities];
            for (int i = 0; i < entities; i++) {
                keys[i] = "c-" + i;
            }
            Histogram local = readLatency(table, keys, view);
            line(out, "in-process read (1 row, 47 features): p50 %.2f µs  p99 %.2f µs  p99.9 %.2f µs  max %.1f µs",
                    local.getValueAtPercentile(50) / 1e3, local.getValueAtPercentile(99) / 1e3,
                    local.getValueAtPercentile(99.9) / 1e3, local.getMaxValue() / 1e3);
            double writesPerSecond = writeThroughput(table, keys, view);
            line(out, "in-process writes: %.0f rows/s", writesPerSecond);
            Histogram redis = redis(keys, view, out);
            String extra = String.format(Locale.ROOT, ",\"entities\":%d,\"load_seconds\":%.2f,\"local_read_us\":%s,"
                            + "\"local_writes_per_s\":%.0f,\"redis_read_us\":%s", entities, load.seconds(), pct(local),
                    writesPerSecond, redis == null ? "null" : pct(redis));
            if (redis != null) {
                line(out, "Redis GET on loopback: p50 %.1f µs  p99 %.1f µs  p99.9 %.1f µs  → p99 ratio Redis/in-process %.0fx",
                        redis.getValueAtPercentile(50) / 1e3, redis.getValueAtPercentile(99) / 1e3,
                        redis.getValueAtPercentile(99.9) / 1e3,
                        (double) redis.getValueAtPercentile(99) / local.getValueAtPercentile(99));
                extra += String.format(Locale.ROOT, ",\"p99_ratio_redis_over_local\":%.1f",
                        (double) redis.getValueAtPercentile(99) / local.getValueAtPercentile(99));
            }
            BenchMain.writeJson(json, java.util.List.of(), extra);
        }
        return 0;
    }

    private static String pct(Histogram h) {
        return String.format(Locale.ROOT, "{\"p50\":%.3f,\"p99\":%.3f,\"p99_9\":%.3f,\"max\":%.3f}",
                h.getValueAtPercentile(50) / 1e3, h.getValueAtPercentile(99) / 1e3,
                h.getValueAtPercentile(99.9) / 1e3, h.getMaxValue() / 1e3);
    }

    private static void line(StringBuilder out, String format, Object... args) {
        String s = String.format(Locale.ROOT, format, args);
        System.out.println(s);
        out.append(s).append('\n');
    }

    private static void writeCsv(Path csv, FeatureView view, int n) throws Exception {
        SplittableRandom r = new SplittableRandom(47);
        try (BufferedWriter w = Files.newBufferedWriter(csv)) {
            StringBuilder h = new StringBuilder("customer_id,event_time");
            for (FeatureSpec f : view.features()) {
                h.append(',').append(f.name());
            }
            w.write(h.toString());
            w.newLine();
            StringBuilder row = new StringBuilder(512);
            for (int i = 0; i < n; i++) {
                row.setLength(0);
                row.append("c-").append(i).append(',').append(1_700_000_000_000L + i);
                for (FeatureSpec f : view.features()) {
                    row.append(',');
                    if (f.type() == FeatureType.CATEGORICAL) {
                        row.append(f.vocabulary().get(r.nextInt(f.vocabulary().size())));
                    } else {
                        row.append(Math.round(r.nextDouble() * 100_000) / 1000.0);
                    }
                }
                w.write(row.toString());
                w.newLine();
            }
        }
    }

    private Histogram readLatency(FeatureTable table, String[] keys, FeatureView view) {
        FeatureRow row = new FeatureRow(view);
        SplittableRandom r = new SplittableRandom(3);
        double sink = 0;
        for (int i = 0; i < 500_000; i++) {
            table.read(keys[r.nextInt(keys.length)], 0, row);
            sink += row.value(0);
        }
        Histogram h = new Histogram(TimeUnit.SECONDS.toNanos(1), 3);
        for (int i = 0; i < reads; i++) {
            String k = keys[r.nextInt(keys.length)];
            long t0 = System.nanoTime();
            table.read(k, 0, row);
            h.recordValue(System.nanoTime() - t0);
            sink += row.value(0);
        }
        if (sink == 42) {
            System.out.println();
        }
        return h;
    }

    private static double writeThroughput(FeatureTable table, String[] keys, FeatureView view) {
        double[] values = new double[view.size()];
        boolean[] present = new boolean[view.size()];
        java.util.Arrays.fill(present, true);
        SplittableRandom r = new SplittableRandom(5);
        int n = 300_000;
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            values[0] = i;
            table.write(keys[r.nextInt(keys.length)], 1_800_000_000_000L + i, values, present);
        }
        return n / ((System.nanoTime() - t0) / 1e9);
    }

    /** The same lookups from Redis: one packed value (event time + 47 doubles) per entity. */
    private Histogram redis(String[] keys, FeatureView view, StringBuilder out) throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Process p;
        try {
            p = new ProcessBuilder(redisServer, "--port", Integer.toString(port), "--bind", "127.0.0.1",
                    "--save", "", "--appendonly", "no").redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        } catch (java.io.IOException e) {
            line(out, "Redis baseline skipped: cannot run %s (%s); apt-get install redis-server", redisServer,
                    e.getMessage());
            return null;
        }
        try (Jedis jedis = connect(port)) {
            byte[] value = new byte[8 + 8 * view.size()];
            ByteBuffer b = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN);
            Pipeline pipe = jedis.pipelined();
            for (int i = 0; i < keys.length; i++) {
                b.putLong(0, i);
                b.putDouble(8, i);
                pipe.set(keys[i].getBytes(StandardCharsets.UTF_8), value.clone());
                if (i % 10_000 == 9_999) {
                    pipe.sync();
                }
            }
            pipe.sync();
            SplittableRandom r = new SplittableRandom(3);
            byte[][] rk = new byte[redisReads][];
            for (int i = 0; i < redisReads; i++) {
                rk[i] = keys[r.nextInt(keys.length)].getBytes(StandardCharsets.UTF_8);
            }
            for (int i = 0; i < Math.min(50_000, redisReads); i++) {
                jedis.get(rk[i]);
            }
            Histogram h = new Histogram(TimeUnit.SECONDS.toNanos(10), 3);
            long sink = 0;
            for (int i = 0; i < redisReads; i++) {
                long t0 = System.nanoTime();
                byte[] v = jedis.get(rk[i]);
                h.recordValue(System.nanoTime() - t0);
                sink += v.length;
            }
            if (sink == 42) {
                System.out.println();
            }
            return h;
        } finally {
            p.destroy();
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static Jedis connect(int port) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (true) {
            try {
                Jedis j = new Jedis("127.0.0.1", port);
                j.ping();
                return j;
            } catch (RuntimeException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(100);
            }
        }
    }
}
