package io.mlserve.bench;

import io.mlserve.drift.ProfileBuilder;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.runtime.onnx.Exporters;
import io.mlserve.runtime.onnx.Preprocessing;
import io.mlserve.server.MlServer;
import io.mlserve.server.ServerOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Server throughput with drift recording on vs off, same run: two copies of one 47-feature logistic regression
 * (the churn model's shape), one with a profile.json (every executed row recorded into drift windows), one
 * without; closed-loop ModelInfer rounds alternate between them.
 */
@Command(name = "drift", mixinStandardHelpOptions = true,
        description = "ModelInfer throughput with drift monitoring on vs off (same model, same server, same run).")
final class DriftBench implements Callable<Integer> {
    static final int WIDTH = 47;

    @Option(names = "--rows", defaultValue = "1", description = "Rows per request (default: ${DEFAULT-VALUE}).")
    int rows;

    @Option(names = "--concurrency", defaultValue = "64", description = "Calls kept outstanding.")
    int concurrency;

    @Option(names = "--duration", defaultValue = "10", description = "Seconds measured per run.")
    double duration;

    @Option(names = "--warmup", defaultValue = "3", description = "Seconds of unrecorded load first.")
    double warmup;

    @Option(names = "--rounds", defaultValue = "3", description = "Rounds (each measures off and on, order alternating).")
    int rounds;

    @Option(names = "--sample-every", defaultValue = "1", description = "drift.sample_every of the monitored model "
            + "(default: ${DEFAULT-VALUE}, every row).")
    int sampleEvery;

    @Option(names = "--json", description = "Write the results as JSON to this file.")
    Path json;

    @Override
    public Integer call() throws Exception {
        Path repo = Files.createTempDirectory("mlserve-drift-bench").resolve("models");
        SplittableRandom r = new SplittableRandom(5);
        List<Preprocessing.Column> cols = new ArrayList<>();
        double[] w = new double[WIDTH];
        for (int j = 0; j < WIDTH; j++) {
            cols.add(new Preprocessing.Numeric(j, 0, 0, 1));
            w[j] = r.nextDouble() - 0.5;
        }
        List<ProfileBuilder.Column> names = new ArrayList<>();
        for (int j = 0; j < WIDTH; j++) {
            names.add(ProfileBuilder.Column.numeric("x:" + j));
        }
        float[] reference = new float[50_000 * WIDTH];
        for (int i = 0; i < reference.length; i++) {
            reference[i] = (float) (r.nextDouble() * 2 - 1); // what the load generator sends
        }
        for (String model : List.of("off", "on")) {
            Exporters.logisticRegression(model, new Preprocessing(WIDTH, cols), w, 0.1)
                    .writeTo(repo.resolve(model).resolve("1").resolve("model.onnx"));
            Files.writeString(repo.resolve(model).resolve("config.json"), """
                    {"max_batch_size": 256, "dynamic_batching": {"max_queue_delay_microseconds": 0},
                     "drift": {"window_rows": 100000, "window_seconds": 5, "sample_every": %d}}""".formatted(sampleEvery));
        }
        Files.writeString(repo.resolve("on/1/profile.json"), ProfileBuilder.build(names, reference, null, null)
                .toString());
        List<LoadResult> results = new ArrayList<>();
        double[] ratio = new double[rounds];
        try (MlServer server = MlServer.start(ServerOptions.ephemeral(repo));
             LoadGenerator g = new LoadGenerator("127.0.0.1", server.grpcPort(), 4)) {
            ModelInferRequest off = g.requestFor("off", rows, true);
            ModelInferRequest on = g.requestFor("on", rows, true);
            // both paths compiled and warm before anything is measured (the first round was the JIT's otherwise)
            g.closedLoop("warm-up off", off, concurrency, warmup, warmup);
            g.closedLoop("warm-up on", on, concurrency, warmup, warmup);
            for (int round = 0; round < rounds; round++) {
                LoadResult a;
                LoadResult b;
                if (round % 2 == 0) {
                    a = g.closedLoop("drift off", off, concurrency, warmup, duration);
                    b = g.closedLoop("drift on", on, concurrency, warmup, duration);
                } else {
                    b = g.closedLoop("drift on", on, concurrency, warmup, duration);
                    a = g.closedLoop("drift off", off, concurrency, warmup, duration);
                }
                System.out.println(a.summary());
                System.out.println(b.summary());
                results.add(a);
                results.add(b);
                ratio[round] = b.throughput() / a.throughput();
            }
            server.driftMonitor().checkNow();
            var on1 = server.repository().model("on").latest().drift();
            System.out.printf(Locale.ROOT, "drift windows closed on model 'on': %s (last: %d rows)%n",
                    on1.last() == null ? "none" : "yes", on1.last() == null ? 0 : on1.last().rows());
        }
        double[] sorted = ratio.clone();
        Arrays.sort(sorted);
        double median = sorted[sorted.length / 2];
        System.out.printf(Locale.ROOT, "throughput on/off per round %s; median %.3f (overhead %.1f %%)%n",
                Arrays.toString(ratio), median, (1 - median) * 100);
        if (json != null) {
            StringBuilder b = new StringBuilder("{\"bench\":\"drift\",\"machine\":").append(Machine.json())
                    .append(",\"rows_per_request\":").append(rows).append(",\"sample_every\":").append(sampleEvery).append(",\"ratios\":").append(Arrays.toString(ratio))
                    .append(",\"median_ratio\":").append(String.format(Locale.ROOT, "%.4f", median)).append(",\"runs\":[");
            for (int i = 0; i < results.size(); i++) {
                b.append(i == 0 ? "" : ",").append(results.get(i).toJson());
            }
            Files.writeString(json, b.append("]}\n").toString());
        }
        return 0;
    }
}
