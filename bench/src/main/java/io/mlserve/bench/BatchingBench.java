package io.mlserve.bench;

import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.runtime.ModelSession;
import io.mlserve.runtime.SessionConfig;
import io.mlserve.runtime.TensorBatch;
import io.mlserve.runtime.onnx.ExampleModels;
import io.mlserve.server.MlServer;
import io.mlserve.server.ServerOptions;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Maximum throughput within a p99 bound, for a model whose per-row compute dominates (MLP 47→2048→2048→1):
 * (a) no batching, (b) dynamic batching, both through the server under open-loop load, and (c) the
 * ceiling: raw in-process ONNX Runtime at its best batch size. All in one run.
 */
@Command(name = "batching", mixinStandardHelpOptions = true,
        description = "Max throughput with p99 within a bound: no batching vs dynamic batching vs raw ONNX Runtime.")
final class BatchingBench implements Callable<Integer> {
    private static final int FEATURES = 47;

    @Option(names = "--p99-ms", defaultValue = "20", description = "Latency bound (default: ${DEFAULT-VALUE} ms).")
    double p99Millis;

    @Option(names = "--step-seconds", defaultValue = "5", description = "Seconds measured per rate step.")
    double stepSeconds;

    @Option(names = "--max-batch-size", defaultValue = "64", description = "max_batch_size for (b).")
    int maxBatchSize;

    @Option(names = "--delay-us", defaultValue = "2000", description = "max_queue_delay_microseconds for (b).")
    long delayMicros;

    @Option(names = "--instances", defaultValue = "1", description = "instance_group count for (b).")
    int instances;

    @Option(names = "--unbatched-instances", defaultValue = "2", description = "instance_group count for (a).")
    int unbatchedInstances;

    @Option(names = "--hidden", defaultValue = "2048,2048", split = ",",
            description = "Hidden layer widths of the MLP 47 -> ... -> 1 (default: ${DEFAULT-VALUE}).")
    int[] hidden;

    @Option(names = "--json", description = "Write the results as JSON to this file.")
    Path json;

    @Override
    public Integer call() throws Exception {
        Path repo = Files.createTempDirectory("mlserve-batching").resolve("models");
        for (String name : List.of("mlp_unbatched", "mlp_batched")) {
            ExampleModels.mlp("mlp", FEATURES, hidden, 5).writeTo(repo.resolve(name + "/1/model.onnx"));
        }
        Files.writeString(repo.resolve("mlp_unbatched/config.json"),
                "{\"max_batch_size\": 0, \"instance_group\": [{\"count\": " + unbatchedInstances + "}]}");
        Files.writeString(repo.resolve("mlp_batched/config.json"), String.format(Locale.ROOT,
                "{\"max_batch_size\": %d, \"dynamic_batching\": {\"max_queue_delay_microseconds\": %d},"
                        + " \"instance_group\": [{\"count\": %d}]}", maxBatchSize, delayMicros, instances));
        List<LoadResult> results = new ArrayList<>();
        double unbatched;
        double batched;
        MlServer server = MlServer.start(ServerOptions.ephemeral(repo));
        try (LoadGenerator g = new LoadGenerator("127.0.0.1", server.grpcPort(), 4)) {
            unbatched = maxRate(g, g.requestFor("mlp_unbatched", 1, true), "(a) no batching", results);
            batched = maxRate(g, g.requestFor("mlp_batched", 1, true), "(b) dynamic batching", results);
        } finally {
            server.shutdown(10);
        }
        double[] ceiling = rawCeiling(repo.resolve("mlp_batched/1/model.onnx"));
        System.out.println();
        System.out.printf(Locale.ROOT, "(a) no batching:        %8.0f req/s with p99 <= %.0f ms%n", unbatched, p99Millis);
        System.out.printf(Locale.ROOT, "(b) dynamic batching:   %8.0f req/s with p99 <= %.0f ms (max_batch_size %d, delay %d us, %d instance(s))%n",
                batched, p99Millis, maxBatchSize, delayMicros, instances);
        System.out.printf(Locale.ROOT, "(c) raw ONNX Runtime:   %8.0f rows/s at batch %d (in process, no transport)%n",
                ceiling[0], (int) ceiling[1]);
        System.out.printf(Locale.ROOT, "(b)/(a) = %.2f   (b)/(c) = %.2f%n", batched / unbatched, batched / ceiling[0]);
        BenchMain.writeJson(json, results, String.format(Locale.ROOT,
                ",\"model\":\"MLP 47-%s-1\",\"p99_bound_ms\":%.1f,\"unbatched_rps\":%.1f,\"batched_rps\":%.1f,\"raw_ort_rows_per_s\":%.1f,"
                        + "\"raw_ort_best_batch\":%d,\"ratio_b_over_a\":%.3f,\"ratio_b_over_c\":%.3f,"
                        + "\"batched_config\":{\"max_batch_size\":%d,\"delay_us\":%d,\"instances\":%d}",
                java.util.Arrays.toString(hidden).replaceAll("[\\[\\] ]", "").replace(',', '-'),
                p99Millis, unbatched, batched, ceiling[0], (int) ceiling[1], batched / unbatched, batched / ceiling[0],
                maxBatchSize, delayMicros, instances));
        return 0;
    }

