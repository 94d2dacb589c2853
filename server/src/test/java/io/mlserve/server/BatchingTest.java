package io.mlserve.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Status;
import io.mlserve.proto.inference.GRPCInferenceServiceGrpc;
import io.mlserve.proto.inference.InferParameter;
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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Dynamic batching through the real server: every caller gets its own rows, timing, queue policies. */
class BatchingTest {
    private static final int FEATURES = 47;

    @TempDir
    Path dir;

    private static float[] rows(SplittableRandom r, int n) {
        float[] v = new float[n * FEATURES];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (r.nextDouble() * 4 - 2);
        }
        return v;
    }

    @Test
    void everyCallerGetsExactlyItsOwnRows() throws Exception {
        int threads = 32;
        int perThread = 10_000 / threads + 1;
        Path file = ExampleModels.churnMlp().writeTo(dir.resolve("churn/1/model.onnx"));
        new TestServer(dir).config("churn", """
                {"max_batch_size": 16,
                 "dynamic_batching": {"max_queue_delay_microseconds": 2000, "preferred_batch_size": [8, 16]},
                 "instance_group": [{"count": 2, "kind": "KIND_CPU"}]}
                """);
        SplittableRandom random = new SplittableRandom(11);
        float[][] inputs = new float[threads * perThread][];
        for (int i = 0; i < inputs.length; i++) {
            inputs[i] = rows(random, 1 + random.nextInt(4));
        }
        float[][] expected = reference(file, inputs);
        try (TestServer t = new TestServer(dir).start()) {
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            try {
                List<Future<Integer>> results = new ArrayList<>();
                for (int c = 0; c < threads; c++) {
                    int client = c;
                    results.add(pool.submit(() -> {
                        var stub = GRPCInferenceServiceGrpc.newBlockingStub(t.channel());
                        int wrong = 0;
                        for (int k = 0; k < perThread; k++) {
                            int i = client * perThread + k;
                            int n = inputs[i].length / FEATURES;
                            ModelInferRequest.Builder req = ModelInferRequest.newBuilder().setModelName("churn")
                                    .setId(Integer.toString(i));
                            float[] got;
                            if ((i & 1) == 0) {
                                req.addInputs(Tensors.input("features", "FP32", n, FEATURES))
                                        .addRawInputContents(Tensors.rawFp32(inputs[i]));
                                ModelInferResponse r = stub.withDeadlineAfter(60, TimeUnit.SECONDS).modelInfer(req.build());
                                assertThat(r.getOutputs(0).getShapeList()).containsExactly((long) n, 1L);
                                got = Tensors.floats(r.getRawOutputContents(0));
                            } else {
                                req.addInputs(Tensors.fp32("features", inputs[i], n, FEATURES));
                                ModelInferResponse r = stub.withDeadlineAfter(60, TimeUnit.SECONDS).modelInfer(req.build());
                                got = new float[r.getOutputs(0).getContents().getFp32ContentsCount()];
                                for (int j = 0; j < got.length; j++) {
                                    got[j] = r.getOutputs(0).getContents().getFp32Contents(j);
                                }
                                assertThat(r.getId()).isEqualTo(Integer.toString(i));
                            }
                            if (got.length != expected[i].length) {
                                wrong++;
                                continue;
                            }
                            for (int j = 0; j < got.length; j++) {
                                if (Math.abs(got[j] - expected[i][j]) > 1e-6f) {
                                    wrong++;
                                    break;
                                }
                            }
                        }
                        return wrong;
                    }));
                }
                int wrong = 0;
                for (Future<Integer> f : results) {
                    wrong += f.get(5, TimeUnit.MINUTES);
                }
                assertThat(wrong).isZero();
            } finally {
                pool.shutdownNow();
            }
            var stats = t.server.repository().model("churn").latest().metrics().statistics();
            long rowsTotal = 0;
            for (float[] in : inputs) {
                rowsTotal += in.length / FEATURES;
            }
            assertThat(stats.getInferenceCount()).isEqualTo(rowsTotal);
            // requests really were combined: fewer executions than requests
            assertThat(stats.getExecutionCount()).isLessThan(inputs.length);
            assertThat(t.get(t.server.metricsPort(), "/metrics").body())
                    .contains("mlserve_batch_size_bucket{model=\"churn\",version=\"1\",le=\"16.0\"}");
        }
    }

    private static float[][] reference(Path file, float[][] inputs) throws Exception {
        float[][] out = new float[inputs.length][];
        try (ModelSession s = ModelSession.open("reference", file, SessionConfig.DEFAULT)) {
            TensorBatch batch = new TensorBatch(s.signature());
            for (int i = 0; i < inputs.length; i++) {
                int n = inputs[i].length / FEATURES;
                long[] shape = batch.shape(0, 2);
                shape[0] = n;
                shape[1] = FEATURES;
                ByteBuffer b = batch.buffer(0, inputs[i].length * 4);
                for (int j = 0; j < inputs[i].length; j++) {
                    b.putFloat(j * 4, inputs[i][j]);
                }
                try (RunOutputs r = s.run(batch, null)) {
                    ByteBuffer o = r.bytes(0);
                    out[i] = new float[n];
                    for (int j = 0; j < n; j++) {
                        out[i][j] = o.getFloat(j * 4);
                    }
                }
            }
        }
        return out;
    }

    @Test
    void loneRequestWaitsForTheDelayButAFullBatchGoesAtOnce() throws Exception {
        ExampleModels.churnMlp().writeTo(dir.resolve("churn/1/model.onnx"));
        try (TestServer t = new TestServer(dir).config("churn", """
                {"max_batch_size": 8, "dynamic_batching": {"max_queue_delay_microseconds": 300000},
                 "instance_group": [{"count": 1}]}
                """).start()) {
            SplittableRandom r = new SplittableRandom(3);
            // first call: connection and code paths warm up (it waits the delay too)
            t.stub().modelInfer(Tensors.request("churn", Tensors.fp32("features", rows(r, 1), 1, FEATURES)).build());
            long t0 = System.nanoTime();
            t.stub().modelInfer(Tensors.request("churn", Tensors.fp32("features", rows(r, 1), 1, FEATURES)).build());
            long lone = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            assertThat(lone).isBetween(290L, 300L + 150L);

            var async = GRPCInferenceServiceGrpc.newFutureStub(t.channel());
            List<CompletableFuture<ModelInferResponse>> calls = new ArrayList<>();
            long t1 = System.nanoTime();
            for (int i = 0; i < 8; i++) {
                var f = async.withDeadlineAfter(10, TimeUnit.SECONDS).modelInfer(
                        Tensors.request("churn", Tensors.fp32("features", rows(r, 1), 1, FEATURES)).build());
                CompletableFuture<ModelInferResponse> cf = new CompletableFuture<>();
                f.addListener(() -> {
                    try {
                        cf.complete(f.get());
                    } catch (Exception e) {
                        cf.completeExceptionally(e);
                    }
                }, Runnable::run);
                calls.add(cf);
            }
            CompletableFuture.allOf(calls.toArray(new CompletableFuture[0])).get(10, TimeUnit.SECONDS);
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t1)).isLessThan(250L);
            String metrics = t.get(t.server.metricsPort(), "/metrics").body();
            Matcher m = Pattern.compile("mlserve_batch_size_bucket\\{model=\"churn\",version=\"1\",le=\"4.0\"} (\\d+)")
                    .matcher(metrics);
            assertThat(m.find()).isTrue();
            assertThat(metrics).contains("mlserve_batch_size_count{model=\"churn\",version=\"1\"} 3");
            assertThat(Integer.parseInt(m.group(1))).isEqualTo(2); // the lone ones; the third batch held all 8
        }
    }

    @Test
    void queuePoliciesAndRequestParametersMapToStatuses() throws Exception {
        ExampleModels.slow(512, 400).writeTo(dir.resolve("slow/1/model.onnx"));
        try (TestServer t = new TestServer(dir).config("slow", """
                {"max_batch_size": 1024,
                 "dynamic_batching": {"priority_levels": 2, "default_priority_level": 2,
                   "default_queue_policy": {"max_queue_size": 1, "allow_timeout_override": true}},
                 "instance_group": [{"count": 1}]}
                """).start()) {
            ModelInferRequest heavy = Tensors.request("slow", Tensors.input("x", "FP32", 1024, 512)
                    .build()).addRawInputContents(Tensors.rawFp32(new float[1024 * 512])).build();
            assertThatThrownBy(() -> t.stub().modelInfer(heavy.toBuilder().putParameters("priority",
                    InferParameter.newBuilder().setInt64Param(3).build()).build()))
                    .satisfies(e -> assertThat(Status.fromThrowable(e).getDescription()).contains("parameters.priority"));
            assertThatThrownBy(() -> t.stub().modelInfer(heavy.toBuilder().putParameters("timeout",
                    InferParameter.newBuilder().setStringParam("soon").build()).build()))
                    .satisfies(e -> assertThat(Status.fromThrowable(e).getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
            // occupy the instance, then fill the one queue slot of level 2
            var async = GRPCInferenceServiceGrpc.newFutureStub(t.channel());
            var running = async.modelInfer(heavy);
            awaitPending(t, 0, "2");
            Thread.sleep(100);
            var queued = async.modelInfer(heavy);
            awaitPending(t, 1, "2");
            assertThatThrownBy(() -> t.stub().modelInfer(heavy))
                    .satisfies(e -> assertThat(Status.fromThrowable(e).getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED));
            // level 1 has its own queue; a queue timeout it may lower expires while the instance is busy
            assertThatThrownBy(() -> t.stub().modelInfer(heavy.toBuilder()
                    .putParameters("priority", InferParameter.newBuilder().setInt64Param(1).build())
                    .putParameters("timeout", InferParameter.newBuilder().setInt64Param(1000).build()).build()))
                    .satisfies(e -> assertThat(Status.fromThrowable(e).getCode()).isEqualTo(Status.Code.DEADLINE_EXCEEDED));
            running.get(60, TimeUnit.SECONDS);
            queued.get(60, TimeUnit.SECONDS);
            String metrics = t.get(t.server.metricsPort(), "/metrics").body();
            assertThat(metrics).contains("mlserve_queue_rejections_total{model=\"slow\",reason=\"queue_full\",version=\"1\"} 1.0");
            assertThat(metrics).contains("mlserve_queue_rejections_total{model=\"slow\",reason=\"timeout\",version=\"1\"} 1.0");
        }
    }

    private static void awaitPending(TestServer t, int n, String level) throws Exception {
        String want = "mlserve_pending_requests{model=\"slow\",priority=\"" + level + "\",version=\"1\"} " + n + ".0";
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!t.get(t.server.metricsPort(), "/metrics").body().contains(want)) {
            assertThat(System.nanoTime()).as("waiting for " + want).isLessThan(deadline);
            Thread.sleep(2);
        }
    }
}
