package io.mlserve.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.mlserve.runtime.SessionConfig;
import io.mlserve.server.batch.BatchScorer;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Batch scoring throughput ({@code ./mlserve score}'s engine) from CSV and from Parquet, against the ceiling in the
 * same run: ONNX Runtime alone on the same number of rows already in memory as floats, same batch size.
 */
@Command(name = "score", mixinStandardHelpOptions = true,
        description = "Batch scoring rows/s (CSV and Parquet input) vs ONNX Runtime alone on in-memory rows.")
final class ScoreBench implements Callable<Integer> {
    @Option(names = "--data", required = true, description = "A datagen directory (data.csv, data.parquet).")
    Path data;

    @Option(names = "--registry", required = true, description = "A registry with a trained churn model "
            + "(./mlserve train).")
    Path registry;

    @Option(names = "--model", defaultValue = "churn", description = "Default: ${DEFAULT-VALUE}.")
    String model;

    @Option(names = "--batch", defaultValue = "8192", description = "Rows per run (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--json", description = "Write the results as JSON to this file.")
    Path json;

    @Override
    public Integer call() throws Exception {
        Path work = Files.createTempDirectory("mlserve-score");
        SessionConfig session = SessionConfig.DEFAULT.withIntraOpThreads(0);
        double[] rate = new double[2];
        long rows = 0;
        long version = 0;
        String[] inputs = {"data.csv", "data.parquet"};
        for (int k = 0; k < 2; k++) {
            BatchScorer.Summary s = BatchScorer.run(new BatchScorer.Options(data.resolve(inputs[k]), registry, model, 0,
                    ClosedLoop.view(), work.resolve("scores-" + k + (k == 0 ? ".csv" : ".parquet")), batch,
                    "event_time", session), null);
            rate[k] = s.rowsPerSecond();
            rows = s.rows();
            version = s.version();
            System.out.printf(Locale.ROOT, "score %-12s -> %-14s %,d rows in %.1f s: %,.0f rows/s%n", inputs[k],
                    k == 0 ? "csv" : "parquet", s.rows(), s.seconds(), s.rowsPerSecond());
        }
        // the ceiling: ONNX Runtime alone, the same rows count in memory (values from the first batch, repeated)
        Path onnx = registry.resolve(model).resolve(Long.toString(version)).resolve("model.onnx");
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        double ceiling;
        try (OrtSession.SessionOptions so = new OrtSession.SessionOptions();
             OrtSession ort = env.createSession(onnx.toString(), so)) {
            String input = ort.getInputNames().iterator().next();
            int width = ClosedLoop.WIDTH;
            float[] x = new float[batch * width];
            java.util.SplittableRandom r = new java.util.SplittableRandom(1);
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) r.nextDouble(0, 50);
            }
            for (int warm = 0; warm < 3; warm++) {
                run(env, ort, input, x, batch, width);
            }
            long t0 = System.nanoTime();
            for (long done = 0; done < rows; done += batch) {
                run(env, ort, input, x, (int) Math.min(batch, rows - done), width);
            }
            ceiling = rows / ((System.nanoTime() - t0) / 1e9);
        }
        System.out.printf(Locale.ROOT, "ONNX Runtime alone, %,d in-memory rows in batches of %d: %,.0f rows/s%n", rows,
                batch, ceiling);
        System.out.printf(Locale.ROOT, "batch scoring at %.0f %% (CSV) and %.0f %% (Parquet) of the ceiling%n",
                100 * rate[0] / ceiling, 100 * rate[1] / ceiling);
        if (json != null) {
            Files.writeString(json, String.format(Locale.ROOT, "{\"bench\":\"score\",\"machine\":%s,\"rows\":%d,"
                    + "\"batch\":%d,\"model\":\"%s\",\"version\":%d,\"csv_rows_per_s\":%.0f,\"parquet_rows_per_s\":%.0f,"
                    + "\"ort_ceiling_rows_per_s\":%.0f}%n", Machine.json(), rows, batch, model, version, rate[0],
                    rate[1], ceiling));
        }
        ClosedLoop.deleteTree(work);
        return 0;
    }

    private static void run(OrtEnvironment env, OrtSession ort, String input, float[] x, int n, int width)
            throws Exception {
        try (OnnxTensor t = OnnxTensor.createTensor(env, FloatBuffer.wrap(x, 0, n * width), new long[] {n, width});
             OrtSession.Result res = ort.run(Map.of(input, t))) {
            if (res.size() == 0) {
                throw new IllegalStateException("no output");
            }
        }
    }

}
