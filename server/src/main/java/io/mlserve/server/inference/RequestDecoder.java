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
 * Checks a ModelInferRequest against the model's signature ({@link #check}, on the network thread) and
 * later copies its tensors into an instance's reusable {@link TensorBatch} at its row offset
 * ({@link #copy}, on the instance thread). Everything a caller can get wrong is reported by
 * {@code check} as INVALID_ARGUMENT with the field (e.g. {@code inputs[1].shape}) and what was expected;
 * nothing is allocated for valid numeric requests beyond what protobuf already holds.
 */
final class RequestDecoder {
    private RequestDecoder() {
    }

    /**
     * Checks everything about {@code request} that the caller controls.
     *
     * @return the number of rows (the first dimension of batched inputs; 1 for a model without one)
     */
    /** Heap a decoded BYTES element costs beyond its bytes (a String and its array headers). */
    static final long STRING_OVERHEAD = 48;

    static int check(ModelInferRequest request, String model, ModelSignature sig, int maxBatchSize) {
        return check(request, model, sig, maxBatchSize, RequestLimits.NONE);
    }

    /** As {@link #check(ModelInferRequest, String, ModelSignature, int)}, within the server's request limits. */
    static int check(ModelInferRequest request, String model, ModelSignature sig, int maxBatchSize,
                     RequestLimits limits) {
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
        long decoded = 0;
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
            long elements = checkShape(in, i, spec, model, maxBatchSize);
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
                decoded += checkRaw(request.getRawInputContents(i), i, name, spec, in, elements, limits);
            } else {
                decoded += checkTyped(in, i, spec, elements, limits);
            }
            if (decoded > limits.maxDecodedBytes()) {
                throw InferenceError.invalid("inputs: the request's tensors decode to more than "
                        + limits.maxDecodedBytes() + " bytes, the server's limit (--max-decoded-bytes)");
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
        if (rows > limits.maxRows()) {
            throw InferenceError.invalid("inputs: " + rows + " rows exceed the server's limit of " + limits.maxRows()
                    + " rows per request (--max-rows-per-request)");
        }
        return rows < 0 ? 1 : (int) rows;
    }

    private static long checkShape(ModelInferRequest.InferInputTensor in, int i, TensorSpec spec, String model,
                                   int maxBatchSize) {
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

    /** Checks one raw input; returns the bytes it decodes to. */
    private static long checkRaw(ByteString data, int i, String name, TensorSpec spec,
                                 ModelInferRequest.InferInputTensor in, long elements, RequestLimits limits) {
        DataType type = spec.dataType();
        if (type == DataType.BYTES) {
            decodeRawStrings(data, i, name, (int) elements, null, 0, limits.maxElementBytes());
            // each element becomes a Java string: count its object overhead too, not just its bytes
            return data.size() - 4L * elements + STRING_OVERHEAD * elements;
        }
        long expected = elements * type.byteSize();
        if (data.size() != expected) {
            throw InferenceError.invalid("raw_input_contents[" + i + "]: input '" + name + "' of shape "
                    + in.getShapeList() + " and datatype " + type.oipName() + " needs " + expected + " bytes, got "
                    + data.size());
        }
        if (type == DataType.BOOL) {
            for (int k = 0; k < expected; k++) {
                if ((data.byteAt(k) & 0xFE) != 0) {
                    throw InferenceError.invalid("raw_input_contents[" + i + "]: BOOL element " + k
                            + " is " + (data.byteAt(k) & 0xFF) + "; BOOL bytes must be 0 or 1");
                }
            }
        }
        return expected;
    }

    /**
     * Raw BYTES: each element is a 4-byte little-endian length followed by that many bytes. Checks the
     * framing and, when {@code into} is given, stores the strings from {@code at}.
     */
    private static void decodeRawStrings(ByteString data, int i, String name, int elements, String[] into, int at,
                                         int maxElementBytes) {
        int size = data.size();
        int pos = 0;
        for (int e = 0; e < elements; e++) {
            if (size - pos < 4) {
                throw InferenceError.invalid("raw_input_contents[" + i + "]: BYTES input '" + name + "' ends after "
                        + e + " of " + elements + " elements; each element needs a 4-byte length prefix");
            }
            long len = (data.byteAt(pos) & 0xFFL) | (data.byteAt(pos + 1) & 0xFFL) << 8
                    | (data.byteAt(pos + 2) & 0xFFL) << 16 | (data.byteAt(pos + 3) & 0xFFL) << 24;
            pos += 4;
            if (len > size - pos) {
                throw InferenceError.invalid("raw_input_contents[" + i + "]: BYTES element " + e + " of input '"
                        + name + "' has length prefix " + len + " but only " + (size - pos) + " bytes follow");
            }
            if (len > maxElementBytes) {
                throw InferenceError.invalid("raw_input_contents[" + i + "]: BYTES element " + e + " of input '"
                        + name + "' is " + len + " bytes; the server's limit is " + maxElementBytes
                        + " (--max-bytes-element)");
            }
            ByteString element = data.substring(pos, pos + (int) len);
            if (into == null) {
                checkUtf8(element, "raw_input_contents[" + i + "]", e);
            } else {
                into[at + e] = element.toStringUtf8();
            }
            pos += (int) len;
        }
        if (pos != size) {
            throw InferenceError.invalid("raw_input_contents[" + i + "]: " + (size - pos) + " bytes left after the "
                    + elements + " BYTES elements the shape calls for");
        }
    }

    private static void checkUtf8(ByteString s, String field, int element) {
        if (!s.isValidUtf8()) {
            throw InferenceError.invalid(field + ": BYTES element " + element
                    + " is not valid UTF-8; ONNX string tensors carry text");
        }
    }

    /** Checks one typed input; returns the bytes it decodes to. */
    private static long checkTyped(ModelInferRequest.InferInputTensor in, int i, TensorSpec spec, long elements,
                                   RequestLimits limits) {
        long decoded = spec.dataType() == DataType.BYTES ? 0 : elements * spec.dataType().byteSize();
        DataType type = spec.dataType();
        InferTensorContents c = in.getContents();
        int n = (int) elements;
        String field = "inputs[" + i + "].contents";
        switch (type) {
            case FP32 -> expectOnly(c, Field.FP32, n, field, type);
            case FP64 -> expectOnly(c, Field.FP64, n, field, type);
            case INT64 -> expectOnly(c, Field.INT64, n, field, type);
            case INT32 -> expectOnly(c, Field.INT, n, field, type);
            case INT16 -> {
                expectOnly(c, Field.INT, n, field, type);
                for (int k = 0; k < n; k++) {
                    inRange(c.getIntContents(k), Short.MIN_VALUE, Short.MAX_VALUE, field, k, type);
                }
            }
            case INT8 -> {
                expectOnly(c, Field.INT, n, field, type);
                for (int k = 0; k < n; k++) {
                    inRange(c.getIntContents(k), Byte.MIN_VALUE, Byte.MAX_VALUE, field, k, type);
                }
            }
            case UINT8 -> {
                expectOnly(c, Field.UINT, n, field, type);
                for (int k = 0; k < n; k++) {
                    inRange(c.getUintContents(k), 0, 255, field, k, type);
                }
            }
            case BOOL -> expectOnly(c, Field.BOOL, n, field, type);
            case BYTES -> {
                expectOnly(c, Field.BYTES, n, field, type);
                for (int k = 0; k < n; k++) {
                    ByteString b = c.getBytesContents(k);
                    if (b.size() > limits.maxElementBytes()) {
                        throw InferenceError.invalid(field + ": BYTES element " + k + " is " + b.size()
                                + " bytes; the server's limit is " + limits.maxElementBytes() + " (--max-bytes-element)");
                    }
                    checkUtf8(b, field, k);
                    decoded += b.size() + STRING_OVERHEAD;
                }
            }
            default -> throw InferenceError.invalid("inputs[" + i + "]: datatype " + type.oipName()
                    + " has no typed contents field; send it in raw_input_contents");
        }
        return decoded;
    }

    /**
     * Sizes {@code batch}'s inputs for {@code rows} rows shaped like {@code first} (which has been checked):
     * every input's shape is the request's with its first dimension replaced by {@code rows} when the
     * model batches, the request's own otherwise.
     */
    static void prepare(ModelInferRequest first, ModelSignature sig, TensorBatch batch, int rows, boolean batched) {
        for (int i = 0, n = first.getInputsCount(); i < n; i++) {
            ModelInferRequest.InferInputTensor in = first.getInputs(i);
            int idx = sig.inputIndex(in.getName());
            TensorSpec spec = sig.inputs().get(idx);
            int rank = in.getShapeCount();
            long[] shape = batch.shape(idx, rank);
            long elements = 1;
            for (int d = 0; d < rank; d++) {
                shape[d] = d == 0 && batched ? rows : in.getShape(d);
                elements *= shape[d];
            }
            if (spec.dataType() == DataType.BYTES) {
                batch.strings(idx, (int) elements);
            } else {
                batch.buffer(idx, (int) elements * spec.dataType().byteSize());
            }
        }
    }

    /** Copies a checked request's tensors into {@code batch}, starting at row {@code rowOffset}. */
    static void copy(ModelInferRequest request, ModelSignature sig, TensorBatch batch, int rowOffset) {
        boolean raw = request.getRawInputContentsCount() > 0;
        for (int i = 0, n = request.getInputsCount(); i < n; i++) {
            ModelInferRequest.InferInputTensor in = request.getInputs(i);
            int idx = sig.inputIndex(in.getName());
            DataType type = sig.inputs().get(idx).dataType();
            int elements = 1;
            for (int d = 0; d < in.getShapeCount(); d++) {
                elements *= (int) in.getShape(d);
            }
            int rowElements = in.getShapeCount() == 0 || in.getShape(0) == 0 ? 0 : elements / (int) in.getShape(0);
            int at = rowOffset * rowElements;
            if (type == DataType.BYTES) {
                String[] into = batch.stringsOf(idx);
                if (raw) {
                    decodeRawStrings(request.getRawInputContents(i), i, in.getName(), elements, into, at,
                            Integer.MAX_VALUE);
                } else {
                    InferTensorContents c = in.getContents();
                    for (int k = 0; k < elements; k++) {
                        into[at + k] = c.getBytesContents(k).toStringUtf8();
                    }
                }
                continue;
            }
            ByteBuffer b = batch.bufferOf(idx);
            int offset = at * type.byteSize();
            if (raw) {
                ByteString data = request.getRawInputContents(i);
                if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
                    throw new IllegalStateException("mlserve runs on little-endian hosts only");
                }
                ByteBuffer dst = b.duplicate();
                dst.position(offset);
                data.copyTo(dst);
                continue;
            }
            copyTyped(in.getContents(), type, elements, b, offset);
        }
    }

    private static void copyTyped(InferTensorContents c, DataType type, int n, ByteBuffer b, int offset) {
        switch (type) {
            case FP32 -> {
                for (int k = 0; k < n; k++) {
                    b.putFloat(offset + (k << 2), c.getFp32Contents(k));
                }
            }
            case FP64 -> {
                for (int k = 0; k < n; k++) {
                    b.putDouble(offset + (k << 3), c.getFp64Contents(k));
                }
            }
            case INT64 -> {
                for (int k = 0; k < n; k++) {
                    b.putLong(offset + (k << 3), c.getInt64Contents(k));
                }
            }
            case INT32 -> {
                for (int k = 0; k < n; k++) {
                    b.putInt(offset + (k << 2), c.getIntContents(k));
                }
            }
            case INT16 -> {
                for (int k = 0; k < n; k++) {
                    b.putShort(offset + (k << 1), (short) c.getIntContents(k));
                }
            }
            case INT8 -> {
                for (int k = 0; k < n; k++) {
                    b.put(offset + k, (byte) c.getIntContents(k));
                }
            }
            case UINT8 -> {
                for (int k = 0; k < n; k++) {
                    b.put(offset + k, (byte) c.getUintContents(k));
                }
            }
            case BOOL -> {
                for (int k = 0; k < n; k++) {
                    b.put(offset + k, (byte) (c.getBoolContents(k) ? 1 : 0));
                }
            }
            default -> throw new IllegalStateException("unchecked datatype " + type);
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
