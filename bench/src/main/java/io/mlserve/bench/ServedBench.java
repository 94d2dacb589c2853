package io.mlserve.bench;

import io.mlserve.app.ServerProcess;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.runtime.ModelSession;
import io.mlserve.runtime.SessionConfig;
import io.mlserve.runtime.TensorBatch;
import io.mlserve.runtime.onnx.ExampleModels;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * What the server delivers of what ONNX Runtime can do with the same ONNX file, measured by an outside
 * client: {@code h2load} (nghttp2) sends gRPC ModelInfer calls of one row to {@code mlserve serve} in its own
 * JVM, and the same model runs in this process, alone, at the server's {@code max_batch_size}, before and
 * after. The ratio served ÷ in-process is the cost of transport, batching and bookkeeping on a model whose
 * compute dominates. The server's own metrics (batch sizes, compute time per batch, failures) are read
 * after the load so the h2load count can be trusted: gRPC reports failures in trailers, which h2load does
 * not read. Rounds interleave in-process and served runs (the machine's speed drifts by ±10 % over minutes) and the
 * median ratio is the result; the server's CPU by thread (from /proc) says where the cores went in each round.
 */
@Command(name = "served", mixinStandardHelpOptions = true,
        description = "gRPC ModelInfer throughput from an outside client (h2load) vs in-process ONNX Runtime on the "
                + "same model at the same batch size.")
final class ServedBench implements Callable<Integer> {
    private static final int FEATURES = 47;
    private static final String METHOD = "/inference.GRPCInferenceService/ModelInfer";

    @Option(names = "--hidden", defaultValue = "4096,4096", split = ",",
            description = "Hidden layer widths of the MLP 47 -> ... -> 1 (default: ${DEFAULT-VALUE}).")
    int[] hidden;

    @Option(names = "--max-batch-size", defaultValue = "64", description = "max_batch_size (default: ${DEFAULT-VALUE}).")
    int maxBatchSize;

    @Option(names = "--delay-us", defaultValue = "2000",
            description = "max_queue_delay_microseconds (default: ${DEFAULT-VALUE}).")
    long delayMicros;

    @Option(names = "--instances", defaultValue = "1", description = "instance_group count (default: ${DEFAULT-VALUE}).")
    int instances;

    @Option(names = "--param", description = "A model config parameter key=value (e.g. allow_spinning=false); "
            + "repeat for more.")
    List<String> params = new ArrayList<>();

    @Option(names = "--server-arg", description = "An extra argument to 'mlserve serve' (repeat for more).")
    List<String> serverArgs = new ArrayList<>();

    @Option(names = "--clients", defaultValue = "4", description = "h2load connections (default: ${DEFAULT-VALUE}).")
    int clients;

    @Option(names = "--streams", defaultValue = "32",
            description = "h2load calls outstanding per connection (default: ${DEFAULT-VALUE}; 4 x 32 = 128).")
    int streams;

    @Option(names = "--duration", defaultValue = "20", description = "Seconds measured (default: ${DEFAULT-VALUE}).")
    int duration;

    @Option(names = "--warmup", defaultValue = "60", description = "Seconds of unrecorded load first: the server's JIT "
            + "compilers are busy for 40-60 s under this load (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--raw-seconds", defaultValue = "5",
            description = "Seconds of in-process ONNX Runtime per measurement (default: ${DEFAULT-VALUE}).")
    double rawSeconds;

    @Option(names = "--rounds", defaultValue = "3",
            description = "Rounds of in-process / served, interleaved so the machine's drift hits both (default: "
                    + "${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--out", description = "Directory for the raw output: h2load's report, the server's metrics "
            + "and log, the JSON summary.")
    Path out;

    @Option(names = "--model", defaultValue = "mlp", description = "mlp: the compute-heavy MLP against in-process ONNX "
            + "Runtime; demo: the example churn model against a bare grpc-java echo server in its own process, both "
            + "driven by h2load (default: ${DEFAULT-VALUE}).")
    String which;

    @Override
    public Integer call() throws Exception {
        return switch (which) {
            case "mlp" -> mlp();
            case "demo" -> demo();
            default -> throw new IllegalArgumentException("--model: expected mlp or demo, got '" + which + "'");
        };
    }

    private Integer mlp() throws Exception {
        Path work = Files.createTempDirectory("mlserve-served");
        Path repo = work.resolve("models");
        Path model = repo.resolve("mlp/1/model.onnx");
        ExampleModels.mlp("mlp", FEATURES, hidden, 5).writeTo(model);
        Files.writeString(repo.resolve("mlp/config.json"), config());
        Path dir = out != null ? Files.createDirectories(out) : work;
        int cores = Runtime.getRuntime().availableProcessors();
        Path body = dir.resolve("request.grpc");
        Files.write(body, grpcFrame(request("mlp")));
        List<String> args = new ArrayList<>(List.of("--model-repository", repo.toString()));
        args.addAll(serverArgs);

        List<Round> results = new ArrayList<>();
        try (ServerProcess server = ServerProcess.start(dir.resolve("server.log"), 120, args.toArray(new String[0]))) {
            String url = "http://127.0.0.1:" + server.grpcPort + METHOD;
            h2load(url, body, warmup, dir.resolve("h2load-warmup.txt"));
            for (int r = 1; r <= rounds; r++) {
                // the server idles while ONNX Runtime runs alone here, then the load; rounds interleave the two
                double spinning = rawRate(model, cores, true);
                double noSpinning = rawRate(model, cores, false);
                String before = scrape(server);
                Map<String, Long> cpuBefore = threadTicks(server.pid());
                long wallBefore = System.nanoTime();
                String report = h2load(url, body, duration, dir.resolve("h2load-round" + r + ".txt"));
                Map<String, Double> threads = cpuShares(cpuBefore, threadTicks(server.pid()),
                        (System.nanoTime() - wallBefore) / 1e9);
                String after = scrape(server);
                Files.writeString(dir.resolve("metrics-round" + r + ".txt"), after);
                String metrics = delta(before, after, "mlp");
                Round round = new Round(r, number(report, "finished in [0-9.]+(?:ms|s), ([0-9.]+) req/s"),
                        number(report, "requests: [0-9]+ total, [0-9]+ started, [0-9]+ done, ([0-9]+) succeeded"),
                        number(metrics, "success"), number(metrics, "failure"), number(metrics, "cancelled"),
                        number(metrics, "batches"), number(metrics, "rows"), number(metrics, "compute_seconds"),
                        spinning, noSpinning, threads);
                results.add(round);
                System.out.println(round.summary(maxBatchSize));
            }
        }
        double[] ratios = results.stream().mapToDouble(Round::ratio).sorted().toArray();
        double median = ratios[ratios.length / 2];
        StringBuilder each = new StringBuilder();
        for (Round r : results) {
            each.append(each.length() == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.2f", r.ratio()));
        }
        System.out.println();
        System.out.printf(Locale.ROOT, "model MLP 47-%s-1, max_batch_size %d, delay %d us, %d instance(s), params %s; "
                        + "h2load -c %d -m %d, %d s per round after %d s of warm-up%n", hiddenLabel(), maxBatchSize,
                delayMicros, instances, params, clients, streams, duration, warmup);
        System.out.printf(Locale.ROOT, "served / best in-process ONNX Runtime at batch %d: median %.2f over %d rounds "
                + "(rounds in order: %s)%n", maxBatchSize, median, rounds, each);
        StringBuilder json = new StringBuilder(String.format(Locale.ROOT, "{\"machine\":%s,\"model\":\"MLP 47-%s-1\","
                        + "\"max_batch_size\":%d,\"delay_us\":%d,\"instances\":%d,\"params\":\"%s\",\"server_args\":\"%s\","
                        + "\"h2load\":{\"clients\":%d,\"streams\":%d,\"duration_s\":%d,\"warmup_s\":%d},"
                        + "\"median_ratio\":%.3f,\"rounds\":[", Machine.json(), hiddenLabel(), maxBatchSize, delayMicros,
                instances, String.join(" ", params), String.join(" ", serverArgs), clients, streams, duration, warmup,
                median));
        for (int i = 0; i < results.size(); i++) {
            json.append(i == 0 ? "" : ",").append(results.get(i).json());
        }
        Files.writeString(dir.resolve("summary.json"), json.append("]}\n").toString());
        return results.stream().anyMatch(r -> r.failed() > 0) ? 1 : 0;
    }

    /**
     * The demo model's ModelInfer (1 row of 47 FP32, a 47→32→1 MLP) served by {@code mlserve serve}, against a bare
     * grpc-java server answering every call with the response mlserve gives (same Netty transport and threads, no
     * model, no checks, no metrics), each in its own process, both driven by h2load: the share of the transport
     * ceiling mlserve reaches when the model is cheap.
     */
    private Integer demo() throws Exception {
        Path work = Files.createTempDirectory("mlserve-served-demo");
        Path repo = io.mlserve.examples.ChurnExample.writeTo(work.resolve("example")).resolveSibling("models");
        Path dir = out != null ? Files.createDirectories(out) : work;
        ModelInferRequest request = request(io.mlserve.examples.ChurnExample.MODEL);
        Path body = dir.resolve("request.grpc");
        Files.write(body, grpcFrame(request));
        List<String> args = new ArrayList<>(List.of("--model-repository", repo.toString()));
        args.addAll(serverArgs);
        int cores = Runtime.getRuntime().availableProcessors();
        List<double[]> results = new ArrayList<>();
        try (ServerProcess server = ServerProcess.start(dir.resolve("server.log"), 120, args.toArray(new String[0]))) {
            io.grpc.ManagedChannel channel = io.grpc.netty.NettyChannelBuilder.forTarget(server.grpc()).usePlaintext()
                    .build();
            Path canned = work.resolve("response.bin");
            try {
                Files.write(canned, io.mlserve.proto.inference.GRPCInferenceServiceGrpc.newBlockingStub(channel)
                        .withDeadlineAfter(30, TimeUnit.SECONDS).modelInfer(request).toByteArray());
            } finally {
                channel.shutdownNow();
            }
            Path portFile = work.resolve("echo.port");
            Process echo = javaProcess(dir.resolve("echo.log"), EchoServer.class.getName(), canned.toString(),
                    portFile.toString(), Integer.toString(cores));
            try {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (!Files.exists(portFile) && echo.isAlive() && System.nanoTime() < deadline) {
                    Thread.sleep(50);
                }
                if (!Files.exists(portFile)) {
                    throw new IOException("the echo server did not start: see " + dir.resolve("echo.log"));
                }
                String echoUrl = "http://127.0.0.1:" + Files.readString(portFile).trim() + METHOD;
                String serveUrl = "http://127.0.0.1:" + server.grpcPort + METHOD;
                h2load(echoUrl, body, warmup, dir.resolve("h2load-echo-warmup.txt"));
                h2load(serveUrl, body, warmup, dir.resolve("h2load-mlserve-warmup.txt"));
                for (int r = 1; r <= rounds; r++) {
                    double e = number(h2load(echoUrl, body, duration, dir.resolve("h2load-echo-round" + r + ".txt")),
                            "finished in [0-9.]+(?:ms|s), ([0-9.]+) req/s");
                    String before = scrape(server);
                    double m = number(h2load(serveUrl, body, duration, dir.resolve("h2load-mlserve-round" + r + ".txt")),
                            "finished in [0-9.]+(?:ms|s), ([0-9.]+) req/s");
                    String metrics = delta(before, scrape(server), request.getModelName());
                    double failed = number(metrics, "failure");
                    results.add(new double[] {e, m, failed});
                    System.out.printf(Locale.ROOT, "round %d: echo %.0f req/s, mlserve %.0f req/s (%.0f failed): %.2f%n",
                            r, e, m, failed, m / e);
                }
            } finally {
                echo.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
        double[] ratios = results.stream().mapToDouble(x -> x[1] / x[0]).sorted().toArray();
        double median = ratios[ratios.length / 2];
        System.out.printf(Locale.ROOT, "%nrequest %d bytes; h2load -c %d -m %d, %d s per round after %d s of warm-up "
                        + "each%nmedian throughput ratio mlserve / echo: %.2f%n", request.getSerializedSize(), clients,
                streams, duration, warmup, median);
        StringBuilder json = new StringBuilder(String.format(Locale.ROOT, "{\"machine\":%s,\"model\":\"demo churn "
                        + "47-32-1\",\"h2load\":{\"clients\":%d,\"streams\":%d,\"duration_s\":%d,\"warmup_s\":%d},"
                        + "\"median_ratio\":%.3f,\"rounds\":[", Machine.json(), clients, streams, duration, warmup,
                median));
        for (int i = 0; i < results.size(); i++) {
            double[] x = results.get(i);
            json.append(i == 0 ? "" : ",").append(String.format(Locale.ROOT, "{\"round\":%d,\"echo_req_per_s\":%.1f,"
                    + "\"mlserve_req_per_s\":%.1f,\"mlserve_failed\":%.0f,\"ratio\":%.3f}", i + 1, x[0], x[1], x[2],
                    x[1] / x[0]));
        }
        Files.writeString(dir.resolve("summary.json"), json.append("]}\n").toString());
        return results.stream().anyMatch(x -> x[2] > 0) ? 1 : 0;
    }

    /** This JVM's java, classpath and module flags running {@code main} with {@code args}, output in {@code log}. */
    private static Process javaProcess(Path log, String main, String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String arg : java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (arg.startsWith("--add-") || arg.startsWith("-D")) {
                cmd.add(arg);
            }
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), main));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    /** One round: in-process ONNX Runtime (spinning on and off), then the served load, and what the server said. */
    private record Round(int round, double served, double succeeded, double ok, double failed, double cancelled,
                         double batches, double rows, double computeSeconds, double spinning, double noSpinning,
                         Map<String, Double> threads) {
        double best() {
            return Math.max(spinning, noSpinning);
        }

        double ratio() {
            return served / best();
        }

        double computeMsPerBatch() {
            return batches > 0 ? computeSeconds / batches * 1000 : 0;
        }

        String summary(int batch) {
            StringBuilder cpu = new StringBuilder();
            threads.forEach((k, v) -> cpu.append(cpu.length() == 0 ? "" : ", ")
                    .append(String.format(Locale.ROOT, "%s %.0f%%", k, v * 100)));
            return String.format(Locale.ROOT, "round %d: in process %.0f rows/s spinning, %.0f without; served %.0f req/s "
                            + "(server: %.0f ok, %.0f failed, %.0f cancelled when h2load stopped); %.1f rows per batch, "
                            + "%.1f ms compute per batch (in process: %.1f ms per %d rows); served / best in-process %.2f"
                            + "%n  server CPU by thread, share of one core: %s", round, spinning, noSpinning, served, ok,
                    failed, cancelled, batches > 0 ? rows / batches : 0, computeMsPerBatch(), batch / best() * 1000,
                    batch, ratio(), cpu);
        }

        String json() {
            return String.format(Locale.ROOT, "{\"round\":%d,\"served_req_per_s\":%.1f,\"h2load_succeeded\":%.0f,"
                            + "\"server\":{\"ok\":%.0f,\"failed\":%.0f,\"cancelled\":%.0f,\"batches\":%.0f,\"rows\":%.0f,"
                            + "\"compute_ms_per_batch\":%.2f},\"in_process_rows_per_s\":{\"spinning\":%.1f,"
                            + "\"no_spinning\":%.1f},\"ratio\":%.3f,\"server_cpu_cores_by_thread\":%s}", round, served,
                    succeeded, ok, failed, cancelled, batches, rows, computeMsPerBatch(), spinning, noSpinning, ratio(),
                    jsonMap(threads));
        }
    }

    private String config() {
        StringBuilder p = new StringBuilder();
        for (String kv : params) {
            int eq = kv.indexOf('=');
            if (eq <= 0) {
                throw new IllegalArgumentException("--param wants key=value, got '" + kv + "'");
            }
            p.append(p.length() == 0 ? "" : ", ").append(String.format(Locale.ROOT, "\"%s\": {\"string_value\": \"%s\"}",
                    kv.substring(0, eq), kv.substring(eq + 1)));
        }
        return String.format(Locale.ROOT, "{\"max_batch_size\": %d, \"dynamic_batching\": "
                        + "{\"max_queue_delay_microseconds\": %d}, \"instance_group\": [{\"count\": %d}], "
                        + "\"parameters\": {%s}}", maxBatchSize, delayMicros, instances, p);
    }

    private String hiddenLabel() {
        return java.util.Arrays.toString(hidden).replaceAll("[\\[\\] ]", "").replace(',', '-');
    }

    /** One row of 47 FP32 in raw_input_contents of input 'features', as the load generator sends it. */
    private static ModelInferRequest request(String model) {
        ByteBuffer data = ByteBuffer.allocate(FEATURES * 4).order(ByteOrder.LITTLE_ENDIAN);
        SplittableRandom random = new SplittableRandom(1);
        for (int i = 0; i < FEATURES; i++) {
            data.putFloat((float) (random.nextDouble() * 2 - 1));
        }
        return ModelInferRequest.newBuilder().setModelName(model)
                .addInputs(ModelInferRequest.InferInputTensor.newBuilder().setName("features").setDatatype("FP32")
                        .addShape(1).addShape(FEATURES))
                .addRawInputContents(com.google.protobuf.ByteString.copyFrom(data.array())).build();
    }

    /** gRPC's length-prefixed message: a zero compression flag, four bytes of length (big-endian), the message. */
    private static byte[] grpcFrame(ModelInferRequest request) {
        byte[] message = request.toByteArray();
        ByteArrayOutputStream b = new ByteArrayOutputStream(message.length + 5);
        b.write(0);
        b.writeBytes(ByteBuffer.allocate(4).putInt(message.length).array());
        b.writeBytes(message);
        return b.toByteArray();
    }

    private String h2load(String url, Path body, int seconds, Path report) throws IOException, InterruptedException {
        List<String> cmd = List.of("h2load", "-c", Integer.toString(clients), "-m", Integer.toString(streams),
                "-t", "1", "-D", Integer.toString(seconds), "-d", body.toString(),
                "-H", "content-type: application/grpc", "-H", "te: trailers", url);
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(report.toFile()).start();
        } catch (IOException e) {
            throw new IOException("h2load is not installed (Debian: apt-get install nghttp2-client): " + e.getMessage());
        }
        if (!p.waitFor(seconds + 60L, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IOException("h2load did not finish: see " + report);
        }
        String text = String.join(" ", cmd) + "\n" + Files.readString(report);
        Files.writeString(report, text);
        if (p.exitValue() != 0) {
            throw new IOException("h2load exited with " + p.exitValue() + ": see " + report);
        }
        return text;
    }

    private static String scrape(ServerProcess server) throws IOException, InterruptedException {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + server.metricsPort + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString());
        return r.body();
    }

    /** The counters the summary needs, as after − before, one "name value" per line. */
    private static String delta(String before, String after, String model) {
        String[][] wanted = {
            {"success", "mlserve_request_success_total\\{[^}]*model=\"" + model + "\"[^}]*\\}"},
            {"failure", "mlserve_request_failure_total\\{model=\"" + model + "\",reason=\"(?!cancelled\")[^}]*\\}"},
            {"cancelled", "mlserve_request_failure_total\\{model=\"" + model + "\",reason=\"cancelled\"[^}]*\\}"},
            {"batches", "mlserve_execution_count_total\\{[^}]*model=\"" + model + "\"[^}]*\\}"},
            {"rows", "mlserve_inference_count_total\\{[^}]*model=\"" + model + "\"[^}]*\\}"},
            {"compute_seconds", "mlserve_compute_duration_seconds_sum\\{[^}]*model=\"" + model + "\"[^}]*\\}"},
        };
        StringBuilder sb = new StringBuilder();
        for (String[] w : wanted) {
            sb.append(w[0]).append(' ').append(sum(after, w[1]) - sum(before, w[1])).append('\n');
        }
        return sb.toString();
    }

    private static double sum(String metrics, String series) {
        Matcher m = Pattern.compile("(?m)^" + series + " ([0-9.eE+-]+)$").matcher(metrics);
        double total = 0;
        while (m.find()) {
            total += Double.parseDouble(m.group(1));
        }
        return total;
    }

    private static double number(String text, String pattern) {
        Matcher m = Pattern.compile(pattern.matches("[a-z_]+") ? "(?m)^" + pattern + " ([0-9.eE+-]+)$" : pattern)
                .matcher(text);
        return m.find() ? Double.parseDouble(m.group(1)) : 0;
    }

    /**
     * CPU ticks (user + system) per thread of process {@code pid}, from /proc, keyed by thread name with digits
     * folded (so a pool's threads add up). Empty where /proc is not there.
     */
    private static Map<String, Long> threadTicks(long pid) {
        Map<String, Long> ticks = new java.util.TreeMap<>();
        Path tasks = Path.of("/proc", Long.toString(pid), "task");
        try (var dirs = Files.list(tasks)) {
            for (Path t : dirs.toList()) {
                try {
                    String stat = Files.readString(t.resolve("stat"));
                    String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replaceAll("[0-9]+", "N");
                    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                    // after the name: state is field 0, utime field 11, stime field 12
                    ticks.merge(name, Long.parseLong(f[11]) + Long.parseLong(f[12]), Long::sum);
                } catch (IOException | RuntimeException e) {
                    // the thread ended meanwhile
                }
            }
        } catch (IOException e) {
            return ticks;
        }
        return ticks;
    }

    /** Cores used per thread group between two readings, the busiest first (those above 1 % of a core). */
    private static Map<String, Double> cpuShares(Map<String, Long> before, Map<String, Long> after, double seconds) {
        final double ticksPerSecond = 100; // USER_HZ on Linux
        Map<String, Double> shares = new LinkedHashMap<>();
        after.entrySet().stream()
                .map(e -> Map.entry(e.getKey(), (e.getValue() - before.getOrDefault(e.getKey(), 0L)) / ticksPerSecond
                        / seconds))
                .filter(e -> e.getValue() >= 0.01)
                .sorted((a, b) -> Double.compare(b.getValue(), a.getValue()))
                .forEach(e -> shares.put(e.getKey(), e.getValue()));
        return shares;
    }

    private static String jsonMap(Map<String, Double> m) {
        StringBuilder sb = new StringBuilder("{");
        m.forEach((k, v) -> sb.append(sb.length() == 1 ? "" : ",").append(String.format(Locale.ROOT, "\"%s\":%.3f",
                k.replace("\"", "'"), v)));
        return sb.append('}').toString();
    }

    /** Rows/s of the model run in this process at the batch size, every core its intra-op pool. */
    private double rawRate(Path model, int cores, boolean spinning) throws Exception {
        SessionConfig cfg = SessionConfig.DEFAULT.withIntraOpThreads(cores).withAllowSpinning(spinning);
        try (ModelSession s = ModelSession.open("in-process", model, cfg)) {
            TensorBatch batch = new TensorBatch(s.signature());
            long[] shape = batch.shape(0, 2);
            shape[0] = maxBatchSize;
            shape[1] = FEATURES;
            ByteBuffer buf = batch.buffer(0, maxBatchSize * FEATURES * 4);
            SplittableRandom random = new SplittableRandom(9);
            for (int i = 0; i < maxBatchSize * FEATURES; i++) {
                buf.putFloat(i * 4, (float) random.nextDouble());
            }
            long end = System.nanoTime() + 1_000_000_000L;
            while (System.nanoTime() < end) {
                s.run(batch, null, maxBatchSize).close();
            }
            long rows = 0;
            long start = System.nanoTime();
            end = start + (long) (rawSeconds * 1e9);
            while (System.nanoTime() < end) {
                s.run(batch, null, maxBatchSize).close();
                rows += maxBatchSize;
            }
            double perSecond = rows / ((System.nanoTime() - start) / 1e9);
            System.out.printf(Locale.ROOT, "in process, batch %d, spinning %s: %8.0f rows/s%n", maxBatchSize,
                    spinning ? "on" : "off", perSecond);
            return perSecond;
        }
    }
}
