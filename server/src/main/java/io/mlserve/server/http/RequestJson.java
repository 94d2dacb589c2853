package io.mlserve.server.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mlserve.server.inference.InferenceError;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufInputStream;
import java.io.IOException;

/** The one reader of HTTP request bodies as JSON, for every endpoint and the binary tensor extension's header. */
final class RequestJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private RequestJson() {
    }

    /** Parses JSON from {@code content} (not consuming it); unreadable or invalid JSON is a 400 with the reason. */
    static JsonNode parse(ByteBuf content) {
        try (ByteBufInputStream in = new ByteBufInputStream(content.duplicate())) {
            return JSON.readTree((java.io.InputStream) in);
        } catch (JsonProcessingException e) {
            throw InferenceError.invalid("body: not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw InferenceError.invalid("body: unreadable: " + e.getMessage());
        }
    }
}
