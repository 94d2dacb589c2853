package io.mlserve.server.http;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.ByteString;
import io.mlserve.proto.inference.InferTensorContents;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.proto.inference.ModelInferResponse;
import io.mlserve.runtime.DataType;
import io.mlserve.server.inference.InferenceError;
import io.mlserve.server.inference.ResponseEncoder;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufOutputStream;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The binary tensor data extension of REST v2 infer (as Triton's HTTP clients and perf_analyzer speak it): the body is
 * a JSON header of {@code Inference-Header-Content-Length} bytes followed by the binary inputs, each an input whose
 * {@code parameters.binary_data_size} gives its length, in the order of the inputs, little-endian, row-major (BOOL one
 * byte, BYTES a 4-byte length then the bytes per element). An output asked for with {@code parameters.binary_data:
 * true} (or every output, with the request's {@code parameters.binary_data_output: true}) comes back the same way:
 * {@code binary_data_size} in its JSON, its bytes after the JSON header, whose length the response's
 * {@code Inference-Header-Content-Length} gives. A request with binary inputs goes to the core as raw contents,
 * exactly as a gRPC request with {@code raw_input_contents} does; without the header the body is JSON, as before.
 */
final class BinaryTensors {
    static final String HEADER = "Inference-Header-Content-Length";
    static final String SIZE = "binary_data_size";
    static final String OUTPUT = "binary_data";
    static final String ALL_OUTPUTS = "binary_data_output";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final JsonFactory FACTORY = JSON.getFactory();

    private BinaryTensors() {
    }

    /** An infer request and which of its outputs are to be answered in binary (every one when {@code all}). */
    record Parsed(ModelInferRequest request, Set<String> binaryOutputs, boolean all) {
        boolean binary(String output) {
            return all || binaryOutputs.contains(output);
        }

        boolean anyBinary() {
            return all || !binaryOutputs.isEmpty();
        }
    }

    /**
     * Parses a REST v2 infer body: {@code headerLength} is the request's Inference-Header-Content-Length (null: the
     * whole body is JSON).
     */
    static Parsed request(ByteBuf body, String headerLength, String model, String version) {
        int jsonBytes = body.readableBytes();
        if (headerLength != null) {
            try {
                jsonBytes = Integer.parseInt(headerLength.trim());
            } catch (NumberFormatException e) {
                throw InferenceError.invalid(HEADER + ": expected a byte count, got '" + headerLength + "'");
            }
            if (jsonBytes < 0 || jsonBytes > body.readableBytes()) {
                throw InferenceError.invalid(HEADER + ": " + jsonBytes + " bytes of JSON, but the body has "
                        + body.readableBytes());
            }
        }
        ObjectNode json = readJson(body.slice(body.readerIndex(), jsonBytes));
        ByteBuf binary = body.slice(body.readerIndex() + jsonBytes, body.readableBytes() - jsonBytes);

        // take the binary inputs out of the JSON (JsonTensors reads the rest), in order
        JsonNode inputs = json.get("inputs");
        List<ByteString> raw = new ArrayList<>();
        boolean anyRaw = false;
        if (inputs != null && inputs.isArray()) {
            for (int i = 0; i < inputs.size(); i++) {
                JsonNode in = inputs.get(i);
                JsonNode size = in == null ? null : in.path("parameters").get(SIZE);
                if (size == null) {
                    raw.add(null);
                    continue;
                }
                String field = "inputs[" + i + "].parameters." + SIZE;
                if (headerLength == null) {
                    throw InferenceError.invalid(field + ": binary inputs need the " + HEADER + " header");
                }
                if (!size.isIntegralNumber() || size.asLong() < 0) {
                    throw InferenceError.invalid(field + ": expected a byte count, got " + size);
                }
                if (in.has("data")) {
                    throw InferenceError.invalid("inputs[" + i + "]: give data or " + SIZE + ", not both");
                }
                if (size.asLong() > binary.readableBytes()) {
                    throw InferenceError.invalid(field + ": " + size.asLong() + " bytes, but only "
                            + binary.readableBytes() + " are left after the JSON and the inputs before it");
                }
                byte[] bytes = new byte[(int) size.asLong()];
                binary.readBytes(bytes);
                raw.add(ByteString.copyFrom(bytes));
                anyRaw = true;
                ((ObjectNode) in.get("parameters")).remove(SIZE);
                ((ObjectNode) in).putArray("data"); // read as an empty tensor below; its bytes are the raw ones
            }
        }
        if (binary.isReadable()) {
            throw InferenceError.invalid("body: " + binary.readableBytes() + " bytes after the JSON header that no "
                    + "input's " + SIZE + " accounts for");
        }
        boolean all = false;
        JsonNode params = json.get("parameters");
        if (params != null && params.isObject() && params.has(ALL_OUTPUTS)) {
            JsonNode v = params.get(ALL_OUTPUTS);
            if (!v.isBoolean()) {
                throw InferenceError.invalid("parameters." + ALL_OUTPUTS + ": expected true or false");
            }
            all = v.booleanValue();
            ((ObjectNode) params).remove(ALL_OUTPUTS);
        }
        Set<String> binaryOutputs = new HashSet<>();
        JsonNode outputs = json.get("outputs");
        if (outputs != null && outputs.isArray()) {
            for (int k = 0; k < outputs.size(); k++) {
                JsonNode o = outputs.get(k);
                JsonNode p = o == null ? null : o.get("parameters");
                if (p != null && p.isObject() && p.has(OUTPUT)) {
                    if (!p.get(OUTPUT).isBoolean()) {
                        throw InferenceError.invalid("outputs[" + k + "].parameters." + OUTPUT
                                + ": expected true or false");
                    }
                    if (p.get(OUTPUT).booleanValue() && o.path("name").isTextual()) {
                        binaryOutputs.add(o.get("name").asText());
                    }
                    ((ObjectNode) p).remove(OUTPUT);
                }
            }
        }

        ModelInferRequest r = JsonTensors.request(json, model, version);
        if (anyRaw) {
            // the core takes raw contents for every input or for none: the JSON ones are encoded as the binary are
            ModelInferRequest.Builder b = r.toBuilder();
            for (int i = 0; i < b.getInputsCount(); i++) {
                ModelInferRequest.InferInputTensor.Builder in = b.getInputsBuilder(i);
                ByteString bytes = raw.get(i);
                if (bytes == null) {
                    DataType type = DataType.fromOip(in.getDatatype());
                    bytes = rawOf(in.getContents(), type);
                }
                in.clearContents();
                b.addRawInputContents(bytes);
            }
            r = b.build();
        }
        return new Parsed(r, binaryOutputs, all);
    }

    /** The REST answer: JSON as before, or the JSON header followed by the binary outputs. */
    static ByteBuf response(ModelInferResponse r, Parsed asked, int[] headerBytes) throws IOException {
        boolean raw = r.getRawOutputContentsCount() > 0;
        List<ByteString> binary = new ArrayList<>();
        ByteBuf buf = Unpooled.buffer(256);
        try (ByteBufOutputStream out = new ByteBufOutputStream(buf); JsonGenerator g = FACTORY.createGenerator(
                (java.io.OutputStream) out)) {
            g.writeStartObject();
            g.writeStringField("model_name", r.getModelName());
            g.writeStringField("model_version", r.getModelVersion());
            if (!r.getId().isEmpty()) {
                g.writeStringField("id", r.getId());
            }
            g.writeArrayFieldStart("outputs");
            for (int i = 0; i < r.getOutputsCount(); i++) {
                ModelInferResponse.InferOutputTensor t = r.getOutputs(i);
                DataType type = DataType.fromOip(t.getDatatype());
                g.writeStartObject();
                g.writeStringField("name", t.getName());
                g.writeStringField("datatype", t.getDatatype());
                g.writeArrayFieldStart("shape");
                for (int d = 0; d < t.getShapeCount(); d++) {
                    g.writeNumber(t.getShape(d));
                }
                g.writeEndArray();
                if (asked.binary(t.getName())) {
                    ByteString bytes = raw ? r.getRawOutputContents(i) : rawOf(t.getContents(), type);
                    binary.add(bytes);
                    g.writeObjectFieldStart("parameters");
                    g.writeNumberField(SIZE, bytes.size());
                    g.writeEndObject();
                } else {
                    g.writeArrayFieldStart("data");
                    JsonTensors.writeData(t.getDatatype(), raw ? typedOf(r.getRawOutputContents(i), type)
                            : t.getContents().toBuilder(), g);
                    g.writeEndArray();
                }
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        } catch (IOException | RuntimeException e) {
            buf.release();
            throw e;
        }
        headerBytes[0] = buf.readableBytes();
        for (ByteString b : binary) {
            buf.writeBytes(b.asReadOnlyByteBuffer());
        }
        return buf;
    }

    private static ObjectNode readJson(ByteBuf json) {
        JsonNode n = RequestJson.parse(json);
        if (n == null || !n.isObject()) {
            throw InferenceError.invalid("body: expected a JSON object with \"inputs\"");
        }
        return (ObjectNode) n;
    }

    /** Typed contents as the extension's bytes: little-endian, BOOL one byte, BYTES length-prefixed. */
    static ByteString rawOf(InferTensorContents c, DataType type) {
        if (type == DataType.BYTES) {
            String[] s = new String[c.getBytesContentsCount()];
            for (int k = 0; k < s.length; k++) {
                s[k] = c.getBytesContents(k).toStringUtf8();
            }
            return ResponseEncoder.lengthPrefixed(s, 0, s.length);
        }
        int n = switch (type) {
            case BOOL -> c.getBoolContentsCount();
            case FP32 -> c.getFp32ContentsCount();
            case FP64 -> c.getFp64ContentsCount();
            case INT8, INT16, INT32 -> c.getIntContentsCount();
            case UINT8, UINT16, UINT32 -> c.getUintContentsCount();
            case INT64 -> c.getInt64ContentsCount();
            case UINT64 -> c.getUint64ContentsCount();
            default -> throw InferenceError.invalid("datatype " + type.oipName() + " has no typed contents");
        };
        ByteBuffer b = ByteBuffer.allocate(n * type.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        for (int k = 0; k < n; k++) {
            switch (type) {
                case BOOL -> b.put((byte) (c.getBoolContents(k) ? 1 : 0));
                case FP32 -> b.putFloat(c.getFp32Contents(k));
                case FP64 -> b.putDouble(c.getFp64Contents(k));
                case INT8 -> b.put((byte) c.getIntContents(k));
                case INT16 -> b.putShort((short) c.getIntContents(k));
                case INT32 -> b.putInt(c.getIntContents(k));
                case UINT8 -> b.put((byte) c.getUintContents(k));
                case UINT16 -> b.putShort((short) c.getUintContents(k));
                case UINT32 -> b.putInt(c.getUintContents(k));
                case INT64 -> b.putLong(c.getInt64Contents(k));
                case UINT64 -> b.putLong(c.getUint64Contents(k));
                default -> throw new IllegalStateException(type.name());
            }
        }
        return ByteString.copyFrom(b.array());
    }

    /** Raw output bytes as typed contents, for outputs answered in JSON. */
    private static InferTensorContents.Builder typedOf(ByteString raw, DataType type) {
        if (type == DataType.BYTES) {
            InferTensorContents.Builder c = InferTensorContents.newBuilder();
            ByteBuffer b = raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            while (b.remaining() >= 4) {
                int len = b.getInt();
                byte[] s = new byte[len];
                b.get(s);
                c.addBytesContents(ByteString.copyFrom(s));
            }
            return c;
        }
        return ResponseEncoder.typedContents(raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN).slice()
                .order(ByteOrder.LITTLE_ENDIAN), type);
    }
}
