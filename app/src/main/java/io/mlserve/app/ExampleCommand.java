package io.mlserve.app;

import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.mlserve.examples.ChurnExample;
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
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code mlserve example}: writes the churn example (feature view + bound model, as in examples/churn),
 * serves it, calls ModelInfer over gRPC and REST, writes two customers' features and predicts by
 * entity id, and prints the calls so a newcomer can repeat them.
 */
@Command(name = "example", mixinStandardHelpOptions = true,
        description = "Write the churn example (feature view + model), serve it, call ModelInfer, write features, "
                + "predict by entity, and print working example calls.")
public final class ExampleCommand implements Callable<Integer> {
    public static final String MODEL = ChurnExample.MODEL;

    @Option(names = "--dir", defaultValue = "data/example",
            description = "Where it writes the churn example (config, model repository, feature tables) "
                    + "(default: ${DEFAULT-VALUE}).")
    Path dir;

    @Option(names = "--write-example", description = "Only write the churn example (mlserve.yaml + model repository) "
            + "into this directory, then exit; this is how examples/churn is made.")
    Path writeExample;

    @Option(names = "--check", description = "Exit after the self-check instead of serving until Ctrl-C.")
    boolean checkOnly;

    @Mixin
    ServerFlags flags = new ServerFlags();

    @Override
    public Integer call() throws Exception {
        if (writeExample != null) {
            System.out.println("wrote " + ChurnExample.writeTo(writeExample));
            return 0;
        }
        Path config = ChurnExample.writeTo(dir);
        if (flags.config == null) {
            flags.config = config;
        }
        ServerOptions options = flags.toOptions(null);
        MlServer server = MlServer.start(options);
        try {
            float[] row = sampleRow();
            float grpcScore = callGrpc(server.grpcPort(), row);
            String rest = callRest(server.httpPort(), row);
            String written = put(server.httpPort(), "/v1/features/customer", featureRecords());
            String predicted = post(server.httpPort(), "/v1/models/churn/predict",
                    "{\"entity_ids\": [\"c-1001\", \"c-1002\", \"c-unknown\"]}");
            System.out.printf(Locale.ROOT, "%nmlserve example: model '%s' (47 FP32 features -> churn probability), "
                    + "feature view 'customer', config %s%n", MODEL, config);
            System.out.printf(Locale.ROOT, "  gRPC ModelInfer on :%d      -> probability %.6f%n", server.grpcPort(), grpcScore);
            System.out.printf(Locale.ROOT, "  REST v2 infer on :%d        -> %s%n", server.httpPort(), rest);
            System.out.printf(Locale.ROOT, "  PUT /v1/features/customer    -> %s%n", written);
            System.out.printf(Locale.ROOT, "  POST /v1/models/churn/predict -> %s%n", predicted);
            System.out.printf(Locale.ROOT, "  metrics on :%d/metrics%n%n", server.metricsPort());
            System.out.println("Try it yourself:");
            System.out.printf(Locale.ROOT, "  curl -s localhost:%d/v2/models/%s%n", server.httpPort(), MODEL);
            System.out.printf(Locale.ROOT, "  curl -s -X POST localhost:%d/v2/models/%s/infer -H 'Content-Type: application/json' \\%n"
                    + "    -d '%s'%n", server.httpPort(), MODEL, restBody(row));
            System.out.printf(Locale.ROOT, "  curl -s -X PUT localhost:%d/v1/features/customer -d '{\"records\": [{\"entity_id\": "
                    + "\"c-7\", \"event_time_ms\": %d, \"values\": {\"tenure_months\": 3, \"contract_type\": \"month_to_month\"}}]}'%n",
                    server.httpPort(), System.currentTimeMillis());
            System.out.printf(Locale.ROOT, "  curl -s localhost:%d/v1/features/customer/c-7%n", server.httpPort());
            System.out.printf(Locale.ROOT, "  curl -s -X POST localhost:%d/v1/models/churn/predict -d '{\"entity_ids\": [\"c-7\"], "
                    + "\"return_features\": true}'%n", server.httpPort());
            System.out.printf(Locale.ROOT, "  curl -s localhost:%d/metrics | grep -E 'mlserve_(request|feature)'%n",
                    server.metricsPort());
            System.out.println("  gRPC: any Open Inference Protocol client (Triton's, KServe's) at "
                    + "localhost:" + server.grpcPort() + ", model '" + MODEL + "', input 'features' FP32 [1,47]; "
                    + "mlserve.v1.PredictionService/Predict and FeatureService on the same port");
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

    /** Two customers written now, in the JSON form of PUT /v1/features/{view}. */
    private static String featureRecords() {
        long now = System.currentTimeMillis();
        return "{\"records\": ["
                + "{\"entity_id\": \"c-1001\", \"event_time_ms\": " + now + ", \"values\": {\"tenure_months\": 2, "
                + "\"monthly_charges\": 95.5, \"support_tickets_90d\": 4, \"contract_type\": \"month_to_month\", "
                + "\"payment_method\": \"electronic_check\"}},"
                + "{\"entity_id\": \"c-1002\", \"event_time_ms\": " + now + ", \"values\": {\"tenure_months\": 48, "
                + "\"monthly_charges\": 35.0, \"support_tickets_90d\": 0, \"contract_type\": \"two_year\", "
                + "\"payment_method\": \"bank_transfer\"}}]}";
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
        return post(port, "/v2/models/" + MODEL + "/infer", restBody(row));
    }

    private static String post(int port, String path, String body) throws IOException, InterruptedException {
        return send(port, path, HttpRequest.newBuilder().POST(HttpRequest.BodyPublishers.ofString(body)));
    }

    private static String put(int port, String path, String body) throws IOException, InterruptedException {
        return send(port, path, HttpRequest.newBuilder().PUT(HttpRequest.BodyPublishers.ofString(body)));
    }

    private static String send(int port, String path, HttpRequest.Builder b) throws IOException, InterruptedException {
        HttpResponse<String> r = HttpClient.newHttpClient().send(b.uri(URI.create("http://127.0.0.1:" + port + path))
                .header("Content-Type", "application/json").build(), HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new IOException("self-check " + path + " answered " + r.statusCode() + ": " + r.body());
        }
        return r.body();
    }
}
