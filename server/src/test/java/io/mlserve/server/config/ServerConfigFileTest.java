package io.mlserve.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mlserve.featurecache.FeatureType;
import io.mlserve.featurecache.FeatureView;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServerConfigFileTest {
    @TempDir
    Path dir;

    private ServerConfigFile read(String text) throws Exception {
        Path f = dir.resolve("mlserve.yaml");
        Files.writeString(f, text);
        return ServerConfigFile.read(f);
    }

    @Test
    void readsViewsAndResolvesPathsAgainstTheFile() throws Exception {
        ServerConfigFile c = read("""
                model_repository: models
                data_dir: /var/lib/mlserve
                feature_views:
                  - name: account
                    entity_key: account_id
                    key_type: int64
                    ttl: 15m
                    max_entities: 5000
                    serve_stale: true
                    features:
                      - {name: balance, default: nan}
                      - {name: visits, type: int64, default: 0}
                      - {name: country, type: categorical, hash_buckets: 64, default: -1}
                """);
        assertThat(c.modelRepository()).isEqualTo(dir.toAbsolutePath().resolve("models"));
        assertThat(c.dataDir()).isEqualTo(Path.of("/var/lib/mlserve"));
        FeatureView v = c.featureViews().get(0);
        assertThat(v.keyType()).isEqualTo(FeatureView.KeyType.INT64);
        assertThat(v.ttl()).isEqualTo(Duration.ofMinutes(15));
        assertThat(v.serveStale()).isTrue();
        assertThat(v.features().get(0).type()).isEqualTo(FeatureType.FLOAT32);
        assertThat(v.features().get(0).defaultValue()).isNaN();
        assertThat(v.features().get(2).hashBuckets()).isEqualTo(64);
        ServerConfigFile withSnapshot = read("""
                feature_views: [{name: account, entity_key: id, features: [{name: a}]}]
                snapshots: [{view: account, csv: snap/accounts.csv}]
                """);
        assertThat(withSnapshot.snapshots().get(0).csv()).isEqualTo(dir.toAbsolutePath().resolve("snap/accounts.csv"));
        assertThat(withSnapshot.snapshots().get(0).eventTimeColumn()).isEqualTo("event_time");
        assertThatThrownBy(() -> read("snapshots: [{view: nope, csv: a.csv}]"))
                .hasMessageContaining("snapshots[0].view: no feature view 'nope'");
    }

    @Test
    void readsTheTrainingLogBlockOverItsDefaults() throws Exception {
        assertThat(read("model_repository: models").trainingLog()).isNull();
        var t = read("""
                training_log: {flush_rows: 500, flush_seconds: 30, retention_days: 90, outcome_wait: 7d,
                               max_pending_rows: 2000}
                """).trainingLog();
        assertThat(t.enabled()).isTrue();
        assertThat(t.flushRows()).isEqualTo(500);
        assertThat(t.flushInterval()).isEqualTo(Duration.ofSeconds(30));
        assertThat(t.retentionDays()).isEqualTo(90);
        assertThat(t.outcomeWait()).isEqualTo(Duration.ofDays(7));
        assertThat(t.maxPendingRows()).isEqualTo(2000);
        var off = read("training_log: {enabled: false}").trainingLog();
        assertThat(off.enabled()).isFalse();
        assertThat(off.flushRows()).isEqualTo(50_000);
        assertThat(off.outcomeWait()).isEqualTo(Duration.ofDays(30));
        assertThatThrownBy(() -> read("training_log: {flush_row: 5}"))
                .hasMessageContaining("mlserve.yaml: training_log.flush_row: unknown key");
        assertThatThrownBy(() -> read("training_log: {flush_rows: 0}"))
                .hasMessageContaining("mlserve.yaml: training_log.flush_rows: expected a whole number of at least 1");
        assertThatThrownBy(() -> read("training_log: {outcome_wait: forever}"))
                .hasMessageContaining("mlserve.yaml: training_log.outcome_wait: expected a duration");
        assertThatThrownBy(() -> read("training_log: {enabled: maybe}"))
                .hasMessageContaining("mlserve.yaml: training_log.enabled: expected true or false");
        assertThatThrownBy(() -> read("training_log: on")).hasMessageContaining("mlserve.yaml: training_log: expected a "
                + "mapping");
    }

    @Test
    void aRefusalIsOneLineWhateverTheFileEchoes() {
        assertThatThrownBy(() -> read("""
                feature_views: [{name: v, entity_key: id, features: [{name: a}]}]
                snapshots: [{view: "v\\nw", csv: s.csv}]
                """)).hasMessageEndingWith("mlserve.yaml: snapshots[0].view: no feature view 'v\\nw'");
    }

    @Test
    void namesFileAndKeyOfEachMistake() {
        assertThatThrownBy(() -> read("feature_view: []")).hasMessageContaining("mlserve.yaml: feature_view: unknown key");
        assertThatThrownBy(() -> read("feature_views: [{name: v, entity_key: id, ttl: soon, features: [{name: a}]}]"))
                .hasMessageContaining("feature_views[0].ttl: expected a duration");
        assertThatThrownBy(() -> read("feature_views: [{name: v, entity_key: id, features: [{name: a, type: text}]}]"))
                .hasMessageContaining("feature_views[0].features[0].type: expected float32, int64 or categorical");
        assertThatThrownBy(() -> read("feature_views: [{name: v, features: [{name: a}]}]"))
                .hasMessageContaining("feature_views[0].entity_key: required");
        assertThatThrownBy(() -> read("feature_views: [{name: v, entity_key: id, features: [{name: c, type: categorical}]}]"))
                .hasMessageContaining("feature_views[0].features[0]: categorical feature 'c' needs a vocabulary or hash_buckets");
        assertThatThrownBy(() -> read("model_repository: [")).hasMessageContaining("not valid YAML/JSON");
    }
}
