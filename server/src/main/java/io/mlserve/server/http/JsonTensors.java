package io.mlserve.server.http;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.ByteString;
import io.mlserve.proto.inference.InferParameter;
import io.mlserve.proto.inference.InferTensorContents;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.runtime.DataType;
import io.mlserve.server.inference.InferenceError;
import java.io.IOException;
import java.util.Map;

/**
 * REST v2 JSON tensors ⇄ the protocol's protobuf messages, so REST requests take the same inference path
 * as gRPC. Tensor {@code data} may be flat or nested (row-major); datatypes without a JSON form (FP16,
 * BF16) are refused with a message saying to use gRPC raw contents.
 */
final class JsonTensors {
    private JsonTensors() {
    }

    static ModelInferRequest request(JsonNode body, String model, String version) {
        if (body == null || !body.isObject()) {
            throw InferenceError.invalid("body: expected a JSON object with \"inputs\"");
        }
        ModelInferRequest.Builder b = ModelInferRequest.newBuilder().setModelName(model).setModelVersion(version);
        JsonNode id = body.get("id");
        if (id != null && !id.isNull()) {
            if (!id.isTextual()) {
                throw InferenceError.invalid("id: expected a string");
            }
            b.setId(id.asText());
        }
        b.putAllParameters(parameters(body.get("parameters"), "parameters"));
        JsonNode inputs = body.get("inputs");
        if (inputs == null || !inputs.isArray()) {
            throw InferenceError.invalid("inputs: expected an array of tensors");
        }
        for (int i = 0; i < inputs.size(); i++) {
            b.addInputs(input(inputs.get(i), "inputs[" + i + "]"));
        }
        JsonNode outputs = body.get("outputs");
        if (outputs != null && !outputs.isNull()) {
            if (!outputs.isArray()) {
                throw InferenceError.invalid("outputs: expected an array");
            }
            for (int k = 0; k < outputs.size(); k++) {
                JsonNode o = outputs.get(k);
                JsonNode name = o == null ? null : o.get("name");
                if (name == null || !name.isTextual()) {
                    throw InferenceError.invalid("outputs[" + k + "].name: expected a string");
                }
                b.addOutputs(ModelInferRequest.InferRequestedOutputTensor.newBuilder().setName(name.asText())
                        .putAllParameters(parameters(o.get("parameters"), "outputs[" + k + "].parameters")));
            }
        }
        return b.build();
    }

    private static ModelInferRequest.InferInputTensor input(JsonNode t, String field) {
        if (t == null || !t.isObject()) {
            throw InferenceError.invalid(field + ": expected an object with name, shape, datatype, data");
        }
        ModelInferRequest.InferInputTensor.Builder in = ModelInferRequest.InferInputTensor.newBuilder();
        JsonNode name = t.get("name");
        if (name == null || !name.isTextual()) {
            throw InferenceError.invalid(field + ".name: expected a string");
        }
        in.setName(name.asText());
        JsonNode datatype = t.get("datatype");
        if (datatype == null || !datatype.isTextual()) {
            throw InferenceError.invalid(field + ".datatype: expected a string such as \"FP32\"");
        }
        in.setDatatype(datatype.asText());
        JsonNode shape = t.get("shape");
        if (shape == null || !shape.isArray()) {
            throw InferenceError.invalid(field + ".shape: expected an array of integers");
        }
        for (int d = 0; d < shape.size(); d++) {
            if (!shape.get(d).canConvertToLong() || !shape.get(d).isIntegralNumber()) {
                throw InferenceError.invalid(field + ".shape[" + d + "]: expected an integer");
            }
            in.addShape(shape.get(d).asLong());
        }
        in.putAllParameters(parameters(t.get("parameters"), field + ".parameters"));
        JsonNode data = t.get("data");
        if (data == null) {
            throw InferenceError.invalid(field + ".data: missing");
        }
        DataType type = DataType.fromOip(datatype.asText());
        if (type == null) {
            throw InferenceError.invalid(field + ".datatype: unknown datatype '" + datatype.asText() + "'");
        }
        InferTensorContents.Builder c = InferTensorContents.newBuilder();
        int[] count = {0};
        flatten(data, type, c, field + ".data", count);
        return in.setContents(c).build();
    }

