package io.mlserve.server.traininglog;

import io.mlserve.featurecache.FeatureSpec;
import io.mlserve.featurecache.FeatureType;
import io.mlserve.featurecache.FeatureView;
import io.mlserve.featurecache.ViewEncoding;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.parquet.schema.LogicalTypeAnnotation;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType.PrimitiveTypeName;
import org.apache.parquet.schema.Types;

/**
 * How one feature binding's rows are logged: the Parquet schema of the training log (entity key, event_time, the
 * bound features in binding order, label, outcome_time, score, model, version, request_id, encoding), the encoding
 * JSON stored in each file's metadata and its fingerprint stored in each row. Immutable; built once per binding.
 */
public final class RowEncoding {
    /** The file metadata key holding {@link ViewEncoding#json}. */
    public static final String METADATA_KEY = "mlserve.encoding";
    private static final Set<String> RESERVED = Set.of("event_time", "label", "outcome_time", "score", "model",
            "version", "request_id", "encoding");

    final FeatureView view;
    final boolean[] categorical;
    final MessageType schema;
    final String json;
    final String fingerprint;
    /** Field indexes of the columns after the features. */
    final int label;
    final int outcomeTime;
    final int score;
    final int model;
    final int version;
    final int requestId;
    final int encoding;

    /** @throws IllegalArgumentException when a feature is not in the view, or its name is one of the log's columns */
    RowEncoding(FeatureView view, List<String> names) {
        this.view = view;
        List<FeatureSpec> specs = ViewEncoding.inputs(view, names);
        Set<String> seen = new HashSet<>(RESERVED);
        if (!seen.add(view.entityKey())) {
            throw new IllegalArgumentException("view '" + view.name() + "': entity key '" + view.entityKey()
                    + "' is the name of a training log column");
        }
        Types.MessageTypeBuilder b = Types.buildMessage();
        b.required(PrimitiveTypeName.BINARY).as(LogicalTypeAnnotation.stringType()).named(view.entityKey());
        b.required(PrimitiveTypeName.INT64).named("event_time");
        categorical = new boolean[specs.size()];
        for (int j = 0; j < specs.size(); j++) {
            FeatureSpec s = specs.get(j);
            if (!seen.add(s.name())) {
                throw new IllegalArgumentException("view '" + view.name() + "': feature '" + s.name()
                        + "' has the name of a training log column");
            }
            categorical[j] = s.type() == FeatureType.CATEGORICAL;
            b.optional(categorical[j] ? PrimitiveTypeName.INT32 : PrimitiveTypeName.FLOAT).named(s.name());
        }
        b.optional(PrimitiveTypeName.DOUBLE).named("label");
        b.optional(PrimitiveTypeName.INT64).named("outcome_time");
        b.required(PrimitiveTypeName.FLOAT).named("score");
        for (String text : List.of("model", "version", "request_id", "encoding")) {
            b.required(PrimitiveTypeName.BINARY).as(LogicalTypeAnnotation.stringType()).named(text);
        }
        schema = b.named("training_log");
        int k = specs.size();
        label = 2 + k;
        outcomeTime = label + 1;
        score = label + 2;
        model = label + 3;
        version = label + 4;
        requestId = label + 5;
        encoding = label + 6;
        json = ViewEncoding.json(view, names).toString();
        fingerprint = ViewEncoding.fingerprint(specs);
    }

    /** The encoding's fingerprint (the {@code encoding} column). */
    public String fingerprint() {
        return fingerprint;
    }

    public MessageType schema() {
        return schema;
    }

    /** Whether a feature read with {@code status} was served as the view's default (its cell is NULL). */
    public boolean servedAsDefault(io.mlserve.proto.v1.FeatureStatus status) {
        return servedAsDefault(status, view.serveStale());
    }

    /**
     * Whether a feature read with {@code status} was served as the view's default: DEFAULTED and MISSING always,
     * STALE unless the view serves stale values.
     */
    public static boolean servedAsDefault(io.mlserve.proto.v1.FeatureStatus status, boolean serveStale) {
        return switch (status) {
            case DEFAULTED, MISSING -> true;
            case STALE -> !serveStale;
            default -> false;
        };
    }
}
