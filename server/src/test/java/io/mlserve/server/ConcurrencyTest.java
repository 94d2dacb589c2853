package io.mlserve.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.mlserve.proto.inference.GRPCInferenceServiceGrpc;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.proto.inference.ModelInferResponse;
import io.mlserve.runtime.ModelSession;
import io.mlserve.runtime.RunOutputs;
import io.mlserve.runtime.SessionConfig;
import io.mlserve.runtime.TensorBatch;
import io.mlserve.runtime.onnx.ExampleModels;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** 16 clients × 1000 requests at once; every answer equals the single-request reference for its own rows. */
class ConcurrencyTest {
    private static final int CLIENTS = 16;
    private static final int REQUESTS = 1000;
    private static final int FEATURES = 47;

    @TempDir
    Path dir;

    @Test
    void everyConcurrentAnswerMatchesItsSingleRequestReference() throws Exception {
        Path modelFile = dir.resolve("churn/1/model.onnx");
        ExampleModels.churnMlp().writeTo(modelFile);
        float[][] rows = new float[CLIENTS * REQUESTS][];
        SplittableRandom random = new SplittableRandom(7);
        for (int i = 0; i < rows.length; i++) {
            rows[i] = new float[FEATURES];
            for (int f = 0; f < FEATURES; f++) {
                rows[i][f] = (float) (random.nextDouble() * 4 - 2);
            }
        }
        float[] reference = reference(modelFile, rows);
        try (TestServer t = new TestServer(dir).start()) {
            ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
            try {
                List<Future<Integer>> results = new ArrayList<>();
                for (int c = 0; c < CLIENTS; c++) {
                    int client = c;
                    results.add(clients.submit(() -> {
                        var stub = GRPCInferenceServiceGrpc.newBlockingStub(t.channel());
                        int mismatches = 0;
                        for (int k = 0; k < REQUESTS; k++) {
                            int i = client * REQUESTS + k;
                            boolean raw = (i & 1) == 0;
                            ModelInferRequest.Builder req = ModelInferRequest.newBuilder().setModelName("churn")
                                    .setId(Integer.toString(i));
                            float score;
                            if (raw) {
                                req.addInputs(Tensors.input("features", "FP32", 1, FEATURES))
                                        .addRawInputContents(Tensors.rawFp32(rows[i]));
                                ModelInferResponse r = stub.withDeadlineAfter(30, TimeUnit.SECONDS).modelInfer(req.build());
                                assertThat(r.getId()).isEqualTo(Integer.toString(i));
                                score = Tensors.floats(r.getRawOutputContents(0))[0];
                            } else {
                                req.addInputs(Tensors.fp32("features", rows[i], 1, FEATURES));
                                ModelInferResponse r = stub.withDeadlineAfter(30, TimeUnit.SECONDS).modelInfer(req.build());
                                assertThat(r.getId()).isEqualTo(Integer.toString(i));
                                score = r.getOutputs(0).getContents().getFp32Contents(0);
                            }
                            if (Math.abs(score - reference[i]) > 1e-6f) {
                                mismatches++;
                            }
                        }
                        return mismatches;
                    }));
                }
                int mismatches = 0;
                for (Future<Integer> f : results) {
                    mismatches += f.get(5, TimeUnit.MINUTES);
                }
                assertThat(mismatches).isZero();
            } finally {
                clients.shutdownNow();
            }
            var stats = t.server.repository().model("churn").latest().metrics().statistics();
            assertThat(stats.getInferenceCount()).isEqualTo((long) CLIENTS * REQUESTS);
        }
    }

    /** Each row run alone through its own session: the answer a lone caller would get. */
    private static float[] reference(Path modelFile, float[][] rows) throws Exception {
        float[] out = new float[rows.length];
        try (ModelSession s = ModelSession.open("reference", modelFile, SessionConfig.DEFAULT)) {
            TensorBatch batch = new TensorBatch(s.signature());
            long[] shape = batch.shape(0, 2);
            shape[0] = 1;
            shape[1] = FEATURES;
            for (int i = 0; i < rows.length; i++) {
                ByteBuffer b = batch.buffer(0, FEATURES * 4);
                for (int f = 0; f < FEATURES; f++) {
                    b.putFloat(f * 4, rows[i][f]);
                }
                try (RunOutputs r = s.run(batch, null)) {
                    out[i] = r.bytes(0).getFloat(0);
                }
            }
        }
        return out;
    }

}
