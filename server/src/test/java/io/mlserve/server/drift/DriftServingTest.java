package io.mlserve.server.drift;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mlserve.drift.ProfileBuilder;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.proto.v1.DriftKind;
import io.mlserve.proto.v1.DriftReport;
import io.mlserve.proto.v1.DriftServiceGrpc;
import io.mlserve.proto.v1.GetReportRequest;
import io.mlserve.runtime.onnx.Exporters;
import io.mlserve.runtime.onnx.Preprocessing;
import io.mlserve.server.ServerOptions;
import io.mlserve.server.Tensors;
import io.mlserve.server.TestServer;
import io.mlserve.server.retrain.RetrainOptions;
import io.mlserve.server.retrain.RetrainStatus;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Drift monitoring inside the server: every executed row is recorded against the version's profile.json, windows
 * close in the background, the report is served, the metrics set, and a raised alert reaches the retrain bridge.
 */
class DriftServingTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int WIDTH = 3;

    @TempDir
    Path dir;

    @Test
    void servedRowsAreMonitoredAndARaisedAlertReachesTheRetrainBridge() throws Exception {
        Path repo = dir.resolve("models");
        List<Preprocessing.Column> cols = List.of(new Preprocessing.Numeric(0, 0, 0, 1),
                new Preprocessing.Numeric(1, 0, 0, 1), new Preprocessing.Numeric(2, 0, 0, 1));
        Exporters.logisticRegression("m", new Preprocessing(WIDTH, cols), new double[] {0.8, -0.5, 0.3}, -0.2)
                .writeTo(repo.resolve("m/1/model.onnx"));
        SplittableRandom r = new SplittableRandom(1);
        float[] reference = rows(r, 20_000, 0);
        Files.writeString(repo.resolve("m/1/profile.json"), ProfileBuilder.build(List.of(
                ProfileBuilder.Column.numeric("x0"), ProfileBuilder.Column.numeric("x1"),
                ProfileBuilder.Column.numeric("x2")), reference, null, null).toString());
        Files.writeString(repo.resolve("m/config.json"), """
                {"max_batch_size": 64, "drift": {"window_rows": 1000, "window_seconds": 3600},
                 "retrain": {"enabled": true}}""");
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort(); // no trainer: the bridge accepts and keeps retrying, which is all we look at
        }
        try (TestServer t = new TestServer(repo).start(ServerOptions.ephemeral(repo)
                .withRetrain(RetrainOptions.defaults("127.0.0.1:" + port)))) {
            assertThat(t.get(t.server.httpPort(), "/v1/drift/m").statusCode()).as("no window yet").isEqualTo(404);
            send(t, rows(r, 1000, 0));
            t.server.driftMonitor().checkNow();
            JsonNode clean = JSON.readTree(t.get(t.server.httpPort(), "/v1/drift/m").body());
            assertThat(clean.at("/window/rows").asLong()).isEqualTo(1000);
            assertThat(clean.at("/dataset_drift").asBoolean()).isFalse();
            assertThat(clean.at("/features/x1/drifted").asBoolean()).isFalse();
            assertThat(clean.at("/features/x1/ks").asDouble()).isLessThan(clean.at("/features/x1/ks_error_bound")
                    .asDouble() + 0.06);

            // two of three features move: flagged within rows by the sequential detector, and the alert is raised
            // (they carry most of the model's importance); the windows report dataset drift
            for (int w = 0; w < 2; w++) {
                send(t, rows(r, 1000, 1.5));
                t.server.driftMonitor().checkNow();
            }
            JsonNode drifted = JSON.readTree(t.get(t.server.httpPort(), "/v1/drift/m").body());
            assertThat(drifted.at("/features/x0/drifted").asBoolean()).isTrue();
            assertThat(drifted.at("/features/x1/drifted").asBoolean()).isTrue();
            assertThat(drifted.at("/features/x2/drifted").asBoolean()).isFalse();
            assertThat(drifted.at("/dataset_drift").asBoolean()).isTrue();
            assertThat(drifted.at("/alert/active").asBoolean()).isTrue();
            assertThat(drifted.at("/alert/source").asText()).isEqualTo("sequential");
            assertThat(drifted.at("/sequential/flagged").toString()).contains("x0").contains("x1")
                    .doesNotContain("x2");

            // the same report over gRPC
            DriftReport report = DriftServiceGrpc.newBlockingStub(t.channel()).getReport(
                    GetReportRequest.newBuilder().setModelName("m").build());
            assertThat(report.getModelVersion()).isEqualTo("1");
            assertThat(report.getAlert()).isTrue();
            assertThat(report.getFeaturesMap().get("x0").getPsi()).isEqualTo(drifted.at("/features/x0/psi").asDouble());
            assertThat(report.getFeaturesMap().get("x1").getKsErrorBound()).isPositive();
            assertThatThrownBy(() -> DriftServiceGrpc.newBlockingStub(t.channel()).getReport(
                    GetReportRequest.newBuilder().setModelName("m").setModelVersion("7").build()))
                    .hasMessageStartingWith("NOT_FOUND");
            assertThatThrownBy(() -> DriftServiceGrpc.newBlockingStub(t.channel()).getReport(
                    GetReportRequest.newBuilder().setModelName("m").setModelVersion("x").build()))
                    .hasMessageStartingWith("INVALID_ARGUMENT");
            assertThat(t.get(t.server.httpPort(), "/v1/drift/nosuch").statusCode()).isEqualTo(404);

            // the alert went to the retrain bridge as a DATA drift event naming the drifted features
            long deadline = System.nanoTime() + 10_000_000_000L;
            RetrainStatus s;
            while ((s = t.server.retrain().status("m")) == null && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertThat(s).isNotNull();
            assertThat(s.lastEvent().getKind()).isEqualTo(DriftKind.DATA);
            assertThat(s.lastEvent().getFeaturesList()).containsExactly("x0", "x1");
            assertThat(s.lastOutcome()).isEqualTo("accepted");

            // the history: three judged windows (two drifted; windows only report) and the alert
            JsonNode history = JSON.readTree(t.get(t.server.httpPort(), "/v1/drift/m/history").body());
            assertThat(history.get("windows")).hasSize(3);
            JsonNode w0 = history.get("windows").get(0);
            assertThat(w0.get("version").asText()).isEqualTo("1");
            assertThat(w0.get("rows").asLong()).isEqualTo(1000);
            assertThat(w0.get("drifted").asBoolean()).isFalse();
            assertThat(w0.get("features")).isEmpty();
            assertThat(w0.get("end_ms").asLong()).isGreaterThanOrEqualTo(w0.get("start_ms").asLong());
            JsonNode w2 = history.get("windows").get(2);
            assertThat(w2.get("drifted").asBoolean()).isTrue();
            assertThat(w2.get("alert_raised").asBoolean()).as("the sequential detector raises the alert").isFalse();
            assertThat(w2.get("features").toString()).isEqualTo("[\"x0\",\"x1\"]");
            assertThat(history.get("alerts")).hasSize(1);
            List<String> flagged = new java.util.ArrayList<>();
            history.get("flags").forEach(f -> {
                if (f.get("on").asBoolean()) {
                    flagged.add(f.get("feature").asText());
                }
            });
            assertThat(flagged).as("sequential flags in the history").contains("x0", "x1").doesNotContain("x2");
            JsonNode alert = history.get("alerts").get(0);
            assertThat(alert.get("kind").asText()).isEqualTo("DATA");
            assertThat(alert.get("version").asText()).isEqualTo("1");
            assertThat(alert.get("features").toString()).isEqualTo("[\"x0\",\"x1\"]");
            assertThat(alert.get("detail").asText()).startsWith(DriftListener.RAISED).contains("sequential");
            assertThat(alert.get("event_id").asText()).isEqualTo(s.lastEvent().getEventId());
            assertThat(alert.get("severity").asDouble()).isEqualTo(s.lastEvent().getSeverity());
            JsonNode recent = JSON.readTree(t.get(t.server.httpPort(), "/v1/drift/m/history?limit=1&since_ms="
                    + history.get("windows").get(1).get("end_ms").asLong()).body());
            assertThat(recent.get("windows")).hasSize(1);
            assertThat(recent.get("windows").get(0)).isEqualTo(w2);
            assertThat(JSON.readTree(t.get(t.server.httpPort(), "/v1/drift/m/history?since_ms="
                    + (alert.get("detected_ms").asLong() + 1)).body()).get("alerts")).isEmpty();
            assertThat(t.get(t.server.httpPort(), "/v1/drift/m/history?limit=0").statusCode()).isEqualTo(400);
            assertThat(t.get(t.server.httpPort(), "/v1/drift/nosuch/history").statusCode()).isEqualTo(404);

            String metrics = t.get(t.server.metricsPort(), "/metrics").body();
            assertThat(metrics).contains("mlserve_drift_alert{model=\"m\",version=\"1\"} 1.0")
                    .contains("mlserve_drift_windows_total{model=\"m\",version=\"1\"} 3.0")
                    .contains("mlserve_drift_rows_total{model=\"m\",version=\"1\"} 3000.0")
                    .contains("mlserve_drift_feature_drifted{feature=\"x0\",model=\"m\",version=\"1\"} 1.0");
        }
    }

    private static float[] rows(SplittableRandom r, int n, double shift) {
        float[] x = new float[n * WIDTH];
        for (int i = 0; i < n; i++) {
            x[i * WIDTH] = (float) (gaussian(r) + shift);
            x[i * WIDTH + 1] = (float) (gaussian(r) * 2 + shift);
            x[i * WIDTH + 2] = (float) r.nextDouble();
        }
        return x;
    }

    private static void send(TestServer t, float[] x) {
        int n = x.length / WIDTH;
        for (int from = 0; from < n; from += 50) {
            int k = Math.min(50, n - from);
            float[] chunk = new float[k * WIDTH];
            System.arraycopy(x, from * WIDTH, chunk, 0, chunk.length);
            t.stub().modelInfer(ModelInferRequest.newBuilder().setModelName("m")
                    .addInputs(Tensors.input("features", "FP32", k, WIDTH))
                    .addRawInputContents(Tensors.rawFp32(chunk)).build());
        }
    }

    private static double gaussian(SplittableRandom r) {
        return Math.sqrt(-2 * Math.log(1 - r.nextDouble())) * Math.cos(2 * Math.PI * r.nextDouble());
    }
}
