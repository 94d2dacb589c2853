package io.mlserve.server.http;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import io.mlserve.featurecache.FeatureJson;
import io.mlserve.proto.v1.FeatureColumn;
import io.mlserve.proto.v1.FeatureRow;
import io.mlserve.proto.v1.FeatureStatus;
import io.mlserve.proto.v1.FeatureValue;
import io.mlserve.proto.v1.PredictRequest;
import io.mlserve.proto.v1.PredictResponse;
import io.mlserve.proto.v1.Prediction;
import io.mlserve.proto.v1.WriteFeaturesRequest;
import io.mlserve.server.inference.InferenceError;
import java.io.IOException;
import java.util.Map;

/** JSON forms of the /v1 feature and predict endpoints ⇄ the mlserve.v1 messages. */
final class V1Json {
    private V1Json() {
    }

    static WriteFeaturesRequest writeRequest(JsonNode body, String view) {
        JsonNode records = body == null ? null : body.get("records");
        if (records == null || !records.isArray()) {
            throw InferenceError.invalid("records: expected an array of {entity_id, event_time_ms, values}");
        }
        WriteFeaturesRequest.Builder b = WriteFeaturesRequest.newBuilder().setView(view);
        for (int i = 0; i < records.size(); i++) {
            b.addRecords(FeatureJson.record(records.get(i), null, "records[" + i + "]"));
        }
        return b.build();
    }

    static PredictRequest predictRequest(JsonNode body, String model) {
        if (body == null || !body.isObject()) {
            throw InferenceError.invalid("body: expected {\"entity_ids\": [...]}");
        }
        PredictRequest.Builder b = PredictRequest.newBuilder().setModelName(model);
        JsonNode ids = body.get("entity_ids");
        if (ids == null || !ids.isArray()) {
            throw InferenceError.invalid("entity_ids: expected an array");
        }
        for (int i = 0; i < ids.size(); i++) {
            b.addEntityIds(entityId(ids.get(i), "entity_ids[" + i + "]"));
        }
        JsonNode version = body.get("model_version");
        if (version != null && !version.isNull()) {
            b.setModelVersion(version.asText());
        }
        JsonNode id = body.get("id");
        if (id != null && id.isTextual()) {
            b.setId(id.asText());
        }
        JsonNode rf = body.get("return_features");
        if (rf != null && !rf.isNull()) {
            if (!rf.isBoolean()) {
                throw InferenceError.invalid("return_features: expected true or false");
            }
            b.setReturnFeatures(rf.booleanValue());
        }
        JsonNode eventTime = body.get("event_time_ms");
        if (eventTime != null && !eventTime.isNull()) {
            if (!eventTime.isIntegralNumber() || !eventTime.canConvertToLong() || eventTime.longValue() < 0) {
                throw InferenceError.invalid("event_time_ms: expected milliseconds since the epoch (0 = the server's "
                        + "clock), got " + eventTime);
            }
            b.setEventTimeMs(eventTime.longValue());
        }
        JsonNode explain = body.get("explain");
        if (explain != null && !explain.isNull()) {
            if (!explain.isBoolean()) {
                throw InferenceError.invalid("explain: expected true or false");
            }
            b.setExplain(explain.booleanValue());
        }
        JsonNode features = body.get("features");
        if (features != null && !features.isNull()) {
            if (!features.isObject()) {
                throw InferenceError.invalid("features: expected an object {feature: [one value per entity]}");
            }
            for (Map.Entry<String, JsonNode> e : features.properties()) {
                if (!e.getValue().isArray()) {
                    throw InferenceError.invalid("features." + e.getKey() + ": expected an array, one value per entity");
                }
                FeatureColumn.Builder col = FeatureColumn.newBuilder();
                for (int i = 0; i < e.getValue().size(); i++) {
                    col.addValues(value(e.getValue().get(i), "features." + e.getKey() + "[" + i + "]"));
                }
                b.putFeatures(e.getKey(), col.build());
            }
        }
        return b.build();
    }

