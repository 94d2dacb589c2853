package io.mlserve.server.inference;

import com.google.protobuf.ByteString;
import io.mlserve.proto.inference.InferTensorContents;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.runtime.DataType;
import io.mlserve.runtime.ModelSignature;
import io.mlserve.runtime.TensorBatch;
import io.mlserve.runtime.TensorSpec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;

/**
 * Checks a ModelInferRequest against the model's signature and copies its tensors into the thread's
 * reusable {@link TensorBatch}. Everything a caller can get wrong is reported as INVALID_ARGUMENT with
 * the field (e.g. {@code inputs[1].shape}) and what was expected; nothing is allocated for valid
 * numeric requests beyond what protobuf already holds.
 */
final class RequestDecoder {
    private RequestDecoder() {
    }

    /**
     * Fills {@code batch} from {@code request}.
     *
     * @return the number of rows (the first dimension of batched inputs; 1 for a model without one)
     */
    static int decode(ModelInferRequest request, String model, ModelSignature sig, int maxBatchSize,
                      TensorBatch batch) {
        int inputCount = request.getInputsCount();
        List<TensorSpec> specs = sig.inputs();
        if (inputCount == 0) {
            throw InferenceError.invalid("inputs: the request has no inputs; model '" + model + "' expects "
                    + describe(specs));
        }
        int rawCount = request.getRawInputContentsCount();
        boolean raw = rawCount > 0;
        if (raw && rawCount != inputCount) {
            throw InferenceError.invalid("raw_input_contents: " + rawCount + " entries for " + inputCount
                    + " inputs; send one entry per input, in the order of inputs");
        }
        long seen = 0;
        boolean[] seenWide = specs.size() > 64 ? new boolean[specs.size()] : null;
        long rows = -1;
        for (int i = 0; i < inputCount; i++) {
            ModelInferRequest.InferInputTensor in = request.getInputs(i);
            String name = in.getName();
            int idx = name.isEmpty() ? -1 : sig.inputIndex(name);
            if (idx < 0) {
                throw InferenceError.invalid("inputs[" + i + "].name: " + (name.isEmpty() ? "missing"
                        : "model '" + model + "' has no input '" + name + "'") + "; its inputs are "
                        + describe(specs));
            }
            boolean dup = seenWide == null ? (seen & (1L << idx)) != 0 : seenWide[idx];
            if (dup) {
                throw InferenceError.invalid("inputs[" + i + "].name: input '" + name + "' appears more than once");
            }
            if (seenWide == null) {
                seen |= 1L << idx;
            } else {
                seenWide[idx] = true;
            }
            TensorSpec spec = specs.get(idx);
            DataType type = spec.dataType();
            if (!type.oipName().equals(in.getDatatype())) {
                DataType given = DataType.fromOip(in.getDatatype());
                throw InferenceError.invalid("inputs[" + i + "].datatype: input '" + name + "' expects "
                        + type.oipName() + ", got " + (given == null ? "unknown datatype " : "")
                        + "'" + in.getDatatype() + "'");
            }
            long elements = checkShape(in, i, spec, model, maxBatchSize, batch.shape(idx, spec.rank()));
            if (spec.hasBatchDimension()) {
                long r = in.getShape(0);
                if (rows >= 0 && r != rows) {
                    throw InferenceError.invalid("inputs[" + i + "].shape[0]: input '" + name + "' has " + r
                            + " rows but an earlier input has " + rows + "; every batched input needs the same rows");
                }
                rows = r;
            }
            if (raw) {
                if (hasTypedContents(in)) {
                    throw InferenceError.invalid("inputs[" + i + "].contents: the request uses raw_input_contents, "
                            + "so contents must be empty; do not mix raw and typed contents");
                }
                copyRaw(request.getRawInputContents(i), i, name, spec, in, elements, batch, idx);
            } else {
                copyTyped(in, i, spec, elements, batch, idx);
            }
        }
        for (int j = 0; j < specs.size(); j++) {
            boolean present = seenWide == null ? (seen & (1L << j)) != 0 : seenWide[j];
            if (!present) {
                TensorSpec s = specs.get(j);
                throw InferenceError.invalid("inputs: model '" + model + "' needs input '" + s.name() + "' ("
                        + s.dataType().oipName() + " " + Arrays.toString(s.shape()) + "), which the request lacks");
            }
        }
        return rows < 0 ? 1 : (int) rows;
    }

