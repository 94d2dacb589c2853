package io.mlserve.featurecache;

import com.fasterxml.jackson.databind.JsonNode;
import io.mlserve.proto.v1.FeatureRecord;
import io.mlserve.proto.v1.FeatureValue;
import java.util.Map;

/**
 * The JSON form of a feature record, shared by {@code PUT /v1/features} and JSON Kafka topics:
 * {@code {"entity_id": "c-1", "event_time_ms": 1700000000000, "values": {"tenure": 3, "plan": "pro"}}}.
 * Numbers become numbers (integers stay integers), strings become categories.
 */
public final class FeatureJson {
    private FeatureJson() {
    }

    /**
     * Parses one record; {@code defaultEntityId} (e.g. a Kafka key) is used when the JSON has no entity_id.
     *
     * @param field how to name the record in error messages, e.g. {@code records[3]}
     */
    public static FeatureRecord record(JsonNode r, String defaultEntityId, String field) {
        if (r == null || !r.isObject()) {
            throw invalid(field + ": expected an object {entity_id, event_time_ms, values}");
        }
        FeatureRecord.Builder rec = FeatureRecord.newBuilder();
        JsonNode id = r.get("entity_id");
        if (id != null && !id.isNull()) {
            rec.setEntityId(entityId(id, field + ".entity_id"));
        } else if (defaultEntityId != null) {
            rec.setEntityId(defaultEntityId);
        } else {
            throw invalid(field + ".entity_id: required");
        }
        JsonNode t = r.get("event_time_ms");
        if (t == null || !t.isIntegralNumber()) {
            throw invalid(field + ".event_time_ms: expected milliseconds since the epoch");
        }
        rec.setEventTimeMs(t.longValue());
        JsonNode values = r.get("values");
        if (values == null || !values.isObject()) {
            throw invalid(field + ".values: expected an object {feature: value}");
        }
        for (Map.Entry<String, JsonNode> e : values.properties()) {
            rec.putValues(e.getKey(), value(e.getValue(), field + ".values." + e.getKey()));
        }
        return rec.build();
    }

    /** An entity id: a string, or an integer for int64 views. */
    public static String entityId(JsonNode id, String field) {
        if (id == null || !(id.isTextual() || id.isIntegralNumber())) {
            throw invalid(field + ": expected a string (or an integer for int64 views)");
        }
        return id.asText();
    }

    /** A feature value: integer, number or string (category); null names the feature as missing (no kind set). */
    public static FeatureValue value(JsonNode v, String field) {
        if (v.isNull()) {
            return FeatureValue.getDefaultInstance();
        }
        if (v.isIntegralNumber() && v.canConvertToLong()) {
            return FeatureValue.newBuilder().setInteger(v.longValue()).build();
        }
        if (v.isNumber()) {
            return FeatureValue.newBuilder().setNumber(v.doubleValue()).build();
        }
        if (v.isTextual()) {
            return FeatureValue.newBuilder().setCategory(v.textValue()).build();
        }
        throw invalid(field + ": expected a number or a string");
    }

    private static FeatureStoreException invalid(String message) {
        return new FeatureStoreException(FeatureStoreException.Kind.INVALID, message);
    }
}
