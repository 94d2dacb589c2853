package io.mlserve.server.explain;

import io.mlserve.proto.onnx.ModelProto;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Per-feature contributions to one prediction's margin (log-odds for the trainer's classifiers): contributions plus
 * {@link #base()} equal the margin. {@link #read} picks the exact method the graph allows.
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

    /**
     * The explainer of the model at {@code onnx} with {@code width} inputs: exact for the trainer's logistic
     * regression and tree ensembles.
     *
     * @throws IllegalArgumentException when neither applies (the message says what the graph is)
     */
    static Explainer read(Path onnx, int width) throws IOException {
        ModelProto model = ModelProto.parseFrom(Files.readAllBytes(onnx));
        if (LinearExplainer.applies(model)) {
            return LinearExplainer.of(model, width);
        }
        if (TreeExplainer.applies(model)) {
            return TreeExplainer.of(model, width);
        }
        throw new IllegalArgumentException("the graph is neither a logistic regression nor a tree ensemble as the "
                + "trainer exports them (operators " + model.getGraph().getNodeList().stream()
                .map(n -> n.getOpType()).distinct().toList() + ")");
    }
}