    private static long checkShape(ModelInferRequest.InferInputTensor in, int i, TensorSpec spec, String model,
                                   int maxBatchSize, long[] into) {
        int rank = in.getShapeCount();
        if (rank != spec.rank()) {
            throw InferenceError.invalid("inputs[" + i + "].shape: input '" + in.getName() + "' expects rank "
                    + spec.rank() + " " + Arrays.toString(spec.shape()) + ", got " + in.getShapeList());
        }
        long elements = 1;
        for (int d = 0; d < rank; d++) {
            long dim = in.getShape(d);
            long want = spec.dim(d);
            if (dim < 0 || (want >= 0 && dim != want)) {
                throw InferenceError.invalid("inputs[" + i + "].shape: input '" + in.getName() + "' expects "
                        + Arrays.toString(spec.shape()) + " (-1 = any size), got " + in.getShapeList());
            }
            into[d] = dim;
            elements = multiply(elements, dim, i, in);
        }
        if (maxBatchSize > 0 && spec.hasBatchDimension() && in.getShape(0) > maxBatchSize) {
            throw InferenceError.invalid("inputs[" + i + "].shape[0]: " + in.getShape(0) + " rows exceed max_batch_size "
                    + maxBatchSize + " of model '" + model + "'");
        }
        return elements;
    }

    private static long multiply(long elements, long dim, int i, ModelInferRequest.InferInputTensor in) {
        try {
            long p = Math.multiplyExact(elements, dim);
            if (p > Integer.MAX_VALUE) {
                throw new ArithmeticException();
            }
            return p;
        } catch (ArithmeticException e) {
            throw InferenceError.invalid("inputs[" + i + "].shape: " + in.getShapeList()
                    + " has more than 2^31 elements");
        }
    }

    private static boolean hasTypedContents(ModelInferRequest.InferInputTensor in) {
        if (!in.hasContents()) {
            return false;
        }
        InferTensorContents c = in.getContents();
        return c.getBoolContentsCount() + c.getIntContentsCount() + c.getInt64ContentsCount()
                + c.getUintContentsCount() + c.getUint64ContentsCount() + c.getFp32ContentsCount()
                + c.getFp64ContentsCount() + c.getBytesContentsCount() > 0;
    }

