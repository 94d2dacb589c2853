package io.mlserve.bench;

import io.mlserve.drift.ProfileBuilder;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.registry.VersionChecksum;
import io.mlserve.runtime.onnx.Exporters;
import io.mlserve.runtime.onnx.Preprocessing;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * A soak: the real server program in a process of its own, a 47-feature model with a drift profile (every row
 * recorded, windows closing every few seconds), a new version published every {@code --swap-secs} and picked up by
 * the registry poller, and open-loop ModelInfer at {@code --load} of the throughput measured first. Every minute:
 * throughput, latency, failures, and the server process's RSS, heap in use, threads and open file descriptors — the
 * trend is the result (flat, or growing).
 */
@Command(name = "soak", mixinStandardHelpOptions = true,
        description = "Minutes of load at a share of max throughput with version swaps and drift windows: failures, "
                + "RSS, heap, threads and file descriptors of the server process over time.")
final class SoakBench implements Callable<Integer> {
    static final int WIDTH = 47;

    @Option(names = "--minutes", defaultValue = "10", description = "Minutes under load (default: ${DEFAULT-VALUE}).")
    int minutes;

    @Option(names = "--load", defaultValue = "0.7", description = "Share of the measured max throughput "
            + "(default: ${DEFAULT-VALUE}).")
    double load;

    @Option(names = "--swap-secs", defaultValue = "30", description = "Seconds between new versions "
            + "(default: ${DEFAULT-VALUE}).")
    int swapSecs;

    @Option(names = "--json", description = "Write the results as JSON to this file.")
    Path json;

    private long next = 1;
    private double soakRate;
    private double maxRate;

    private void publish(Path repo, float[] reference, List<ProfileBuilder.Column> names) throws IOException {
        long v = next++;
        SplittableRandom r = new SplittableRandom(v);
        List<Preprocessing.Column> cols = new ArrayList<>();
        double[] w = new double[WIDTH];
        for (int j = 0; j < WIDTH; j++) {
            cols.add(new Preprocessing.Numeric(j, 0, 0, 1));
            w[j] = (r.nextDouble() - 0.5) * 0.2;
        }
        Path tmp = repo.resolve("soak").resolve(v + ".tmp-soak");
        Exporters.logisticRegression("soak", new Preprocessing(WIDTH, cols), w, 0.1)
                .writeTo(tmp.resolve("model.onnx"));
        Files.writeString(tmp.resolve("profile.json"), ProfileBuilder.build(names, reference, null, null).toString());
        VersionChecksum.writeMetadata(tmp, "model.onnx");
        Files.move(tmp, repo.resolve("soak").resolve(Long.toString(v)));
    }

    /** One minute of the soak. */
    private record Sample(int minute, LoadResult load, long rssMb, double heapUsedMb, long threads, long fds,
                          long versions) {
    }

    @Override
    public Integer call() throws Exception {
        Path base = Files.createTempDirectory("mlserve-soak");
        Path repo = base.resolve("models");
        Files.createDirectories(repo.resolve("soak"));
        Files.writeString(repo.resolve("soak/config.json"), """
                {"max_batch_size": 64, "dynamic_batching": {"max_queue_delay_microseconds": 0},
                 "drift": {"window_rows": 20000, "window_seconds": 5}}""");
        SplittableRandom r = new SplittableRandom(5);
        float[] reference = new float[20_000 * WIDTH];
        for (int i = 0; i < reference.length; i++) {
            reference[i] = (float) (r.nextDouble() * 2 - 1);
        }
        List<ProfileBuilder.Column> names = new ArrayList<>();
        for (int j = 0; j < WIDTH; j++) {
            names.add(ProfileBuilder.Column.numeric("x:" + j));
        }
        publish(repo, reference, names);
        Process server = startServer(repo, base);
        List<Sample> samples = new ArrayList<>();
        try {
            int[] ports = ports(base.resolve("server.log"), server);
            HttpClient http = HttpClient.newHttpClient();
            try (LoadGenerator g = new LoadGenerator("127.0.0.1", ports[0], 4)) {
                ModelInferRequest request = g.requestFor("soak", 1, true);
                g.closedLoop("warm-up", request, 64, 5, 5);
                LoadResult max = g.closedLoop("max throughput", request, 64, 2, 10);
                double rate = max.throughput() * load;
                System.out.println(max.summary());
                // the open-loop generator costs more client CPU than the closed loop that measured the max, and both
                // share the machine's cores with the server: step down until the rate is sustained (p99 < 50 ms, no
                // client backlog) so the soak measures the server, not an overloaded client
                while (true) {
                    LoadResult probe = g.openLoop("calibrate", request, rate, 1, 5, 20_000);
                    System.out.println(probe.summary());
                    if (probe.errors().isEmpty() && probe.p99Us() < 50_000) {
                        break;
                    }
                    rate *= 0.85;
                }
                soakRate = rate;
                maxRate = max.throughput();
                System.out.printf(Locale.ROOT, "soak at %.0f req/s (%.0f %% of the closed-loop max) for %d minutes, a "
                        + "new version every %d s%n", rate, 100 * rate / max.throughput(), minutes, swapSecs);
                long start = System.nanoTime();
                long lastSwap = start;
                for (int m = 1; m <= minutes; m++) {
                    // one minute in slices between swaps
                    long minuteEnd = start + TimeUnit.MINUTES.toNanos(m);
                    List<LoadResult> parts = new ArrayList<>();
                    while (System.nanoTime() < minuteEnd - 500_000_000L) {
                        long until = Math.min(minuteEnd, lastSwap + TimeUnit.SECONDS.toNanos(swapSecs));
                        double secs = Math.max(0.5, (until - System.nanoTime()) / 1e9);
                        parts.add(g.openLoop("minute " + m, request, rate, 0, secs, 20_000));
                        if (System.nanoTime() - lastSwap >= TimeUnit.SECONDS.toNanos(swapSecs)) {
                            publish(repo, reference, names);
                            lastSwap = System.nanoTime();
                        }
                    }
                    LoadResult merged = merge("minute " + m, parts);
                    String metrics = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + ports[2]
                            + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
                    Sample s = new Sample(m, merged, status(server, "VmRSS") >> 10, heapUsedMb(metrics),
                            status(server, "Threads"), fds(server), next - 1);
                    samples.add(s);
                    System.out.printf(Locale.ROOT, "%s | RSS %d MB, heap used %.0f MB, threads %d, fds %d, versions "
                            + "published %d%n", merged.summary(), s.rssMb(), s.heapUsedMb(), s.threads(), s.fds(),
                            s.versions());
                }
            }
        } finally {
            server.destroy();
            server.waitFor(30, TimeUnit.SECONDS);
        }
        Sample first = samples.get(0);
        Sample last = samples.get(samples.size() - 1);
        long failed = samples.stream().mapToLong(s -> s.load().errors().values().stream().mapToLong(Long::longValue)
                .sum()).sum();
        System.out.printf(Locale.ROOT, "minute 1 -> %d: RSS %d -> %d MB, threads %d -> %d, fds %d -> %d; failed "
                        + "requests %d; versions swapped in %d%n", last.minute(), first.rssMb(), last.rssMb(),
                first.threads(), last.threads(), first.fds(), last.fds(), failed, last.versions() - 1);
        if (json != null) {
            StringBuilder b = new StringBuilder("{\"bench\":\"soak\",\"machine\":").append(Machine.json())
                    .append(String.format(Locale.ROOT, ",\"minutes\":%d,\"max_rps\":%.0f,\"soak_rps\":%.0f,"
                            + "\"swap_secs\":%d,\"minutes_data\":[", minutes, maxRate, soakRate, swapSecs));
            for (int i = 0; i < samples.size(); i++) {
                Sample s = samples.get(i);
                b.append(i == 0 ? "" : ",").append(String.format(Locale.ROOT, "{\"minute\":%d,\"rss_mb\":%d,"
                        + "\"heap_used_mb\":%.1f,\"threads\":%d,\"fds\":%d,\"versions\":%d,\"load\":%s}", s.minute(),
                        s.rssMb(), s.heapUsedMb(), s.threads(), s.fds(), s.versions(), s.load().toJson()));
            }
            Files.writeString(json, b.append("]}\n").toString());
        }
        return failed == 0 ? 0 : 1;
    }

