package io.mlserve.datagen;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HexFormat;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.example.GroupReadSupport;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The generator's stated properties, on a small data set. */
class ChurnDataGeneratorTest {
    private static final int ROWS = 30_000;

    @TempDir
    static Path dir;

    static List<String[]> rows;
    static List<String> header;
    static ChurnDataGenerator.Manifest manifest;

    @BeforeAll
    static void generate() throws Exception {
        manifest = new ChurnDataGenerator(new ChurnDataGenerator.Options(ROWS, 3, 7)).generate(dir.resolve("a"));
        List<String> lines = Files.readAllLines(dir.resolve("a/data.csv"));
        header = List.of(lines.get(0).split(",", -1));
        rows = lines.subList(1, lines.size()).stream().map(l -> l.split(",", -1)).toList();
    }

    private static int col(String name) {
        return header.indexOf(name);
    }

    private static String sha256(Path p) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
    }

    @Test
    void writesTheDocumentedColumnsAndIsDeterministicBySeed() throws Exception {
        assertThat(header).hasSize(2 + 47 + 1);
        assertThat(header.get(0)).isEqualTo("event_time");
        assertThat(header.get(1)).isEqualTo("customer_id");
        assertThat(header.get(header.size() - 1)).isEqualTo("churned");
        assertThat(rows).hasSize(ROWS);
        new ChurnDataGenerator(new ChurnDataGenerator.Options(ROWS, 3, 7)).generate(dir.resolve("b"));
        new ChurnDataGenerator(new ChurnDataGenerator.Options(ROWS, 3, 8)).generate(dir.resolve("c"));
        assertThat(sha256(dir.resolve("b/data.csv"))).isEqualTo(sha256(dir.resolve("a/data.csv")));
        assertThat(sha256(dir.resolve("b/manifest.json"))).isEqualTo(sha256(dir.resolve("a/manifest.json")));
        assertThat(sha256(dir.resolve("c/data.csv"))).isNotEqualTo(sha256(dir.resolve("a/data.csv")));
        long prev = 0;
        for (String[] r : rows) {
            long t = Long.parseLong(r[0]);
            assertThat(t).isGreaterThanOrEqualTo(prev);
            prev = t;
        }
    }

    @Test
    void aboutFifteenPercentChurnAndSomeMissingValues() {
        double positives = rows.stream().filter(r -> r[col("churned")].equals("1")).count() / (double) ROWS;
        assertThat(positives).isBetween(0.13, 0.17);
        assertThat(manifest.positiveRate()).isEqualTo(positives);
        double missing = rows.stream().filter(r -> r[col("satisfaction_score")].isEmpty()).count() / (double) ROWS;
        assertThat(missing).isBetween(0.01, 0.03);
        assertThat(rows.stream().filter(r -> r[col("payment_method")].isEmpty()).count()).isPositive();
    }

    private static double mean(String feature, long from, long to) {
        int c = col(feature);
        return rows.stream().filter(r -> {
            long t = Long.parseLong(r[0]);
            return t >= from && t < to && !r[c].isEmpty();
        }).mapToDouble(r -> Double.parseDouble(r[c])).average().orElseThrow();
    }

    @Test
    void driftsHappenWhereTheManifestSays() throws Exception {
        JsonNode m = new ObjectMapper().readTree(dir.resolve("a/manifest.json").toFile());
        assertThat(m.get("drifts").get(0).get("kind").asText()).isEqualTo("sudden");
        assertThat(m.get("drifts").get(0).get("labelRelationChanged").asBoolean()).isTrue();
        ChurnDataGenerator.Drift sudden = manifest.drifts().get(0);
        long month = 30L * 86_400_000L;
        assertThat(mean("monthly_charges", sudden.startMs(), sudden.startMs() + 3 * month))
                .isGreaterThan(1.15 * mean("monthly_charges", sudden.startMs() - 3 * month, sudden.startMs()));
        assertThat(mean("price_increase_pct", sudden.startMs(), sudden.endMs())).isGreaterThan(9);
        ChurnDataGenerator.Drift gradual = manifest.drifts().get(1);
        assertThat(gradual.kind()).isEqualTo("gradual");
        assertThat(mean("logins_30d", gradual.endMs(), gradual.endMs() + 3 * month))
                .isLessThan(0.8 * mean("logins_30d", gradual.startMs() - 3 * month, gradual.startMs()));
        List<ChurnDataGenerator.Drift> seasonal = manifest.drifts().stream()
                .filter(d -> d.kind().equals("seasonal")).toList();
        assertThat(seasonal).hasSize(3).allMatch(ChurnDataGenerator.Drift::recurring);
        double inSeason = mean("marketing_emails_30d", seasonal.get(0).startMs(), seasonal.get(0).endMs());
        long yearStart = Instant.parse("2022-03-01T00:00:00Z").atZone(ZoneOffset.UTC).toInstant().toEpochMilli();
        double outOfSeason = mean("marketing_emails_30d", yearStart, yearStart + 6 * month);
        assertThat(inSeason).isGreaterThan(2 * outOfSeason);
    }

    @Test
    void parquetHoldsTheSameRows() throws Exception {
        long n = 0;
        long positives = 0;
        try (ParquetReader<Group> r = ParquetReader.builder(new GroupReadSupport(),
                new org.apache.hadoop.fs.Path(dir.resolve("a/data.parquet").toUri())).withConf(new Configuration(false))
                .build()) {
            Group g;
            while ((g = r.read()) != null) {
                if (n == 0) {
                    assertThat(g.getLong("event_time", 0)).isEqualTo(Long.parseLong(rows.get(0)[0]));
                    assertThat(g.getString("customer_id", 0)).isEqualTo(rows.get(0)[1]);
                }
                positives += g.getInteger("churned", 0);
                n++;
            }
        }
        assertThat(n).isEqualTo(ROWS);
        assertThat(positives).isEqualTo(rows.stream().filter(r -> r[col("churned")].equals("1")).count());
    }
}
