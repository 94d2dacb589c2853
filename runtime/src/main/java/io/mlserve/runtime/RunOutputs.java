package io.mlserve.runtime;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.lang.reflect.Array;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** The outputs of one {@link ModelSession#run}; native memory, so always close it (try-with-resources). */
public final class RunOutputs implements AutoCloseable {
    private final OrtSession.Result result;
    private final ModelSignature signature;

    RunOutputs(OrtSession.Result result, ModelSignature signature) {
        this.result = result;
        this.signature = signature;
    }

    private OnnxTensor tensor(int output) {
        String name = signature.outputs().get(output).name();
        OnnxValue v = result.get(name).orElseThrow(
                () -> new IllegalStateException("output '" + name + "' was not requested from this run"));
        return (OnnxTensor) v;
    }

    /** The shape the model produced for output {@code output} (signature index). */
    public long[] shape(int output) {
        return tensor(output).getInfo().getShape();
    }

    /** A little-endian copy of a numeric or BOOL output's elements, row-major. */
    public ByteBuffer bytes(int output) {
        return tensor(output).getByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** The elements of a BYTES (string) output, flattened row-major. */
    public String[] strings(int output) throws OrtException {
        OnnxTensor t = tensor(output);
        Object v = t.getValue();
        if (v instanceof String s) {
            return new String[] {s};
        }
        String[] flat = new String[Math.toIntExact(t.getInfo().getNumElements())];
        flatten(v, flat, 0);
        return flat;
    }

    private static int flatten(Object array, String[] into, int at) {
        if (array instanceof String[] s) {
            System.arraycopy(s, 0, into, at, s.length);
            return at + s.length;
        }
        for (int i = 0, n = Array.getLength(array); i < n; i++) {
            at = flatten(Array.get(array, i), into, at);
        }
        return at;
    }

    @Override
    public void close() {
        result.close();
    }
}
