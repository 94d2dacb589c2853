package io.mlserve.bench;

import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.mlserve.examples.ChurnExample;
import io.mlserve.featurecache.CsvSnapshot;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.proto.v1.PredictRequest;
import io.mlserve.proto.v1.PredictResponse;
import io.mlserve.proto.v1.PredictionServiceGrpc;
import io.mlserve.server.MlServer;
import io.mlserve.server.ServerOptions;
import io.mlserve.server.config.ServerConfigFile;
import java.io.BufferedWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.HdrHistogram.Recorder;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Predict by entity id (the server reads 47 features from its store) against ModelInfer with the 47
 * features sent by the client, same model, same server, same run, closed loop.
 */
@Command(name = "predict", mixinStandardHelpOptions = true,
        description = "Predict by entity (server-side feature lookup) vs ModelInfer with client-sent features.")
final class PredictBench implements Callable<Integer> {
    @Option(names = "--entities", defaultValue = "100000", description = "Entities in the store.")
    int entities;

    @Option(names = "--concurrency", defaultValue = "64", description = "Calls kept outstanding.")
    int concurrency;

    @Option(names = "--duration", defaultValue = "10", description = "Seconds measured per run.")
    double duration;

    @Option(names = "--warmup", defaultValue = "3", description = "Seconds of unrecorded load first.")
    double warmup;

    @Option(names = "--rounds", defaultValue = "3", description = "Interleaved rounds.")
    int rounds;

    @Option(names = "--json", description = "Write the results as JSON to this file.")
    Path json;

    @Override
    public Integer call() throws Exception {
        Path work = Files.createTempDirectory("mlserve-predict");
        ServerConfigFile file = ServerConfigFile.read(ChurnExample.writeTo(work));
        Path csv = work.resolve("customers.csv");
        long now = System.currentTimeMillis();
        SplittableRandom random = new SplittableRandom(11);
        try (BufferedWriter w = Files.newBufferedWriter(csv)) {
            w.write("customer_id,event_time,tenure_months,monthly_charges,support_tickets_90d,age");
            w.newLine();
            for (int i = 0; i < entities; i++) {
                w.write("c-" + i + "," + now + "," + random.nextInt(72) + "," + random.nextInt(120) + ","
                        + random.nextInt(6) + "," + (18 + random.nextInt(60)));
                w.newLine();
            }
        }
        MlServer server = MlServer.start(ServerOptions.ephemeral(file.modelRepository())
                .withFeatureViews(work.resolve("tables"), file.featureViews())
                .withSnapshots(List.of(new ServerConfigFile.Snapshot("customer", csv, "event_time"))));
        List<LoadResult> results = new ArrayList<>();
        double[] ratio = new double[rounds];
        try (LoadGenerator g = new LoadGenerator("127.0.0.1", server.grpcPort(), 4)) {
            ModelInferRequest infer = g.requestFor("churn", 1, true);
            ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext().build();
            try {
                predictLoop(ch, "warm-up", warmup);
                g.closedLoop("warm-up", infer, concurrency, 0, warmup);
                for (int r = 0; r < rounds; r++) {
                    LoadResult m = g.closedLoop("ModelInfer, 47 features sent #" + (r + 1), infer, concurrency, warmup,
                            duration);
                    LoadResult p = predictLoop(ch, "Predict by entity #" + (r + 1), duration);
                    results.add(m);
                    results.add(p);
                    ratio[r] = p.throughput() / m.throughput();
                    System.out.println(m.summary());
                    System.out.println(p.summary());
                }
            } finally {
                ch.shutdownNow();
            }
        } finally {
            server.shutdown(10);
        }
        java.util.Arrays.sort(ratio);
        double median = ratio.length % 2 == 1 ? ratio[ratio.length / 2]
                : (ratio[ratio.length / 2 - 1] + ratio[ratio.length / 2]) / 2;
        System.out.printf(Locale.ROOT, "%nPredict / ModelInfer throughput: %.2f (median of %d rounds)%n", median, rounds);
        BenchMain.writeJson(json, results, String.format(Locale.ROOT, ",\"predict_over_modelinfer\":%.3f", median));
        return 0;
    }

    /** Keeps {@code concurrency} Predict calls (one random entity each) outstanding for {@code seconds}. */
    private LoadResult predictLoop(ManagedChannel ch, String label, double seconds) throws InterruptedException {
        PredictionServiceGrpc.PredictionServiceStub stub = PredictionServiceGrpc.newStub(ch);
        PredictRequest[] requests = new PredictRequest[4096];
        SplittableRandom random = new SplittableRandom(label.hashCode());
        for (int i = 0; i < requests.length; i++) {
            requests[i] = PredictRequest.newBuilder().setModelName("churn")
                    .addEntityIds("c-" + random.nextInt(entities)).build();
        }
        Recorder recorder = new Recorder(TimeUnit.SECONDS.toNanos(60), 3);
        ConcurrentHashMap<String, Long> errors = new ConcurrentHashMap<>();
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch drained = new CountDownLatch(concurrency);
        for (int c = 0; c < concurrency; c++) {
            int lane = c;
            new Object() {
                int k = lane;

                void next() {
                    if (stop.get()) {
                        drained.countDown();
                        return;
                    }
                    long start = System.nanoTime();
                    PredictRequest req = requests[k++ & (requests.length - 1)];
                    stub.predict(req, new StreamObserver<>() {
                        @Override
                        public void onNext(PredictResponse value) {
                            recorder.recordValue(System.nanoTime() - start);
                        }

                        @Override
                        public void onError(Throwable t) {
                            errors.merge(io.grpc.Status.fromThrowable(t).getCode().name(), 1L, Long::sum);
                            next();
                        }

                        @Override
                        public void onCompleted() {
                            next();
                        }
                    });
                }
            }.next();
        }
        long begin = System.nanoTime();
        recorder.getIntervalHistogram();
        Thread.sleep((long) (seconds * 1000));
        var h = recorder.getIntervalHistogram();
        double elapsed = (System.nanoTime() - begin) / 1e9;
        stop.set(true);
        drained.await(60, TimeUnit.SECONDS);
        return LoadResult.of(label, "closed", concurrency, 0, 1, elapsed, h, errors);
    }
}
