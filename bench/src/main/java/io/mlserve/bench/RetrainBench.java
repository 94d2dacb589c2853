package io.mlserve.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mlserve.proto.v1.DriftEvent;
import io.mlserve.proto.v1.DriftKind;
import io.mlserve.proto.v1.Job;
import io.mlserve.server.MlServer;
import io.mlserve.server.ServerOptions;
import io.mlserve.server.retrain.RetrainBridge;
import io.mlserve.server.retrain.RetrainOptions;
import io.mlserve.server.retrain.RetrainStatus;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Drift event → published version → serving, through the whole loop: this JVM runs the server with its
 * retrain bridge, a second JVM runs {@code ./mlserve trainer}. For comparison, in the same run, the same
 * training is done once by hand ({@code ./mlserve train}, its own JVM), which is also what publishes version 1.
 */
@Command(name = "retrain", mixinStandardHelpOptions = true,
        description = "Time from a drift event to the retrained version published and served (server + trainer).")
final class RetrainBench implements Callable<Integer> {
    @Option(names = "--data", required = true, description = "A datagen directory (./mlserve datagen --out).")
    Path data;

    @Option(names = "--algorithm", defaultValue = "lr", description = "lr or gbt (default: ${DEFAULT-VALUE}).")
    String algorithm;

    @Option(names = "--grid", defaultValue = "", description = "Search grid (default: none).")
    String grid;

    @Option(names = "--runs", defaultValue = "3", description = "Drift events, one after another (default: ${DEFAULT-VALUE}).")
    int runs;

    @Option(names = "--spark-master", defaultValue = "local[*]", description = "Spark master (default: ${DEFAULT-VALUE}).")
    String master;

    @Option(names = "--json", description = "Write the results as JSON to this file.")
    Path json;

    @Override
    public Integer call() throws Exception {
        Path work = Files.createTempDirectory("mlserve-retrain");
        Path registry = work.resolve("models");
        long t0 = System.nanoTime();
        Process manual = io.mlserve.app.TrainerProcess.start(work.resolve("train.log"), "TrainMain", "--data",
                data.toString(), "--config", data.resolve("mlserve.yaml").toString(), "--label", "churned", "--model",
                "churn", "--registry", registry.toString(), "--spark-master", master, "--algorithm", algorithm,
                "--grid", grid);
        if (!manual.waitFor(2, TimeUnit.HOURS) || manual.exitValue() != 0) {
            System.err.println("./mlserve train failed: see " + work.resolve("train.log"));
            return 1;
        }
        double manualSeconds = (System.nanoTime() - t0) / 1e9;
        System.out.printf(Locale.ROOT, "./mlserve train (own JVM, version 1): %.1f s%n", manualSeconds);

        ObjectMapper mapper = new ObjectMapper();
        ObjectNode config = (ObjectNode) mapper.readTree(registry.resolve("churn/config.json").toFile());
        ObjectNode retrain = config.putObject("retrain").put("enabled", true).put("cooldown_seconds", 1);
        // margin 1: every candidate is published, so every run ends in a new version (the gate still scores both)
        retrain.putObject("train").put("algorithm", algorithm).put("grid", grid).put("gate_margin", 1.0)
                .put("data", data.toAbsolutePath().toString()).put("label", "churned");
        mapper.writeValue(registry.resolve("churn/config.json").toFile(), config);

        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path trainerLog = work.resolve("trainer.log");
        Process trainer = io.mlserve.app.TrainerProcess.start(trainerLog, "TrainerMain", "--host", "127.0.0.1", "--port", Integer.toString(port),
                "--registry", registry.toString(), "--data", data.toString(), "--config",
                data.resolve("mlserve.yaml").toString(), "--spark-master", master);
        List<double[]> rows = new ArrayList<>();
        RetrainOptions options = RetrainOptions.defaults("127.0.0.1:" + port).withPoll(Duration.ofMillis(500));
        try (MlServer server = MlServer.start(ServerOptions.ephemeral(registry).withRetrain(options))) {
            RetrainBridge bridge = server.retrain();
            System.out.println("run  event→delivered s  queued s  training s  event→published s  event→serving s");
            for (int run = 1; run <= runs; run++) {
                long version = server.repository().model("churn").latest().version();
                Thread.sleep(1100); // the 1 s cooldown after the previous job
                long sentMs = System.currentTimeMillis();
                long sent = System.nanoTime();
                RetrainBridge.Outcome o = bridge.onDrift(DriftEvent.newBuilder().setEventId("bench-" + run)
                        .setModelName("churn").setModelVersion(Long.toString(version)).setKind(DriftKind.DATA)
                        .setDetectedMs(sentMs).setSeverity(1).build()).get();
                if (o != RetrainBridge.Outcome.ACCEPTED) {
                    throw new IllegalStateException("event not accepted: " + o);
                }
                RetrainStatus s;
                while (true) {
                    s = bridge.status("churn");
                    if (s.servingVersion() > version) {
                        break;
                    }
                    if (!trainer.isAlive() || (s.job() != null && s.job().getFinishedMs() > 0
                            && !s.job().getResult().getPublished())) {
                        throw new IllegalStateException("the job did not publish: " + s + "; see " + trainerLog);
                    }
                    Thread.sleep(20);
                }
                double serving = (System.nanoTime() - sent) / 1e9;
                Job j = s.job();
                double[] r = {(j.getSubmittedMs() - sentMs) / 1e3, (j.getStartedMs() - j.getSubmittedMs()) / 1e3,
                    (j.getFinishedMs() - j.getStartedMs()) / 1e3, (j.getFinishedMs() - sentMs) / 1e3, serving};
                rows.add(r);
                System.out.printf(Locale.ROOT, "%3d  %18.3f  %8.3f  %10.1f  %17.1f  %15.1f%n", run, r[0], r[1], r[2],
                        r[3], r[4]);
            }
        } finally {
            trainer.destroy();
            trainer.waitFor(60, TimeUnit.SECONDS);
        }
        if (json != null) {
            StringBuilder b = new StringBuilder();
            b.append(String.format(Locale.ROOT, "{\"bench\":\"retrain\",\"machine\":%s,\"data\":\"%s\",\"algorithm\":\"%s\","
                    + "\"grid\":\"%s\",\"spark_master\":\"%s\",\"manual_train_s\":%.3f,\"runs\":[", Machine.json(), data,
                    algorithm, grid, master, manualSeconds));
            for (int i = 0; i < rows.size(); i++) {
                double[] r = rows.get(i);
                b.append(i == 0 ? "" : ",").append(String.format(Locale.ROOT, "{\"event_to_delivered_s\":%.3f,"
                        + "\"queued_s\":%.3f,\"training_s\":%.3f,\"event_to_published_s\":%.3f,\"event_to_serving_s\":%.3f}",
                        r[0], r[1], r[2], r[3], r[4]));
            }
            Files.writeString(json, b.append("]}\n").toString());
        }
        return 0;
    }
}
