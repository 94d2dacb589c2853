package io.mlserve.featurecache;

import java.nio.ByteBuffer;

/**
 * A reusable holder for one entity's features as read from a {@link FeatureTable}: values (defaults
 * already applied), a status per feature and the row's event time. Owned by one thread.
 */
public final class FeatureRow {
    final double[] values;
    final FeatureStatus[] statuses;
    long eventTimeMs = -1;
    boolean found;

    public FeatureRow(FeatureView view) {
        this.values = new double[view.size()];
        this.statuses = new FeatureStatus[view.size()];
    }

    /** Number of features in the row. */
    public int size() {
        return values.length;
    }

    public double value(int feature) {
        return values[feature];
    }

    public FeatureStatus status(int feature) {
        return statuses[feature];
    }

    /**
     * Event time of the stored row in ms since the epoch (in MERGE mode the newest applied write's), -1 when the
     * entity is unknown.
     */
    public long eventTimeMs() {
        return eventTimeMs;
    }

    public boolean found() {
        return found;
    }

    /** Writes the values as little-endian FP32 into {@code row} at {@code byteOffset} (a model input row). */
    public void copyAsFloats(ByteBuffer row, int byteOffset) {
        for (int i = 0; i < values.length; i++) {
            row.putFloat(byteOffset + (i << 2), (float) values[i]);
        }
    }
}
