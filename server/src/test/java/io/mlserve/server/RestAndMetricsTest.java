package io.mlserve.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mlserve.runtime.onnx.ExampleModels;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** REST v2 endpoints over real HTTP, and /metrics counting what happened. */
class RestAndMetricsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path dir;

    static TestServer t;
    static int http;

    @BeforeAll
    static void start() throws Exception {
        t = new TestServer(dir)
                .model("add_mul", 1, ExampleModels.addMul())
                .model("labels", 3, ExampleModels.stringLabels("x", "y"))
                .model("bool_logic", 1, ExampleModels.boolLogic())
                .model("metered", 1, ExampleModels.addMul())
                .start();
        http = t.server.httpPort();
    }

    @AfterAll
    static void stop() throws Exception {
        t.close();
    }

    private static JsonNode json(HttpResponse<String> r) throws Exception {
        return JSON.readTree(r.body());
    }

    @Test
    void healthAndServerMetadata() throws Exception {
        assertThat(t.get(http, "/v2/health/live").statusCode()).isEqualTo(200);
        assertThat(t.get(http, "/v2/health/ready").statusCode()).isEqualTo(200);
        JsonNode md = json(t.get(http, "/v2"));
        assertThat(md.get("name").asText()).isEqualTo("mlserve");
        assertThat(md.get("extensions").isArray()).isTrue();
    }

    @Test
    void modelMetadataReadinessAndConfig() throws Exception {
        JsonNode md = json(t.get(http, "/v2/models/labels"));
        assertThat(md.get("versions").get(0).asText()).isEqualTo("3");
        assertThat(md.get("inputs").get(0).get("datatype").asText()).isEqualTo("BYTES");
        assertThat(md.get("inputs").get(0).get("shape").get(0).asLong()).isEqualTo(-1);
        assertThat(json(t.get(http, "/v2/models/labels/versions/3")).get("name").asText()).isEqualTo("labels");
        assertThat(t.get(http, "/v2/models/labels/ready").statusCode()).isEqualTo(200);
        assertThat(t.get(http, "/v2/models/labels/versions/3/ready").statusCode()).isEqualTo(200);
        assertThat(t.get(http, "/v2/models/labels/versions/4/ready").statusCode()).isEqualTo(503);
        assertThat(t.get(http, "/v2/models/none/ready").statusCode()).isEqualTo(404);
        assertThat(json(t.get(http, "/v2/models/labels/config")).get("platform").asText()).isEqualTo("onnxruntime_onnx");
        HttpResponse<String> missing = t.get(http, "/v2/models/none");
        assertThat(missing.statusCode()).isEqualTo(404);
        assertThat(json(missing).get("error").asText()).contains("'none'");
    }

    @Test
    void infersWithJsonTensorsFlatOrNested() throws Exception {
        HttpResponse<String> r = t.post(http, "/v2/models/add_mul/infer", """
                {"id": "req-1",
                 "inputs": [
                   {"name": "a", "shape": [2, 4], "datatype": "FP32", "data": [[1, 2, 3, 4], [5, 6, 7, 8]]},
                   {"name": "b", "shape": [2, 4], "datatype": "FP32", "data": [1, 1, 1, 1, 2, 2, 2, 2]}],
                 "outputs": [{"name": "product"}]}
                """);
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        JsonNode body = json(r);
        assertThat(body.get("id").asText()).isEqualTo("req-1");
        assertThat(body.get("model_version").asText()).isEqualTo("1");
        assertThat(body.get("outputs")).hasSize(1);
        JsonNode out = body.get("outputs").get(0);
        assertThat(out.get("name").asText()).isEqualTo("product");
        assertThat(out.get("shape").toString()).isEqualTo("[2,4]");
        assertThat(out.get("data").toString()).isEqualTo("[1.0,2.0,3.0,4.0,10.0,12.0,14.0,16.0]");

        JsonNode strings = json(t.post(http, "/v2/models/labels/versions/3/infer",
                "{\"inputs\":[{\"name\":\"text\",\"shape\":[2],\"datatype\":\"BYTES\",\"data\":[\"y\",\"z\"]}]}"));
        assertThat(strings.get("outputs").get(0).get("data").toString()).isEqualTo("[\"y\",\"z\"]");
        assertThat(strings.get("outputs").get(1).get("data").toString()).isEqualTo("[1,-1]");

        JsonNode bools = json(t.post(http, "/v2/models/bool_logic/infer", "{\"inputs\":["
                + "{\"name\":\"a\",\"shape\":[1,4],\"datatype\":\"BOOL\",\"data\":[true,false,true,false]},"
                + "{\"name\":\"b\",\"shape\":[1,4],\"datatype\":\"BOOL\",\"data\":[true,true,false,false]}]}"));
        assertThat(bools.get("outputs").get(0).get("data").toString()).isEqualTo("[true,false,false,false]");
    }

    @Test
    void badRestRequestsGetFourHundredsWithTheFieldNamed() throws Exception {
        HttpResponse<String> notJson = t.post(http, "/v2/models/add_mul/infer", "{inputs:");
        assertThat(notJson.statusCode()).isEqualTo(400);
        assertThat(json(notJson).get("error").asText()).contains("body: not valid JSON");
        HttpResponse<String> wrongShape = t.post(http, "/v2/models/add_mul/infer", "{\"inputs\":["
                + "{\"name\":\"a\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[1,2,3]},"
                + "{\"name\":\"b\",\"shape\":[1,3],\"datatype\":\"FP32\",\"data\":[1,2,3]}]}");
        assertThat(wrongShape.statusCode()).isEqualTo(400);
        assertThat(json(wrongShape).get("error").asText()).contains("inputs[0].shape");
        HttpResponse<String> wrongElement = t.post(http, "/v2/models/add_mul/infer", "{\"inputs\":["
                + "{\"name\":\"a\",\"shape\":[1,4],\"datatype\":\"FP32\",\"data\":[1,2,\"x\",4]}]}");
        assertThat(wrongElement.statusCode()).isEqualTo(400);
        assertThat(json(wrongElement).get("error").asText()).contains("inputs[0].data[2]: expected a number");
        assertThat(t.post(http, "/v2/models/nope/infer", "{\"inputs\":[]}").statusCode()).isEqualTo(404);
        assertThat(t.get(http, "/v2/models/add_mul/infer").statusCode()).isEqualTo(405);
        assertThat(t.get(http, "/nothing").statusCode()).isEqualTo(404);
    }

    @Test
    void repositoryIndexOverRest() throws Exception {
        JsonNode idx = json(t.post(http, "/v2/repository/index", ""));
        assertThat(idx.isArray()).isTrue();
        assertThat(idx.toString()).contains("\"name\":\"labels\",\"version\":\"3\",\"state\":\"READY\"");
        assertThat(t.post(http, "/v2/repository/models/absent/load", "").statusCode()).isEqualTo(404);
    }

    @Test
    void metricsExposeHistogramsCountsAndJvm() throws Exception {
        for (int i = 0; i < 5; i++) {
            t.post(http, "/v2/models/metered/infer", "{\"inputs\":["
                    + "{\"name\":\"a\",\"shape\":[3,4],\"datatype\":\"FP32\",\"data\":[1,2,3,4,1,2,3,4,1,2,3,4]},"
                    + "{\"name\":\"b\",\"shape\":[3,4],\"datatype\":\"FP32\",\"data\":[1,2,3,4,1,2,3,4,1,2,3,4]}]}");
        }
        t.post(http, "/v2/models/metered/infer", "{\"inputs\":[]}");
        t.post(http, "/v2/models/ghost/infer", "{\"inputs\":[]}");
        HttpResponse<String> r = t.get(t.server.metricsPort(), "/metrics");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("content-type").orElse("")).startsWith("text/plain");
        String m = r.body();
        assertThat(m).contains("# TYPE mlserve_request_duration_seconds histogram");
        assertThat(m).contains("# TYPE mlserve_queue_duration_seconds histogram");
        assertThat(m).contains("# TYPE mlserve_compute_duration_seconds histogram");
        assertThat(m).contains("mlserve_request_duration_seconds_bucket{model=\"metered\",version=\"1\",le=\"0.001\"}");
        assertThat(m).contains("mlserve_request_duration_seconds_count{model=\"metered\",version=\"1\"} 6");
        assertThat(m).contains("mlserve_request_success_total{model=\"metered\",version=\"1\"} 5.0");
        assertThat(m).contains("mlserve_inference_count_total{model=\"metered\",version=\"1\"} 15.0");
        assertThat(m).contains("mlserve_execution_count_total{model=\"metered\",version=\"1\"} 5.0");
        assertThat(m).contains("mlserve_request_failure_total{model=\"metered\",reason=\"invalid_argument\",version=\"1\"} 1.0");
        assertThat(m).containsPattern("mlserve_request_failure_total\\{model=\"_unknown\",reason=\"not_found\",version=\"\"} [1-9]");
        assertThat(m).contains("mlserve_model_ready{model=\"metered\",version=\"1\"} 1.0");
        assertThat(m).contains("jvm_memory_used_bytes").contains("process_cpu_seconds_total");
        assertThat(t.get(t.server.metricsPort(), "/other").statusCode()).isEqualTo(404);
    }
}
