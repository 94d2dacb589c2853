package io.mlserve.featurecache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class FeatureTableTest {
    private static final long HOUR = 3_600_000L;

    @TempDir
    Path dir;

    private static final FeatureView.WriteMode MERGE = FeatureView.WriteMode.MERGE;
    private static final FeatureView.WriteMode REPLACE = FeatureView.WriteMode.REPLACE;
    private static final boolean[] TENURE = {true, false, false};
    private static final boolean[] SPEND_AND_PLAN = {false, true, true};
    private static final boolean[] ALL = {true, true, true};

    static FeatureView view(Duration ttl, boolean serveStale) {
        return new FeatureView("customer", "customer_id", FeatureView.KeyType.STRING, List.of(
                FeatureSpec.numeric("tenure", -1),
                FeatureSpec.numeric("spend", 0),
                new FeatureSpec("plan", FeatureType.CATEGORICAL, List.of("basic", "plus", "pro"), 0, -1)),
                ttl, 10_000, serveStale);
    }

    /** The same three features; {@code tenure} with its own ttl ({@code Duration.ZERO}: the view's). */
    static FeatureView view(FeatureView.WriteMode mode, Duration ttl, Duration tenureTtl, boolean serveStale) {
        return new FeatureView("customer", "customer_id", FeatureView.KeyType.STRING, List.of(
                new FeatureSpec("tenure", FeatureType.FLOAT32, List.of(), 0, -1, tenureTtl),
                FeatureSpec.numeric("spend", 0),
                new FeatureSpec("plan", FeatureType.CATEGORICAL, List.of("basic", "plus", "pro"), 0, -1)),
                ttl, 10_000, serveStale, mode);
    }

    static FeatureView view(FeatureView.WriteMode mode, Duration ttl, Duration tenureTtl) {
        return view(mode, ttl, tenureTtl, false);
    }

    static FeatureView view(FeatureView.WriteMode mode) {
        return view(mode, Duration.ZERO, Duration.ZERO);
    }

    private static double[] values(FeatureRow row) {
        return new double[] {row.value(0), row.value(1), row.value(2)};
    }

    private static FeatureStatus[] statuses(FeatureRow row) {
        return new FeatureStatus[] {row.status(0), row.status(1), row.status(2)};
    }

    @Test
    void readsBackWhatWasWrittenWithAStatusPerFeature() throws Exception {
        try (FeatureTable t = FeatureTable.open(dir, view(Duration.ZERO, false))) {
            long now = System.currentTimeMillis();
            t.write("c1", now, new double[] {12, 99.5, t.categoryCode(2, "pro")}, new boolean[] {true, true, true});
            t.write("c2", now, new double[] {3, 0, 0}, new boolean[] {true, false, false});
            FeatureRow row = new FeatureRow(t.view());
            t.read("c1", now, row);
            assertThat(row.found()).isTrue();
            assertThat(row.eventTimeMs()).isEqualTo(now);
            assertThat(new double[] {row.value(0), row.value(1), row.value(2)}).containsExactly(12, 99.5, 2);
            assertThat(row.status(0)).isEqualTo(FeatureStatus.PRESENT);
            t.read("c2", now, row);
            assertThat(new double[] {row.value(0), row.value(1), row.value(2)}).containsExactly(3, 0, -1);
            assertThat(row.status(1)).isEqualTo(FeatureStatus.DEFAULTED);
            t.read("nobody", now, row);
            assertThat(row.found()).isFalse();
            assertThat(row.status(0)).isEqualTo(FeatureStatus.MISSING);
            assertThat(row.value(0)).isEqualTo(-1);
            ByteBuffer model = ByteBuffer.allocateDirect(3 * 4).order(ByteOrder.LITTLE_ENDIAN);
            t.read("c1", now, row);
            row.copyAsFloats(model, 0);
            assertThat(model.getFloat(4)).isEqualTo(99.5f);
            assertThat(t.categoryCode(2, "enterprise")).isEqualTo(-1);
        }
    }

    @ParameterizedTest
    @EnumSource(FeatureView.WriteMode.class)
    void newerWritesApplyOlderAreIgnoredAndEqualTimesGoToTheLaterArrival(FeatureView.WriteMode mode) throws Exception {
        try (FeatureTable t = FeatureTable.open(dir, view(mode))) {
            boolean[] all = {true, true, true};
            long t0 = 1_700_000_000_000L;
            assertThat(t.write("c", t0, new double[] {1, 1, 0}, all)).isEqualTo(FeatureTable.WriteOutcome.APPLIED);
            assertThat(t.write("c", t0 + 1, new double[] {2, 2, 0}, all)).isEqualTo(FeatureTable.WriteOutcome.APPLIED);
            assertThat(t.write("c", t0, new double[] {9, 9, 0}, all)).isEqualTo(FeatureTable.WriteOutcome.IGNORED_OLDER);
            assertThat(t.write("c", t0 + 1, new double[] {3, 3, 0}, all)).isEqualTo(FeatureTable.WriteOutcome.APPLIED);
            FeatureRow row = new FeatureRow(t.view());
            t.read("c", t0 + 2, row);
            assertThat(row.value(0)).isEqualTo(3);
            assertThat(t.ignoredOlderWrites()).isEqualTo(1);
            assertThat(t.appliedWrites()).isEqualTo(3);
        }
    }

    @ParameterizedTest
    @EnumSource(FeatureView.WriteMode.class)
    void valuesOlderThanTheTtlAreStale(FeatureView.WriteMode mode) throws Exception {
        long now = 1_700_000_000_000L;
        try (FeatureTable t = FeatureTable.open(dir.resolve("a"), view(mode, Duration.ofHours(1), Duration.ZERO))) {
            t.write("old", now - 2 * HOUR, new double[] {7, 7, 1}, new boolean[] {true, true, true});
            t.write("new", now - HOUR / 2, new double[] {5, 5, 1}, new boolean[] {true, true, true});
            FeatureRow row = new FeatureRow(t.view());
            t.read("old", now, row);
            assertThat(row.status(0)).isEqualTo(FeatureStatus.STALE);
            assertThat(row.value(0)).isEqualTo(-1); // the default
            t.read("new", now, row);
            assertThat(row.status(0)).isEqualTo(FeatureStatus.PRESENT);
        }
        try (FeatureTable t = FeatureTable.open(dir.resolve("b"), view(mode, Duration.ofHours(1), Duration.ZERO, true))) {
            t.write("old", now - 2 * HOUR, new double[] {7, 7, 1}, new boolean[] {true, true, true});
            FeatureRow row = new FeatureRow(t.view());
            t.read("old", now, row);
            assertThat(row.status(0)).isEqualTo(FeatureStatus.STALE);
            assertThat(row.value(0)).isEqualTo(7); // policy: serve the stale value
        }
    }

    @ParameterizedTest
    @EnumSource(FeatureView.WriteMode.class)
    void survivesCloseAndReopen(FeatureView.WriteMode mode) throws Exception {
        try (FeatureTable t = FeatureTable.open(dir, view(mode))) {
            for (int i = 0; i < 1000; i++) {
                t.write("c" + i, i, new double[] {i, i * 2, 0}, new boolean[] {true, true, true});
            }
        }
        try (FeatureTable t = FeatureTable.open(dir, view(mode))) {
            assertThat(t.recovered()).isFalse();
            assertThat(t.size()).isEqualTo(1000);
            FeatureRow row = new FeatureRow(t.view());
            t.read("c777", 0, row);
            assertThat(row.value(1)).isEqualTo(1554);
        }
    }

    @Test
    void refusesAFileWrittenWithOtherFeaturesAndToleratesForeignMarkers() throws Exception {
        try (FeatureTable t = FeatureTable.open(dir, view(Duration.ZERO, false))) {
            t.write("c", 1, new double[] {1, 2, 0}, new boolean[] {true, true, true});
        }
        FeatureView changed = new FeatureView("customer", "customer_id", FeatureView.KeyType.STRING,
                List.of(FeatureSpec.numeric("tenure", -1)), Duration.ZERO, 10_000, false);
        assertThatThrownBy(() -> FeatureTable.open(dir, changed)).hasMessageContaining("has other features");
        java.nio.file.Files.writeString(dir.resolve("customer.cmap.open.backup"), "");
        // a marker left by this very pid (a restarted container) means the last run died with the file open
        java.nio.file.Files.writeString(dir.resolve("customer.cmap.open." + ProcessHandle.current().pid()), "");
        try (FeatureTable t = FeatureTable.open(dir, view(Duration.ZERO, false))) {
            assertThat(t.recovered()).isTrue();
            FeatureRow row = new FeatureRow(t.view());
            t.read("c", 0, row);
            assertThat(row.value(1)).isEqualTo(2);
        }
    }

    @ParameterizedTest
    @EnumSource(FeatureView.WriteMode.class)
    void everyAcknowledgedWriteSurvivesKillDashNine(FeatureView.WriteMode mode) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String arg : java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (arg.startsWith("--add-") || arg.startsWith("-Dchronicle")) {
                cmd.add(arg);
            }
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Writer.class.getName(), dir.toString(),
                mode.name()));
        Path stderr = dir.resolve("writer.err");
        Process p = new ProcessBuilder(cmd).redirectError(stderr.toFile()).start();
        int acked = -1;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                acked = Integer.parseInt(line.trim());
                if (acked >= 20_000) {
                    p.destroyForcibly(); // SIGKILL while it keeps writing
                    break;
                }
            }
        }
        assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
        assertThat(acked).as("acknowledged writes; writer stderr: %s", java.nio.file.Files.readString(stderr))
                .isGreaterThanOrEqualTo(20_000);
        try (FeatureTable t = FeatureTable.open(dir, view(mode))) {
            assertThat(t.recovered()).isTrue();
            FeatureRow row = new FeatureRow(t.view());
            for (int i = 0; i <= acked; i++) {
                t.read("c" + i, 0, row);
                assertThat(row.found()).as("entity c" + i).isTrue();
                assertThat(row.value(0)).isEqualTo(i);
                if (mode == MERGE) {
                    assertThat(row.value(1)).as("entity c" + i).isEqualTo(2.0 * i);
                    t.read("c" + i / 2, 0, row);
                    assertThat(row.value(2)).as("entity c" + i / 2).isEqualTo(1);
                }
            }
        }
    }

    @Test
    void theDefaultWriteModeIsMerge() {
        assertThat(view(Duration.ZERO, false).writeMode()).isEqualTo(MERGE);
        assertThat(FeatureSpec.numeric("x", 0).ttl()).isEqualTo(Duration.ZERO);
    }

    @Test
    void twoPartialStreamsMergeIntoOneRow() throws Exception {
        long t0 = 1_700_000_000_000L;
        try (FeatureTable t = FeatureTable.open(dir, view(MERGE))) {
            // usage events know tenure, billing events know spend and plan; each keeps the other's features
            assertThat(t.write("c", t0, new double[] {12, 0, 0}, TENURE)).isEqualTo(FeatureTable.WriteOutcome.APPLIED);
            assertThat(t.write("c", t0 + 5, new double[] {0, 99.5, 2}, SPEND_AND_PLAN))
                    .isEqualTo(FeatureTable.WriteOutcome.APPLIED);
            assertThat(t.write("c", t0 + 3, new double[] {13, 0, 0}, TENURE)).isEqualTo(FeatureTable.WriteOutcome.APPLIED);
            FeatureRow row = new FeatureRow(t.view());
            t.read("c", t0 + 10, row);
            assertThat(values(row)).containsExactly(13, 99.5, 2);
            assertThat(statuses(row)).containsOnly(FeatureStatus.PRESENT);
            assertThat(row.eventTimeMs()).isEqualTo(t0 + 5); // the newest write's
            // a stream that never sent a feature leaves it DEFAULTED
            t.write("d", t0, new double[] {0, 7, 0}, new boolean[] {false, true, false});
            t.read("d", t0, row);
            assertThat(statuses(row)).containsExactly(FeatureStatus.DEFAULTED, FeatureStatus.PRESENT,
                    FeatureStatus.DEFAULTED);
            assertThat(values(row)).containsExactly(-1, 7, -1);
        }
    }

    @Test
    void anOlderPartialWriteIsIgnoredForTheFeaturesItNamesAndLeavesTheOthers() throws Exception {
        long t0 = 1_700_000_000_000L;
        try (FeatureTable t = FeatureTable.open(dir, view(MERGE))) {
            t.write("c", t0 + 10, new double[] {1, 10, 1}, ALL);
            t.write("c", t0 + 20, new double[] {0, 20, 0}, new boolean[] {false, true, false});
            // every feature it names is newer in the store: the whole write is ignored
            assertThat(t.write("c", t0 + 5, new double[] {9, 9, 0}, new boolean[] {true, true, false}))
                    .isEqualTo(FeatureTable.WriteOutcome.IGNORED_OLDER);
            // tenure (stored at +10) is older than +15, spend (stored at +20) is not: tenure applies, spend keeps 20
            assertThat(t.write("c", t0 + 15, new double[] {2, 15, 0}, new boolean[] {true, true, false}))
                    .isEqualTo(FeatureTable.WriteOutcome.APPLIED);
            FeatureRow row = new FeatureRow(t.view());
            t.read("c", t0 + 30, row);
            assertThat(values(row)).containsExactly(2, 20, 1);
            assertThat(row.eventTimeMs()).isEqualTo(t0 + 20);
            assertThat(t.appliedWrites()).isEqualTo(3);
            assertThat(t.ignoredOlderWrites()).isEqualTo(1);
        }
    }

    @Test
    void atEqualEventTimeTheLaterArrivalWinsPerFeature() throws Exception {
        long t0 = 1_700_000_000_000L;
        try (FeatureTable t = FeatureTable.open(dir, view(MERGE))) {
            t.write("c", t0, new double[] {1, 1, 1}, ALL);
            assertThat(t.write("c", t0, new double[] {0, 2, 0}, new boolean[] {false, true, false}))
                    .isEqualTo(FeatureTable.WriteOutcome.APPLIED);
            assertThat(t.write("c", t0, new double[] {3, 0, 0}, TENURE)).isEqualTo(FeatureTable.WriteOutcome.APPLIED);
            FeatureRow row = new FeatureRow(t.view());
            t.read("c", t0, row);
            assertThat(values(row)).containsExactly(3, 2, 1);
        }
    }

    @Test
    void aMergeWriteThatNamesNoFeatureChangesNothing() throws Exception {
        long t0 = 1_700_000_000_000L;
        boolean[] none = {false, false, false};
        try (FeatureTable t = FeatureTable.open(dir, view(MERGE))) {
            assertThat(t.write("new", t0, new double[3], none)).isEqualTo(FeatureTable.WriteOutcome.APPLIED);
            t.write("c", t0, new double[] {1, 1, 1}, ALL);
            assertThat(t.write("c", t0 + 1, new double[3], none)).isEqualTo(FeatureTable.WriteOutcome.APPLIED);
            FeatureRow row = new FeatureRow(t.view());
            t.read("new", t0, row);
            assertThat(row.found()).isFalse();
            t.read("c", t0, row);
            assertThat(values(row)).containsExactly(1, 1, 1);
            assertThat(row.eventTimeMs()).isEqualTo(t0);
        }
    }

    @Test
    void replaceModeResetsOmittedFeaturesToTheirDefaults() throws Exception {
        long t0 = 1_700_000_000_000L;
        try (FeatureTable t = FeatureTable.open(dir, view(REPLACE))) {
            t.write("c", t0, new double[] {12, 99.5, 2}, ALL);
            assertThat(t.write("c", t0 + 1, new double[] {0, 50, 1}, SPEND_AND_PLAN))
                    .isEqualTo(FeatureTable.WriteOutcome.APPLIED);
            // an older write is ignored whole, even for features the stored row lacks
            assertThat(t.write("c", t0, new double[] {7, 0, 0}, TENURE))
                    .isEqualTo(FeatureTable.WriteOutcome.IGNORED_OLDER);
            FeatureRow row = new FeatureRow(t.view());
            t.read("c", t0 + 1, row);
            assertThat(values(row)).containsExactly(-1, 50, 1);
            assertThat(row.status(0)).isEqualTo(FeatureStatus.DEFAULTED);
        }
    }

    @Test
    void aFeatureWithAShortTtlGoesStaleByItsOwnAgeInMergeMode() throws Exception {
        long now = 1_700_000_000_000L;
        try (FeatureTable t = FeatureTable.open(dir, view(MERGE, Duration.ofDays(1), Duration.ofHours(1)))) {
            t.write("c", now - 2 * HOUR, new double[] {12, 99.5, 2}, ALL);
            FeatureRow row = new FeatureRow(t.view());
            t.read("c", now, row);
            assertThat(statuses(row)).containsExactly(FeatureStatus.STALE, FeatureStatus.PRESENT, FeatureStatus.PRESENT);
            assertThat(values(row)).containsExactly(-1, 99.5, 2);
            // fresh billing values do not refresh tenure: its age is its own
            t.write("c", now, new double[] {0, 60, 1}, SPEND_AND_PLAN);
            t.read("c", now, row);
            assertThat(row.status(0)).isEqualTo(FeatureStatus.STALE);
            // the view's ttl applies to each feature's own age too
            t.write("d", now - 2 * HOUR, new double[] {3, 0, 0}, TENURE);
            t.write("d", now - 26 * HOUR, new double[] {0, 4, 0}, new boolean[] {false, true, false});
            t.read("d", now - HOUR - HOUR / 2, row);
            assertThat(statuses(row)).containsExactly(FeatureStatus.PRESENT, FeatureStatus.STALE,
                    FeatureStatus.DEFAULTED);
        }
    }

    @Test
    void aFeatureTtlCountsFromTheRowsTimeInReplaceMode() throws Exception {
        long now = 1_700_000_000_000L;
        try (FeatureTable t = FeatureTable.open(dir, view(REPLACE, Duration.ofDays(1), Duration.ofHours(1)))) {
            t.write("c", now - 2 * HOUR, new double[] {12, 99.5, 2}, ALL);
            FeatureRow row = new FeatureRow(t.view());
            t.read("c", now, row);
            assertThat(statuses(row)).containsExactly(FeatureStatus.STALE, FeatureStatus.PRESENT, FeatureStatus.PRESENT);
            t.read("c", now - HOUR - 1, row);
            assertThat(row.status(0)).isEqualTo(FeatureStatus.PRESENT);
            t.read("c", now + 23 * HOUR, row);
            assertThat(statuses(row)).containsOnly(FeatureStatus.STALE);
        }
    }

    @Test
    void refusesToReopenATableInTheOtherWriteMode() throws Exception {
        try (FeatureTable t = FeatureTable.open(dir.resolve("m"), view(MERGE))) {
            t.write("c", 1, new double[] {1, 2, 0}, ALL);
        }
        assertThatThrownBy(() -> FeatureTable.open(dir.resolve("m"), view(REPLACE)))
                .hasMessageContaining("feature view 'customer' has write_mode replace")
                .hasMessageContaining("was written with write_mode merge")
                .hasMessageContaining("set 'write_mode: merge'");
        try (FeatureTable t = FeatureTable.open(dir.resolve("r"), view(REPLACE))) {
            t.write("c", 1, new double[] {1, 2, 0}, ALL);
        }
        assertThatThrownBy(() -> FeatureTable.open(dir.resolve("r"), view(MERGE)))
                .hasMessageContaining("was written with write_mode replace");
        try (FeatureTable t = FeatureTable.open(dir.resolve("m"), view(MERGE))) {
            FeatureRow row = new FeatureRow(t.view());
            t.read("c", 1, row);
            assertThat(row.value(1)).isEqualTo(2);
        }
    }

    @Test
    void aTableFromBeforeWriteModesIsAReplaceTable() throws Exception {
        try (FeatureTable t = FeatureTable.open(dir, view(REPLACE))) {
            t.write("c", 1, new double[] {1, 2, 0}, ALL);
        }
        // the schema file as releases before write modes left it: the feature lines only
        Path schema = dir.resolve("customer.cmap.schema");
        java.nio.file.Files.writeString(schema, "tenure FLOAT32\nspend FLOAT32\nplan CATEGORICAL\n");
        assertThatThrownBy(() -> FeatureTable.open(dir, view(MERGE)))
                .hasMessageContaining("written before write modes existed")
                .hasMessageContaining("set 'write_mode: replace'")
                .hasMessageContaining("move the file away");
        try (FeatureTable t = FeatureTable.open(dir, view(REPLACE))) {
            FeatureRow row = new FeatureRow(t.view());
            t.read("c", 1, row);
            assertThat(values(row)).containsExactly(1, 2, 0);
        }
        assertThat(java.nio.file.Files.readString(schema)).doesNotContain("write_mode");
    }

    @Test
    void rejectsMalformedViewsAndRows() throws Exception {
        assertThatThrownBy(() -> new FeatureView("bad name", "id", FeatureView.KeyType.STRING,
                List.of(FeatureSpec.numeric("a", 0)), Duration.ZERO, 10, false)).hasMessageContaining("bad name");
        assertThatThrownBy(() -> new FeatureView("v", "id", FeatureView.KeyType.STRING,
                List.of(FeatureSpec.numeric("a", 0), FeatureSpec.numeric("a", 0)), Duration.ZERO, 10, false))
                .hasMessageContaining("'a' twice");
        assertThatThrownBy(() -> new FeatureSpec("c", FeatureType.CATEGORICAL, List.of(), 0, 0))
                .hasMessageContaining("vocabulary or hash_buckets");
        try (FeatureTable t = FeatureTable.open(dir, view(Duration.ZERO, false))) {
            assertThatThrownBy(() -> t.write("c", 1, new double[2], new boolean[2])).hasMessageContaining("3 features");
            assertThatThrownBy(() -> t.write("", 1, new double[3], new boolean[3])).hasMessageContaining("empty");
            assertThat(t.key(1234567890123L).toString()).isEqualTo("1234567890123");
        }
    }

    /**
     * The child process of the kill -9 test: writes entities forever, printing each one after its writes return.
     * In MERGE mode an entity gets two partial writes, and an earlier entity a third that merges into its row.
     */
    public static final class Writer {
        public static void main(String[] args) throws Exception {
            FeatureView.WriteMode mode = FeatureView.WriteMode.valueOf(args[1]);
            try (FeatureTable t = FeatureTable.open(Path.of(args[0]), view(mode))) {
                for (int i = 0; ; i++) {
                    if (mode == MERGE) {
                        t.write("c" + i, i, new double[] {i, 0, 0}, TENURE);
                        t.write("c" + i, i, new double[] {0, 2.0 * i, 0}, new boolean[] {false, true, false});
                        t.write("c" + i / 2, i, new double[] {0, 0, 1}, new boolean[] {false, false, true});
                    } else {
                        t.write("c" + i, i, new double[] {i, 0, 0}, ALL);
                    }
                    System.out.println(i);
                }
            }
        }
    }
}
