package io.mlserve.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mlserve.datagen.ChurnDataGenerator;
import io.mlserve.runtime.ModelSession;
import io.mlserve.runtime.SessionConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A full small run on the churn example: generated data → Spark (local) → ONNX with preprocessing, checked →
 * published version. The schema comes from the view the generator writes beside its data (mlserve.yaml).
 */
class ModelTrainerTest {
    @TempDir
    Path dir;

    /** The churn view of a generated data directory, label churned. */
    static TrainingSchema churn(Path data) throws Exception {
        return TrainingSchema.fromConfig(data.resolve("mlserve.yaml"), "customer", "churned");
    }

    static ModelTrainer.Result train(ModelTrainer trainer, ModelTrainer.Algorithm algorithm, Path data,
                                     Path registry) throws Exception {
        return trainer.train(algorithm, churn(data), TrainingData.source(data, 0, 0), "churn", registry);
    }

    @Test
    void trainsExportsVerifiesAndPublishesNumberedVersions() throws Exception {
        Path data = dir.resolve("data");
        new ChurnDataGenerator(new ChurnDataGenerator.Options(8_000, 3, 3)).generate(data);
        Path registry = dir.resolve("models");
        ModelTrainer trainer = new ModelTrainer("local[2]", 0.2);
        ModelTrainer.Result first = train(trainer, ModelTrainer.Algorithm.LOGISTIC_REGRESSION, data, registry);
        assertThat(first.version()).isEqualTo(1);
        assertThat(first.maxAbsDelta()).isLessThan(1e-4);
        assertThat(first.holdoutAuc()).isGreaterThan(0.6);
        assertThat(registry.resolve("churn/1/model.onnx")).exists();
        try (var s = Files.list(registry.resolve("churn"))) {
            assertThat(s.map(p -> p.getFileName().toString())).noneMatch(n -> n.contains(".tmp-"));
        }
        JsonNode meta = new ObjectMapper().readTree(registry.resolve("churn/1/metadata.json").toFile());
        assertThat(meta.get("inputs").get("features")).hasSize(47);
        // how each input encodes a missing value: the view's default (numbers nan → imputed; categories -1)
        assertThat(meta.at("/inputs/missing/tenure_months").isNull()).isTrue();
        assertThat(meta.at("/inputs/missing/contract_type").asDouble()).isEqualTo(-1.0);
        assertThat(meta.at("/inputs/view").asText()).isEqualTo("customer");
        assertThat(meta.at("/inputs/label").asText()).isEqualTo("churned");
        assertThat(meta.at("/inputs/encoding").asText()).isEqualTo(churn(data).fingerprint());
        assertThat(meta.at("/data/source").asText()).isEqualTo("files");
        assertThat(meta.at("/skew/checked").asLong()).as("no served scores in a data directory").isZero();
        // lineage: the data's time range and where the holdout starts, the parameters, the code
        JsonNode d = meta.get("data");
        assertThat(d.get("event_time_from_ms").asLong()).isLessThan(d.get("holdout_from_ms").asLong());
        assertThat(d.get("holdout_from_ms").asLong()).isLessThan(d.get("event_time_to_ms").asLong());
        assertThat(meta.at("/parameters/holdout_fraction").asDouble()).isEqualTo(0.2);
        assertThat(meta.at("/parameters/grid").asText()).isEqualTo("regParam=0.0001,0.01");
        assertThat(meta.at("/code/mlserve").asText()).isEqualTo("0.1.0-SNAPSHOT");
        if (Files.isDirectory(Path.of("..", ".git"))) {
            assertThat(meta.at("/code/git_commit").asText()).as("built in this checkout").matches("[0-9a-f]{40}");
        }
        // every numeric feature cut at its training quintiles in the linear model (the export check above covers them)
        JsonNode bins = meta.at("/preprocessing/bins");
        assertThat(bins.size()).isBetween(30, 41);
        for (JsonNode edges : bins) {
            assertThat(edges.size()).isBetween(1, 4);
        }
        assertThat(meta.get("metrics").get("holdout_auc").asDouble()).isEqualTo(first.holdoutAuc());
        // class weights train for a balanced prior, so P(1) runs high on the ~15 % positive holdout: log-loss is
        // above a calibrated model's, and the operating threshold chosen on the holdout (the most accurate, by default)
        // sits above 0.5, where accuracy beats predicting "no churn" for everyone (about 0.85)
        ModelTrainer.Metrics m = first.metrics();
        assertThat(m.logLoss()).isBetween(0.3, 1.5);
        assertThat(m.thresholdRule()).isEqualTo("max_accuracy");
        assertThat(m.threshold()).isBetween(0.5, 1.0);
        assertThat(m.accuracy()).isBetween(0.75, 1.0);
        assertThat(meta.get("metrics").get("log_loss").asDouble()).isEqualTo(m.logLoss());
        assertThat(meta.get("metrics").get("threshold").asDouble()).isEqualTo(m.threshold());
        assertThat(meta.get("metrics").get("threshold_rule").asText()).isEqualTo("max_accuracy");
        assertThat(meta.get("metrics").get("accuracy").asDouble()).isEqualTo(m.accuracy());
        assertThat(meta.at("/parameters/threshold_rule").asText()).isEqualTo("max_accuracy");
        // the default search: two regParam values scored on the later part of the training range, best refitted
        JsonNode search = meta.get("search");
        assertThat(search.get("points")).hasSize(2);
        int chosen = search.get("chosen").asInt();
        for (JsonNode point : search.get("points")) {
            assertThat(point.get("validation_auc").asDouble()).isLessThanOrEqualTo(
                    search.get("points").get(chosen).get("validation_auc").asDouble());
        }
        assertThat(search.get("chosen_params")).isEqualTo(search.get("points").get(chosen).get("params"));
        JsonNode config = new ObjectMapper().readTree(registry.resolve("churn/config.json").toFile());
        assertThat(config.get("features").get("names")).hasSize(47);
        try (ModelSession session = ModelSession.open("churn:1", registry.resolve("churn/1/model.onnx"),
                SessionConfig.DEFAULT)) {
            assertThat(session.signature().inputs().get(0).shape()).containsExactly(-1, 47);
        }
        // gradient-boosted trees, 50 trees of depth 5, over category codes and imputed missing values
        // gated against v1 on the same holdout rows; the margin is wide because on 8k rows the two are close
        // its threshold for the least expected cost when a missed churner costs 4 false alarms
        ModelTrainer.Result second = train(new ModelTrainer("local[2]", 0.2, 50, 5).withGateMargin(0.2)
                .withCostRatio(4), ModelTrainer.Algorithm.GRADIENT_BOOSTED_TREES, data, registry);
        assertThat(second.version()).isEqualTo(2);
        assertThat(second.maxAbsDelta()).isLessThan(1e-4);
        assertThat(second.holdoutAuc()).isGreaterThan(0.6);
        JsonNode gbtMeta = jsonOf(registry.resolve("churn/2/metadata.json"));
        assertThat(gbtMeta.get("parent_version").asLong()).isEqualTo(1);
        assertThat(gbtMeta.get("algorithm").asText()).isEqualTo("gradient_boosted_trees");
        assertThat(gbtMeta.at("/metrics/threshold_rule").asText()).isEqualTo("cost_ratio 4");
        assertThat(gbtMeta.at("/metrics/threshold").asDouble()).isEqualTo(second.metrics().threshold());
        assertThat(gbtMeta.at("/metrics/expected_cost").asDouble()).isEqualTo(second.metrics().expectedCost())
                .isPositive();
        assertThat(second.published()).isTrue();
        // the trees carry their training covers (what TreeSHAP explains them by): each split's cover is the sum of
        // its children's
        io.mlserve.proto.onnx.NodeProto trees = io.mlserve.proto.onnx.ModelProto.parseFrom(
                Files.readAllBytes(registry.resolve("churn/2/model.onnx"))).getGraph().getNodeList().stream()
                .filter(n -> n.getOpType().equals("TreeEnsembleRegressor")).findFirst().orElseThrow();
        java.util.Map<String, io.mlserve.proto.onnx.AttributeProto> attrs = new java.util.HashMap<>();
        trees.getAttributeList().forEach(x -> attrs.put(x.getName(), x));
        List<Float> covers = attrs.get("nodes_hitrates").getFloatsList();
        List<Long> treeIds = attrs.get("nodes_treeids").getIntsList();
        List<Long> yes = attrs.get("nodes_truenodeids").getIntsList();
        List<Long> no = attrs.get("nodes_falsenodeids").getIntsList();
        List<com.google.protobuf.ByteString> modes = attrs.get("nodes_modes").getStringsList();
        assertThat(covers.get(0)).isPositive();
        for (int i = 0; i < covers.size(); i++) {
            if (treeIds.get(i) == 0 && !modes.get(i).toStringUtf8().equals("LEAF")) {
                assertThat(covers.get(yes.get(i).intValue()) + covers.get(no.get(i).intValue()))
                        .isCloseTo(covers.get(i), org.assertj.core.data.Offset.offset(0.5f));
            }
        }
        JsonNode profile = jsonOf(registry.resolve("churn/2/profile.json"));
        assertThat(profile.get("format").asText()).isEqualTo("mlserve.profile/1");
        assertThat(profile.get("rows").asLong()).isEqualTo(second.trainRows());
        assertThat(profile.get("features")).hasSize(47);
        for (JsonNode f : profile.get("features")) {
            long rows = f.get("count").asLong();
            long binned = f.get("missing").asLong();
            JsonNode counts = f.get("type").asText().equals("numeric") ? f.get("histogram").get("counts")
                    : f.get("counts");
            for (JsonNode c : counts) {
                binned += c.asLong();
            }
            assertThat(binned).as(f.get("name").asText()).isEqualTo(rows);
            long seasonRows = 0;
            assertThat(f.get("seasons").size()).as("month buckets").isEqualTo(12);
            for (JsonNode season : f.get("seasons")) {
                seasonRows += season.get("count").asLong();
            }
            assertThat(seasonRows).isEqualTo(rows);
            if (f.get("type").asText().equals("numeric")) {
                double previous = Double.NEGATIVE_INFINITY;
                for (JsonNode q : f.get("quantiles")) {
                    assertThat(q.asDouble()).isGreaterThanOrEqualTo(previous);
                    previous = q.asDouble();
                }
                assertThat(f.get("histogram").get("counts")).hasSize(f.get("histogram").get("edges").size() + 1);
            }
        }
        assertThat(profile.get("features").get(0).get("name").asText()).isEqualTo(
                meta.get("inputs").get("features").get(0).asText());
        // the generator leaves some values missing; the profile must see them
        long missing = 0;
        for (JsonNode f : profile.get("features")) {
            missing += f.get("missing").asLong();
        }
        assertThat(missing).isPositive();
        long scored = 0;
        for (JsonNode c : profile.get("score").get("histogram").get("counts")) {
            scored += c.asLong();
        }
        assertThat(scored).isEqualTo(second.holdoutRows());
        assertThat(second.championAuc()).isGreaterThan(0.6);
        assertThat(gbtMeta.get("quality_gate").get("champion").asText()).isEqualTo("1");
        assertThat(gbtMeta.get("quality_gate").get("candidate_auc").asDouble()).isEqualTo(second.candidateAuc());

        // a single stump cannot match v2: with no margin the gate refuses it and nothing is published
        ModelTrainer.Result stump = train(new ModelTrainer("local[2]", 0.2, 1, 1).withGateMargin(0.0),
                ModelTrainer.Algorithm.GRADIENT_BOOSTED_TREES, data, registry);
        assertThat(stump.published()).isFalse();
        assertThat(stump.version()).isZero();
        assertThat(stump.candidateAuc()).isLessThan(stump.championAuc());
        assertThat(registry.resolve("churn/3")).doesNotExist();
        try (var s = Files.list(registry.resolve("churn"))) {
            assertThat(s.map(p -> p.getFileName().toString())).noneMatch(n -> n.contains(".tmp-"));
        }
        List<String> log = Files.readAllLines(registry.resolve("churn/training-log.jsonl"));
        assertThat(log).hasSize(3);
        JsonNode last = jsonOf(log.get(2));
        assertThat(last.get("decision").asText()).isEqualTo("rejected");
        assertThat(last.get("champion").asText()).isEqualTo("2");
        assertThat(jsonOf(log.get(0)).get("champion").isNull()).isTrue();

        // the gate judges against the serving champion, not the newest version: with v1 serving (say v2 was rolled
        // back) the same stump is compared with v1
        ModelTrainer.Result againstV1 = train(new ModelTrainer("local[2]", 0.2, 1, 1).withGateMargin(0.0)
                .withChampion(1), ModelTrainer.Algorithm.GRADIENT_BOOSTED_TREES, data, registry);
        assertThat(againstV1.championVersion()).isEqualTo(1);
        assertThat(againstV1.championAuc()).isEqualTo(first.candidateAuc(), org.assertj.core.data.Offset.offset(1e-9));
        assertThat(jsonOf(Files.readAllLines(registry.resolve("churn/training-log.jsonl")).get(3)).get("champion")
                .asText()).isEqualTo("1");
    }

