package io.mlserve.server.inference;

import ai.onnxruntime.OrtException;
import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import io.mlserve.proto.inference.InferTensorContents;
import io.mlserve.proto.inference.ModelInferResponse;
import io.mlserve.runtime.DataType;
import io.mlserve.runtime.RunOutputs;
import io.mlserve.runtime.TensorSpec;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** Writes model outputs into a ModelInferResponse, raw or typed as the request was. */
public final class ResponseEncoder {
    private ResponseEncoder() {
    }

    /**
     * Adds output {@code index} to {@code response}: the whole tensor when {@code totalRows} is 0 (the model
     * does not batch), else rows [{@code rowStart}, {@code rowStart + rows}) of a batch of {@code totalRows}.
     */
    static void addOutput(ModelInferResponse.Builder response, RunOutputs outputs, int index, TensorSpec spec,
                          boolean raw, int rowStart, int rows, int totalRows) throws OrtException {
        ModelInferResponse.InferOutputTensor.Builder t = ModelInferResponse.InferOutputTensor.newBuilder()
                .setName(spec.name()).setDatatype(spec.dataType().oipName());
        long[] shape = outputs.shape(index);
        boolean slice = totalRows > 0 && shape.length > 0;
        for (int d = 0; d < shape.length; d++) {
            t.addShape(d == 0 && slice ? rows : shape[d]);
        }
        DataType type = spec.dataType();
        if (type == DataType.BYTES) {
            String[] values = outputs.strings(index);
            int per = slice ? values.length / totalRows : values.length;
            int from = slice ? rowStart * per : 0;
            int count = slice ? rows * per : values.length;
            if (raw) {
                response.addRawOutputContents(lengthPrefixed(values, from, count));
            } else {
                InferTensorContents.Builder c = InferTensorContents.newBuilder();
                for (int k = from; k < from + count; k++) {
                    c.addBytesContents(ByteString.copyFromUtf8(values[k]));
                }
                t.setContents(c);
            }
            response.addOutputs(t);
            return;
        }
        ByteBuffer data = outputs.bytes(index);
        int total = data.remaining();
        int per = slice ? total / totalRows : total;
        int from = slice ? rowStart * per : 0;
        int length = slice ? rows * per : total;
        ByteBuffer part = data.duplicate().position(from).limit(from + length).slice()
                .order(java.nio.ByteOrder.LITTLE_ENDIAN);
        if (raw) {
            // a reused buffer or a shared batch must be copied; a whole tensor ONNX Runtime copied out is ours
            response.addRawOutputContents(outputs.reusesBuffer(index) || length != total
                    ? ByteString.copyFrom(part) : UnsafeByteOperations.unsafeWrap(part));
        } else {
            t.setContents(typedContents(part, type));
        }
        response.addOutputs(t);
    }

    /** Raw little-endian bytes (position 0 to the limit) as the typed contents field of {@code type}. */
    public static InferTensorContents.Builder typedContents(ByteBuffer data, DataType type) {
        InferTensorContents.Builder c = InferTensorContents.newBuilder();
        int bytes = data.remaining();
        switch (type) {
            case FP32 -> {
                for (int k = 0; k < bytes; k += 4) {
                    c.addFp32Contents(data.getFloat(k));
                }
            }
            case FP64 -> {
                for (int k = 0; k < bytes; k += 8) {
                    c.addFp64Contents(data.getDouble(k));
                }
            }
            case INT64 -> {
                for (int k = 0; k < bytes; k += 8) {
                    c.addInt64Contents(data.getLong(k));
                }
            }
            case UINT64 -> {
                for (int k = 0; k < bytes; k += 8) {
                    c.addUint64Contents(data.getLong(k));
                }
            }
            case INT32 -> {
                for (int k = 0; k < bytes; k += 4) {
                    c.addIntContents(data.getInt(k));
                }
            }
            case UINT32 -> {
                for (int k = 0; k < bytes; k += 4) {
                    c.addUintContents(data.getInt(k));
                }
            }
            case INT16 -> {
                for (int k = 0; k < bytes; k += 2) {
                    c.addIntContents(data.getShort(k));
                }
            }
            case UINT16 -> {
                for (int k = 0; k < bytes; k += 2) {
                    c.addUintContents(data.getShort(k) & 0xFFFF);
                }
            }
            case INT8 -> {
                for (int k = 0; k < bytes; k++) {
                    c.addIntContents(data.get(k));
                }
            }
            case UINT8 -> {
                for (int k = 0; k < bytes; k++) {
                    c.addUintContents(data.get(k) & 0xFF);
                }
            }
            case BOOL -> {
                for (int k = 0; k < bytes; k++) {
                    c.addBoolContents(data.get(k) != 0);
                }
            }
            default -> throw new InferenceError(io.grpc.Status.Code.INVALID_ARGUMENT, "output datatype "
                    + type.oipName() + " has no typed contents field; send the request in raw_input_contents to get "
                    + "raw_output_contents");
        }
        return c;
    }

    /** Raw BYTES form: 4-byte little-endian length, then the UTF-8 bytes, per element. */
    public static ByteString lengthPrefixed(String[] values, int from, int count) {
        byte[][] encoded = new byte[count][];
        int total = 0;
        for (int i = 0; i < count; i++) {
            encoded[i] = values[from + i].getBytes(StandardCharsets.UTF_8);
            total += 4 + encoded[i].length;
        }
        ByteBuffer b = ByteBuffer.allocate(total).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (byte[] e : encoded) {
            b.putInt(e.length).put(e);
        }
        return UnsafeByteOperations.unsafeWrap(b.array());
    }
}
