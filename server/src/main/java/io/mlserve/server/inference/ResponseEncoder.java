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
final class ResponseEncoder {
    private ResponseEncoder() {
    }

    static void addOutput(ModelInferResponse.Builder response, RunOutputs outputs, int index, TensorSpec spec,
                          boolean raw) throws OrtException {
        ModelInferResponse.InferOutputTensor.Builder t = ModelInferResponse.InferOutputTensor.newBuilder()
                .setName(spec.name()).setDatatype(spec.dataType().oipName());
        for (long d : outputs.shape(index)) {
            t.addShape(d);
        }
        DataType type = spec.dataType();
        if (type == DataType.BYTES) {
            String[] values = outputs.strings(index);
            if (raw) {
                response.addRawOutputContents(lengthPrefixed(values));
            } else {
                InferTensorContents.Builder c = InferTensorContents.newBuilder();
                for (String s : values) {
                    c.addBytesContents(ByteString.copyFromUtf8(s));
                }
                t.setContents(c);
            }
            response.addOutputs(t);
            return;
        }
        ByteBuffer data = outputs.bytes(index);
        if (raw) {
            // ONNX Runtime hands back a fresh copy, so the response may own it without another copy
            response.addRawOutputContents(UnsafeByteOperations.unsafeWrap(data));
        } else {
            t.setContents(typed(data, type));
        }
        response.addOutputs(t);
    }

    private static InferTensorContents.Builder typed(ByteBuffer data, DataType type) {
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
    static ByteString lengthPrefixed(String[] values) {
        byte[][] encoded = new byte[values.length][];
        int total = 0;
        for (int i = 0; i < values.length; i++) {
            encoded[i] = values[i].getBytes(StandardCharsets.UTF_8);
            total += 4 + encoded[i].length;
        }
        ByteBuffer b = ByteBuffer.allocate(total).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (byte[] e : encoded) {
            b.putInt(e.length).put(e);
        }
        return UnsafeByteOperations.unsafeWrap(b.array());
    }
}