    private static void copyRaw(ByteString data, int i, String name, TensorSpec spec,
                                ModelInferRequest.InferInputTensor in, long elements, TensorBatch batch, int idx) {
        DataType type = spec.dataType();
        if (type == DataType.BYTES) {
            decodeRawStrings(data, i, name, (int) elements, batch.strings(idx, (int) elements));
            return;
        }
        long expected = elements * type.byteSize();
        if (data.size() != expected) {
            throw InferenceError.invalid("raw_input_contents[" + i + "]: input '" + name + "' of shape "
                    + in.getShapeList() + " and datatype " + type.oipName() + " needs " + expected + " bytes, got "
                    + data.size());
        }
        ByteBuffer b = batch.buffer(idx, (int) expected);
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw new IllegalStateException("mlserve runs on little-endian hosts only");
        }
        data.copyTo(b);
        if (type == DataType.BOOL) {
            for (int k = 0; k < expected; k++) {
                if ((b.get(k) & 0xFE) != 0) {
                    throw InferenceError.invalid("raw_input_contents[" + i + "]: BOOL element " + k
                            + " is " + (b.get(k) & 0xFF) + "; BOOL bytes must be 0 or 1");
                }
            }
        }
    }

    /** Raw BYTES: each element is a 4-byte little-endian length followed by that many bytes. */
    private static void decodeRawStrings(ByteString data, int i, String name, int elements, String[] into) {
        int size = data.size();
        int at = 0;
        for (int e = 0; e < elements; e++) {
            if (size - at < 4) {
                throw InferenceError.invalid("raw_input_contents[" + i + "]: BYTES input '" + name + "' ends after "
                        + e + " of " + elements + " elements; each element needs a 4-byte length prefix");
            }
            long len = (data.byteAt(at) & 0xFFL) | (data.byteAt(at + 1) & 0xFFL) << 8
                    | (data.byteAt(at + 2) & 0xFFL) << 16 | (data.byteAt(at + 3) & 0xFFL) << 24;
            at += 4;
            if (len > size - at) {
                throw InferenceError.invalid("raw_input_contents[" + i + "]: BYTES element " + e + " of input '"
                        + name + "' has length prefix " + len + " but only " + (size - at) + " bytes follow");
            }
            ByteString element = data.substring(at, at + (int) len);
            into[e] = utf8(element, "raw_input_contents[" + i + "]", e);
            at += (int) len;
        }
        if (at != size) {
            throw InferenceError.invalid("raw_input_contents[" + i + "]: " + (size - at) + " bytes left after the "
                    + elements + " BYTES elements the shape calls for");
        }
    }

    private static String utf8(ByteString s, String field, int element) {
        if (!s.isValidUtf8()) {
            throw InferenceError.invalid(field + ": BYTES element " + element
                    + " is not valid UTF-8; ONNX string tensors carry text");
        }
        return s.toStringUtf8();
    }

    private static void copyTyped(ModelInferRequest.InferInputTensor in, int i, TensorSpec spec, long elements,
                                  TensorBatch batch, int idx) {
        DataType type = spec.dataType();
        InferTensorContents c = in.getContents();
        int n = (int) elements;
        String field = "inputs[" + i + "].contents";
        switch (type) {
            case FP32 -> {
                expectOnly(c, Field.FP32, n, field, type);
                ByteBuffer b = batch.buffer(idx, n * 4);
                for (int k = 0; k < n; k++) {
                    b.putFloat(k << 2, c.getFp32Contents(k));
                }
            }
            case FP64 -> {
                expectOnly(c, Field.FP64, n, field, type);
                ByteBuffer b = batch.buffer(idx, n * 8);
                for (int k = 0; k < n; k++) {
                    b.putDouble(k << 3, c.getFp64Contents(k));
                }
            }
            case INT64 -> {
                expectOnly(c, Field.INT64, n, field, type);
                ByteBuffer b = batch.buffer(idx, n * 8);
                for (int k = 0; k < n; k++) {
                    b.putLong(k << 3, c.getInt64Contents(k));
                }
            }
            case INT32 -> {
                expectOnly(c, Field.INT, n, field, type);
                ByteBuffer b = batch.buffer(idx, n * 4);
                for (int k = 0; k < n; k++) {
                    b.putInt(k << 2, c.getIntContents(k));
                }
            }
            case INT16 -> {
                expectOnly(c, Field.INT, n, field, type);
                ByteBuffer b = batch.buffer(idx, n * 2);
                for (int k = 0; k < n; k++) {
                    b.putShort(k << 1, (short) inRange(c.getIntContents(k), Short.MIN_VALUE, Short.MAX_VALUE, field, k, type));
                }
            }
            case INT8 -> {
                expectOnly(c, Field.INT, n, field, type);
                ByteBuffer b = batch.buffer(idx, n);
                for (int k = 0; k < n; k++) {
                    b.put(k, (byte) inRange(c.getIntContents(k), Byte.MIN_VALUE, Byte.MAX_VALUE, field, k, type));
                }
            }
            case UINT8 -> {
                expectOnly(c, Field.UINT, n, field, type);
                ByteBuffer b = batch.buffer(idx, n);
                for (int k = 0; k < n; k++) {
                    b.put(k, (byte) inRange(c.getUintContents(k), 0, 255, field, k, type));
                }
            }
            case BOOL -> {
                expectOnly(c, Field.BOOL, n, field, type);
                ByteBuffer b = batch.buffer(idx, n);
                for (int k = 0; k < n; k++) {
                    b.put(k, (byte) (c.getBoolContents(k) ? 1 : 0));
                }
            }
            case BYTES -> {
                expectOnly(c, Field.BYTES, n, field, type);
                String[] s = batch.strings(idx, n);
                for (int k = 0; k < n; k++) {
                    s[k] = utf8(c.getBytesContents(k), field, k);
                }
            }
            default -> throw InferenceError.invalid("inputs[" + i + "]: datatype " + type.oipName()
                    + " has no typed contents field; send it in raw_input_contents");
        }
    }

    private static int inRange(int v, int min, int max, String field, int k, DataType type) {
        if (v < min || v > max) {
            throw InferenceError.invalid(field + ": element " + k + " = " + v + " is out of range for "
                    + type.oipName() + " [" + min + ", " + max + "]");
        }
        return v;
    }

    /** The typed contents fields, by their protocol names. */
    private enum Field {
        BOOL("bool_contents"), INT("int_contents"), INT64("int64_contents"), UINT("uint_contents"),
        UINT64("uint64_contents"), FP32("fp32_contents"), FP64("fp64_contents"), BYTES("bytes_contents");

        final String protoName;

        Field(String protoName) {
            this.protoName = protoName;
        }

        int count(InferTensorContents c) {
            return switch (this) {
                case BOOL -> c.getBoolContentsCount();
                case INT -> c.getIntContentsCount();
                case INT64 -> c.getInt64ContentsCount();
                case UINT -> c.getUintContentsCount();
                case UINT64 -> c.getUint64ContentsCount();
                case FP32 -> c.getFp32ContentsCount();
                case FP64 -> c.getFp64ContentsCount();
                case BYTES -> c.getBytesContentsCount();
            };
        }
    }

    private static final Field[] FIELDS = Field.values();

    private static void expectOnly(InferTensorContents c, Field expected, int n, String field, DataType type) {
        for (Field f : FIELDS) {
            if (f != expected && f.count(c) > 0) {
                throw InferenceError.invalid(field + ": datatype " + type.oipName() + " is sent in "
                        + expected.protoName + ", got " + f.count(c) + " values in " + f.protoName);
            }
        }
        int got = expected.count(c);
        if (got != n) {
            throw InferenceError.invalid(field + "." + expected.protoName + ": the shape calls for " + n
                    + " elements, got " + got);
        }
    }

    private static String describe(List<TensorSpec> specs) {
        StringBuilder sb = new StringBuilder();
        for (TensorSpec s : specs) {
            if (sb.length() > 0) {
                sb.append(", ");
            }
            sb.append(s.name()).append(' ').append(s.dataType().oipName()).append(Arrays.toString(s.shape()));
        }
        return sb.toString();
    }
}
