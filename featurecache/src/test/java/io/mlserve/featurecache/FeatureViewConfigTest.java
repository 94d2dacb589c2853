package io.mlserve.featurecache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The config file's form of a view: write_mode and per-feature ttl, and messages naming file and key. */
class FeatureViewConfigTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static FeatureView parse(String json) throws Exception {
        JsonNode v = JSON.readTree(json);
        return FeatureViewConfig.view("mlserve.yaml", "feature_views[0]", v);
    }

    @Test
    void readsTheWriteModeAndFeatureTtls() throws Exception {
        FeatureView merged = parse("""
                {"name": "customer", "entity_key": "id", "ttl": "7d",
                 "features": [{"name": "sessions", "ttl": "15m"}, {"name": "balance"}]}""");
        assertThat(merged.writeMode()).isEqualTo(FeatureView.WriteMode.MERGE);
        assertThat(merged.features().get(0).ttl()).isEqualTo(Duration.ofMinutes(15));
        assertThat(merged.features().get(1).ttl()).isEqualTo(Duration.ZERO);
        FeatureView replaced = parse("""
                {"name": "customer", "entity_key": "id", "write_mode": "REPLACE", "features": [{"name": "a"}]}""");
        assertThat(replaced.writeMode()).isEqualTo(FeatureView.WriteMode.REPLACE);
    }

    @Test
    void namesFileAndKeyOfABadModeOrTtl() {
        assertThatThrownBy(() -> parse("""
                {"name": "v", "entity_key": "id", "write_mode": "append", "features": [{"name": "a"}]}"""))
                .hasMessage("mlserve.yaml: feature_views[0].write_mode: expected merge or replace, got 'append'");
        assertThatThrownBy(() -> parse("""
                {"name": "v", "entity_key": "id", "features": [{"name": "a"}, {"name": "b", "ttl": "soon"}]}"""))
                .hasMessage("mlserve.yaml: feature_views[0].features[1].ttl: expected a duration such as 90s, 15m, 24h"
                        + " or 7d");
        assertThatThrownBy(() -> parse("""
                {"name": "v", "entity_key": "id", "write_mode": true, "features": [{"name": "a"}]}"""))
                .hasMessage("mlserve.yaml: feature_views[0].write_mode: expected a non-empty string");
    }

    @Test
    void aRefusalStaysOneLineWhateverTheKeyOrValueHolds() {
        assertThatThrownBy(() -> parse("""
                {"name": "v", "entity_key": "id", "write\\nmode": "merge", "features": [{"name": "a"}]}"""))
                .hasMessageStartingWith("mlserve.yaml: feature_views[0].write\\nmode: unknown key;");
        assertThatThrownBy(() -> parse("""
                {"name": "v", "entity_key": "id", "write_mode": "a\\r\\u0001\\u2028b", "features": [{"name": "a"}]}"""))
                .hasMessage("mlserve.yaml: feature_views[0].write_mode: expected merge or replace, got "
                        + "'a\\r\\u0001\\u2028b'");
        assertThat(FeatureViewConfig.printable("plain — ünïcode")).isEqualTo("plain — ünïcode");
    }
}
