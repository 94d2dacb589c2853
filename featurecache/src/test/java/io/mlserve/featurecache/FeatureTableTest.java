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

class FeatureTableTest {
    private static final long HOUR = 3_600_000L;

    @TempDir
    Path dir;

    static FeatureView view(Duration ttl, boolean serveStale) {
        return new FeatureView("customer", "customer_id", FeatureView.KeyType.STRING, List.of(
                FeatureSpec.numeric("tenure", -1),
                FeatureSpec.numeric("spend", 0),
                new FeatureSpec("plan", FeatureType.CATEGORICAL, List.of("basic", "plus", "pro"), 0, -1)),
                ttl, 10_000, serveStale);
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

    @Test
    void newerWritesApplyOlderAreIgnoredAndEqualTimesGoToTheLaterArrival() throws Exception {
        try (FeatureTable t = FeatureTable.open(dir, view(Duration.ZERO, false))) {
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

    @Test
    void valuesOlderThanTheTtlAreStale() throws Exception {
        long now = 1_700_000_000_000L;
        try (FeatureTable t = FeatureTable.open(dir.resolve("a"), view(Duration.ofHours(1), false))) {
            t.write("old", now - 2 * HOUR, new double[] {7, 7, 1}, new boolean[] {true, true, true});
            t.write("new", now - HOUR / 2, new double[] {5, 5, 1}, new boolean[] {true, true, true});
            FeatureRow row = new FeatureRow(t.view());
            t.read("old", now, row);
            assertThat(row.status(0)).isEqualTo(FeatureStatus.STALE);
            assertThat(row.value(0)).isEqualTo(-1); // the default
            t.read("new", now, row);
            assertThat(row.status(0)).isEqualTo(FeatureStatus.PRESENT);
        }
        try (FeatureTable t = FeatureTable.open(dir.resolve("b"), view(Duration.ofHours(1), true))) {
            t.write("old", now - 2 * HOUR, new double[] {7, 7, 1}, new boolean[] {true, true, true});
            FeatureRow row = new FeatureRow(t.view());
            t.read("old", now, row);
            assertThat(row.status(0)).isEqualTo(FeatureStatus.STALE);
            assertThat(row.value(0)).isEqualTo(7); // policy: serve the stale value
        }
    }

    @Test
    void survivesCloseAndReopen() throws Exception {
        try (FeatureTable t = FeatureTable.open(dir, view(Duration.ZERO, false))) {
            for (int i = 0; i < 1000; i++) {
                t.write("c" + i, i, new double[] {i, i * 2, 0}, new boolean[] {true, true, true});
            }
        }
        try (FeatureTable t = FeatureTable.open(dir, view(Duration.ZERO, false))) {
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

    @Test
    void everyAcknowledgedWriteSurvivesKillDashNine() throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String arg : java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (arg.startsWith("--add-") || arg.startsWith("-Dchronicle")) {
                cmd.add(arg);
            }
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Writer.class.getName(), dir.toString()));
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
        try (FeatureTable t = FeatureTable.open(dir, view(Duration.ZERO, false))) {
            assertThat(t.recovered()).isTrue();
            FeatureRow row = new FeatureRow(t.view());
            for (int i = 0; i <= acked; i++) {
                t.read("c" + i, 0, row);
                assertThat(row.found()).as("entity c" + i).isTrue();
                assertThat(row.value(0)).isEqualTo(i);
            }
        }
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

    /** The child process of the kill -9 test: writes entities forever, printing each one after its write returns. */
    public static final class Writer {
        public static void main(String[] args) throws Exception {
            try (FeatureTable t = FeatureTable.open(Path.of(args[0]), view(Duration.ZERO, false))) {
                boolean[] all = {true, true, true};
                for (int i = 0; ; i++) {
                    t.write("c" + i, i, new double[] {i, 0, 0}, all);
                    System.out.println(i);
                }
            }
        }
    }
}
