package io.mlserve.runtime;

import java.util.List;

/** The inputs and outputs of a loaded model, in the model's own order. */
public record ModelSignature(List<TensorSpec> inputs, List<TensorSpec> outputs) {

    public ModelSignature {
        inputs = List.copyOf(inputs);
        outputs = List.copyOf(outputs);
    }

    /** Index of the input called {@code name}, or -1. */
    public int inputIndex(String name) {
        return indexOf(inputs, name);
    }

    /** Index of the output called {@code name}, or -1. */
    public int outputIndex(String name) {
        return indexOf(outputs, name);
    }

    /** Comma-separated names, for error messages that tell the caller what exists. */
    public static String names(List<TensorSpec> specs) {
        StringBuilder sb = new StringBuilder();
        for (TensorSpec s : specs) {
            if (sb.length() > 0) {
                sb.append(", ");
            }
            sb.append(s.name());
        }
        return sb.toString();
    }

    private static int indexOf(List<TensorSpec> specs, String name) {
        for (int i = 0, n = specs.size(); i < n; i++) {
            if (specs.get(i).name().equals(name)) {
                return i;
            }
        }
        return -1;
    }
}
