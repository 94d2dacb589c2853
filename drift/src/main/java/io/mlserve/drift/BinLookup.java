package io.mlserve.drift;

/**
 * The bin of a value among sorted inner edges (the count of edges ≤ v, 0 … edges.length) in a few operations: a
 * uniform grid over [first edge, last edge] remembers the bin at each cell's lower bound, and a step or two along
 * the edges finishes it. The answer is the binary search's for every value, whatever the rounding of the cell.
 */
final class BinLookup {
    private static final int CELLS_PER_EDGE = 8;

    private final double[] edges;
    private final double lo;
    private final double scale;
    private final int[] start;

    BinLookup(double[] edges) {
        this.edges = edges.clone();
        int m = edges.length;
        if (m < 2 || !(edges[m - 1] > edges[0])) {
            this.lo = m == 0 ? 0 : edges[0];
            this.scale = 0;
            this.start = new int[] {0};
            return;
        }
        int cells = m * CELLS_PER_EDGE;
        this.lo = edges[0];
        this.scale = cells / (edges[m - 1] - edges[0]);
        this.start = new int[cells + 1];
        int b = 0;
        for (int c = 0; c <= cells; c++) {
            double lower = lo + c / scale;
            while (b < m && edges[b] <= lower) {
                b++;
            }
            start[c] = b;
        }
    }

    int bin(float v) {
        double[] e = edges;
        int m = e.length;
        if (m == 0 || v < e[0]) {
            return 0;
        }
        if (v >= e[m - 1]) {
            return m;
        }
        if (v != v) {
            return 0;
        }
        int c = (int) ((v - lo) * scale);
        int b = start[Math.min(Math.max(c, 0), start.length - 1)];
        while (b > 0 && e[b - 1] > v) {
            b--;
        }
        while (b < m && e[b] <= v) {
            b++;
        }
        return b;
    }
}
