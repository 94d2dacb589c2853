package io.mlserve.featurecache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mlserve.proto.v1.FeatureRecord;
import io.mlserve.proto.v1.FeatureValue;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Record validation against the view: a bad batch changes nothing. */
class FeatureStoreTest {
    @TempDir
    Path dir;

    static FeatureView accounts() {
        return new FeatureView("account", "account_id", FeatureView.KeyType.INT64, List.of(
                FeatureSpec.numeric("balance", 0), new FeatureSpec("visits", FeatureType.INT64, List.of(), 0, 0)),
                Duration.ZERO, 1000, false);
    }

    private static FeatureRecord rec(String id, long t, String name, FeatureValue v) {
        return FeatureRecord.newBuilder().setEntityId(id).setEventTimeMs(t).putValues(name, v).build();
    }

    @Test
    void int64ViewsRefuseNonNumericIdsAndFractionalIntegers() throws Exception {
        try (FeatureStore s = FeatureStore.open(dir, List.of(accounts()), FeatureStoreListener.NONE)) {
            assertThatThrownBy(() -> s.write("account", List.of(
                    rec("42", 1, "balance", FeatureValue.newBuilder().setNumber(1).build()),
                    rec("abc", 1, "balance", FeatureValue.newBuilder().setNumber(1).build()))))
                    .isInstanceOf(FeatureStoreException.class)
                    .hasMessageContaining("records[1].entity_id: view 'account' has int64 account_id ids, got 'abc'");
            // the valid first record of the refused batch was not written either
            FeatureRow row = new FeatureRow(accounts());
            s.read("account", "42", 0, row, "id");
            assertThat(row.found()).isFalse();
            assertThatThrownBy(() -> s.write("account", List.of(
                    rec("42", 1, "visits", FeatureValue.newBuilder().setNumber(2.5).build()))))
                    .hasMessageContaining("records[0].values.visits: feature 'visits' is int64, got 2.5");
            assertThatThrownBy(() -> s.read("account", "x1", 0, row, "entity_ids[0]"))
                    .hasMessageContaining("entity_ids[0]: view 'account' has int64");
            assertThatThrownBy(() -> s.table("nope")).isInstanceOf(FeatureStoreException.class)
                    .hasMessageContaining("no feature view 'nope'; views: account");
            assertThat(s.write("account", List.of(rec("42", 1, "visits", FeatureValue.newBuilder().setInteger(3).build())))
                    .written()).isEqualTo(1);
            // int64 ids are canonical: "042" and "+42" are entity 42
            s.write("account", List.of(rec("+42", 2, "visits", FeatureValue.newBuilder().setInteger(9).build())));
            s.read("account", "042", 0, row, "id");
            assertThat(row.value(1)).isEqualTo(9);
            assertThat(s.table("account").size()).isEqualTo(1);
        }
    }

    @Test
    void aValueWithoutAKindOrAJsonNullNamesTheFeatureMissing() throws Exception {
        try (FeatureStore s = FeatureStore.open(dir, List.of(accounts()), FeatureStoreListener.NONE)) {
            FeatureRow row = new FeatureRow(accounts());
            s.write("account", List.of(FeatureRecord.newBuilder().setEntityId("7").setEventTimeMs(100)
                    .putValues("balance", FeatureValue.newBuilder().setNumber(5).build())
                    .putValues("visits", FeatureValue.newBuilder().setInteger(3).build()).build()));
            // balance named missing over the wire (gRPC / Kafka): DEFAULTED, visits kept (merge)
            s.write("account", List.of(rec("7", 200, "balance", FeatureValue.getDefaultInstance())));
            s.read("account", "7", 0, row, "id");
            assertThat(row.status(0)).isEqualTo(FeatureStatus.DEFAULTED);
            assertThat(row.value(1)).isEqualTo(3);
            // an older value does not bring it back; a newer one does
            s.write("account", List.of(rec("7", 150, "balance", FeatureValue.newBuilder().setNumber(6).build())));
            s.read("account", "7", 0, row, "id");
            assertThat(row.status(0)).isEqualTo(FeatureStatus.DEFAULTED);
            s.write("account", List.of(rec("7", 300, "balance", FeatureValue.newBuilder().setNumber(8).build())));
            s.read("account", "7", 0, row, "id");
            assertThat(row.value(0)).isEqualTo(8);
            // JSON null (REST and Kafka JSON records) is the same
            s.write("account", List.of(FeatureJson.record(new com.fasterxml.jackson.databind.ObjectMapper().readTree(
                    "{\"entity_id\": 7, \"event_time_ms\": 400, \"values\": {\"visits\": null}}"), null, "r")));
            s.read("account", "7", 0, row, "id");
            assertThat(row.status(1)).isEqualTo(FeatureStatus.DEFAULTED);
            assertThat(row.value(0)).isEqualTo(8);
        }
    }
}
