package io.mlserve.explain;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The last {@code capacity} model input rows Predict assembled for one model, for the importance view. Writers take a
 * slot with one atomic increment and copy the row in (no lock, nothing allocated); a reader copies what is there. A
 * row being overwritten while read can come out mixed — an importance estimate over thousands of rows does not
 * notice one.
 */
public final class RecentRows {
    private final int width;
    private final int capacity;
    private final float[] rows;
    private final AtomicLong written = new AtomicLong();

    public RecentRows(int width, int capacity) {
        this.width = width;
        this.capacity = capacity;
        this.rows = new float[width * capacity];
    }

    public int width() {
        return width;
    }

    /** Records row {@code values[offset .. offset + width)}. */
    public void add(float[] values, int offset) {
        int slot = (int) (written.getAndIncrement() % capacity);
        System.arraycopy(values, offset, rows, slot * width, width);
    }

    /** A copy of the rows held (at most {@code capacity}), as one [rows × width] array. */
    public float[] snapshot() {
        int n = (int) Math.min(written.get(), capacity);
        float[] copy = new float[n * width];
        System.arraycopy(rows, 0, copy, 0, copy.length);
        return copy;
    }
}
