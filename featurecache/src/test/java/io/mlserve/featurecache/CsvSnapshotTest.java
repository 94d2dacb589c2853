package io.mlserve.featurecache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CsvSnapshotTest {
    @TempDir
    Path dir;

    static FeatureView view(long max) {
        return new FeatureView("customer", "customer_id", FeatureView.KeyType.STRING, List.of(
                FeatureSpec.numeric("tenure", -1), FeatureSpec.numeric("spend", 0),
                new FeatureSpec("plan", FeatureType.CATEGORICAL, List.of("basic", "pro"), 0, -1)),
                Duration.ZERO, max, false);
    }

    @Test
    void loadsRowsByHeaderNameWithEventTimeOrdering() throws Exception {
        Path csv = dir.resolve("snap.csv");
        Files.writeString(csv, """
                customer_id,event_time,tenure,ignored,plan,spend
                c1,100,12,x,pro,3.5
                "c,2",100,,y,basic,1
                c1,50,99,z,basic,0
                """);
        try (FeatureTable t = FeatureTable.open(dir.resolve("t"), view(1000))) {
            CsvSnapshot.LoadSummary s = CsvSnapshot.load(csv, t, "event_time", 0);
            assertThat(s.rows()).isEqualTo(3);
            assertThat(s.applied()).isEqualTo(2);
            assertThat(s.ignoredOlder()).isEqualTo(1);
            FeatureRow row = new FeatureRow(t.view());
            t.read("c1", 0, row);
            assertThat(new double[] {row.value(0), row.value(1), row.value(2)}).containsExactly(12, 3.5, 1);
            t.read("c,2", 0, row);
            assertThat(row.status(0)).isEqualTo(FeatureStatus.DEFAULTED);
            assertThat(row.value(2)).isEqualTo(0);
        }
    }

    @Test
    void anEmptyCellNamesItsFeatureMissingAndAnAbsentColumnLeavesItInAMergeView() throws Exception {
        Path first = Files.writeString(dir.resolve("first.csv"), "customer_id,event_time,tenure,spend\nc1,100,12,3.5\n");
        Path second = Files.writeString(dir.resolve("second.csv"), "customer_id,event_time,tenure,spend\nc1,200,,4.5\n");
        Path older = Files.writeString(dir.resolve("older.csv"), "customer_id,event_time,tenure\nc1,150,13\n");
        Path spendOnly = Files.writeString(dir.resolve("spend.csv"), "customer_id,event_time,spend\nc1,500,5.5\n");
        Path newer = Files.writeString(dir.resolve("newer.csv"), "customer_id,event_time,tenure\nc1,400,14\n");
        for (FeatureView.WriteMode mode : FeatureView.WriteMode.values()) {
            FeatureView v = view(1000);
            v = new FeatureView(v.name(), v.entityKey(), v.keyType(), v.features(), v.ttl(), v.maxEntities(),
                    v.serveStale(), mode);
            try (FeatureTable t = FeatureTable.open(dir.resolve(mode.name()), v)) {
                FeatureRow row = new FeatureRow(t.view());
                CsvSnapshot.load(first, t, "event_time", 0);
                assertThat(CsvSnapshot.load(second, t, "event_time", 0).applied()).isEqualTo(1);
                t.read("c1", 0, row);
                // the empty cell is the row's value: missing, as batch scoring scores that row
                assertThat(row.value(1)).isEqualTo(4.5);
                assertThat(row.status(0)).isEqualTo(FeatureStatus.DEFAULTED);
                // an older value of it does not bring it back
                assertThat(CsvSnapshot.load(older, t, "event_time", 0).ignoredOlder()).isEqualTo(1);
                t.read("c1", 0, row);
                assertThat(row.status(0)).isEqualTo(FeatureStatus.DEFAULTED);
                CsvSnapshot.load(newer, t, "event_time", 0);
                CsvSnapshot.load(spendOnly, t, "event_time", 0);
                t.read("c1", 0, row);
                assertThat(row.value(1)).isEqualTo(5.5);
                if (mode == FeatureView.WriteMode.MERGE) {
                    // a file without the tenure column leaves tenure as it was
                    assertThat(row.value(0)).isEqualTo(14);
                    assertThat(row.status(0)).isEqualTo(FeatureStatus.PRESENT);
                } else {
                    assertThat(row.status(0)).isEqualTo(FeatureStatus.DEFAULTED);
                }
            }
        }
    }

    @Test
    void reportsFileLineAndColumnOfBadCells() throws Exception {
        Path csv = dir.resolve("bad.csv");
        Files.writeString(csv, "customer_id,event_time,tenure\nc1,100,twelve\n");
        try (FeatureTable t = FeatureTable.open(dir.resolve("t"), view(1000))) {
            assertThatThrownBy(() -> CsvSnapshot.load(csv, t, "event_time", 0))
                    .hasMessageContaining("bad.csv:2: column 'tenure': 'twelve' is not a number");
            Files.writeString(csv, "id,tenure\nc1,1\n");
            assertThatThrownBy(() -> CsvSnapshot.load(csv, t, "event_time", 0))
                    .hasMessageContaining("no column 'customer_id'");
        }
    }

    @Test
    void loadsAHundredThousandEntitiesQuickly() throws Exception {
        Path csv = dir.resolve("big.csv");
        List<String> header = new ArrayList<>(List.of("customer_id", "event_time", "tenure", "spend", "plan"));
        try (BufferedWriter w = Files.newBufferedWriter(csv)) {
            w.write(String.join(",", header));
            w.newLine();
            for (int i = 0; i < 100_000; i++) {
                w.write("c" + i + "," + (1000 + i) + "," + (i % 72) + "," + (i * 0.25) + "," + (i % 2 == 0 ? "pro" : "basic"));
                w.newLine();
            }
        }
        try (FeatureTable t = FeatureTable.open(dir.resolve("t"), view(200_000))) {
            CsvSnapshot.LoadSummary s = CsvSnapshot.load(csv, t, "event_time", 0);
            assertThat(s.applied()).isEqualTo(100_000);
            assertThat(t.size()).isEqualTo(100_000);
            assertThat(s.seconds()).isLessThan(30);
            FeatureRow row = new FeatureRow(t.view());
            t.read("c99999", 0, row);
            assertThat(row.value(1)).isEqualTo(99999 * 0.25);
        }
    }
}
