package io.mlserve.featurecache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroupFactory;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A Spark-style Parquet directory (snappy part files, _SUCCESS marker) loads like a CSV would. */
class ParquetSnapshotTest {
    private static final MessageType SCHEMA = MessageTypeParser.parseMessageType("""
            message spark_schema {
              optional binary customer_id (STRING);
              optional int64 event_time;
              optional double tenure;
              optional float spend;
              optional binary plan (STRING);
              optional int32 ignored;
            }
            """);

    @TempDir
    Path dir;

    private static void writePart(Path file, int from, int to) throws Exception {
        SimpleGroupFactory f = new SimpleGroupFactory(SCHEMA);
        try (ParquetWriter<Group> w = ExampleParquetWriter.builder(new org.apache.hadoop.fs.Path(file.toUri()))
                .withType(SCHEMA).withConf(new Configuration(false))
                .withCompressionCodec(CompressionCodecName.SNAPPY).build()) {
            for (int i = from; i < to; i++) {
                Group g = f.newGroup().append("customer_id", "c" + i).append("event_time", 1000L + i)
                        .append("tenure", i * 1.5).append("ignored", 7);
                if (i % 2 == 0) {
                    g.append("spend", (float) i).append("plan", i % 4 == 0 ? "pro" : "basic");
                }
                w.write(g);
            }
        }
    }

    @Test
    void loadsASparkStyleDirectoryOfSnappyParts() throws Exception {
        Path out = Files.createDirectories(dir.resolve("snapshot.parquet"));
        writePart(out.resolve("part-00000.snappy.parquet"), 0, 500);
        writePart(out.resolve("part-00001.snappy.parquet"), 500, 1000);
        Files.writeString(out.resolve("_SUCCESS"), "");
        try (FeatureTable t = FeatureTable.open(dir.resolve("t"), CsvSnapshotTest.view(10_000))) {
            CsvSnapshot.LoadSummary s = ParquetSnapshot.load(out, t, "event_time", 0);
            assertThat(s.rows()).isEqualTo(1000);
            assertThat(s.applied()).isEqualTo(1000);
            FeatureRow row = new FeatureRow(t.view());
            t.read("c4", 0, row);
            assertThat(row.eventTimeMs()).isEqualTo(1004);
            assertThat(new double[] {row.value(0), row.value(1), row.value(2)}).containsExactly(6.0, 4.0, 1.0);
            t.read("c999", 0, row);
            assertThat(row.value(0)).isEqualTo(999 * 1.5);
            assertThat(row.status(1)).isEqualTo(FeatureStatus.DEFAULTED); // null spend
            // loading again changes nothing: equal event times win by arrival, same values
            assertThat(ParquetSnapshot.load(out, t, "event_time", 0).applied()).isEqualTo(1000);
            assertThat(t.size()).isEqualTo(1000);
        }
    }

    @Test
    void refusesAFileWithoutTheEntityKey() throws Exception {
        Path out = Files.createDirectories(dir.resolve("empty.parquet"));
        assertThatThrownBy(() -> {
            try (FeatureTable t = FeatureTable.open(dir.resolve("t"), CsvSnapshotTest.view(10))) {
                ParquetSnapshot.load(out, t, "event_time", 0);
            }
        }).hasMessageContaining("no .parquet files");
    }
}