    private static void flatten(JsonNode node, DataType type, InferTensorContents.Builder c, String field, int[] k) {
        if (node.isArray()) {
            for (JsonNode e : node) {
                flatten(e, type, c, field, k);
            }
            return;
        }
        int at = k[0]++;
        switch (type) {
            case BOOL -> {
                if (!node.isBoolean()) {
                    throw bad(field, at, "true or false");
                }
                c.addBoolContents(node.booleanValue());
            }
            case FP32, FP64 -> {
                if (!node.isNumber()) {
                    throw bad(field, at, "a number");
                }
                if (type == DataType.FP32) {
                    c.addFp32Contents(node.floatValue());
                } else {
                    c.addFp64Contents(node.doubleValue());
                }
            }
            case INT8, INT16, INT32 -> c.addIntContents((int) integer(node, field, at, Integer.MIN_VALUE, Integer.MAX_VALUE));
            case UINT8, UINT16, UINT32 -> c.addUintContents((int) integer(node, field, at, 0, 0xFFFFFFFFL));
            case INT64 -> c.addInt64Contents(integer(node, field, at, Long.MIN_VALUE, Long.MAX_VALUE));
            case UINT64 -> c.addUint64Contents(integer(node, field, at, 0, Long.MAX_VALUE));
            case BYTES -> {
                if (!node.isTextual()) {
                    throw bad(field, at, "a string");
                }
                c.addBytesContents(ByteString.copyFromUtf8(node.textValue()));
            }
            default -> throw InferenceError.invalid(field + ": datatype " + type.oipName()
                    + " has no JSON form; send it over gRPC in raw_input_contents");
        }
    }

    private static long integer(JsonNode node, String field, int at, long min, long max) {
        if (!node.isIntegralNumber() || !node.canConvertToLong()) {
            throw bad(field, at, "an integer");
        }
        long v = node.longValue();
        if (v < min || v > max) {
            throw bad(field, at, "an integer in [" + min + ", " + max + "]");
        }
        return v;
    }

    private static InferenceError bad(String field, int at, String expected) {
        return InferenceError.invalid(field + "[" + at + "]: expected " + expected);
    }

    private static Map<String, InferParameter> parameters(JsonNode p, String field) {
        if (p == null || p.isNull()) {
            return Map.of();
        }
        if (!p.isObject()) {
            throw InferenceError.invalid(field + ": expected an object");
        }
        Map<String, InferParameter> out = new java.util.HashMap<>();
        for (Map.Entry<String, JsonNode> e : p.properties()) {
            JsonNode v = e.getValue();
            InferParameter.Builder ip = InferParameter.newBuilder();
            if (v.isBoolean()) {
                ip.setBoolParam(v.booleanValue());
            } else if (v.isIntegralNumber() && v.canConvertToLong()) {
                ip.setInt64Param(v.longValue());
            } else if (v.isNumber()) {
                ip.setDoubleParam(v.doubleValue());
            } else if (v.isTextual()) {
                ip.setStringParam(v.textValue());
            } else {
                throw InferenceError.invalid(field + "." + e.getKey() + ": expected a string, number or boolean");
            }
            out.put(e.getKey(), ip.build());
        }
        return out;
    }

    /** Writes the elements of typed contents {@code c} of {@code datatype} as JSON values. */
    static void writeData(String datatype, io.mlserve.proto.inference.InferTensorContentsOrBuilder c, JsonGenerator g)
            throws IOException {
        DataType type = DataType.fromOip(datatype);
        switch (type) {
            case BOOL -> {
                for (int k = 0; k < c.getBoolContentsCount(); k++) {
                    g.writeBoolean(c.getBoolContents(k));
                }
            }
            case FP32 -> {
                for (int k = 0; k < c.getFp32ContentsCount(); k++) {
                    g.writeNumber(c.getFp32Contents(k));
                }
            }
            case FP64 -> {
                for (int k = 0; k < c.getFp64ContentsCount(); k++) {
                    g.writeNumber(c.getFp64Contents(k));
                }
            }
            case INT8, INT16, INT32 -> {
                for (int k = 0; k < c.getIntContentsCount(); k++) {
                    g.writeNumber(c.getIntContents(k));
                }
            }
            case UINT8, UINT16, UINT32 -> {
                for (int k = 0; k < c.getUintContentsCount(); k++) {
                    g.writeNumber(Integer.toUnsignedLong(c.getUintContents(k)));
                }
            }
            case INT64 -> {
                for (int k = 0; k < c.getInt64ContentsCount(); k++) {
                    g.writeNumber(c.getInt64Contents(k));
                }
            }
            case UINT64 -> {
                for (int k = 0; k < c.getUint64ContentsCount(); k++) {
                    g.writeNumber(Long.toUnsignedString(c.getUint64Contents(k)));
                }
            }
            case BYTES -> {
                for (int k = 0; k < c.getBytesContentsCount(); k++) {
                    g.writeString(c.getBytesContents(k).toStringUtf8());
                }
            }
            default -> throw InferenceError.invalid("outputs: datatype " + datatype + " has no JSON form; ask for it "
                    + "with parameters.binary_data: true");
        }
    }
}
