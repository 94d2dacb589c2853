package io.mlserve.server;

import static org.assertj.core.api.Assertions.assertThat;

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

        // the real program, as ./mlserve serve runs it, in its own JVM
        try (ServerProcess server = ServerProcess.start(dir.resolve("serve.log"), "--model-repository",
                registry.toString())) {
            ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort).usePlaintext().build();
            try {
                check(GRPCInferenceServiceGrpc.newBlockingStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS),
                        features, spark, rows, width);
            } finally {
                channel.shutdownNow();
            }
        }
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
