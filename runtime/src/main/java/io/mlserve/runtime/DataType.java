package io.mlserve.runtime;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.TensorInfo.OnnxTensorType;

/** Tensor element types by their Open Inference Protocol names, with their ONNX and Triton-config forms. */
public enum DataType {
    BOOL("BOOL", 1, OnnxJavaType.BOOL, OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL, 9),
    UINT8("UINT8", 1, OnnxJavaType.UINT8, OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8, 2),
    UINT16("UINT16", 2, null, OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16, 4),
    UINT32("UINT32", 4, null, OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32, 12),
    UINT64("UINT64", 8, null, OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64, 13),
    INT8("INT8", 1, OnnxJavaType.INT8, OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8, 3),
    INT16("INT16", 2, OnnxJavaType.INT16, OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16, 5),
    INT32("INT32", 4, OnnxJavaType.INT32, OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32, 6),
    INT64("INT64", 8, OnnxJavaType.INT64, OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64, 7),
    FP16("FP16", 2, OnnxJavaType.FLOAT16, OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16, 10),
    BF16("BF16", 2, OnnxJavaType.BFLOAT16, OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16, 16),
    FP32("FP32", 4, OnnxJavaType.FLOAT, OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, 1),
    FP64("FP64", 8, OnnxJavaType.DOUBLE, OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE, 11),
    /** Variable-length byte strings (ONNX string tensors). */
    BYTES("BYTES", 0, OnnxJavaType.STRING, OnnxTensorType.ONNX_TENSOR_ELEMENT_DATA_TYPE_STRING, 8);

    private static final DataType[] VALUES = values();

    private final String oipName;
    private final int byteSize;
    private final OnnxJavaType ortJavaType;
    private final OnnxTensorType onnxType;
    private final io.mlserve.proto.inference.DataType configType;
    private final int onnxElementType;

    DataType(String oipName, int byteSize, OnnxJavaType ortJavaType, OnnxTensorType onnxType, int onnxElementType) {
        this.oipName = oipName;
        this.byteSize = byteSize;
        this.ortJavaType = ortJavaType;
        this.onnxType = onnxType;
        // Triton's config names are TYPE_ + the protocol name, except BYTES which is TYPE_STRING there
        this.configType = io.mlserve.proto.inference.DataType.valueOf(
                "TYPE_" + (oipName.equals("BYTES") ? "STRING" : oipName));
        this.onnxElementType = onnxElementType;
    }

    /** The protocol's datatype string, e.g. {@code FP32}. */
    public String oipName() {
        return oipName;
    }

    /** Bytes per element, 0 for BYTES. */
    public int byteSize() {
        return byteSize;
    }

    /** Whether ONNX Runtime's Java API can build tensors of this type. */
    public boolean supportedByRuntime() {
        return ortJavaType != null;
    }

    OnnxJavaType ortJavaType() {
        return ortJavaType;
    }

    /** The {@code TYPE_*} name used in Triton-style model configuration. */
    public io.mlserve.proto.inference.DataType configType() {
        return configType;
    }

    /** The element type number of ONNX's {@code TensorProto.DataType}. */
    public int onnxElementType() {
        return onnxElementType;
    }

    /** The datatype with this protocol name, or null when there is none (names are case-sensitive). */
    public static DataType fromOip(String name) {
        for (DataType t : VALUES) {
            if (t.oipName.equals(name)) {
                return t;
            }
        }
        return null;
    }

    /** The datatype of a Triton config {@code TYPE_*} value, or null for TYPE_INVALID. */
    public static DataType fromConfig(io.mlserve.proto.inference.DataType configType) {
        for (DataType t : VALUES) {
            if (t.configType == configType) {
                return t;
            }
        }
        return null;
    }

    /** The datatype of an ONNX element type number, or null when mlserve has no protocol name for it. */
    public static DataType fromOnnxElementType(int elementType) {
        for (DataType t : VALUES) {
            if (t.onnxElementType == elementType) {
                return t;
            }
        }
        return null;
    }

    static DataType fromOnnx(OnnxTensorType type) {
        for (DataType t : VALUES) {
            if (t.onnxType == type) {
                return t;
            }
        }
        return null;
    }
}
