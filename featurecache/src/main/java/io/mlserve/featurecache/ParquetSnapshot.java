package io.mlserve.featurecache;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.example.GroupReadSupport;
import org.apache.parquet.schema.LogicalTypeAnnotation;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType;
import org.apache.parquet.schema.Type;

/**
 * Bulk-loads a Parquet snapshot — a file, or a directory of part files as Spark's {@code df.write.parquet}
 * leaves it — into a feature table, with the same column matching and event-time ordering as
 * {@link CsvSnapshot}. Numbers may be int32/int64/float/double/boolean; strings (categories, or numbers as
 * text) are read as UTF-8; a null names its feature as missing (as CSV's empty cells: it reads back DEFAULTED in
 * both write modes, as batch scoring scores it).
 */
public final class ParquetSnapshot {
    private ParquetSnapshot() {
    }

    public static CsvSnapshot.LoadSummary load(Path parquet, RowTarget table, String eventTimeColumn,
                                               long defaultEventTimeMs) throws IOException {
        long start = System.nanoTime();
        List<Path> files = new ArrayList<>();
        if (java.nio.file.Files.isDirectory(parquet)) {
            try (var s = java.nio.file.Files.list(parquet)) {
                s.filter(p -> p.getFileName().toString().endsWith(".parquet")).sorted().forEach(files::add);
            }
            if (files.isEmpty()) {
                throw new IOException(parquet + ": no .parquet files in the directory");
            }
        } else {
            files.add(parquet);
        }
        long rows = 0;
        long applied = 0;
        long ignored = 0;
        Configuration conf = new Configuration(false);
        for (Path file : files) {
            // columns are matched per file: part files need not list them in the same order
            SnapshotWriter w = null;
            try (ParquetReader<Group> reader = ParquetReader.builder(new GroupReadSupport(),
                    new org.apache.hadoop.fs.Path(file.toAbsolutePath().toUri())).withConf(conf).build()) {
                Group g;
                List<String> columns = null;
                while ((g = reader.read()) != null) {
                    MessageType schema = (MessageType) g.getType();
                    if (columns == null) {
                        columns = new ArrayList<>();
                        for (Type t : schema.getFields()) {
                            columns.add(t.getName());
                        }
                        w = new SnapshotWriter(table, columns, eventTimeColumn, file.toString());
                    }
                    w.begin();
                    String where = file + ": row " + (w.rows + 1);
                    for (int c = 0; c < columns.size(); c++) {
                        if (c == w.keyColumn || c == w.timeColumn || w.featureOfColumn[c] < 0) {
                            continue;
                        }
                        if (g.getFieldRepetitionCount(c) == 0) {
                            w.missing(c);
                            continue;
                        }
                        Type t = schema.getType(c);
                        if (!t.isPrimitive()) {
                            throw new IOException(where + ": column '" + t.getName() + "' is not a primitive column");
                        }
                        switch (t.asPrimitiveType().getPrimitiveTypeName()) {
                            case DOUBLE -> w.number(c, g.getDouble(c, 0));
                            case FLOAT -> w.number(c, g.getFloat(c, 0));
                            case INT64 -> w.number(c, g.getLong(c, 0));
                            case INT32 -> w.number(c, g.getInteger(c, 0));
                            case BOOLEAN -> w.number(c, g.getBoolean(c, 0) ? 1 : 0);
                            case BINARY -> w.text(c, g.getString(c, 0), where + ": column '" + t.getName() + "'");
                            default -> throw new IOException(where + ": column '" + t.getName() + "' has type "
                                    + t.asPrimitiveType().getPrimitiveTypeName() + ", which a feature cannot hold");
                        }
                    }
                    long time = defaultEventTimeMs;
                    if (w.timeColumn >= 0 && g.getFieldRepetitionCount(w.timeColumn) > 0) {
                        time = eventTime(g, schema.getType(w.timeColumn).asPrimitiveType(), w.timeColumn, where,
                                eventTimeColumn);
                    }
                    if (g.getFieldRepetitionCount(w.keyColumn) == 0) {
                        throw new IOException(where + ": the entity key is null");
                    }
                    PrimitiveType kt = schema.getType(w.keyColumn).asPrimitiveType();
                    String id = kt.getPrimitiveTypeName() == PrimitiveType.PrimitiveTypeName.BINARY
                            ? g.getString(w.keyColumn, 0) : kt.getPrimitiveTypeName() == PrimitiveType.PrimitiveTypeName.INT64
                            ? Long.toString(g.getLong(w.keyColumn, 0)) : Integer.toString(g.getInteger(w.keyColumn, 0));
                    w.end(id, time, where);
                }
                if (w != null) {
                    rows += w.rows;
                    applied += w.applied;
                    ignored += w.ignored;
                }
            }
        }
        if (rows == 0) {
            throw new IOException(parquet + ": no rows");
        }
        return new CsvSnapshot.LoadSummary(rows, applied, ignored, (System.nanoTime() - start) / 1e9);
    }

    /** Epoch ms from an integer column; Parquet/Spark timestamps (micros, nanos) are converted. */
    private static long eventTime(Group g, PrimitiveType type, int column, String where, String name)
            throws IOException {
        long raw = switch (type.getPrimitiveTypeName()) {
            case INT64 -> g.getLong(column, 0);
            case INT32 -> g.getInteger(column, 0);
            default -> throw new IOException(where + ": column '" + name + "' must hold epoch milliseconds as an "
                    + "integer or a timestamp, is " + type.getPrimitiveTypeName());
        };
        if (type.getLogicalTypeAnnotation()
                instanceof LogicalTypeAnnotation.TimestampLogicalTypeAnnotation ts) {
            return switch (ts.getUnit()) {
                case MILLIS -> raw;
                case MICROS -> raw / 1_000;
                case NANOS -> raw / 1_000_000;
            };
        }
        return raw;
    }
}
