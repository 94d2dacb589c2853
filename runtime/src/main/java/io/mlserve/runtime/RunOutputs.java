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
    /** Outputs written into the caller's reused buffers, by signature index (null entries: ORT allocated). */
    private final OnnxTensor[] pinned;

    RunOutputs(OrtSession.Result result, ModelSignature signature, OnnxTensor[] pinned) {
        this.result = result;
        this.signature = signature;
        this.pinned = pinned;
    }

    private OnnxTensor tensor(int output) {
        if (pinned != null && pinned[output] != null) {
            return pinned[output];
        }
        String name = signature.outputs().get(output).name();
        OnnxValue v = result.get(name).orElseThrow(
                () -> new IllegalStateException("output '" + name + "' was not requested from this run"));
        return (OnnxTensor) v;
    }

    /** The shape the model produced for output {@code output} (signature index). */
    public long[] shape(int output) {
        return tensor(output).getInfo().getShape();
    }

    /** Whether {@link #bytes} of this output is a view of a reused buffer (copy it before the next run). */
    public boolean reusesBuffer(int output) {
        return pinned != null && pinned[output] != null;
    }

    /**
     * A numeric or BOOL output's elements, row-major, little-endian, positioned at 0: a view of the
     * reused output buffer when the output was written in place (valid until the batch runs again),
     * otherwise a fresh copy.
     */
    public ByteBuffer bytes(int output) {
        if (pinned != null && pinned[output] != null) {
            ByteBuffer b = (ByteBuffer) pinned[output].getBufferRef().orElseThrow();
            return b.duplicate().position(0).order(ByteOrder.LITTLE_ENDIAN);
        }
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
        if (pinned != null) {
            for (OnnxTensor t : pinned) {
                if (t != null) {
                    t.close();
                }
            }
        }
    }
}
