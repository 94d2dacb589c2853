package io.mlserve.runtime;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Reusable input holder for {@link ModelSession#run}: one direct, native-order buffer (or string array)
 * and one shape per model input. Buffers grow to the largest request seen and are then reused, so
 * filling a batch allocates nothing. Owned by one thread at a time; not thread-safe.
 */
public final class TensorBatch {
    private static final long[] EMPTY_SHAPE = new long[0];

    private final ModelSignature signature;
    private final ByteBuffer[] buffers;
    private final String[][] strings;
    private final long[][] shapes;
    private final ByteBuffer[] outputBuffers;
    /** The name → tensor map handed to ONNX Runtime, reused across runs by the owning thread. */
    final java.util.Map<String, ai.onnxruntime.OnnxTensor> feed;

    public TensorBatch(ModelSignature signature) {
        this.signature = signature;
        int n = signature.inputs().size();
        this.buffers = new ByteBuffer[n];
        this.strings = new String[n][];
        this.shapes = new long[n][];
        this.outputBuffers = new ByteBuffer[signature.outputs().size()];
        this.feed = new java.util.HashMap<>(n * 2);
        for (int i = 0; i < n; i++) {
            shapes[i] = EMPTY_SHAPE;
        }
    }

    public ModelSignature signature() {
        return signature;
    }

    /**
     * The buffer for input {@code input}, positioned at 0 with its limit at {@code bytes}; write the
     * tensor's elements into it in row-major order.
     */
    public ByteBuffer buffer(int input, int bytes) {
        ByteBuffer b = buffers[input];
        if (b == null || b.capacity() < bytes) {
            int capacity = Math.max(bytes, b == null ? 64 : Math.min(Integer.MAX_VALUE - 8, b.capacity() * 2));
            b = ByteBuffer.allocateDirect(capacity).order(ByteOrder.nativeOrder());
            buffers[input] = b;
        }
        b.clear().limit(bytes);
        return b;
    }

    /** An array for the {@code count} elements of BYTES input {@code input}. */
    public String[] strings(int input, int count) {
        String[] s = strings[input];
        if (s == null || s.length != count) {
            s = new String[count];
            strings[input] = s;
        }
        return s;
    }

    /** The shape array of input {@code input}, resized to {@code rank}; fill it in. */
    public long[] shape(int input, int rank) {
        long[] s = shapes[input];
        if (s.length != rank) {
            s = new long[rank];
            shapes[input] = s;
        }
        return s;
    }

    /** A reused direct buffer of {@code bytes} for output {@code output}, for ONNX Runtime to write into. */
    ByteBuffer outputBuffer(int output, int bytes) {
        ByteBuffer b = outputBuffers[output];
        if (b == null || b.capacity() < bytes) {
            b = ByteBuffer.allocateDirect(Math.max(bytes, 64)).order(ByteOrder.nativeOrder());
            outputBuffers[output] = b;
        }
        b.clear().limit(bytes);
        return b;
    }

    /** The current shape of input {@code input}. */
    public long[] shapeOf(int input) {
        return shapes[input];
    }

    /** The buffer last sized by {@link #buffer(int, int)} for input {@code input} (absolute puts only). */
    public ByteBuffer bufferOf(int input) {
        return buffers[input];
    }

    /** The array last sized by {@link #strings(int, int)} for BYTES input {@code input}. */
    public String[] stringsOf(int input) {
        return strings[input];
    }
}