    private static JsonNode jsonOf(Path p) throws Exception {
        return new ObjectMapper().readTree(p.toFile());
    }

    private static JsonNode jsonOf(String line) throws Exception {
        return new ObjectMapper().readTree(line);
    }

    @Test
    void mlpTrainedWithDjlIsExportedAsGemmReluAndMatchesDjl() throws Exception {
        Path data = dir.resolve("data");
        new ChurnDataGenerator(new ChurnDataGenerator.Options(5_000, 3, 5)).generate(data);
        Path registry = dir.resolve("models");
        ModelTrainer.Result r = train(new ModelTrainer("local[2]", 0.2).withEpochs(3), ModelTrainer.Algorithm.MLP,
                data, registry);
        assertThat(r.published()).isTrue();
        assertThat(r.maxAbsDelta()).as("ONNX Runtime vs DJL").isLessThanOrEqualTo(1e-4);
        assertThat(r.holdoutAuc()).isGreaterThan(0.6);
        JsonNode meta = new ObjectMapper().readTree(registry.resolve("churn/1/metadata.json").toFile());
        assertThat(meta.get("algorithm").asText()).isEqualTo("mlp");
        JsonNode mlp = meta.at("/preprocessing/mlp");
        assertThat(mlp.get("balance").asText()).as("class weights by default (SMOTE: MlpTrainerTest)")
                .isEqualTo("weights");
        assertThat(mlp.get("hidden")).hasSize(2);
        assertThat(registry.resolve("churn/1/profile.json")).exists();
    }
}
