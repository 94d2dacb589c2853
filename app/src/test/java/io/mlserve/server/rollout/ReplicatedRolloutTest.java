package io.mlserve.server.rollout;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.StatusRuntimeException;
import io.mlserve.featurecache.kafka.KafkaBroker;
import io.mlserve.proto.inference.GRPCInferenceServiceGrpc;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.registry.FakeMlflow;
import io.mlserve.server.ServerProcess;
import io.mlserve.server.Tensors;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One rollout decision across replicas: three real server processes on one MLflow registry (an HTTP server in the
 * test answering MLflow's endpoints) and one Kafka broker (started by the test) judge a canary together — each sends
 * its windows, the one holding the judge's lease pools them. The judge is killed with SIGKILL while the canary is
 * still gathering evidence: another replica takes the lease, the canary is decided once (one alias move, no second
 * verdict), every surviving replica serves the new champion within a poll interval of the move, and no request to a
 * surviving replica fails.
 */
class ReplicatedRolloutTest {
    private static final String TOKEN = "replicas-T0ken";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MIN_REQUESTS = 900;

    @TempDir
    Path dir;

    private static Map<String, byte[]> version(long v) throws Exception {
        return MlflowServingTest.version(v, "{\"rollout\": {\"mode\": \"canary\", \"challenger_weight\": 0.5, "
                + "\"window_seconds\": 2, \"min_requests\": " + MIN_REQUESTS + "}}");
    }

    /** A replica: its process and a channel to it. */
    private record Replica(String name, ServerProcess process, ManagedChannel channel) {
        JsonNode rollout() throws Exception {
            HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(
                    "http://127.0.0.1:" + process.httpPort + "/v1/models/m/rollout")).build(),
                    HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == 200 ? JSON.readTree(r.body()) : JSON.createObjectNode();
        }

        /** One ModelInfer routed by {@code key}; the version that answered, or null when it failed. */
        String infer(String key) {
            try {
                ModelInferRequest req = RegistrySyncTest.scoreRequest(key, 0).toBuilder().clearInputs()
                        .addInputs(Tensors.fp32("x", new float[4], 1, 4)).build();
                return GRPCInferenceServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
                        .modelInfer(req).getModelVersion();
            } catch (StatusRuntimeException e) {
                return null;
            }
        }
    }

    @Test
    void threeReplicasDecideOnceAndAJudgeKilledMidRolloutChangesNothing() throws Exception {
        try (KafkaBroker kafka = new KafkaBroker(dir.resolve("kafka")).start();
             FakeMlflow mlflow = new FakeMlflow(TOKEN)) {
            mlflow.addVersion("m", 1, "READY", version(1));
            mlflow.addVersion("m", 2, "READY", version(2));
            mlflow.setAlias("m", "champion", 1);
            Path token = dir.resolve("mlflow-token");
            Files.writeString(token, TOKEN);
            List<Replica> replicas = new ArrayList<>();
            try {
                for (int i = 0; i < 3; i++) {
                    String name = "r" + i;
                    ServerProcess p = ServerProcess.start(dir.resolve(name + ".log"),
                            "--model-repository", dir.resolve(name + "-cache").toString(),
                            "--data-dir", dir.resolve(name + "-data").toString(),
                            "--mlflow-uri", mlflow.uri().toString(), "--mlflow-models", "m",
                            "--mlflow-token-file", token.toString(), "--repository-poll-secs", "1",
                            "--rollout-kafka", kafka.bootstrap(), "--instance-name", name);
                    replicas.add(new Replica(name, p, ManagedChannelBuilder.forAddress("127.0.0.1", p.grpcPort)
                            .usePlaintext().build()));
                }
                for (Replica r : replicas) {
                    assertThat(r.infer("warm")).as(r.process().log()).isEqualTo("1");
                }

                // the challenger alias appears: every replica canaries version 2 within a poll or two
                mlflow.setAlias("m", "challenger", 2);
                await(() -> all(replicas, r -> r.rollout().path("challenger").asText().equals("2")), 30,
                        "every replica canaries version 2");
                await(() -> replicas.stream().filter(r -> judge(r)).count() == 1, 30, "one replica judges");
                Replica judge = replicas.stream().filter(ReplicatedRolloutTest::judge).findFirst().orElseThrow();

                // some evidence, below the challenger's minimum, then the judge dies mid-rollout
                int failed = 0;
                int sent = 0;
                for (int k = 0; k < 150; k++) {
                    for (Replica r : replicas) {
                        failed += r.infer("k" + sent++) == null ? 1 : 0;
                    }
                }
                assertThat(mlflow.aliases.get("m")).containsEntry("champion", 1L);
                judge.process().kill();
                long killed = System.nanoTime();
                List<Replica> alive = replicas.stream().filter(r -> r != judge).toList();

                // traffic on the survivors until the canary is decided
                long decided = 0;
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
                while (System.nanoTime() < deadline) {
                    for (int k = 0; k < 20; k++) {
                        for (Replica r : alive) {
                            failed += r.infer("k" + sent++) == null ? 1 : 0;
                        }
                    }
                    if (decided == 0 && Long.valueOf(2).equals(mlflow.aliases.get("m").get("champion"))) {
                        decided = System.nanoTime();
                    }
                    if (decided > 0 && all(alive, r -> r.rollout().path("champion").asText().equals("2"))) {
                        break;
                    }
                }
                long followed = System.nanoTime();
                assertThat(decided).as("the canary was decided after the judge died").isPositive();
                assertThat(all(alive, r -> r.rollout().path("champion").asText().equals("2"))).isTrue();
                assertThat(failed).as("requests to surviving replicas that failed").isZero();
                // one decision: the champion alias moved once, to 2, and nothing was rolled back
                assertThat(mlflow.aliasWrites.stream().filter(w -> w.startsWith("POST") && w.contains("\"champion\"")))
                        .hasSize(1).allMatch(w -> w.contains("\"2\""));
                assertThat(mlflow.aliases.get("m")).containsEntry("champion", 2L).doesNotContainKey("challenger");
                assertThat(alive.stream().filter(ReplicatedRolloutTest::judge).count()).isEqualTo(1);
                for (Replica r : alive) {
                    assertThat(r.infer("after")).isEqualTo("2");
                }
                System.out.printf("replicated rollout: %d requests, %d failed on surviving replicas; judge %s killed; "
                                + "decided %.1f s after the kill; every survivor on the new champion %.1f s after the "
                                + "decision%n", sent, failed, judge.name(), (decided - killed) / 1e9,
                        (followed - decided) / 1e9);
            } finally {
                for (Replica r : replicas) {
                    r.channel().shutdownNow();
                    r.process().close();
                }
            }
        }
    }

    private static boolean judge(Replica r) {
        try {
            return r.rollout().path("judge").asBoolean(false);
        } catch (Exception e) {
            return false;
        }
    }

    @FunctionalInterface
    private interface Check {
        boolean ok() throws Exception;
    }

    @FunctionalInterface
    private interface ReplicaCheck {
        boolean ok(Replica r) throws Exception;
    }

    private static boolean all(List<Replica> rs, ReplicaCheck c) throws Exception {
        for (Replica r : rs) {
            if (!c.ok(r)) {
                return false;
            }
        }
        return true;
    }

    private static void await(Check c, int seconds, String what) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!c.ok()) {
            assertThat(System.nanoTime()).as(what).isLessThan(deadline);
            Thread.sleep(200);
        }
    }
}
