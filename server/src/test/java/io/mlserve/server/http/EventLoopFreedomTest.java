package io.mlserve.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.mlserve.featurecache.FeatureSpec;
import io.mlserve.featurecache.FeatureView;
import io.mlserve.proto.v1.FeatureRecord;
import io.mlserve.proto.v1.FeatureServiceGrpc;
import io.mlserve.proto.v1.FeatureValue;
import io.mlserve.proto.v1.PredictRequest;
import io.mlserve.proto.v1.PredictionServiceGrpc;
import io.mlserve.proto.v1.WriteFeaturesRequest;
import io.mlserve.runtime.onnx.Exporters;
import io.mlserve.runtime.onnx.Preprocessing;
import io.mlserve.server.ServerOptions;
import io.mlserve.server.TestServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The slow REST reads — the audit log, a version's importance over 2,048 recent rows — run off the Netty event loop:
 * with a single event loop thread serving every connection, health probes on another connection keep answering
 * while each of them runs. Were the work on the loop, no probe could answer before it finished.
 */
class EventLoopFreedomTest {
    @TempDir
    Path dir;

    @Test
    void healthProbesAnswerWhileTheSlowReadsRun() throws Exception {
        Path repo = dir.resolve("models");
        // an audit log of 300,000 records: GET /v1/audit reads and parses all of it
        Path audit = Files.createDirectories(dir.resolve("tables")).resolve("audit.log"); // the data dir
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < 300_000; i++) {
            lines.append("{\"time\":\"2026-12-03T00:00:00Z\",\"actor\":\"test\",\"action\":\"promote\",\"model\":\"m")
                    .append(i % 7).append("\",\"evidence\":{\"note\":\"padding padding padding padding\"}}\n");
        }
        Files.writeString(audit, lines, StandardCharsets.UTF_8);
        Preprocessing pre = new Preprocessing(2, List.of(new Preprocessing.Numeric(0, 0, 0, 1),
                new Preprocessing.Numeric(1, 0, 0, 1)));
        SplittableRandom rng = new SplittableRandom(7);
        FeatureView view = new FeatureView("v", "id", FeatureView.KeyType.STRING, List.of(
                FeatureSpec.numeric("a", Double.NaN), FeatureSpec.numeric("b", Double.NaN)), Duration.ZERO, 10_000,
                false);
        try (TestServer t = new TestServer(repo)
                .model("mlp", 1, Exporters.mlp("mlp", pre, List.of(weights(rng, 2 * 64), weights(rng, 64)),
                        List.of(weights(rng, 64), weights(rng, 1))))
                .config("mlp", "{\"features\": {\"view\": \"v\", \"names\": [\"a\", \"b\"]}}")
                .start(ServerOptions.ephemeral(repo).withEventLoopThreads(1)
                        .withFeatureViews(dir.resolve("tables"), List.of(view)))) {
            profile(repo.resolve("mlp/1/profile.json"), rng);
            WriteFeaturesRequest.Builder w = WriteFeaturesRequest.newBuilder().setView("v");
            PredictRequest.Builder p = PredictRequest.newBuilder().setModelName("mlp");
            for (int i = 0; i < 2_048; i++) {
                w.addRecords(FeatureRecord.newBuilder().setEntityId("e" + i).setEventTimeMs(1)
                        .putValues("a", FeatureValue.newBuilder().setNumber(rng.nextGaussian()).build())
                        .putValues("b", FeatureValue.newBuilder().setNumber(rng.nextGaussian()).build()));
                p.addEntityIds("e" + i);
            }
            FeatureServiceGrpc.newBlockingStub(t.channel()).writeFeatures(w.build());
            PredictionServiceGrpc.newBlockingStub(t.channel()).predict(p.build());

            int http = t.server.httpPort();
            assertProbesAnswerDuring(http, "/v1/audit?model=m3&limit=5");
            assertProbesAnswerDuring(http, "/v1/models/mlp/importance");
        }
    }

    /** Starts GET {@code path} on its own connection and probes /v2/health/live on another until it answers. */
    private static void assertProbesAnswerDuring(int port, String path) throws Exception {
        HttpClient slowClient = HttpClient.newHttpClient();
        HttpClient probeClient = HttpClient.newHttpClient();
        HttpRequest probe = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v2/health/live")).build();
        probeClient.send(probe, HttpResponse.BodyHandlers.discarding()); // its connection is open before we start
        long start = System.nanoTime();
        CompletableFuture<HttpResponse<String>> slow = slowClient.sendAsync(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + path)).build(), HttpResponse.BodyHandlers.ofString());
        List<Long> during = new ArrayList<>();
        long worst = 0;
        while (!slow.isDone()) {
            long t0 = System.nanoTime();
            HttpResponse<Void> r = probeClient.send(probe, HttpResponse.BodyHandlers.discarding());
            long took = System.nanoTime() - t0;
            assertThat(r.statusCode()).isEqualTo(200);
            if (!slow.isDone()) {
                during.add(took);
                worst = Math.max(worst, took);
            }
        }
        long slowNanos = System.nanoTime() - start;
        assertThat(slow.get().statusCode()).as(path + ": " + slow.get().body()).isEqualTo(200);
        assertThat(during).as("%s took %d ms; probes answered while it ran", path, slowNanos / 1_000_000)
                .isNotEmpty();
        // a probe that waited for the slow read would have taken as long as it did
        assertThat(worst).as("%s took %d ms; the slowest probe meanwhile", path, slowNanos / 1_000_000)
                .isLessThan(Math.max(slowNanos / 2, 1));
    }

    private static float[] weights(SplittableRandom r, int n) {
        float[] w = new float[n];
        for (int i = 0; i < n; i++) {
            w[i] = (float) r.nextDouble(-1, 1);
        }
        return w;
    }

    private static void profile(Path file, SplittableRandom r) throws java.io.IOException {
        int n = 500;
        float[] rows = new float[n * 2];
        for (int i = 0; i < rows.length; i++) {
            rows[i] = (float) r.nextGaussian();
        }
        var profile = io.mlserve.drift.ProfileBuilder.build(List.of(new io.mlserve.drift.ProfileBuilder.Column("a",
                null), new io.mlserve.drift.ProfileBuilder.Column("b", null)), rows, null, null);
        new com.fasterxml.jackson.databind.ObjectMapper().writeValue(file.toFile(), profile);
    }
}
