package io.mlserve.bench;

import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.mlserve.datagen.ChurnDataGenerator;
import io.mlserve.datagen.ChurnSchema;
import io.mlserve.drift.ProfileBuilder;
import io.mlserve.proto.v1.FeatureRecord;
import io.mlserve.proto.v1.FeatureServiceGrpc;
import io.mlserve.proto.v1.FeatureValue;
import io.mlserve.proto.v1.PredictRequest;
import io.mlserve.proto.v1.PredictionServiceGrpc;
import io.mlserve.proto.v1.WriteFeaturesRequest;
import io.mlserve.runtime.onnx.Exporters;
import io.mlserve.runtime.onnx.OnnxModelBuilder;
import io.mlserve.runtime.onnx.Preprocessing;
import io.mlserve.server.MlServer;
import io.mlserve.server.ServerOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The latency cost of {@code explain: true} per model kind: Predict for one entity, sequentially, without and with
 * explanations, on three 47-feature models of the trainer's shapes over the churn view — a logistic regression
 * (exact), 50 boosted trees of depth 5 (TreeSHAP) and a 64-32 perceptron (sampled against its profile).
 */
@Command(name = "explain", mixinStandardHelpOptions = true,
        description = "Predict latency with and without explain=true: logistic regression, boosted trees, MLP.")
final class ExplainBench implements Callable<Integer> {
    @Option(names = "--requests", defaultValue = "2000", description = "Calls per model and mode (default: "
            + "${DEFAULT-VALUE}).")
    int requests;

    @Option(names = "--json", description = "Write the results as JSON to this file.")
    Path json;

