package io.mlserve.bench;

import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.runtime.ModelSession;
import io.mlserve.runtime.SessionConfig;
import io.mlserve.runtime.TensorBatch;
import io.mlserve.runtime.onnx.ExampleModels;
import io.mlserve.server.cli.ServerProcess;
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
 * not read.
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

    @Option(names = "--duration", defaultValue = "15", description = "Seconds measured (default: ${DEFAULT-VALUE}).")
    int duration;

    @Option(names = "--warmup", defaultValue = "5", description = "Seconds of unrecorded load first (default: ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--raw-seconds", defaultValue = "5",
            description = "Seconds of in-process ONNX Runtime per measurement (default: ${DEFAULT-VALUE}).")
    double rawSeconds;

    @Option(names = "--out", description = "Directory for the raw output: h2load's report, the server's metrics "
            + "and log, the JSON summary.")
    Path out;

    @Override
    public Integer call() throws Exception {
        Path work = Files.createTempDirectory("mlserve-served");
        Path repo = work.resolve("models");
        Path model = repo.resolve("mlp/1/model.onnx");
        ExampleModels.mlp("mlp", FEATURES, hidden, 5).writeTo(model);
        Files.writeString(repo.resolve("mlp/config.json"), config());
        Path dir = out != null ? Files.createDirectories(out) : work;
        int cores = Runtime.getRuntime().availableProcessors();

        Map<String, Double> raw = new LinkedHashMap<>();
        raw.put("spinning_before", rawRate(model, cores, true));
        raw.put("no_spinning_before", rawRate(model, cores, false));

        Path body = dir.resolve("request.grpc");
        Files.write(body, grpcFrame(request()));
        Path log = dir.resolve("server.log");
        List<String> args = new ArrayList<>(List.of("--model-repository", repo.toString()));
        args.addAll(serverArgs);
        String report;
        String metrics;
        try (ServerProcess server = ServerProcess.start(log, 120, args.toArray(new String[0]))) {
            String url = "http://127.0.0.1:" + server.grpcPort + METHOD;
            h2load(url, body, warmup, dir.resolve("h2load-warmup.txt"));
            String before = scrape(server);
            report = h2load(url, body, duration, dir.resolve("h2load.txt"));
            metrics = scrape(server);
            Files.writeString(dir.resolve("metrics-before.txt"), before);
            Files.writeString(dir.resolve("metrics-after.txt"), metrics);
            metrics = delta(before, metrics);
        }
        raw.put("spinning_after", rawRate(model, cores, true));
        raw.put("no_spinning_after", rawRate(model, cores, false));

        double served = number(report, "finished in [0-9.]+(?:ms|s), ([0-9.]+) req/s");
        double succeeded = number(report, "requests: [0-9]+ total, [0-9]+ started, [0-9]+ done, ([0-9]+) succeeded");
        double ok = number(metrics, "success");
        double failed = number(metrics, "failure");
        double batches = number(metrics, "batches");
        double rows = number(metrics, "rows");
        double computeSeconds = number(metrics, "compute_seconds");
        double rawBest = (raw.get("spinning_before") + raw.get("spinning_after")) / 2;
        double rawNoSpin = (raw.get("no_spinning_before") + raw.get("no_spinning_after")) / 2;
        double perBatchMs = batches > 0 ? computeSeconds / batches * 1000 : 0;
        double rawBatchMs = maxBatchSize / rawBest * 1000;

        System.out.println();
        System.out.printf(Locale.ROOT, "model MLP 47-%s-1, max_batch_size %d, delay %d us, %d instance(s), params %s%n",
                hiddenLabel(), maxBatchSize, delayMicros, instances, params);
        System.out.printf(Locale.ROOT, "in process, batch %d:  %8.0f rows/s spinning (%s), %8.0f without (%s)%n",
                maxBatchSize, rawBest, pair(raw, "spinning"), rawNoSpin, pair(raw, "no_spinning"));
        System.out.printf(Locale.ROOT, "served (h2load -c %d -m %d, %d s): %8.0f req/s (%.0f succeeded per h2load; "
                        + "server: %.0f ok, %.0f failed)%n", clients, streams, duration, served, succeeded, ok, failed);
        System.out.printf(Locale.ROOT, "server: %.0f batches, %.1f rows per batch, %.1f ms compute per batch "
                + "(in process: %.1f ms per %d rows)%n", batches, batches > 0 ? rows / batches : 0, perBatchMs,
                rawBatchMs, maxBatchSize);
        System.out.printf(Locale.ROOT, "served / in-process (spinning) = %.2f   served / in-process (no spinning) = %.2f%n",
                served / rawBest, served / rawNoSpin);
        String json = String.format(Locale.ROOT, "{\"machine\":%s,\"model\":\"MLP 47-%s-1\",\"max_batch_size\":%d,"
                        + "\"delay_us\":%d,\"instances\":%d,\"params\":\"%s\",\"server_args\":\"%s\",\"h2load\":"
                        + "{\"clients\":%d,\"streams\":%d,\"duration_s\":%d,\"req_per_s\":%.1f,\"succeeded\":%.0f},"
                        + "\"server\":{\"ok\":%.0f,\"failed\":%.0f,\"batches\":%.0f,\"rows\":%.0f,"
                        + "\"compute_ms_per_batch\":%.2f},\"in_process_rows_per_s\":{\"spinning\":%.1f,"
                        + "\"no_spinning\":%.1f,\"runs\":%s},\"ratio_spinning\":%.3f,\"ratio_no_spinning\":%.3f}%n",
                Machine.json(), hiddenLabel(), maxBatchSize, delayMicros, instances, String.join(" ", params),
                String.join(" ", serverArgs), clients, streams, duration, served, succeeded, ok, failed, batches, rows,
                perBatchMs, rawBest, rawNoSpin, jsonMap(raw), served / rawBest, served / rawNoSpin);
        Files.writeString(dir.resolve("summary.json"), json);
        return failed > 0 || ok < succeeded ? 1 : 0;
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

    /** One row of 47 FP32 in raw_input_contents, as the load generator sends it. */
    private static ModelInferRequest request() {
        ByteBuffer data = ByteBuffer.allocate(FEATURES * 4).order(ByteOrder.LITTLE_ENDIAN);
        SplittableRandom random = new SplittableRandom(1);
        for (int i = 0; i < FEATURES; i++) {
            data.putFloat((float) (random.nextDouble() * 2 - 1));
        }
        return ModelInferRequest.newBuilder().setModelName("mlp")
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
    private static String delta(String before, String after) {
        String[][] wanted = {
            {"success", "mlserve_request_success_total\\{[^}]*model=\"mlp\"[^}]*\\}"},
            {"failure", "mlserve_request_failure_total\\{[^}]*model=\"mlp\"[^}]*\\}"},
            {"batches", "mlserve_execution_count_total\\{[^}]*model=\"mlp\"[^}]*\\}"},
            {"rows", "mlserve_inference_count_total\\{[^}]*model=\"mlp\"[^}]*\\}"},
            {"compute_seconds", "mlserve_compute_duration_seconds_sum\\{[^}]*model=\"mlp\"[^}]*\\}"},
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

    private static String pair(Map<String, Double> raw, String key) {
        return String.format(Locale.ROOT, "%.0f before, %.0f after", raw.get(key + "_before"), raw.get(key + "_after"));
    }

    private static String jsonMap(Map<String, Double> m) {
        StringBuilder sb = new StringBuilder("{");
        m.forEach((k, v) -> sb.append(sb.length() == 1 ? "" : ",").append(String.format(Locale.ROOT, "\"%s\":%.1f", k, v)));
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
