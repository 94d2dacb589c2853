package io.mlserve.server.cli;

import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.mlserve.proto.inference.GRPCInferenceServiceGrpc;
import io.mlserve.proto.inference.InferTensorContents;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.proto.inference.ModelInferResponse;
import io.mlserve.runtime.onnx.ExampleModels;
import io.mlserve.server.MlServer;
import io.mlserve.server.ServerOptions;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code mlserve demo}: writes a churn-shaped model (47 FP32 features → probability) into a model
 * repository, serves it, calls it once over gRPC and once over REST to prove it answers, and prints
 * the calls so a newcomer can repeat them.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Write a demo churn model, serve it, call it, and print working example calls.")
public final class DemoCommand implements Callable<Integer> {
    public static final String MODEL = "churn";

    @Option(names = "--data-dir", defaultValue = "data/demo",
            description = "Where the demo model repository is written (default: ${DEFAULT-VALUE}).")
    Path dataDir;

    @Option(names = "--check", description = "Exit after the self-check instead of serving until Ctrl-C.")
    boolean checkOnly;

    @Mixin
    ServerFlags flags = new ServerFlags();

    @Override
    public Integer call() throws Exception {
        Path repository = writeRepository(dataDir.resolve("models"));
        ServerOptions options = flags.toOptions(repository);
        MlServer server = MlServer.start(options);
        try {
            float[] row = sampleRow();
            float grpcScore = callGrpc(server.grpcPort(), row);
            String rest = callRest(server.httpPort(), row);
            System.out.printf(Locale.ROOT, "%nmlserve demo: model '%s' (47 FP32 features -> churn probability) from %s%n",
                    MODEL, repository);
            System.out.printf(Locale.ROOT, "  gRPC ModelInfer on :%d  -> probability %.6f%n", server.grpcPort(), grpcScore);
            System.out.printf(Locale.ROOT, "  REST infer on :%d       -> %s%n", server.httpPort(), rest);
            System.out.printf(Locale.ROOT, "  metrics on :%d/metrics%n%n", server.metricsPort());
            System.out.println("Try it yourself:");
            System.out.printf(Locale.ROOT, "  curl -s localhost:%d/v2/models/%s%n", server.httpPort(), MODEL);
            System.out.printf(Locale.ROOT, "  curl -s -X POST localhost:%d/v2/models/%s/infer -H 'Content-Type: application/json' \\%n"
                    + "    -d '%s'%n", server.httpPort(), MODEL, restBody(row));
            System.out.printf(Locale.ROOT, "  curl -s localhost:%d/metrics | grep mlserve_request%n", server.metricsPort());
            System.out.println("  gRPC: any Open Inference Protocol client (Triton's, KServe's) at "
                    + "localhost:" + server.grpcPort() + ", model '" + MODEL + "', input 'features' FP32 [1,47]");
            if (checkOnly) {
                server.shutdown(options.shutdownGraceSeconds());
                return 0;
            }
            System.out.println("\nServing; Ctrl-C to stop.");
            ServeCommand.runUntilSignalled(server, options.shutdownGraceSeconds());
            return 0;
        } catch (Exception e) {
            server.shutdown(0);
            throw e;
        }
    }

    /** Writes {@code <repo>/churn/1/model.onnx} and its config.json; returns the repository root. */
    public static Path writeRepository(Path repository) throws IOException {
        Path model = repository.resolve(MODEL);
        ExampleModels.churnMlp().writeTo(model.resolve("1").resolve("model.onnx"));
        Files.writeString(model.resolve("config.json"), """
                {
                  "name": "churn",
                  "platform": "onnxruntime_onnx",
                  "max_batch_size": 256,
                  "input": [{"name": "features", "data_type": "TYPE_FP32", "dims": [47]}],
                  "output": [{"name": "probability", "data_type": "TYPE_FP32", "dims": [1]}],
                  "dynamic_batching": {"max_queue_delay_microseconds": 0},
                  "version_policy": {"latest": {"num_versions": 1}}
                }
                """);
        return repository;
    }

    static float[] sampleRow() {
        float[] row = new float[ExampleModels.CHURN_FEATURES];
        for (int i = 0; i < row.length; i++) {
            row[i] = (float) Math.sin(i * 0.37) * 0.8f;
        }
        return row;
    }

    private static float callGrpc(int port, float[] row) throws InterruptedException {
        ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext().build();
        try {
            InferTensorContents.Builder c = InferTensorContents.newBuilder();
            for (float f : row) {
                c.addFp32Contents(f);
            }
            ModelInferResponse r = GRPCInferenceServiceGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(10, TimeUnit.SECONDS)
                    .modelInfer(ModelInferRequest.newBuilder().setModelName(MODEL).setId("demo-1")
                            .addInputs(ModelInferRequest.InferInputTensor.newBuilder().setName("features")
                                    .setDatatype("FP32").addShape(1).addShape(row.length).setContents(c))
                            .build());
            return r.getOutputs(0).getContents().getFp32Contents(0);
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    private static String restBody(float[] row) {
        StringBuilder sb = new StringBuilder("{\"inputs\":[{\"name\":\"features\",\"shape\":[1,47],\"datatype\":\"FP32\",\"data\":[");
        for (int i = 0; i < row.length; i++) {
            sb.append(i == 0 ? "" : ",").append(row[i]);
        }
        return sb.append("]}]}").toString();
    }

    private static String callRest(int port, float[] row) throws IOException, InterruptedException {
        HttpClient client = HttpClient.newHttpClient();
        HttpResponse<String> r = client.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v2/models/"
                + MODEL + "/infer")).POST(HttpRequest.BodyPublishers.ofString(restBody(row)))
                .header("Content-Type", "application/json").build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IOException("REST self-check answered " + r.statusCode() + ": " + r.body());
        }
        return r.body();
    }
}