    @Override
    public Integer call() throws Exception {
        Path work = Files.createTempDirectory("mlserve-explain");
        Path repo = work.resolve("models");
        SplittableRandom r = new SplittableRandom(7);
        int width = ChurnSchema.COLUMNS.size();
        List<Preprocessing.Column> cols = new ArrayList<>();
        for (int i = 0; i < width; i++) {
            ChurnSchema.Column c = ChurnSchema.COLUMNS.get(i);
            cols.add(c.categorical() ? new Preprocessing.Categorical(i, c.vocabulary().size())
                    : new Preprocessing.Numeric(i, 0, 0, 1 + r.nextDouble(10)));
        }
        Preprocessing pre = new Preprocessing(width, cols);
        double[] w = new double[pre.outputWidth()];
        for (int i = 0; i < w.length; i++) {
            w[i] = r.nextDouble(-0.3, 0.3);
        }
        write(repo, "lr", Exporters.logisticRegression("lr", pre, w, -1));
        Exporters.Tree[] trees = new Exporters.Tree[50];
        double[] weights = new double[trees.length];
        for (int t = 0; t < trees.length; t++) {
            trees[t] = tree(r, width, 5);
            weights[t] = 0.1;
        }
        double[] impute = new double[width];
        write(repo, "gbt", Exporters.gradientBoostedTrees("gbt", width, impute, trees, weights));
        write(repo, "mlp", Exporters.mlp("mlp", pre, List.of(floats(r, 64 * pre.outputWidth()), floats(r, 32 * 64),
                floats(r, 32)), List.of(floats(r, 64), floats(r, 32), floats(r, 1))));

        // 5,000 generated records: the features served, and the MLP's profile (its sampling background)
        List<FeatureRecord> records = new ArrayList<>();
        float[] rows = new float[5_000 * width];
        int[] at = {0};
        new ChurnDataGenerator(new ChurnDataGenerator.Options(5_000, 1, 9)).stream(row -> {
            FeatureRecord.Builder b = FeatureRecord.newBuilder().setEntityId(row.customerId()).setEventTimeMs(1);
            for (int c = 0; c < width; c++) {
                ChurnSchema.Column col = ChurnSchema.COLUMNS.get(c);
                if (col.categorical()) {
                    String v = row.category(c);
                    rows[at[0] * width + c] = v == null ? -1 : col.vocabulary().indexOf(v);
                    if (v != null) {
                        b.putValues(col.name(), FeatureValue.newBuilder().setCategory(v).build());
                    }
                } else {
                    rows[at[0] * width + c] = (float) row.number(c);
                    if (!Double.isNaN(row.number(c))) {
                        b.putValues(col.name(), FeatureValue.newBuilder().setNumber(row.number(c)).build());
                    }
                }
            }
            records.add(b.build());
            at[0]++;
        });
        List<ProfileBuilder.Column> schema = new ArrayList<>();
        for (ChurnSchema.Column c : ChurnSchema.COLUMNS) {
            schema.add(new ProfileBuilder.Column(c.name(), c.categorical() ? c.vocabulary() : null));
        }
        new com.fasterxml.jackson.databind.ObjectMapper().writeValue(repo.resolve("mlp/1/profile.json").toFile(),
                ProfileBuilder.build(schema, rows, null, null));

        StringBuilder out = new StringBuilder();
        try (MlServer server = MlServer.start(ServerOptions.ephemeral(repo)
                .withFeatureViews(work.resolve("features"), List.of(ClosedLoop.view())))) {
            ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext().build();
            try {
                FeatureServiceGrpc.newBlockingStub(ch).writeFeatures(WriteFeaturesRequest.newBuilder()
                        .setView(ClosedLoop.VIEW).addAllRecords(records).build());
                PredictionServiceGrpc.PredictionServiceBlockingStub stub = PredictionServiceGrpc.newBlockingStub(ch);
                System.out.println("model  explain  calls   p50 ms   p99 ms   mean ms   method");
                // a first pass warms every path up (JIT, sessions, explainers); the second is measured
                for (String model : List.of("lr", "gbt", "mlp")) {
                    measure(stub, records, model, false, requests / 2);
                    measure(stub, records, model, true, requests / 2);
                }
                for (String model : List.of("lr", "gbt", "mlp")) {
                    for (boolean explain : new boolean[] {false, true}) {
                        Measured m = measure(stub, records, model, explain, requests);
                        Histogram h = m.latency();
                        String method = m.method();
                        String shortMethod = method.isEmpty() ? "-" : method.substring(0, method.indexOf(':'));
                        System.out.printf(Locale.ROOT, "%-6s %-8s %5d %8.3f %8.3f %9.3f   %s%n", model, explain,
                                requests, h.getValueAtPercentile(50) / 1e3, h.getValueAtPercentile(99) / 1e3,
                                h.getMean() / 1e3, shortMethod);
                        out.append(out.length() == 0 ? "" : ",").append(String.format(Locale.ROOT,
                                "{\"model\":\"%s\",\"explain\":%b,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"mean_ms\":%.3f}",
                                model, explain, h.getValueAtPercentile(50) / 1e3, h.getValueAtPercentile(99) / 1e3,
                                h.getMean() / 1e3));
                    }
                }
            } finally {
                ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
        }
        if (json != null) {
            Files.writeString(json, "{\"bench\":\"explain\",\"machine\":" + Machine.json() + ",\"requests\":"
                    + requests + ",\"results\":[" + out + "]}\n");
        }
        ClosedLoop.deleteTree(work);
        return 0;
    }

    private record Measured(Histogram latency, String method) {
    }

    /** {@code calls} sequential Predict calls for one entity each: their latency (µs) and the last explanation. */
    private static Measured measure(PredictionServiceGrpc.PredictionServiceBlockingStub stub,
                                    List<FeatureRecord> records, String model, boolean explain, int calls) {
        Histogram h = new Histogram(3);
        String method = "";
        for (int i = 0; i < calls; i++) {
            PredictRequest req = PredictRequest.newBuilder().setModelName(model)
                    .addEntityIds(records.get(i % records.size()).getEntityId()).setExplain(explain).build();
            long t0 = System.nanoTime();
            var resp = stub.withDeadlineAfter(30, TimeUnit.SECONDS).predict(req);
            h.recordValue(Math.max(1, (System.nanoTime() - t0) / 1000));
            method = resp.getPredictions(0).getExplanation();
        }
        return new Measured(h, method);
    }

    private static void write(Path repo, String name, OnnxModelBuilder model) throws Exception {
        model.writeTo(repo.resolve(name).resolve("1").resolve("model.onnx"));
        Files.writeString(repo.resolve(name).resolve("config.json"), "{\"max_batch_size\": 256, "
                + "\"features\": {\"view\": \"" + ClosedLoop.VIEW + "\", \"names\": [" + String.join(", ",
                ChurnSchema.COLUMNS.stream().map(c -> "\"" + c.name() + "\"").toList()) + "]}}");
    }

    private static float[] floats(SplittableRandom r, int n) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = (float) r.nextDouble(-0.2, 0.2);
        }
        return f;
    }

    /** A full tree of {@code depth} over random features, covers halving unevenly at each split. */
    private static Exporters.Tree tree(SplittableRandom r, int width, int depth) {
        int n = (1 << (depth + 1)) - 1;
        int[] feature = new int[n];
        double[] threshold = new double[n];
        int[] left = new int[n];
        int[] right = new int[n];
        boolean[] leaf = new boolean[n];
        double[] value = new double[n];
        double[] cover = new double[n];
        cover[0] = 100_000;
        for (int i = 0; i < n; i++) {
            if (2 * i + 1 >= n) {
                leaf[i] = true;
                value[i] = r.nextDouble(-1, 1);
                continue;
            }
            feature[i] = r.nextInt(width);
            threshold[i] = r.nextDouble(0, 50);
            left[i] = 2 * i + 1;
            right[i] = 2 * i + 2;
            cover[left[i]] = Math.floor(cover[i] * r.nextDouble(0.2, 0.8));
            cover[right[i]] = cover[i] - cover[left[i]];
        }
        return new Exporters.Tree(feature, threshold, left, right, leaf, value, cover);
    }
}
