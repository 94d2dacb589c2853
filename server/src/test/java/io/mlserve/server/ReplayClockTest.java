package io.mlserve.server;

import io.mlserve.server.time.ServerClock;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.mlserve.proto.v1.FeatureRecord;
import io.mlserve.proto.v1.FeatureServiceGrpc;
import io.mlserve.proto.v1.FeatureStatus;
import io.mlserve.proto.v1.FeatureValue;
import io.mlserve.proto.v1.Outcome;
import io.mlserve.proto.v1.OutcomeServiceGrpc;
import io.mlserve.proto.v1.PredictRequest;
import io.mlserve.proto.v1.PredictResponse;
import io.mlserve.proto.v1.PredictionServiceGrpc;
import io.mlserve.proto.v1.ReadFeaturesRequest;
import io.mlserve.proto.v1.ReportOutcomesRequest;
import io.mlserve.proto.v1.WriteFeaturesRequest;
import io.mlserve.server.config.ServerConfigFile;
import io.mlserve.examples.ChurnExample;
import java.nio.file.Path;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * --replay-clock: feature writes (gRPC, REST), Predict's event_time_ms (gRPC, REST) and outcomes (gRPC, REST) move
 * the server's clock forward, never back, and feature TTL is judged at that time; without the flag they do not.
 */
class ReplayClockTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long T0 = Instant.parse("2024-03-01T10:00:00Z").toEpochMilli();
    private static final long HOUR = 3_600_000L;
    private static final long DAY = 24 * HOUR;

    @TempDir
    Path dir;

    private TestServer start(boolean replay) throws Exception {
        ServerConfigFile file = ServerConfigFile.read(ChurnExample.writeTo(dir));
        return new TestServer(file.modelRepository()).start(ServerOptions.ephemeral(file.modelRepository())
                .withFeatureViews(dir.resolve("tables"), file.featureViews()).withReplayClock(replay));
    }

    private static WriteFeaturesRequest write(String entity, long timeMs, double tenure) {
        return WriteFeaturesRequest.newBuilder().setView("customer").addRecords(FeatureRecord.newBuilder()
                .setEntityId(entity).setEventTimeMs(timeMs)
                .putValues("tenure_months", FeatureValue.newBuilder().setNumber(tenure).build())).build();
    }

    private static FeatureStatus tenureStatus(TestServer t, String entity) {
        return FeatureServiceGrpc.newBlockingStub(t.channel()).readFeatures(ReadFeaturesRequest.newBuilder()
                .setView("customer").addEntityIds(entity).build()).getRows(0).getStatusMap().get("tenure_months");
    }

    @Test
    void eventTimesMoveTheReplayClockForwardOnlyAndTtlIsJudgedAtIt() throws Exception {
        try (TestServer t = start(true)) {
            ServerClock clock = t.server.clock();
            int http = t.server.httpPort();
            assertThat(clock.replaying()).isTrue();
            assertThat((double) clock.now()).as("before any event: the wall clock")
                    .isCloseTo(System.currentTimeMillis(), within(60_000.0));
            var features = FeatureServiceGrpc.newBlockingStub(t.channel());
            var predictor = PredictionServiceGrpc.newBlockingStub(t.channel());

            features.writeFeatures(write("a", T0, 12));
            assertThat(clock.now()).isEqualTo(T0);
            assertThat(t.send("PUT", http, "/v1/features/customer", "{\"records\": [{\"entity_id\": \"b\", "
                    + "\"event_time_ms\": " + (T0 + HOUR) + ", \"values\": {\"tenure_months\": 3}}]}").statusCode())
                    .isEqualTo(200);
            assertThat(clock.now()).isEqualTo(T0 + HOUR);
            features.writeFeatures(write("c", T0 - DAY, 1));
            assertThat(clock.now()).as("an older write does not move it back").isEqualTo(T0 + HOUR);
            assertThat(tenureStatus(t, "a")).as("written at t, read at t+1h").isEqualTo(FeatureStatus.PRESENT);

            PredictResponse p = predictor.predict(PredictRequest.newBuilder().setModelName("churn").addEntityIds("a")
                    .setEventTimeMs(T0 + 2 * HOUR).setReturnFeatures(true).build());
            assertThat(clock.now()).isEqualTo(T0 + 2 * HOUR);
            assertThat(p.getPredictions(0).getFeatureStatusMap()).containsEntry("tenure_months", FeatureStatus.PRESENT);
            assertThat(t.post(http, "/v1/models/churn/predict", "{\"entity_ids\": [\"a\"], \"event_time_ms\": "
                    + (T0 + 3 * HOUR) + "}").statusCode()).isEqualTo(200);
            assertThat(clock.now()).isEqualTo(T0 + 3 * HOUR);
            predictor.predict(PredictRequest.newBuilder().setModelName("churn").addEntityIds("a").setEventTimeMs(T0)
                    .build());
            assertThat(clock.now()).as("an older prediction does not move it back").isEqualTo(T0 + 3 * HOUR);
            predictor.predict(PredictRequest.newBuilder().setModelName("churn").addEntityIds("a").build());
            assertThat(clock.now()).as("no event time: the clock as it is").isEqualTo(T0 + 3 * HOUR);

            OutcomeServiceGrpc.newBlockingStub(t.channel()).reportOutcomes(ReportOutcomesRequest.newBuilder()
                    .addOutcomes(Outcome.newBuilder().setEntityId("a").setLabel(1).setEventTimeMs(T0 + 4 * HOUR))
                    .build());
            assertThat(clock.now()).isEqualTo(T0 + 4 * HOUR);
            assertThat(t.post(http, "/v1/outcomes", "{\"outcomes\": [{\"entity_id\": \"a\", \"label\": 0, "
                    + "\"event_time_ms\": " + (T0 + 5 * HOUR) + "}]}").statusCode()).isEqualTo(200);
            assertThat(clock.now()).isEqualTo(T0 + 5 * HOUR);
            assertThat(t.post(http, "/v1/outcomes", "{\"outcomes\": [{\"entity_id\": \"a\", \"label\": 0}]}")
                    .statusCode()).isEqualTo(200);
            assertThat(clock.now()).as("an outcome without a time").isEqualTo(T0 + 5 * HOUR);

            // a write to another entity a week later: a's value (ttl 7d) is stale now, and served as the default
            features.writeFeatures(write("d", T0 + 7 * DAY + HOUR, 40));
            assertThat(clock.now()).isEqualTo(T0 + 7 * DAY + HOUR);
            assertThat(tenureStatus(t, "a")).isEqualTo(FeatureStatus.STALE);
            PredictResponse stale = predictor.predict(PredictRequest.newBuilder().setModelName("churn")
                    .addEntityIds("a").setReturnFeatures(true).build());
            assertThat(stale.getPredictions(0).getFeatureStatusMap()).containsEntry("tenure_months", FeatureStatus.STALE);
            assertThat(stale.getPredictions(0).getFeaturesMap().get("tenure_months")).as("the view's default (nan)")
                    .isNaN();
            assertThat(tenureStatus(t, "d")).isEqualTo(FeatureStatus.PRESENT);

            assertThat(t.post(http, "/v1/models/churn/predict", "{\"entity_ids\": [\"a\"], \"event_time_ms\": -5}")
                    .statusCode()).isEqualTo(400);
            assertThat(JSON.readTree(t.post(http, "/v1/models/churn/predict",
                    "{\"entity_ids\": [\"a\"], \"event_time_ms\": \"soon\"}").body()).get("error").asText())
                    .contains("event_time_ms");
        }
    }

    @Test
    void withoutTheFlagEventTimesDoNotMoveTheClock() throws Exception {
        try (TestServer t = start(false)) {
            ServerClock clock = t.server.clock();
            assertThat(clock.replaying()).isFalse();
            FeatureServiceGrpc.newBlockingStub(t.channel()).writeFeatures(write("a", T0, 12));
            PredictionServiceGrpc.newBlockingStub(t.channel()).predict(PredictRequest.newBuilder()
                    .setModelName("churn").addEntityIds("a").setEventTimeMs(T0 + 30 * DAY).build());
            OutcomeServiceGrpc.newBlockingStub(t.channel()).reportOutcomes(ReportOutcomesRequest.newBuilder()
                    .addOutcomes(Outcome.newBuilder().setEntityId("a").setLabel(1).setEventTimeMs(T0 + 31 * DAY))
                    .build());
            assertThat((double) clock.now()).isCloseTo(System.currentTimeMillis(), within(60_000.0));
            assertThat(tenureStatus(t, "a")).as("written in 2024, read now").isEqualTo(FeatureStatus.STALE);
        }
    }

    @Test
    void observeKeepsTheLargestTimeUnderConcurrentObservers() throws Exception {
        ServerClock clock = ServerClock.replay();
        Thread[] threads = new Thread[4];
        for (int n = 0; n < threads.length; n++) {
            int offset = n;
            threads[n] = new Thread(() -> {
                for (int i = 0; i < 100_000; i++) {
                    clock.observe(T0 + i * 4L + offset);
                }
            });
            threads[n].start();
        }
        for (Thread th : threads) {
            th.join();
        }
        assertThat(clock.now()).isEqualTo(T0 + 99_999 * 4L + 3);
        ServerClock wall = new ServerClock();
        wall.observe(T0);
        assertThat(wall.simulated()).isFalse();
    }
}
