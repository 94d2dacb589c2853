package io.mlserve.server.rollout;

import static org.assertj.core.api.Assertions.assertThat;

import io.mlserve.featurecache.kafka.KafkaBroker;
import io.mlserve.proto.v1.RolloutEvidence;
import io.mlserve.registry.FakeMlflow;
import io.mlserve.rollout.ArmRecorder;
import io.mlserve.server.RegistryOptions;
import io.mlserve.server.ServerOptions;
import io.mlserve.server.TestServer;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pooled judging (--rollout-kafka) with the judge behind the other replicas: it has not yet loaded the challenger
 * they already serve, and the windows they send meanwhile must still count once it has. One server in process, a
 * real broker, the MLflow stand-in; the other replica is this test, sending its windows to the topic as a replica
 * does.
 */
class PooledJudgingTest {
    private static final String TOPIC = "rollout";
    private static final String CONFIG = """
            {"rollout": {"mode": "canary", "challenger_weight": 0.5, "window_seconds": 1, "min_requests": 200}}""";

    @TempDir
    Path dir;

    /** {@code n} requests of 1 ms each, scores 0.5: two such arms are equivalent on every criterion. */
    private static ArmRecorder.Window arm(int n) {
        ArmRecorder a = new ArmRecorder();
        for (int i = 0; i < n; i++) {
            a.success(1_000_000);
            a.score(0.5f);
        }
        return a.drain();
    }

    @Test
    void aJudgeThatLoadsTheChallengerLateKeepsTheWindowsTheOthersSentMeanwhile() throws Exception {
        try (KafkaBroker kafka = new KafkaBroker(dir.resolve("kafka")).start();
             FakeMlflow mlflow = new FakeMlflow("s3cret");
             KafkaProducer<String, byte[]> otherReplica = kafka.producer()) {
            mlflow.addVersion("m", 1, "READY", MlflowServingTest.version(1, CONFIG));
            mlflow.setAlias("m", "champion", 1);
            Path cache = dir.resolve("cache");
            ServerOptions options = ServerOptions.ephemeral(cache).withRegistry(RegistryOptions.defaults()
                    .withMlflow(mlflow.uri().toString(), "s3cret", List.of("m")).withRolloutKafka(kafka.bootstrap(),
                            TOPIC));
            try (TestServer t = new TestServer(cache).start(options)) {
                // the only member of the group holds the judge's lease, and says so
                await(() -> metric(t).contains("mlserve_rollout_judge 1"), 60, "the lease");

                // another replica polled first: it canaries version 2 and sends its windows of (1, 2)
                mlflow.addVersion("m", 2, "READY", MlflowServingTest.version(2, CONFIG));
                mlflow.setAlias("m", "challenger", 2);
                RolloutEvidence e = RolloutEvidence.newBuilder().setModelName("m").setChampion(1).setChallenger(2)
                        .setInstance("replica-b").setTimeMs(System.currentTimeMillis())
                        .setChampionWindow(RolloutPool.proto(arm(600)))
                        .setChallengerWindow(RolloutPool.proto(arm(600))).build();
                otherReplica.send(new ProducerRecord<>(TOPIC, "m", e.toByteArray())).get(30, TimeUnit.SECONDS);
                // several of the judge's ticks pass while it still serves version 1 alone
                Thread.sleep(3_000);
                assertThat(t.server.repository().model("m").rollout().challenger()).isNull();
                assertThat(mlflow.aliases.get("m")).containsEntry("champion", 1L);

                // its poll comes: version 2 is its challenger too, and the pooled windows decide — this server
                // has answered no request, so the verdict can only rest on what the other replica sent
                t.server.poller().pollOnce();
                await(() -> Long.valueOf(2).equals(mlflow.aliases.get("m").get("champion")), 30,
                        "promotion of version 2 on the other replica's windows");
                assertThat(t.get(t.server.httpPort(), "/v1/audit?model=m&action=promote").body())
                        .contains("replicas").contains("rollout");
            }
        }
    }

    private static String metric(TestServer t) {
        try {
            return t.get(t.server.metricsPort(), "/metrics").body();
        } catch (Exception ex) {
            return "";
        }
    }

    private static void await(BooleanSupplier condition, int seconds, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("waiting for " + what).isLessThan(deadline);
            Thread.sleep(100);
        }
    }
}
