package io.mlserve.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mlserve.runtime.onnx.ExampleModels;
import io.mlserve.server.TestServer;
import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * REST v2 infer with the binary tensor data extension, requests built by hand from the protocol's description: a
 * JSON header whose length {@code Inference-Header-Content-Length} gives, then each binary input's bytes in input
 * order (little-endian FP32, one byte per BOOL, a 4-byte length before each BYTES element); outputs asked for with
 * {@code binary_data} (or all with {@code binary_data_output}) come back after the response's JSON header. Mixed
 * binary and JSON inputs and outputs, every refusal in one line, and JSON alone unchanged.
 */
class BinaryTensorsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    static Path dir;
    static TestServer server;
    static final HttpClient HTTP = HttpClient.newHttpClient();

    @BeforeAll
    static void start() throws Exception {
        server = new TestServer(dir.resolve("models")).model("am", 1, ExampleModels.addMul())
                .model("labels", 1, ExampleModels.stringLabels("x", "yy", "zzz"))
                .model("logic", 1, ExampleModels.boolLogic()).start();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static HttpResponse<byte[]> post(String model, String json, byte[] binary, boolean header)
            throws Exception {
        byte[] head = json.getBytes(StandardCharsets.UTF_8);
        byte[] body = Arrays.copyOf(head, head.length + binary.length);
        System.arraycopy(binary, 0, body, head.length, binary.length);
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.server.httpPort()
                + "/v2/models/" + model + "/infer")).POST(HttpRequest.BodyPublishers.ofByteArray(body));
        if (header) {
            b.header("Inference-Header-Content-Length", Integer.toString(head.length));
        }
        return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    private static byte[] floats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putFloat(f);
        }
        return b.array();
    }

    /** The JSON header and the binary part of a response. */
    private static JsonNode head(HttpResponse<byte[]> r) throws Exception {
        int n = Integer.parseInt(r.headers().firstValue("inference-header-content-length").orElseThrow());
        return JSON.readTree(Arrays.copyOf(r.body(), n));
    }

    private static ByteBuffer tail(HttpResponse<byte[]> r) {
        int n = Integer.parseInt(r.headers().firstValue("inference-header-content-length").orElseThrow());
        return ByteBuffer.wrap(r.body(), n, r.body().length - n).slice().order(ByteOrder.LITTLE_ENDIAN);
    }

    @Test
    void binaryAndJsonInputsAndOutputsMix() throws Exception {
        String json = """
                {"inputs": [
                  {"name": "a", "shape": [2, 4], "datatype": "FP32", "parameters": {"binary_data_size": 32}},
                  {"name": "b", "shape": [2, 4], "datatype": "FP32", "data": [1, 1, 1, 1, 2, 2, 2, 2]}],
                 "outputs": [{"name": "sum", "parameters": {"binary_data": true}}, {"name": "product"}]}""";
        HttpResponse<byte[]> r = post("am", json, floats(0, 1, 2, 3, 4, 5, 6, 7), true);
        assertThat(r.statusCode()).as(new String(r.body(), StandardCharsets.UTF_8)).isEqualTo(200);
        JsonNode h = head(r);
        JsonNode sum = h.get("outputs").get(0);
        assertThat(sum.get("name").asText()).isEqualTo("sum");
        assertThat(sum.get("parameters").get("binary_data_size").asInt()).isEqualTo(32);
        assertThat(sum.has("data")).isFalse();
        ByteBuffer bin = tail(r);
        assertThat(bin.remaining()).isEqualTo(32);
        float[] got = new float[8];
        bin.asFloatBuffer().get(got);
        assertThat(got).containsExactly(1, 2, 3, 4, 6, 7, 8, 9);
        assertThat(h.get("outputs").get(1).get("data").toString()).isEqualTo("[0.0,1.0,2.0,3.0,8.0,10.0,12.0,14.0]");
    }

    @Test
    void binaryDataOutputAnswersEveryOutputInBinaryEvenForJsonInputs() throws Exception {
        String json = """
                {"parameters": {"binary_data_output": true}, "inputs": [
                  {"name": "a", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]},
                  {"name": "b", "shape": [1, 4], "datatype": "FP32", "data": [2, 2, 2, 2]}]}""";
        HttpResponse<byte[]> r = post("am", json, new byte[0], false);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("content-type")).contains("application/octet-stream");
        JsonNode h = head(r);
        float[] all = new float[8];
        tail(r).asFloatBuffer().get(all);
        // outputs in the order the header lists them, each binary_data_size bytes
        float[] sum = h.get("outputs").get(0).get("name").asText().equals("sum") ? Arrays.copyOf(all, 4)
                : Arrays.copyOfRange(all, 4, 8);
        float[] product = h.get("outputs").get(0).get("name").asText().equals("sum") ? Arrays.copyOfRange(all, 4, 8)
                : Arrays.copyOf(all, 4);
        assertThat(sum).containsExactly(3, 4, 5, 6);
        assertThat(product).containsExactly(2, 4, 6, 8);
        for (JsonNode o : h.get("outputs")) {
            assertThat(o.get("parameters").get("binary_data_size").asInt()).isEqualTo(16);
        }
    }

    @Test
    void bytesAreLengthPrefixedAndBoolsOneByte() throws Exception {
        ByteArrayOutputStream text = new ByteArrayOutputStream();
        for (String s : new String[] {"yy", "nope", "x"}) {
            byte[] u = s.getBytes(StandardCharsets.UTF_8);
            text.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(u.length).array());
            text.write(u);
        }
        byte[] bytes = text.toByteArray();
        HttpResponse<byte[]> r = post("labels", """
                {"inputs": [{"name": "text", "shape": [3], "datatype": "BYTES",
                  "parameters": {"binary_data_size": %d}}],
                 "outputs": [{"name": "echo", "parameters": {"binary_data": true}}, {"name": "label"}]}"""
                .formatted(bytes.length), bytes, true);
        assertThat(r.statusCode()).as(new String(r.body(), StandardCharsets.UTF_8)).isEqualTo(200);
        JsonNode h = head(r);
        assertThat(h.get("outputs").get(1).get("data").toString()).isEqualTo("[1,-1,0]");
        ByteBuffer echo = tail(r);
        byte[] back = new byte[echo.remaining()];
        echo.get(back);
        assertThat(back).isEqualTo(bytes);

        HttpResponse<byte[]> logic = post("logic", """
                {"inputs": [{"name": "a", "shape": [1, 4], "datatype": "BOOL", "parameters": {"binary_data_size": 4}},
                  {"name": "b", "shape": [1, 4], "datatype": "BOOL", "parameters": {"binary_data_size": 4}}],
                 "outputs": [{"name": "and", "parameters": {"binary_data": true}}]}""",
                new byte[] {1, 1, 0, 0, 1, 0, 1, 0}, true);
        assertThat(logic.statusCode()).isEqualTo(200);
        byte[] and = new byte[4];
        tail(logic).get(and);
        assertThat(and).containsExactly(1, 0, 0, 0);
    }

    @Test
    void jsonAloneIsAnsweredInJsonAndTheExtensionIsAdvertised() throws Exception {
        HttpResponse<byte[]> r = post("am", """
                {"inputs": [{"name": "a", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]},
                  {"name": "b", "shape": [1, 4], "datatype": "FP32", "data": [1, 1, 1, 1]}]}""", new byte[0], false);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("inference-header-content-length")).isEmpty();
        assertThat(r.headers().firstValue("content-type")).contains("application/json");
        JsonNode body = JSON.readTree(r.body());
        assertThat(body.get("outputs").get(0).get("data").size()).isEqualTo(4);
        HttpResponse<String> md = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                + server.server.httpPort() + "/v2")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(JSON.readTree(md.body()).get("extensions").toString()).contains("binary_tensor_data");
    }

    @Test
    void malformedBinaryRequestsAreRefusedInOneLine() throws Exception {
        String oneBinary = """
                {"inputs": [{"name": "a", "shape": [1, 4], "datatype": "FP32", "parameters": {"binary_data_size": 16}},
                  {"name": "b", "shape": [1, 4], "datatype": "FP32", "data": [1, 1, 1, 1]}]}""";
        expect400(post("am", oneBinary, floats(1, 2, 3), true), "only 12 are left");
        expect400(post("am", oneBinary, floats(1, 2, 3, 4, 5), true), "4 bytes after the JSON header");
        expect400(post("am", oneBinary, floats(1, 2, 3, 4), false), "need the Inference-Header-Content-Length");
        expect400(post("am", oneBinary.replace("\"parameters\": {\"binary_data_size\": 16}",
                "\"parameters\": {\"binary_data_size\": 16}, \"data\": [1, 2, 3, 4]"), floats(1, 2, 3, 4), true),
                "give data or binary_data_size, not both");
        // a header longer than the body
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                + server.server.httpPort() + "/v2/models/am/infer")).header("Inference-Header-Content-Length", "999")
                .POST(HttpRequest.BodyPublishers.ofString("{}")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).isEqualTo(400);
        assertThat(r.body()).contains("999 bytes of JSON, but the body has 2");
        // the wrong byte count for the tensor's shape is the core's refusal, as for gRPC raw contents
        expect400(post("am", oneBinary.replace("16", "12"), floats(1, 2, 3), true), "needs 16 bytes, got 12");
    }

    private static void expect400(HttpResponse<byte[]> r, String says) {
        String body = new String(r.body(), StandardCharsets.UTF_8);
        assertThat(r.statusCode()).as(body).isEqualTo(400);
        assertThat(body).contains(says).doesNotContain("\n");
    }
}
