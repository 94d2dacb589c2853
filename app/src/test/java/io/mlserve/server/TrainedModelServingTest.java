package io.mlserve.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.mlserve.datagen.ChurnDataGenerator;
import io.mlserve.datagen.ChurnSchema;
import io.mlserve.proto.inference.GRPCInferenceServiceGrpc;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.proto.inference.ModelInferResponse;
import io.mlserve.proto.inference.ModelMetadataRequest;
import io.mlserve.proto.inference.ModelMetadataResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole hand-off: generated data → the trainer (Spark, in its own JVM with its own classpath, exactly as
 * {@code ./mlserve train} runs it) → a published version → {@code serve} (its own JVM, as {@code ./mlserve serve}
 * runs it) loads it → its predictions over gRPC
 * equal the probabilities Spark computed for the same rows (the trainer publishes them as verification.csv).
 */
class TrainedModelServingTest {
    @TempDir
    Path dir;

    @Test
    void servesWhatSparkTrainedWithTheSameProbabilities() throws Exception {
        Path data = dir.resolve("data");
        new ChurnDataGenerator(new ChurnDataGenerator.Options(6_000, 3, 11)).generate(data);
        Path registry = dir.resolve("models");
        Process p = TrainerJvm.start(dir.resolve("train.log"), "TrainMain", "--data", data.toString(),
                "--config", data.resolve("mlserve.yaml").toString(), "--label", "churned", "--model", "churn",
                "--registry", registry.toString(), "--spark-master", "local[2]", "--algorithm", "gbt", "--trees", "20",
                "--depth", "4");
        assertThat(p.waitFor(5, TimeUnit.MINUTES)).as("trainer finished").isTrue();
        assertThat(p.exitValue()).as(Files.readString(dir.resolve("train.log"))).isZero();

        List<String> lines = Files.readAllLines(registry.resolve("churn/1/verification.csv"));
        int width = ChurnSchema.COLUMNS.size();
        assertThat(lines.get(0).split(",")).hasSize(width + 1);
        int rows = lines.size() - 1;
        assertThat(rows).isGreaterThanOrEqualTo(1000);
        float[] features = new float[rows * width];
        double[] spark = new double[rows];
        for (int i = 0; i < rows; i++) {
            String[] cells = lines.get(i + 1).split(",");
            for (int j = 0; j < width; j++) {
                features[i * width + j] = Float.parseFloat(cells[j]);
            }
            spark[i] = Double.parseDouble(cells[width]);
        }

        // new versions roll out as canaries: half the traffic, judged every second once 100 requests came in
        Path config = registry.resolve("churn/config.json");
        ObjectNode cfg = (ObjectNode) JSON.readTree(config.toFile());
        cfg.putObject("rollout").put("mode", "canary").put("challenger_weight", 0.5).put("window_seconds", 1)
                .put("min_requests", 100);
        JSON.writeValue(config.toFile(), cfg);

        // the real program, as ./mlserve serve runs it, in its own JVM, polling the registry every second
        try (ServerProcess server = ServerProcess.start(dir.resolve("serve.log"), "--model-repository",
                registry.toString(), "--data-dir", dir.resolve("serve-data").toString(),
                "--repository-poll-secs", "1")) {
            ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort).usePlaintext().build();
            try {
                var stub = GRPCInferenceServiceGrpc.newBlockingStub(channel).withDeadlineAfter(120, TimeUnit.SECONDS);
                check(stub, features, spark, rows, width);

                // v2: the same training again — it scores like v1, so the canary is promoted
                train(data, registry, "v2", "--algorithm", "gbt", "--trees", "20", "--depth", "4",
                        "--gate-margin", "1");
                JsonNode s = awaitRollout(server, stub, features, rows, width, r -> r.path("champion").asText()
                        .equals("2"));
                assertThat(s.path("challenger").asText("")).isEmpty();
                // v3: a single stump — its scores take two values, far from the champion's: rolled back
                train(data, registry, "v3", "--algorithm", "gbt", "--trees", "1", "--depth", "1",
                        "--gate-margin", "1");
                s = awaitRollout(server, stub, features, rows, width, r -> r.path("rejected").toString()
                        .contains("\"3\""));
                assertThat(s.path("champion").asText()).isEqualTo("2");
                assertThat(s.path("last_reasons").toString()).contains("score PSI");
                JsonNode audit = JSON.readTree(get(server.httpPort, "/v1/audit?model=churn"));
                List<String> actions = new java.util.ArrayList<>();
                audit.get("entries").forEach(e -> actions.add(e.get("action").asText() + ":"
                        + e.path("to_version").asText()));
                assertThat(actions).contains("load:1", "load:2", "challenger:2", "promote:2", "load:3",
                        "challenger:3", "rollback:2");
            } finally {
                channel.shutdownNow();
            }
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private void train(Path data, Path registry, String name, String... args) throws Exception {
        List<String> all = new java.util.ArrayList<>(List.of("--data", data.toString(), "--registry",
                registry.toString(), "--spark-master", "local[2]", "--config", data.resolve("mlserve.yaml").toString(),
                "--label", "churned", "--model", "churn"));
        all.addAll(List.of(args));
        Process p = TrainerJvm.start(dir.resolve(name + ".log"), "TrainMain", all.toArray(new String[0]));
        assertThat(p.waitFor(5, TimeUnit.MINUTES)).as("trainer finished").isTrue();
        assertThat(p.exitValue()).as(Files.readString(dir.resolve(name + ".log"))).isZero();
    }

    private static String get(int port, String path) throws Exception {
        return java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://127.0.0.1:" + port + path)).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString()).body();
    }

    /** Sends traffic (20 rows a request, routed at random) until the rollout status satisfies {@code done}. */
    private static JsonNode awaitRollout(ServerProcess server, GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub
            stub, float[] features, int rows, int width, java.util.function.Predicate<JsonNode> done) throws Exception {
        String input = stub.modelMetadata(ModelMetadataRequest.newBuilder().setName("churn").build()).getInputs(0)
                .getName();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        java.util.SplittableRandom r = new java.util.SplittableRandom(1);
        JsonNode s = JSON.readTree(get(server.httpPort, "/v1/models/churn/rollout"));
        while (!done.test(s) && System.nanoTime() < deadline) {
            for (int k = 0; k < 50; k++) {
                int from = r.nextInt(rows - 20);
                float[] chunk = new float[20 * width];
                System.arraycopy(features, from * width, chunk, 0, chunk.length);
                stub.modelInfer(ModelInferRequest.newBuilder().setModelName("churn")
                        .addInputs(Tensors.input(input, "FP32", 20, width)).addRawInputContents(Tensors.rawFp32(chunk))
                        .build());
            }
            s = JSON.readTree(get(server.httpPort, "/v1/models/churn/rollout"));
        }
        assertThat(done.test(s)).as("rollout %s; server log:%n%s", s, server.log()).isTrue();
        return s;
    }

    private static void check(GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub, float[] features,
                              double[] spark, int rows, int width) {
        ModelMetadataResponse meta = stub.modelMetadata(ModelMetadataRequest.newBuilder().setName("churn")
                .build());
        String input = meta.getInputs(0).getName();
        double worst = 0;
        int missing = 0;
        for (int from = 0; from < rows; from += 200) {
            int n = Math.min(200, rows - from);
            float[] chunk = new float[n * width];
            System.arraycopy(features, from * width, chunk, 0, chunk.length);
            for (float v : chunk) {
                missing += Float.isNaN(v) ? 1 : 0;
            }
            ModelInferResponse r = stub.modelInfer(ModelInferRequest.newBuilder().setModelName("churn")
                    .addInputs(Tensors.input(input, "FP32", n, width))
                    .addRawInputContents(Tensors.rawFp32(chunk)).build());
            float[] out = Tensors.floats(r.getRawOutputContents(0));
            for (int i = 0; i < n; i++) {
                worst = Math.max(worst, Math.abs(out[i] - spark[from + i]));
            }
        }
        assertThat(missing).as("rows with missing values were served").isPositive();
        assertThat(worst).as("served vs Spark, max |delta|").isLessThanOrEqualTo(1e-4);
    }
}