    /** {"outcomes": [{"entity_id", "label", "request_id"?, "observed_event_time_ms"?, "event_time_ms"?}]} */
    static io.mlserve.proto.v1.ReportOutcomesRequest outcomes(JsonNode body) {
        JsonNode list = body == null ? null : body.get("outcomes");
        if (list == null || !list.isArray()) {
            throw InferenceError.invalid("outcomes: expected an array of {entity_id, label, request_id?, "
                    + "observed_event_time_ms?}");
        }
        io.mlserve.proto.v1.ReportOutcomesRequest.Builder b = io.mlserve.proto.v1.ReportOutcomesRequest.newBuilder();
        for (int i = 0; i < list.size(); i++) {
            JsonNode o = list.get(i);
            String at = "outcomes[" + i + "]";
            if (o == null || !o.isObject()) {
                throw InferenceError.invalid(at + ": expected an object");
            }
            JsonNode label = o.get("label");
            if (label == null || !label.isNumber()) {
                throw InferenceError.invalid(at + ".label: expected 0 or 1");
            }
            io.mlserve.proto.v1.Outcome.Builder ob = io.mlserve.proto.v1.Outcome.newBuilder()
                    .setEntityId(entityId(o.get("entity_id"), at + ".entity_id")).setLabel(label.asDouble());
            JsonNode rid = o.get("request_id");
            if (rid != null && rid.isTextual()) {
                ob.setRequestId(rid.asText());
            }
            // no event_time_ms: 0, the time the server joins it (its own clock, which a replay may drive)
            ob.setObservedEventTimeMs(o.path("observed_event_time_ms").asLong(0))
                    .setEventTimeMs(o.path("event_time_ms").asLong(0));
            b.addOutcomes(ob);
        }
        return b.build();
    }

    private static String entityId(JsonNode id, String field) {
        return FeatureJson.entityId(id, field);
    }

    private static FeatureValue value(JsonNode v, String field) {
        return FeatureJson.value(v, field);
    }

    static void writeRow(FeatureRow row, JsonGenerator g) throws IOException {
        g.writeStartObject();
        g.writeStringField("entity_id", row.getEntityId());
        g.writeNumberField("event_time_ms", row.getEventTimeMs());
        g.writeObjectFieldStart("values");
        for (Map.Entry<String, Double> e : row.getValuesMap().entrySet()) {
            number(g, e.getKey(), e.getValue());
        }
        g.writeEndObject();
        writeStatus(g, "status", row.getStatusMap());
        g.writeEndObject();
    }

    static void writePredictResponse(PredictResponse r, JsonGenerator g) throws IOException {
        g.writeStartObject();
        g.writeStringField("model_name", r.getModelName());
        g.writeStringField("model_version", r.getModelVersion());
        if (!r.getId().isEmpty()) {
            g.writeStringField("id", r.getId());
        }
        g.writeArrayFieldStart("predictions");
        for (Prediction p : r.getPredictionsList()) {
            g.writeStartObject();
            g.writeStringField("entity_id", p.getEntityId());
            number(g, "score", p.getScore());
            if (p.getScoresCount() > 1) {
                g.writeArrayFieldStart("scores");
                for (double s : p.getScoresList()) {
                    g.writeNumber(s);
                }
                g.writeEndArray();
            }
            if (p.getFeaturesCount() > 0) {
                g.writeObjectFieldStart("features");
                for (Map.Entry<String, Double> e : p.getFeaturesMap().entrySet()) {
                    number(g, e.getKey(), e.getValue());
                }
                g.writeEndObject();
                writeStatus(g, "feature_status", p.getFeatureStatusMap());
            }
            if (!p.getExplanation().isEmpty()) {
                g.writeObjectFieldStart("contributions");
                for (Map.Entry<String, Double> e : p.getContributionsMap().entrySet()) {
                    number(g, e.getKey(), e.getValue());
                }
                g.writeEndObject();
                number(g, "base_value", p.getBaseValue());
                g.writeStringField("explanation", p.getExplanation());
            }
            g.writeEndObject();
        }
        g.writeEndArray();
        g.writeEndObject();
    }

    /** JSON has no NaN: a missing value (a view default of nan) is written as null. */
    private static void number(JsonGenerator g, String field, double v) throws IOException {
        if (Double.isNaN(v)) {
            g.writeNullField(field);
        } else {
            g.writeNumberField(field, v);
        }
    }

    private static void writeStatus(JsonGenerator g, String field, Map<String, FeatureStatus> status) throws IOException {
        g.writeObjectFieldStart(field);
        for (Map.Entry<String, FeatureStatus> e : status.entrySet()) {
            g.writeStringField(e.getKey(), e.getValue().name());
        }
        g.writeEndObject();
    }
}
