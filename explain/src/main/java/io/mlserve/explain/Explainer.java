package io.mlserve.explain;

/**
 * Per-feature contributions to one prediction's margin (log-odds for the trainer's classifiers): contributions plus
 * {@link #base()} equal the margin. {@link ExactExplainers#read} picks the exact method the graph allows.
 */
public interface Explainer {
    /** The margin with no feature's information: the starting point the contributions add to. */
    double base();

    /** Each model input's contribution for the row at {@code row[offset .. offset + width)}. */
    double[] contributions(float[] row, int offset);

    /** The method, its units and its error, for the answer. */
    String method();

    /** One row explained: the contributions and the method (with this row's error, for an estimate). */
    record Explanation(double[] contributions, String method) {
    }

    /** The row at {@code row[offset ..]} explained; exact explainers state no error beyond float rounding. */
    default Explanation explain(float[] row, int offset) {
        return new Explanation(contributions(row, offset), method());
    }
}
