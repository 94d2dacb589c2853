package io.mlserve.server.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mlserve.server.inference.InferenceError;
import java.io.IOException;

/**
 * Fuzzing the REST bodies: any text is either not JSON, or a request the JSON readers turn into a protocol message,
 * or refused with a 4xx InferenceError naming the field — for the v2 infer body, Predict, feature writes and
 * outcomes. No other exception may escape (it would be a 500).
 */
class RestJsonFuzzTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @FuzzTest(maxDuration = "20s")
    void restBodies(FuzzedDataProvider d) {
        int which = d.consumeInt(0, 3);
        JsonNode body;
        try {
            body = JSON.readTree(d.consumeRemainingAsString());
        } catch (IOException e) {
            return;
        }
        if (body == null) {
            return;
        }
        try {
            switch (which) {
                case 0 -> JsonTensors.request(body, "m", "");
                case 1 -> V1Json.predictRequest(body, "m");
                case 2 -> V1Json.writeRequest(body, "customer");
                default -> V1Json.outcomes(body);
            }
        } catch (InferenceError e) {
            assertThat(e.httpStatus()).isBetween(400, 499);
        }
    }
}
