package io.mlserve.server.http;

import com.fasterxml.jackson.core.JsonGenerator;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import io.mlserve.proto.v1.Job;
import io.mlserve.proto.v1.TrainResult;
import io.mlserve.server.repository.ModelEntry;
import io.mlserve.server.repository.ServedVersion;
import io.mlserve.server.retrain.RetrainBridge;
import io.mlserve.server.retrain.RetrainStatus;
import java.io.IOException;

/** {@code GET /v1/models[/{name}]}: each model's state, serving versions and retraining, as JSON. */
final class ModelsJson {
    private static final JsonFormat.Printer PROTO = JsonFormat.printer().preservingProtoFieldNames()
            .omittingInsignificantWhitespace();

    private ModelsJson() {
    }

    /** @param retrain the bridge, or null when the server has no trainer */
    static void write(ModelEntry e, RetrainBridge retrain, JsonGenerator g) throws IOException {
        g.writeStartObject();
        g.writeStringField("name", e.name());
        g.writeStringField("state", e.state().name());
        if (!e.reason().isEmpty()) {
            g.writeStringField("reason", e.reason());
        }
        g.writeArrayFieldStart("versions");
        for (ServedVersion v : e.versions()) {
            g.writeString(Long.toString(v.version()));
        }
        g.writeEndArray();
        if (e.latest() != null) {
            g.writeStringField("latest", Long.toString(e.latest().version()));
        }
        g.writeObjectFieldStart("retrain");
        g.writeBooleanField("enabled", RetrainBridge.enabled(e.config()) && retrain != null);
        if (retrain == null) {
            g.writeStringField("trainer", "");
        } else {
            g.writeStringField("trainer", retrain.trainer());
            RetrainStatus s = retrain.status(e.name());
            if (s != null) {
                status(s, g);
            } else {
                g.writeStringField("phase", "idle");
            }
        }
        g.writeEndObject();
        g.writeEndObject();
    }

    static void status(RetrainStatus s, JsonGenerator g) throws IOException {
        g.writeStringField("phase", s.phase());
        g.writeNumberField("attempts", s.attempts());
        if (s.nextAttemptMs() > 0) {
            g.writeNumberField("next_attempt_ms", s.nextAttemptMs());
        }
        if (!s.lastError().isEmpty()) {
            g.writeStringField("last_error", s.lastError());
        }
        if (s.cooldownUntilMs() > 0) {
            g.writeNumberField("cooldown_until_ms", s.cooldownUntilMs());
        }
        if (s.lastEvent() != null) {
            g.writeFieldName("last_event");
            g.writeRawValue(print(s.lastEvent()));
            g.writeStringField("last_outcome", s.lastOutcome());
        }
        if (s.job() != null) {
            job(s.job(), g);
        }
        if (s.servingVersion() > 0) {
            g.writeStringField("serving_version", Long.toString(s.servingVersion()));
        }
    }

    private static void job(Job j, JsonGenerator g) throws IOException {
        g.writeObjectFieldStart("job");
        g.writeStringField("job_id", j.getJobId());
        g.writeStringField("state", j.getState().name());
        if (!j.getMessage().isEmpty()) {
            g.writeStringField("message", j.getMessage());
        }
        g.writeNumberField("submitted_ms", j.getSubmittedMs());
        g.writeNumberField("started_ms", j.getStartedMs());
        g.writeNumberField("finished_ms", j.getFinishedMs());
        if (j.hasResult()) {
            TrainResult r = j.getResult();
            g.writeStringField("version", Long.toString(r.getVersion()));
            g.writeBooleanField("published", r.getPublished());
            number(g, "candidate_auc", r.getCandidateAuc());
            number(g, "champion_auc", r.getChampionAuc());
            // everything the trainer reported: data trained on, the gate's champion, the skew check, metrics
            g.writeFieldName("result");
            g.writeRawValue(print(r));
        }
        g.writeEndObject();
    }

    private static void number(JsonGenerator g, String field, double v) throws IOException {
        if (Double.isFinite(v)) {
            g.writeNumberField(field, v);
        } else {
            g.writeNullField(field);
        }
    }

    private static String print(com.google.protobuf.MessageOrBuilder m) throws IOException {
        try {
            return PROTO.print(m);
        } catch (InvalidProtocolBufferException e) {
            throw new IOException(e);
        }
    }
}
