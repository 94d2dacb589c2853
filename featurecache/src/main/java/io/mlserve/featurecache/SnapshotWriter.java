package io.mlserve.featurecache;

import java.io.IOException;
import java.util.Arrays;
import java.util.List;

/**
 * What CSV and Parquet snapshots share: matching columns to the view by name (entity key, event time,
 * features; others ignored) and writing each row through the table's event-time ordering.
 */
final class SnapshotWriter {
    final RowTarget table;
    final FeatureView view;
    final int keyColumn;
    final int timeColumn;
    final int[] featureOfColumn;
    final String source;
    private final double[] values;
    private final boolean[] present;
    long rows;
    long applied;
    long ignored;

    SnapshotWriter(RowTarget table, List<String> columns, String eventTimeColumn, String source)
            throws IOException {
        this.table = table;
        this.view = table.view();
        this.source = source;
        this.keyColumn = columns.indexOf(view.entityKey());
        if (keyColumn < 0) {
            throw new IOException(source + ": no column '" + view.entityKey() + "' (the entity key of view '"
                    + view.name() + "'); columns: " + String.join(", ", columns));
        }
        this.timeColumn = columns.indexOf(eventTimeColumn);
        this.featureOfColumn = new int[columns.size()];
        int mapped = 0;
        for (int c = 0; c < columns.size(); c++) {
            featureOfColumn[c] = c == keyColumn || c == timeColumn ? -1 : view.indexOf(columns.get(c));
            if (featureOfColumn[c] >= 0) {
                mapped++;
            }
        }
        if (mapped == 0) {
            throw new IOException(source + ": no column is a feature of view '" + view.name() + "'");
        }
        this.values = new double[view.size()];
        this.present = new boolean[view.size()];
    }

    /** Starts a row: every feature absent. */
    void begin() {
        Arrays.fill(present, false);
    }

    /** Sets the feature of column {@code c} from a number. */
    void number(int c, double v) {
        int f = featureOfColumn[c];
        if (f >= 0) {
            values[f] = v;
            present[f] = true;
        }
    }

    /** Names the feature of column {@code c} as missing in this row (an empty cell, a null). */
    void missing(int c) {
        number(c, Double.NaN);
    }

    /** Sets the feature of column {@code c} from text: a category code, or a parsed number. */
    void text(int c, String cell, String where) throws IOException {
        int f = featureOfColumn[c];
        if (f < 0) {
            return;
        }
        if (cell.isEmpty()) {
            missing(c);
            return;
        }
        FeatureSpec spec = view.features().get(f);
        if (spec.type() == FeatureType.CATEGORICAL) {
            values[f] = table.categoryCode(f, cell);
        } else {
            try {
                values[f] = Double.parseDouble(cell);
            } catch (NumberFormatException e) {
                throw new IOException(where + ": '" + cell + "' is not a number (feature '" + spec.name() + "' is "
                        + spec.type() + ")");
            }
        }
        present[f] = true;
    }

    /** Writes the row. */
    void end(String entityId, long eventTimeMs, String where) throws IOException {
        String id;
        try {
            id = FeatureStore.checkEntityId(view, entityId, where + ": " + view.entityKey());
        } catch (FeatureStoreException e) {
            throw new IOException(e.getMessage());
        }
        if (table.write(id, eventTimeMs, values, present) == FeatureTable.WriteOutcome.APPLIED) {
            applied++;
        } else {
            ignored++;
        }
        rows++;
    }

    CsvSnapshot.LoadSummary summary(long startNanos) {
        return new CsvSnapshot.LoadSummary(rows, applied, ignored, (System.nanoTime() - startNanos) / 1e9);
    }
}
