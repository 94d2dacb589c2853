package io.mlserve.bench;

import com.fasterxml.jackson.databind.JsonNode;
import io.mlserve.proto.inference.GRPCInferenceServiceGrpc;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.registry.VersionChecksum;
import io.mlserve.runtime.onnx.ExampleModels;
import io.mlserve.server.MlServer;
import io.mlserve.server.RegistryOptions;
import io.mlserve.server.ServerOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Latency while versions swap, against steady state in the same run: open-loop ModelInfer at a fixed rate on the
 * churn-shaped MLP; rounds alternate between steady (nothing published) and swapping (a new version published by
 * rename every second, picked up by the server's own registry poller at --repository-poll-secs 1, checksummed,
 * loaded, warmed up and swapped in). Also measured: from a version's rename to the first response it produces
 * (includes up to one poll interval), and the server's own part (checksum + session + warm-up, from the audit log).
 */
@Command(name = "swap", mixinStandardHelpOptions = true,
        description = "p99 latency with a version swap every second vs steady state, and publish-to-serving time.")
final class SwapBench implements Callable<Integer> {
    @Option(names = "--rate", defaultValue = "2000", description = "Requests per second, open loop (default: "
            + "${DEFAULT-VALUE}).")
    double rate;

    @Option(names = "--duration", defaultValue = "15", description = "Seconds measured per round.")
    double duration;

    @Option(names = "--rounds", defaultValue = "3", description = "Rounds (each one steady and one swapping).")
    int rounds;

    @Option(names = "--hidden", defaultValue = "256", description = "Hidden width of the MLP (model size).")
    int hidden;

    @Option(names = "--json", description = "Write the results as JSON to this file.")
    Path json;

    private volatile long next = 1;

    /** Writes version v (its own weights) with its checksum into the staging directory, as a trainer would. */
    private void stage(Path staging, long v) throws Exception {
        Path dir = staging.resolve(Long.toString(v));
        ExampleModels.mlp("churn", ExampleModels.CHURN_FEATURES, new int[] {hidden}, v)
                .writeTo(dir.resolve("model.onnx"));
        VersionChecksum.writeMetadata(dir, "model.onnx");
    }

    /** Publishes the next staged version by rename (the work of writing it was done before the measurement). */
    private void publish(Path staging, Path repo) throws Exception {
        long v = next;
        Files.move(staging.resolve(Long.toString(v)), repo.resolve("churn").resolve(Long.toString(v)));
        next = v + 1;
    }

