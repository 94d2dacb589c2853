package io.mlserve.explain;

import io.mlserve.proto.onnx.ModelProto;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Picks the exact explainer a graph allows: linear for the trainer's logistic regression, TreeSHAP for its trees. */
public final class ExactExplainers {
    private ExactExplainers() {
    }

    /**
     * The explainer of the model at {@code onnx} with {@code width} inputs: exact for the trainer's logistic
     * regression and tree ensembles.
     *
     * @throws IllegalArgumentException when neither applies (the message says what the graph is)
     */
    public static Explainer read(Path onnx, int width) throws IOException {
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
