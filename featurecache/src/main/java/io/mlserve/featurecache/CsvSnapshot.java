package io.mlserve.featurecache;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Bulk-loads a CSV snapshot (header row; one row per entity; what Spark's {@code df.write.csv(header=true)}
 * writes) into a feature table. Columns are matched by name: the view's entity key, an event time column
 * (epoch ms), and any of the view's features; other columns are ignored and features without a column are
 * left out of the rows. Empty cells are absent features: in a REPLACE view they read back DEFAULTED, in a MERGE
 * view they leave the stored value as it is. Rows go through the same event-time ordering as every other write,
 * so loading a snapshot twice, or one older than the stream, changes nothing that is newer.
 */
public final class CsvSnapshot {
    private CsvSnapshot() {
    }

    /** What a load did. */
    public record LoadSummary(long rows, long applied, long ignoredOlder, double seconds) {
    }

    /**
     * Loads {@code csv} into {@code table}.
     *
     * @param eventTimeColumn the column holding each row's event time in ms since the epoch; when the file
     *                        has no such column, every row gets {@code defaultEventTimeMs}
     */
    public static LoadSummary load(Path csv, RowTarget table, String eventTimeColumn, long defaultEventTimeMs)
            throws IOException {
        long start = System.nanoTime();
        try (BufferedReader in = Files.newBufferedReader(csv, StandardCharsets.UTF_8)) {
            String header = in.readLine();
            if (header == null) {
                throw new IOException(csv + ": empty file; expected a header row");
            }
            List<String> names = split(header, csv, 1);
            SnapshotWriter w = new SnapshotWriter(table, names, eventTimeColumn, csv.toString());
            String line;
            int lineNo = 1;
            while ((line = in.readLine()) != null) {
                lineNo++;
                if (line.isEmpty()) {
                    continue;
                }
                List<String> cells = split(line, csv, lineNo);
                if (cells.size() != names.size()) {
                    throw new IOException(csv + ":" + lineNo + ": " + cells.size() + " cells, the header has "
                            + names.size());
                }
                w.begin();
                for (int c = 0; c < cells.size(); c++) {
                    w.text(c, cells.get(c), csv + ":" + lineNo + ": column '" + names.get(c) + "'");
                }
                long time = defaultEventTimeMs;
                if (w.timeColumn >= 0) {
                    try {
                        time = Long.parseLong(cells.get(w.timeColumn));
                    } catch (NumberFormatException e) {
                        throw new IOException(csv + ":" + lineNo + ": column '" + eventTimeColumn + "': '"
                                + cells.get(w.timeColumn) + "' is not epoch milliseconds");
                    }
                }
                w.end(cells.get(w.keyColumn), time, csv + ":" + lineNo);
            }
            return w.summary(start);
        }
    }

    /** Splits one CSV line: commas, and double-quoted cells with "" for a quote. */
    static List<String> split(String line, Path file, int lineNo) throws IOException {
        List<String> cells = new ArrayList<>();
        StringBuilder cell = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < line.length(); i++) {
            char ch = line.charAt(i);
            if (quoted) {
                if (ch == '"') {
                    if (i + 1 < line.length() && line.charAt(i + 1) == '"') {
                        cell.append('"');
                        i++;
                    } else {
                        quoted = false;
                    }
                } else {
                    cell.append(ch);
                }
            } else if (ch == '"') {
                quoted = true;
            } else if (ch == ',') {
                cells.add(cell.toString());
                cell.setLength(0);
            } else {
                cell.append(ch);
            }
        }
        if (quoted) {
            throw new IOException(file + ":" + lineNo + ": unterminated quoted cell");
        }
        cells.add(cell.toString());
        return cells;
    }
}
