package io.mlserve.datagen;

import java.util.Arrays;

/** Generated churn records held in memory, in event-time order: what the drift-impact measurements read. */
final class ChurnTable {
    static final int NUMERIC = ChurnSchema.NUMERIC.size();
    static final int CATEGORIES = ChurnSchema.COLUMNS.size() - NUMERIC;

    final int n;
    final long[] time;
    /** n × {@link #NUMERIC}, NaN = missing. */
    final double[] numeric;
    /** n × {@link #CATEGORIES} vocabulary indexes, -1 = missing. */
    final byte[] category;
    final byte[] label;
    /** The generator's own logit: what an oracle knowing the data's every relation would score. */
    final double[] logit;

    private ChurnTable(int n) {
        this.n = n;
        time = new long[n];
        numeric = new double[n * NUMERIC];
        category = new byte[n * CATEGORIES];
        label = new byte[n];
        logit = new double[n];
    }

    static ChurnTable generate(ChurnDataGenerator.Options options) throws Exception {
        ChurnTable t = new ChurnTable(Math.toIntExact(options.rows()));
        int[] i = {0};
        new ChurnDataGenerator(options).stream(row -> {
            int k = i[0]++;
            t.time[k] = row.eventTime;
            System.arraycopy(row.numeric, 0, t.numeric, k * NUMERIC, NUMERIC);
            for (int c = 0; c < CATEGORIES; c++) {
                t.category[k * CATEGORIES + c] = (byte) row.category[c];
            }
            t.label[k] = (byte) row.churned;
            t.logit[k] = row.logit;
        });
        return t;
    }

    /** The first row at or after {@code ms}. */
    int rowAt(long ms) {
        int k = Arrays.binarySearch(time, ms);
        if (k < 0) {
            return -k - 1;
        }
        while (k > 0 && time[k - 1] == ms) {
            k--;
        }
        return k;
    }

    double number(int row, int feature) {
        return numeric[row * NUMERIC + feature];
    }

    int category(int row, int column) {
        return category[row * CATEGORIES + column];
    }
}