    private static LoadResult merge(String label, List<LoadResult> parts) {
        double seconds = 0;
        long ok = 0;
        java.util.Map<String, Long> errors = new java.util.TreeMap<>();
        double p99 = 0;
        double p999 = 0;
        double p50 = 0;
        double p95 = 0;
        double max = 0;
        double mean = 0;
        for (LoadResult p : parts) {
            seconds += p.seconds();
            ok += p.ok();
            p.errors().forEach((k, v) -> errors.merge(k, v, Long::sum));
            // the worst slice's tail; p50 and mean weighted by calls
            p99 = Math.max(p99, p.p99Us());
            p999 = Math.max(p999, p.p999Us());
            p95 = Math.max(p95, p.p95Us());
            max = Math.max(max, p.maxUs());
            p50 += p.p50Us() * p.ok();
            mean += p.meanUs() * p.ok();
        }
        LoadResult f = parts.get(0);
        return new LoadResult(label, f.mode(), f.concurrency(), f.targetRate(), f.rowsPerRequest(), seconds, ok, errors,
                ok / seconds, ok == 0 ? 0 : p50 / ok, p95, p99, p999, max, ok == 0 ? 0 : mean / ok);
    }

    private static Process startServer(Path repo, Path base) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (arg.startsWith("--add-") || arg.startsWith("-D")) {
                cmd.add(arg);
            }
        }
        cmd.addAll(List.of("-Xmx512m", "-cp", System.getProperty("java.class.path"), "io.mlserve.app.Main",
                "serve", "--host", "127.0.0.1", "--grpc-port", "0", "--http-port", "0", "--metrics-port", "0",
                "--model-repository", repo.toString(), "--data-dir", base.resolve("data").toString(),
                "--repository-poll-secs", "5"));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(base.resolve("server.log").toFile())
                .start();
    }

    private static int[] ports(Path log, Process p) throws Exception {
        Pattern ports = Pattern.compile("gRPC (\\d+) \\| HTTP (\\d+) \\| metrics (\\d+)");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline && p.isAlive()) {
            Matcher m = ports.matcher(Files.exists(log) ? Files.readString(log) : "");
            if (m.find()) {
                return new int[] {Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)),
                    Integer.parseInt(m.group(3))};
            }
            Thread.sleep(50);
        }
        throw new IllegalStateException("the server did not start; see " + log);
    }

    /** A /proc/<pid>/status field: VmRSS in kB, Threads as a count. */
    private static long status(Process p, String field) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/" + p.pid() + "/status"))) {
            if (line.startsWith(field + ":")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }

    private static long fds(Process p) throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/" + p.pid() + "/fd"))) {
            return s.count();
        }
    }

    private static double heapUsedMb(String metrics) {
        double used = 0;
        for (String line : metrics.split("\n")) {
            if (line.startsWith("jvm_memory_used_bytes{area=\"heap\"}")) {
                used += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return used / (1 << 20);
    }
}