    /** The highest open-loop rate whose p99 stays within the bound and has no errors: doubling, then bisection. */
    private double maxRate(LoadGenerator g, ModelInferRequest request, String label, List<LoadResult> results)
            throws InterruptedException {
        double boundMicros = p99Millis * 1000;
        double good = 0;
        double bad = 0;
        double rate = 25;
        for (int step = 0; step < 14; step++) {
            LoadResult r = g.openLoop(label + " @" + (int) rate, request, rate, 1, stepSeconds, 20_000);
            results.add(r);
            System.out.println(r.summary());
            boolean ok = r.errors().isEmpty() && r.p99Us() <= boundMicros && r.throughput() >= rate * 0.95;
            if (ok) {
                good = Math.max(good, rate);
            } else {
                bad = bad == 0 ? rate : Math.min(bad, rate);
            }
            if (bad == 0) {
                rate *= 2;
            } else {
                if (bad - good <= Math.max(10, good * 0.05)) {
                    break;
                }
                rate = good == 0 ? bad / 2 : (good + bad) / 2;
            }
        }
        return good;
    }

    /** {rows/s, batch size} of the best batch size for the model run in-process with every core. */
    private static double[] rawCeiling(Path model) throws Exception {
        double best = 0;
        int bestBatch = 0;
        SessionConfig cfg = SessionConfig.DEFAULT.withIntraOpThreads(Runtime.getRuntime().availableProcessors())
                .withAllowSpinning(true);
        try (ModelSession s = ModelSession.open("ceiling", model, cfg)) {
            TensorBatch batch = new TensorBatch(s.signature());
            SplittableRandom random = new SplittableRandom(9);
            for (int b = 1; b <= 256; b *= 2) {
                long[] shape = batch.shape(0, 2);
                shape[0] = b;
                shape[1] = FEATURES;
                ByteBuffer buf = batch.buffer(0, b * FEATURES * 4);
                for (int i = 0; i < b * FEATURES; i++) {
                    buf.putFloat(i * 4, (float) random.nextDouble());
                }
                long end = System.nanoTime() + 500_000_000L;
                while (System.nanoTime() < end) {
                    s.run(batch, null, b).close();
                }
                long rows = 0;
                long start = System.nanoTime();
                end = start + 2_000_000_000L;
                while (System.nanoTime() < end) {
                    s.run(batch, null, b).close();
                    rows += b;
                }
                double perSecond = rows / ((System.nanoTime() - start) / 1e9);
                System.out.printf(Locale.ROOT, "raw ONNX Runtime batch %3d: %8.0f rows/s%n", b, perSecond);
                if (perSecond > best) {
                    best = perSecond;
                    bestBatch = b;
                }
            }
        }
        return new double[] {best, bestBatch};
    }
}
