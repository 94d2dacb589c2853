package io.mlserve.server.retrain;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.mlserve.featurecache.FeatureSpec;
import io.mlserve.featurecache.FeatureView;
import io.mlserve.proto.v1.DriftEvent;
import io.mlserve.proto.v1.DriftKind;
import io.mlserve.proto.v1.FeatureColumn;
import io.mlserve.proto.v1.FeatureValue;
import io.mlserve.proto.v1.GetJobRequest;
import io.mlserve.proto.v1.Job;
import io.mlserve.proto.v1.JobRequest;
import io.mlserve.proto.v1.JobState;
import io.mlserve.proto.v1.Outcome;
import io.mlserve.proto.v1.OutcomeServiceGrpc;
import io.mlserve.proto.v1.PredictRequest;
import io.mlserve.proto.v1.PredictResponse;
import io.mlserve.proto.v1.Prediction;
import io.mlserve.proto.v1.PredictionServiceGrpc;
import io.mlserve.proto.v1.ReportOutcomesRequest;
import io.mlserve.proto.v1.SubmitJobResponse;
import io.mlserve.proto.v1.TrainResult;
import io.mlserve.proto.v1.TrainerServiceGrpc;
import io.mlserve.runtime.onnx.Exporters;
import io.mlserve.runtime.onnx.Preprocessing;
import io.mlserve.server.ServerOptions;
import io.mlserve.server.TestServer;
import io.mlserve.server.repository.ModelEntry;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A champion that degrades on real outcomes is replaced at once: predictions served by Predict, outcomes that the
 * scores rank backwards, two low quality windows, the QUALITY alert, a retraining job, the published version promoted
 * without its canary window — and every other case takes the canary as before. The trainer here is a test double of
 * the trainer service (its gRPC API on loopback): it publishes a version into the repository as the real one does and
 * answers with the gate's AUCs each case needs; the real trainer's gate is tested in trainer-bridge.
 */
class EmergencyPromotionTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final FeatureView ACCOUNTS = new FeatureView("acct", "account_id", FeatureView.KeyType.STRING,
            List.of(FeatureSpec.numeric("x", 0)), Duration.ZERO, 10_000, false);

    @TempDir
    Path dir;

    /** What the trainer answers for a model's jobs, in order: the gate's candidate AUC, or a rejection (NaN). */
    private final Map<String, Deque<Double>> candidateAuc = new ConcurrentHashMap<>();
    private final Map<String, List<JobRequest>> submitted = new ConcurrentHashMap<>();
    private final Map<String, Job> jobs = new ConcurrentHashMap<>();
    private Path repo;

    /** The trainer service as a server sees it: SubmitJob publishes the next version (or rejects), GetJob reports. */
    private final class FakeTrainer extends TrainerServiceGrpc.TrainerServiceImplBase {
        @Override
        public void submitJob(JobRequest request, StreamObserver<SubmitJobResponse> response) {
            String model = request.getModelName();
            submitted.computeIfAbsent(model, k -> new ArrayList<>()).add(request);
            Deque<Double> answers = candidateAuc.get(model);
            double candidate = answers == null || answers.isEmpty() ? Double.NaN : answers.poll();
            long champion = request.getTrain().getChampionVersion();
            String id = model + "-" + submitted.get(model).size();
            TrainResult.Builder result = TrainResult.newBuilder().setCandidateAuc(Double.isNaN(candidate) ? 0.58
                    : candidate).setChampionAuc(0.61).setChampionVersion(champion).setHoldoutRows(240)
                    .setData("training log 2026-01-01..2026-01-31: 1,200 labelled rows")
                    .setThreshold(0.62).setThresholdRule("max_accuracy");
            JobState state;
            try {
                if (Double.isNaN(candidate)) {
                    state = JobState.REJECTED;
                } else {
                    long version = champion + 1;
                    while (Files.exists(repo.resolve(model).resolve(Long.toString(version)))) {
                        version++;
                    }
                    TestServer.publish(repo, model, version, sigmoid(model, 0.2).toByteArray());
                    result.setVersion(version).setPublished(true);
                    state = JobState.SUCCEEDED;
                }
            } catch (java.io.IOException e) {
                response.onError(Status.INTERNAL.withDescription(e.toString()).asRuntimeException());
                return;
            }
            long now = System.currentTimeMillis();
            jobs.put(id, Job.newBuilder().setJobId(id).setRequest(request).setState(state).setSubmittedMs(now)
                    .setStartedMs(now).setFinishedMs(now).setResult(result).setSource("grpc").build());
            // the job runs: its end is what GetJob reports
            response.onNext(SubmitJobResponse.newBuilder().setJob(jobs.get(id).toBuilder().setState(JobState.RUNNING)
                    .clearFinishedMs()).build());
            response.onCompleted();
        }

        @Override
        public void getJob(GetJobRequest request, StreamObserver<Job> response) {
            Job j = jobs.get(request.getJobId());
            if (j == null) {
                response.onError(Status.NOT_FOUND.asRuntimeException());
                return;
            }
            response.onNext(j);
            response.onCompleted();
        }
    }

    /** P = sigmoid(x + b) over the view's one feature. */
    private static io.mlserve.runtime.onnx.OnnxModelBuilder sigmoid(String model, double b) {
        return Exporters.logisticRegression(model, new Preprocessing(1, List.of(new Preprocessing.Numeric(0, 0, 0, 1))),
                new double[] {1.0}, b);
    }

    /** Version 1 (P = sigmoid(x)) under a canary whose window (an hour) never ends in a test. */
    private void model(String name, String rolloutExtra, String driftExtra, int cooldownSeconds) throws Exception {
        TestServer.publish(repo, name, 1, sigmoid(name, 0).toByteArray());
        Files.writeString(repo.resolve(name).resolve("config.json"), """
                {"max_batch_size": 128, "features": {"view": "acct", "names": ["x"]},
                 "drift": {"quality_window_pairs": 100, "quality_min_auc": 0.65%s},
                 "retrain": {"enabled": true, "on": ["quality", "data"], "cooldown_seconds": %d},
                 "rollout": {"mode": "canary", "challenger_weight": 0.5, "window_seconds": 3600, "min_requests": 1%s}}
                """.formatted(driftExtra, cooldownSeconds, rolloutExtra));
    }

    /** One quality window of the model's champion: 100 predictions whose outcomes the scores rank backwards. */
    private static void badWindow(TestServer t, String model, int window) {
        assertThat(championWindow(t, model, window)).as("the champion answers").isTrue();
    }

    /**
     * As {@link #badWindow}, under a canary: false (and no outcomes reported) when the request was routed to the
     * challenger.
     */
    private static boolean championWindow(TestServer t, String model, int window) {
        PredictRequest.Builder r = PredictRequest.newBuilder().setModelName(model);
        FeatureColumn.Builder x = FeatureColumn.newBuilder();
        for (int i = 0; i < 100; i++) {
            double p = (i + 0.5) / 100;
            r.addEntityIds(model + "-" + window + "-" + i);
            x.addValues(FeatureValue.newBuilder().setNumber(Math.log(p / (1 - p))));
        }
        PredictResponse served = PredictionServiceGrpc.newBlockingStub(t.channel()).withDeadlineAfter(10,
                TimeUnit.SECONDS).predict(r.putFeatures("x", x.build()).build());
        if (!served.getModelVersion().equals("1")) {
            return false;
        }
        ReportOutcomesRequest.Builder outcomes = ReportOutcomesRequest.newBuilder();
        for (Prediction p : served.getPredictionsList()) {
            outcomes.addOutcomes(Outcome.newBuilder().setEntityId(p.getEntityId()).setLabel(p.getScore() < 0.5 ? 1 : 0));
        }
        OutcomeServiceGrpc.newBlockingStub(t.channel()).reportOutcomes(outcomes.build());
        return true;
    }

    private static ModelEntry.Rollout roles(TestServer t, String model) {
        return t.server.repository().model(model).rollout();
    }

    private static long champion(TestServer t, String model) {
        ModelEntry.Rollout r = roles(t, model);
        return r == null || r.champion() == null ? 0 : r.champion().version();
    }

    @Test
    void aDegradedChampionIsReplacedAtOnceAndEveryOtherRetrainTakesTheCanary() throws Exception {
        repo = dir.resolve("models");
        // a: quality alert on the champion, candidate clearly better → promoted at once
        // b: quality alert on the champion, candidate within the margin → canary
        // c: data drift, candidate clearly better → canary; then the champion degrades → promoted at once
        // d: as a, but the config turns emergency promotion off → canary
        model("a", "", "", 3600);
        model("b", "", "", 3600);
        model("c", "", "", 3600);
        model("d", ", \"no_emergency_promotion\": true", "", 3600);
        candidateAuc.put("a", new ArrayDeque<>(List.of(0.74)));
        candidateAuc.put("b", new ArrayDeque<>(List.of(0.615)));
        candidateAuc.put("c", new ArrayDeque<>(List.of(0.74)));
        candidateAuc.put("d", new ArrayDeque<>(List.of(0.74)));
        Server trainer = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .addService(new FakeTrainer()).build().start();
        try (TestServer t = new TestServer(repo).start(ServerOptions.ephemeral(repo)
                .withFeatureViews(dir.resolve("tables"), List.of(ACCOUNTS))
                .withRetrain(RetrainOptions.defaults("127.0.0.1:" + trainer.getPort())
                        .withBackoff(Duration.ofMillis(100), Duration.ofMillis(400)).withPoll(Duration.ofMillis(100))))) {
            RetrainBridge bridge = t.server.retrain();
            for (String m : List.of("a", "b", "d")) {
                badWindow(t, m, 0);
                badWindow(t, m, 1); // the second low window raises the alert
            }
            assertThat(bridge.onDrift(DriftEvent.newBuilder().setEventId("data-c").setModelName("c")
                    .setModelVersion("1").setKind(DriftKind.DATA).setSeverity(0.6).addFeatures("x")
                    .setDetectedMs(System.currentTimeMillis()).build()).get()).isEqualTo(RetrainBridge.Outcome.ACCEPTED);

            long start = System.nanoTime();
            await(() -> champion(t, "a") == 2, 30);
            double seconds = (System.nanoTime() - start) / 1e9;
            assertThat(seconds).as("promoted without the 3600 s canary window").isLessThan(30);
            for (String m : List.of("b", "c", "d")) {
                await(() -> bridge.status(m) != null && bridge.status(m).servingVersion() == 2, 30);
                await(() -> roles(t, m).challenger() != null, 10);
            }
            // the quality alert that started a's job: critical, and the job was asked with the champion named
            JsonNode alert = JSON.readTree(t.get(t.server.httpPort(), "/v1/drift/a/history").body()).get("alerts")
                    .get(0);
            assertThat(alert.get("kind").asText()).isEqualTo("QUALITY");
            assertThat(alert.get("severity").asDouble()).isEqualTo(1.0);
            assertThat(alert.get("detail").asText()).startsWith("alert raised (quality, critical: AUC 0.000 < 0.65 "
                    + "over 100 outcomes");
            assertThat(submitted.get("a")).hasSize(1);
            assertThat(submitted.get("a").get(0).getTrain().getChampionVersion()).isEqualTo(1);
            assertThat(submitted.get("a").get(0).getReason()).startsWith("drift quality on version 1");

            // the promotion went through the rollout's own path: persisted, audited with its evidence, v1 retired
            assertThat(t.server.repository().rollouts().get("a").champion()).isEqualTo(2);
            JsonNode promote = t.server.repository().audit().read("a", "promote", 10).get(0);
            assertThat(promote.get("actor").asText()).isEqualTo("retrain");
            assertThat(promote.get("from_version").asLong()).isEqualTo(1);
            assertThat(promote.get("to_version").asLong()).isEqualTo(2);
            assertThat(promote.at("/evidence/reason").asText()).isEqualTo("emergency: champion v1 degraded (live AUC "
                    + "0.000 < 0.65 over 100 outcomes); candidate v2 AUC 0.740 vs champion 0.610 on the freshest "
                    + "labelled rows (holdout of training log 2026-01-01..2026-01-31: 1,200 labelled rows)");
            assertThat(promote.at("/evidence/champion/outcomes").asLong()).isEqualTo(100);
            assertThat(promote.at("/evidence/candidate/margin").asDouble()).isEqualTo(0.01);
            assertThat(promote.at("/evidence/candidate/job").asText()).isEqualTo("a-1");
            await(() -> t.server.repository().model("a").version(1) == null, 10);
            assertThat(PredictionServiceGrpc.newBlockingStub(t.channel()).predict(PredictRequest.newBuilder()
                    .setModelName("a").addEntityIds("z").build()).getModelVersion()).isEqualTo("2");
            JsonNode rollout = JSON.readTree(t.get(t.server.httpPort(), "/v1/models/a/rollout").body());
            assertThat(rollout.get("champion").asText()).isEqualTo("2");

            // the others: version 2 is the challenger of a canary whose window has not ended, v1 still the champion
            Thread.sleep(2_500); // more than two rollout checks
            for (String m : List.of("b", "c", "d")) {
                ModelEntry.Rollout r = roles(t, m);
                assertThat(r.champion().version()).as(m).isEqualTo(1);
                assertThat(r.challenger().version()).as(m).isEqualTo(2);
                assertThat(t.server.repository().audit().read(m, "promote", 10)).as(m).isEmpty();
            }
            assertThat(submitted.get("c").get(0).getReason()).startsWith("drift data on version 1");

            // c was retrained for data drift while v1 was healthy, so v2 took the canary; when v1 then degrades on real
            // outcomes (its own quality retrain is held by the cooldown), the canary ends at once: the gate had found
            // v2 better than v1 by more than the margin
            int windows = 0;
            for (int w = 10; windows < 2 && w < 90; w++) {
                windows += championWindow(t, "c", w) ? 1 : 0;
            }
            assertThat(windows).as("two windows answered by the champion").isEqualTo(2);
            await(() -> champion(t, "c") == 2, 30);
            JsonNode promoteC = t.server.repository().audit().read("c", "promote", 10).get(0);
            assertThat(promoteC.at("/evidence/reason").asText()).startsWith("emergency: champion v1 degraded (live AUC "
                    + "0.000 < 0.65 over 100 outcomes); candidate v2 AUC 0.740");
            assertThat(promoteC.at("/evidence/trigger/kind").asText()).isEqualTo("DATA");
            assertThat(submitted.get("c")).as("the quality alert's own retrain waits for the cooldown").hasSize(1);
            for (String m : List.of("b", "d")) {
                assertThat(roles(t, m).champion().version()).as(m).isEqualTo(1);
            }
        } finally {
            trainer.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    @Test
    void aQualityAlertThatStaysRaisedAsksForRetrainingAgain() throws Exception {
        repo = dir.resolve("models");
        // every window while the alert stays raised is handed on again; the cooldown after a job is 1 s
        model("e", "", ", \"renotify_windows\": 1", 1);
        candidateAuc.put("e", new ArrayDeque<>(java.util.Arrays.asList(Double.NaN, 0.74)));
        Server trainer = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .addService(new FakeTrainer()).build().start();
        try (TestServer t = new TestServer(repo).start(ServerOptions.ephemeral(repo)
                .withFeatureViews(dir.resolve("tables"), List.of(ACCOUNTS))
                .withRetrain(RetrainOptions.defaults("127.0.0.1:" + trainer.getPort())
                        .withBackoff(Duration.ofMillis(100), Duration.ofMillis(400)).withPoll(Duration.ofMillis(100))))) {
            RetrainBridge bridge = t.server.retrain();
            badWindow(t, "e", 0);
            badWindow(t, "e", 1);
            // the first job's candidate does not pass the trainer's gate: nothing is published
            await(() -> bridge.status("e") != null && bridge.status("e").job() != null
                    && bridge.status("e").job().getState() == JobState.REJECTED, 30);
            Thread.sleep(1_200); // past the cooldown
            badWindow(t, "e", 2); // the alert is still raised: handed on again, and this time it trains
            await(() -> champion(t, "e") == 2, 30);
            assertThat(submitted.get("e")).hasSize(2);
            assertThat(submitted.get("e").get(0).getRequestId()).isNotEqualTo(submitted.get("e").get(1).getRequestId());
            JsonNode alerts = JSON.readTree(t.get(t.server.httpPort(), "/v1/drift/e/history").body()).get("alerts");
            assertThat(alerts).hasSize(2);
            assertThat(alerts.get(0).get("detail").asText()).startsWith("alert raised (quality");
            assertThat(alerts.get(1).get("detail").asText()).startsWith("alert still raised (quality");
            assertThat(t.server.repository().audit().read("e", "promote", 10).get(0).at("/evidence/reason").asText())
                    .startsWith("emergency: champion v1 degraded");
        } finally {
            trainer.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    private static void await(BooleanSupplier condition, int seconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime()).as("condition within " + seconds + " s").isLessThan(deadline);
            Thread.sleep(50);
        }
    }
}
