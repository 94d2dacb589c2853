package io.mlserve.server;

import com.google.protobuf.ByteString;
import io.mlserve.proto.inference.InferTensorContents;
import io.mlserve.proto.inference.ModelInferRequest;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Builders for request tensors in tests. */
public final class Tensors {
    private Tensors() {
    }

    public static ModelInferRequest.InferInputTensor.Builder input(String name, String datatype, long... shape) {
        ModelInferRequest.InferInputTensor.Builder b = ModelInferRequest.InferInputTensor.newBuilder()
                .setName(name).setDatatype(datatype);
        for (long d : shape) {
            b.addShape(d);
        }
        return b;
    }

    public static ModelInferRequest.InferInputTensor fp32(String name, float[] values, long... shape) {
        InferTensorContents.Builder c = InferTensorContents.newBuilder();
        for (float v : values) {
            c.addFp32Contents(v);
        }
        return input(name, "FP32", shape).setContents(c).build();
    }

    public static ByteString rawFp32(float[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return ByteString.copyFrom(b.array());
    }

    public static float[] floats(ByteString raw) {
        ByteBuffer b = raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        float[] f = new float[raw.size() / 4];
        for (int i = 0; i < f.length; i++) {
            f[i] = b.getFloat(i * 4);
        }
        return f;
    }

    /** Raw BYTES: 4-byte little-endian length + bytes per element. */
    public static ByteString rawStrings(String... values) {
        ByteString.Output out = ByteString.newOutput();
        for (String v : values) {
            byte[] b = v.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            ByteBuffer len = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(b.length);
            out.write(len.array(), 0, 4);
            out.write(b, 0, b.length);
        }
        return out.toByteString();
    }

    public static ModelInferRequest.Builder request(String model, ModelInferRequest.InferInputTensor... inputs) {
        ModelInferRequest.Builder r = ModelInferRequest.newBuilder().setModelName(model);
        for (ModelInferRequest.InferInputTensor t : inputs) {
            r.addInputs(t);
        }
        return r;
    }
}
