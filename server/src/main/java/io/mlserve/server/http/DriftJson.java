package io.mlserve.server.http;

import com.fasterxml.jackson.core.JsonGenerator;
import io.mlserve.drift.DriftDetector;
import java.io.IOException;
import java.time.Instant;
import java.util.Map;

/**
 * {@code GET /v1/drift/{model}}: the last closed window's report as JSON, with the sequential detector's last look
 * ({@code sequential}) and the version's alert (from whichever raises it).
 */
final class DriftJson {
    private DriftJson() {
    }

    static void write(String model, String version, DriftDetector.Report r,
                      io.mlserve.drift.SequentialDetector.Verdict sequential, JsonGenerator g) throws IOException {
        g.writeStartObject();
        g.writeStringField("model", model);
        g.writeStringField("version", version);
        g.writeObjectFieldStart("window");
        g.writeNumberField("rows", r.rows());
        g.writeStringField("start", Instant.ofEpochMilli(r.startMs()).toString());
        g.writeStringField("end", Instant.ofEpochMilli(r.endMs()).toString());
        g.writeNumberField("start_ms", r.startMs());
        g.writeNumberField("end_ms", r.endMs());
        if (r.season() != null) {
            g.writeStringField("season", r.season());
        }
        g.writeBooleanField("judged", r.judged());
        g.writeEndObject();
        g.writeObjectFieldStart("features");
        for (Map.Entry<String, DriftDetector.FeatureResult> e : r.features().entrySet()) {
            g.writeFieldName(e.getKey());
            feature(e.getValue(), g);
        }
        g.writeEndObject();
        if (r.score() != null) {
            g.writeFieldName("score");
            feature(r.score(), g);
        }
        g.writeNumberField("drifted_share", r.driftedShare());
        g.writeBooleanField("dataset_drift", r.datasetDrift());
        g.writeBooleanField("drifted", r.drifted());
        g.writeObjectFieldStart("alert");
        g.writeStringField("source", sequential != null ? "sequential" : "windows");
        g.writeBooleanField("active", sequential != null ? sequential.alert() : r.alert());
        g.writeBooleanField("raised", sequential == null && r.alertRaised());
        g.writeBooleanField("cleared", sequential == null && r.alertCleared());
        g.writeEndObject();
        if (sequential != null) {
            g.writeObjectFieldStart("sequential");
            g.writeNumberField("rows", sequential.rows());
            g.writeArrayFieldStart("flagged");
            for (String f : sequential.flagged()) {
                g.writeString(f);
            }
            g.writeEndArray();
            g.writeBooleanField("score_flagged", sequential.scoreFlagged());
            number(g, "importance_share", sequential.importanceShare());
            number(g, "share", sequential.share());
            number(g, "severity", sequential.severity());
            g.writeEndObject();
        }
        g.writeEndObject();
    }

    private static void feature(DriftDetector.FeatureResult f, JsonGenerator g) throws IOException {
        g.writeStartObject();
        g.writeStringField("method", f.method());
        g.writeBooleanField("drifted", f.drifted());
        g.writeNumberField("rows", f.rows());
        g.writeNumberField("missing", f.missing());
        number(g, "psi", f.psi());
        number(g, "js", f.js());
        if (!Double.isNaN(f.ks())) {
            number(g, "ks", f.ks());
            number(g, "ks_error_bound", f.ksErrorBound());
        }
        if (!Double.isNaN(f.pValue())) {
            number(g, "chi2", f.chi2());
            number(g, "p_value", f.pValue());
        }
        g.writeStringField("reference", f.reference());
        if (f.trendPerDay() != 0) {
            number(g, "trend_per_day", f.trendPerDay());
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
}
