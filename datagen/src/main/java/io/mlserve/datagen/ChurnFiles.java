package io.mlserve.datagen;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroupFactory;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;

/**
 * The churn data set's files, {@code data.csv} and {@code data.parquet} side by side: {@code event_time} (ms),
 * {@code customer_id}, the {@link ChurnSchema} columns (numbers with four decimals, categories as their names, empty
 * / absent when missing) and {@code churned}. What {@code ./mlserve datagen} writes and {@code ./mlserve train}
 * reads; the prediction log's export writes the same, so the trainer cannot tell served data from generated.
 */
public final class ChurnFiles implements AutoCloseable {
    private static final MessageType SCHEMA = schema();
    private final Path out;
    private final BufferedWriter csv;
    private final ParquetWriter<Group> parquet;
    private final SimpleGroupFactory groups = new SimpleGroupFactory(SCHEMA);
    private final StringBuilder line = new StringBuilder(640);
    private long rows;

    /** Creates (or replaces) the two files in {@code out}. */
    public ChurnFiles(Path out) throws IOException {
        this.out = out;
        Files.createDirectories(out);
        Path pq = out.resolve("data.parquet");
        Files.deleteIfExists(pq);
        csv = Files.newBufferedWriter(out.resolve("data.csv"));
        try {
            parquet = ExampleParquetWriter.builder(new org.apache.hadoop.fs.Path(pq.toUri())).withType(SCHEMA)
                    .withConf(new Configuration(false)).withCompressionCodec(CompressionCodecName.SNAPPY).build();
        } catch (IOException | RuntimeException e) {
            csv.close();
            throw e;
        }
        csv.write(String.join(",", columns()));
        csv.newLine();
    }

    /** The header: event_time, customer_id, every {@link ChurnSchema} column, churned. */
    public static List<String> columns() {
        List<String> h = new ArrayList<>(List.of("event_time", "customer_id"));
        ChurnSchema.COLUMNS.forEach(c -> h.add(c.name()));
        h.add("churned");
        return h;
    }

    /**
     * Writes one record.
     *
     * @param numeric    {@link ChurnSchema#NUMERIC} in order, NaN = missing
     * @param categories the categorical columns in {@link ChurnSchema#COLUMNS} order, null = missing
     */
    public void write(long eventTime, String customerId, double[] numeric, String[] categories, int churned)
            throws IOException {
        line.setLength(0);
        line.append(eventTime).append(',').append(customerId);
        Group g = groups.newGroup().append("event_time", eventTime).append("customer_id", customerId);
        for (int i = 0; i < numeric.length; i++) {
            line.append(',');
            if (!Double.isNaN(numeric[i])) {
                appendNumber(line, numeric[i]);
                g.append(ChurnSchema.NUMERIC.get(i), Math.round(numeric[i] * 10_000) / 10_000.0);
            }
        }
        for (int k = 0; k < categories.length; k++) {
            line.append(',');
            if (categories[k] != null) {
                line.append(categories[k]);
                g.append(ChurnSchema.COLUMNS.get(ChurnSchema.NUMERIC.size() + k).name(), categories[k]);
            }
        }
        line.append(',').append(churned);
        csv.write(line.toString());
        csv.newLine();
        parquet.write(g.append("churned", churned));
        rows++;
    }

    public long rows() {
        return rows;
    }

    /** Four decimals, integers without a fraction: compact and exact enough for features. */
    static void appendNumber(StringBuilder sb, double v) {
        long scaled = Math.round(v * 10_000);
        if (scaled % 10_000 == 0) {
            sb.append(scaled / 10_000);
            return;
        }
        sb.append(scaled / 10_000.0);
    }

    @Override
    public void close() throws IOException {
        try (csv) {
            parquet.close();
        }
        // Hadoop's local file system leaves a checksum file beside what it writes; it is not part of the data
        Files.deleteIfExists(out.resolve(".data.parquet.crc"));
    }

    private static MessageType schema() {
        StringBuilder s = new StringBuilder("message churn {\n  required int64 event_time;\n"
                + "  required binary customer_id (STRING);\n");
        for (ChurnSchema.Column c : ChurnSchema.COLUMNS) {
            s.append(c.categorical() ? "  optional binary " + c.name() + " (STRING);\n"
                    : "  optional double " + c.name() + ";\n");
        }
        s.append("  required int32 churned;\n}\n");
        return MessageTypeParser.parseMessageType(s.toString());
    }
}