    @Override
    public Integer call() throws Exception {
        Path base = Files.createTempDirectory("mlserve-swap-bench");
        Path repo = base.resolve("models");
        Files.createDirectories(repo.resolve("churn"));
        Files.writeString(repo.resolve("churn/config.json"), """
                {"max_batch_size": 64, "dynamic_batching": {"max_queue_delay_microseconds": 0}}""");
        Path staging = base.resolve("staging");
        int versions = (int) (rounds * (duration + 2)) + 5;
        for (long v = 1; v <= versions; v++) {
            stage(staging, v);
        }
        publish(staging, repo);
        List<LoadResult> results = new ArrayList<>();
        List<Double> toServingMs = new ArrayList<>();
        double[] ratio = new double[rounds];
        ServerOptions options = ServerOptions.ephemeral(repo).withRegistry(RegistryOptions.defaults().withPollSecs(1));
        try (MlServer server = MlServer.start(options);
             LoadGenerator g = new LoadGenerator("127.0.0.1", server.grpcPort(), 4)) {
            ModelInferRequest request = g.requestFor("churn", 1, true);
            g.openLoop("warm-up", request, rate, 2, 3, 10_000);
            var probe = GRPCInferenceServiceGrpc.newBlockingStub(
                    io.grpc.netty.NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext().build());
            for (int round = 0; round < rounds; round++) {
                // the same probe (one call every 20 ms) runs in both rounds; only the swapping round publishes
                LoadResult steady = probed(g, probe, request, repo, staging, false, toServingMs, "steady");
                LoadResult swapping = probed(g, probe, request, repo, staging, true, toServingMs,
                        "swap every second");
                System.out.println(steady.summary());
                System.out.println(swapping.summary());
                results.add(steady);
                results.add(swapping);
                ratio[round] = swapping.p99Us() / steady.p99Us();
            }
            List<Double> loadMs = new ArrayList<>();
            for (JsonNode n : server.repository().audit().read("churn", "load", 100_000)) {
                loadMs.add(n.path("evidence").path("load_ms").asDouble());
            }
            double[] serving = toServingMs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            double[] load = loadMs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            double[] sortedRatio = ratio.clone();
            Arrays.sort(sortedRatio);
            System.out.printf(Locale.ROOT, "versions seen serving: %d; p99 swapping/steady per round %s (median %.2f)%n",
                    serving.length, Arrays.toString(ratio), sortedRatio[rounds / 2]);
            System.out.printf(Locale.ROOT, "rename -> first response from the new version (poll every 1 s, probe every "
                    + "20 ms): median %.0f ms, p95 %.0f ms, max %.0f ms%n", q(serving, 0.5), q(serving, 0.95), q(serving, 1));
            System.out.printf(Locale.ROOT, "server's part (checksum + session + warm-up, audit load_ms): median %.0f ms, "
                    + "p95 %.0f ms, max %.0f ms%n", q(load, 0.5), q(load, 0.95), q(load, 1));
            if (json != null) {
                StringBuilder b = new StringBuilder("{\"bench\":\"swap\",\"machine\":").append(Machine.json())
                        .append(String.format(Locale.ROOT, ",\"rate\":%.0f,\"hidden\":%d,\"p99_ratios\":%s,"
                                        + "\"to_serving_ms\":{\"p50\":%.1f,\"p95\":%.1f,\"max\":%.1f},"
                                        + "\"load_ms\":{\"p50\":%.1f,\"p95\":%.1f,\"max\":%.1f},\"runs\":[", rate, hidden,
                                Arrays.toString(ratio), q(serving, 0.5), q(serving, 0.95), q(serving, 1), q(load, 0.5),
                                q(load, 0.95), q(load, 1)));
                for (int i = 0; i < results.size(); i++) {
                    b.append(i == 0 ? "" : ",").append(results.get(i).toJson());
                }
                Files.writeString(json, b.append("]}\n").toString());
            }
        }
        return 0;
    }

    /**
     * One measured round with a prober thread calling every 20 ms; with {@code swap}, the prober also publishes the
     * next staged version every second and records when the first response from it comes back.
     */
    private LoadResult probed(LoadGenerator g, GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub probe,
                              ModelInferRequest request, Path repo, Path staging, boolean swap,
                              List<Double> toServingMs, String label) throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        Thread prober = new Thread(() -> {
            try {
                long published = 0;
                String want = null;
                while (!stop.get()) {
                    long now = System.nanoTime();
                    if (swap && (published == 0 || now - published >= 1_000_000_000L)) {
                        want = Long.toString(next);
                        publish(staging, repo);
                        published = now;
                    }
                    String got = probe.withDeadlineAfter(10, TimeUnit.SECONDS).modelInfer(request).getModelVersion();
                    if (want != null && got.equals(want)) {
                        synchronized (toServingMs) {
                            toServingMs.add((System.nanoTime() - published) / 1e6);
                        }
                        want = null;
                    }
                    Thread.sleep(20);
                }
            } catch (Exception e) {
                if (!stop.get()) {
                    e.printStackTrace();
                }
            }
        }, "prober");
        prober.start();
        try {
            return g.openLoop(label, request, rate, 1, duration, 10_000);
        } finally {
            stop.set(true);
            prober.join();
        }
    }

    private static double q(double[] sorted, double p) {
        return sorted.length == 0 ? Double.NaN : sorted[Math.min(sorted.length - 1, (int) Math.ceil(p * sorted.length) - 1 < 0 ? 0
                : (int) Math.ceil(p * sorted.length) - 1)];
    }
}
