package io.mlserve.server.features;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.grpc.Status;
import io.mlserve.proto.inference.ModelInferResponse;
import io.mlserve.proto.v1.FeatureColumn;
import io.mlserve.proto.v1.FeatureRecord;
import io.mlserve.proto.v1.FeatureServiceGrpc;
import io.mlserve.proto.v1.FeatureStatus;
import io.mlserve.proto.v1.FeatureValue;
import io.mlserve.proto.v1.PredictRequest;
import io.mlserve.proto.v1.PredictResponse;
import io.mlserve.proto.v1.PredictionServiceGrpc;
import io.mlserve.proto.v1.ReadFeaturesRequest;
import io.mlserve.proto.v1.ReadFeaturesResponse;
import io.mlserve.proto.v1.WriteFeaturesRequest;
import io.mlserve.server.ServerOptions;
import io.mlserve.server.Tensors;
import io.mlserve.server.TestServer;
import io.mlserve.server.config.ServerConfigFile;
import io.mlserve.examples.ChurnExample;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The churn example served for real: feature writes and reads over gRPC and HTTP, Predict by entity id. */
class FeaturesAndPredictTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;

    static TestServer t;
    static int http;

    @BeforeAll
    static void start() throws Exception {
        Path config = ChurnExample.writeTo(dir);
        ServerConfigFile file = ServerConfigFile.read(config);
        t = new TestServer(file.modelRepository()).start(ServerOptions.ephemeral(file.modelRepository())
                .withFeatureViews(dir.resolve("tables"), file.featureViews()));
        http = t.server.httpPort();
    }

    @AfterAll
    static void stop() {
        t.close();
    }

    private static FeatureValue num(double v) {
        return FeatureValue.newBuilder().setNumber(v).build();
    }

    private static FeatureValue cat(String v) {
        return FeatureValue.newBuilder().setCategory(v).build();
    }

    private FeatureServiceGrpc.FeatureServiceBlockingStub features() {
        return FeatureServiceGrpc.newBlockingStub(t.channel()).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    private PredictionServiceGrpc.PredictionServiceBlockingStub predictor() {
        return PredictionServiceGrpc.newBlockingStub(t.channel()).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    @Test
    void writesAndReadsOverGrpcWithOrderingAndStatuses() {
        long now = System.currentTimeMillis();
        var w = features().writeFeatures(WriteFeaturesRequest.newBuilder().setView("customer")
                .addRecords(FeatureRecord.newBuilder().setEntityId("g-1").setEventTimeMs(now)
                        .putValues("tenure_months", num(12)).putValues("plan_tier", cat("pro")))
                .addRecords(FeatureRecord.newBuilder().setEntityId("g-1").setEventTimeMs(now - 1000)
                        .putValues("tenure_months", num(1)))
                .build());
        assertThat(w.getWritten()).isEqualTo(1);
        assertThat(w.getIgnoredOlder()).isEqualTo(1);
        ReadFeaturesResponse r = features().readFeatures(ReadFeaturesRequest.newBuilder().setView("customer")
                .addEntityIds("g-1").addEntityIds("nobody").build());
        assertThat(r.getRows(0).getValuesMap()).containsEntry("tenure_months", 12.0).containsEntry("plan_tier", 2.0);
        assertThat(r.getRows(0).getStatusMap()).containsEntry("tenure_months", FeatureStatus.PRESENT)
                .containsEntry("age", FeatureStatus.DEFAULTED);
        assertThat(r.getRows(1).getEventTimeMs()).isEqualTo(-1);
        assertThat(r.getRows(1).getStatusMap()).containsEntry("age", FeatureStatus.MISSING);
    }

    @Test
    void httpPutGetAndPredictWorkTogether() throws Exception {
        long now = System.currentTimeMillis();
        HttpResponse<String> put = t.send("PUT", http, "/v1/features/customer", "{\"records\": [{\"entity_id\": \"h-1\","
                + " \"event_time_ms\": " + now + ", \"values\": {\"tenure_months\": 3, \"contract_type\": \"month_to_month\"}}]}");
        assertThat(put.statusCode()).as(put.body()).isEqualTo(200);
        assertThat(JSON.readTree(put.body()).get("written").asLong()).isEqualTo(1);
        JsonNode got = JSON.readTree(t.get(http, "/v1/features/customer/h-1").body());
        assertThat(got.get("values").get("tenure_months").asDouble()).isEqualTo(3);
        assertThat(got.get("status").get("contract_type").asText()).isEqualTo("PRESENT");
        JsonNode unknown = JSON.readTree(t.get(http, "/v1/features/customer/zzz").body());
        assertThat(unknown.get("status").get("tenure_months").asText()).isEqualTo("MISSING");
        assertThat(t.get(http, "/v1/features/nope/h-1").statusCode()).isEqualTo(404);
        HttpResponse<String> bad = t.send("PUT", http, "/v1/features/customer",
                "{\"records\": [{\"entity_id\": \"h-2\", \"event_time_ms\": 5, \"values\": {\"age\": true}}]}");
        assertThat(bad.statusCode()).isEqualTo(400);
        assertThat(JSON.readTree(bad.body()).get("error").asText()).contains("records[0].values.age");
        HttpResponse<String> p = t.post(http, "/v1/models/churn/predict",
                "{\"entity_ids\": [\"h-1\", \"zzz\"], \"return_features\": true}");
        assertThat(p.statusCode()).as(p.body()).isEqualTo(200);
        JsonNode pred = JSON.readTree(p.body());
        assertThat(pred.get("predictions")).hasSize(2);
        assertThat(pred.get("predictions").get(0).get("features").get("tenure_months").asDouble()).isEqualTo(3);
        assertThat(pred.get("predictions").get(1).get("feature_status").get("tenure_months").asText()).isEqualTo("MISSING");
        double score = pred.get("predictions").get(0).get("score").asDouble();
        assertThat(score).isBetween(0.0, 1.0);
    }

    @Test
    void predictEqualsModelInferOnTheAssembledFeaturesAndAppliesOverrides() {
        long now = System.currentTimeMillis();
        features().writeFeatures(WriteFeaturesRequest.newBuilder().setView("customer")
                .addRecords(FeatureRecord.newBuilder().setEntityId("p-1").setEventTimeMs(now)
                        .putValues("tenure_months", num(30)).putValues("monthly_charges", num(70.25))
                        .putValues("region", cat("east")))
                .addRecords(FeatureRecord.newBuilder().setEntityId("p-2").setEventTimeMs(now)
                        .putValues("tenure_months", num(1)).putValues("support_tickets_90d", num(6)))
                .build());
        PredictResponse pr = predictor().predict(PredictRequest.newBuilder().setModelName("churn").setId("x")
                .addEntityIds("p-1").addEntityIds("p-2").setReturnFeatures(true)
                .putFeatures("age", FeatureColumn.newBuilder().addValues(num(40)).addValues(num(22)).build()).build());
        assertThat(pr.getId()).isEqualTo("x");
        assertThat(pr.getModelVersion()).isEqualTo("1");
        assertThat(pr.getPredictions(0).getFeaturesMap()).containsEntry("age", 40.0);
        assertThat(pr.getPredictions(0).getFeatureStatusMap()).containsEntry("age", FeatureStatus.OVERRIDDEN)
                .containsEntry("region", FeatureStatus.PRESENT);
        for (int e = 0; e < 2; e++) {
            float[] row = new float[ChurnExample.FEATURES.size()];
            for (int j = 0; j < row.length; j++) {
                row[j] = pr.getPredictions(e).getFeaturesMap().get(ChurnExample.FEATURES.get(j).name()).floatValue();
            }
            ModelInferResponse direct = t.stub().modelInfer(Tensors.request("churn",
                    Tensors.fp32("features", row, 1, row.length)).build());
            assertThat((float) pr.getPredictions(e).getScore())
                    .isEqualTo(direct.getOutputs(0).getContents().getFp32Contents(0));
        }
    }

    @Test
    void badFeatureAndPredictInputGetsTheRightStatus() {
        long now = System.currentTimeMillis();
        assertCode(() -> features().writeFeatures(WriteFeaturesRequest.newBuilder().setView("nope")
                .addRecords(FeatureRecord.newBuilder().setEntityId("a").setEventTimeMs(now)).build()),
                Status.Code.NOT_FOUND, "no feature view 'nope'");
        assertCode(() -> features().writeFeatures(WriteFeaturesRequest.newBuilder().setView("customer")
                .addRecords(FeatureRecord.newBuilder().setEntityId("a").setEventTimeMs(now)
                        .putValues("shoe_size", num(9))).build()),
                Status.Code.INVALID_ARGUMENT, "records[0].values: view 'customer' has no feature 'shoe_size'");
        assertCode(() -> features().writeFeatures(WriteFeaturesRequest.newBuilder().setView("customer")
                .addRecords(FeatureRecord.newBuilder().setEntityId("a").setEventTimeMs(now)
                        .putValues("tenure_months", cat("long"))).build()),
                Status.Code.INVALID_ARGUMENT, "records[0].values.tenure_months");
        assertCode(() -> features().writeFeatures(WriteFeaturesRequest.newBuilder().setView("customer")
                .addRecords(FeatureRecord.newBuilder().setEntityId("a").setEventTimeMs(0)).build()),
                Status.Code.INVALID_ARGUMENT, "records[0].event_time_ms");
        assertCode(() -> predictor().predict(PredictRequest.newBuilder().setModelName("churn").build()),
                Status.Code.INVALID_ARGUMENT, "entity_ids");
        assertCode(() -> predictor().predict(PredictRequest.newBuilder().setModelName("ghost").addEntityIds("a").build()),
                Status.Code.NOT_FOUND, "'ghost'");
        assertCode(() -> predictor().predict(PredictRequest.newBuilder().setModelName("churn").addEntityIds("a")
                .putFeatures("shoe_size", FeatureColumn.newBuilder().addValues(num(1)).build()).build()),
                Status.Code.INVALID_ARGUMENT, "features.shoe_size");
        assertCode(() -> predictor().predict(PredictRequest.newBuilder().setModelName("churn").addEntityIds("a")
                .addEntityIds("b").putFeatures("age", FeatureColumn.newBuilder().addValues(num(1)).build()).build()),
                Status.Code.INVALID_ARGUMENT, "features.age: 1 values for 2 entities");
        List<String> many = new ArrayList<>();
        for (int i = 0; i < 257; i++) {
            many.add("e" + i);
        }
        assertCode(() -> predictor().predict(PredictRequest.newBuilder().setModelName("churn").addAllEntityIds(many).build()),
                Status.Code.INVALID_ARGUMENT, "257 entities exceed max_batch_size 256");
        // nothing above was stored, and the server still answers
        assertThat(features().readFeatures(ReadFeaturesRequest.newBuilder().setView("customer").addEntityIds("a")
                .build()).getRows(0).getEventTimeMs()).isEqualTo(-1);
    }

    private static void assertCode(Runnable call, Status.Code code, String message) {
        assertThatThrownBy(call::run).satisfies(e -> {
            assertThat(Status.fromThrowable(e).getCode()).isEqualTo(code);
            assertThat(Status.fromThrowable(e).getDescription()).contains(message);
        });
    }
}
