package io.mlserve.featurecache;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * How a model's inputs are read from a feature view, as JSON that crosses process boundaries (the server hands it
 * to Spark scoring and to retraining jobs; the training log stores it beside its rows):
 * {@code {"view", "entity_key", "inputs": [{"name", "type": "number" | "category", "vocabulary": [...],
 * "hash_buckets", "default": number | null}]}} — inputs in the model's input order, {@code null} meaning NaN
 * (missing: the model's own imputation fills it). The fingerprint names one encoding: two sides that compute the
 * same fingerprint feed a model the same numbers.
 */
public final class ViewEncoding {
    private ViewEncoding() {
    }

    /** The encoding of {@code names} (features of {@code view}, in input order). */
    public static ObjectNode json(FeatureView view, List<String> names) {
        ObjectNode e = JsonNodeFactory.instance.objectNode().put("view", view.name())
                .put("entity_key", view.entityKey());
        ArrayNode inputs = e.putArray("inputs");
        for (FeatureSpec spec : inputs(view, names)) {
            ObjectNode in = inputs.addObject().put("name", spec.name())
                    .put("type", spec.type() == FeatureType.CATEGORICAL ? "category" : "number")
                    .put("hash_buckets", spec.hashBuckets());
            spec.vocabulary().forEach(in.putArray("vocabulary")::add);
            if (Double.isNaN(spec.defaultValue())) {
                in.putNull("default");
            } else {
                in.put("default", spec.defaultValue());
            }
        }
        return e;
    }

    /** The specs of {@code names} in that order; an unknown name fails, naming the view. */
    public static List<FeatureSpec> inputs(FeatureView view, List<String> names) {
        List<FeatureSpec> out = new ArrayList<>(names.size());
        for (String name : names) {
            int f = view.indexOf(name);
            if (f < 0) {
                throw new IllegalArgumentException("feature '" + name + "' is not in view '" + view.name() + "'");
            }
            out.add(view.features().get(f));
        }
        return out;
    }

    /** The inputs of an encoding JSON. */
    public static List<FeatureSpec> inputs(JsonNode encoding) {
        JsonNode in = encoding.get("inputs");
        if (in == null || !in.isArray() || in.isEmpty()) {
            throw new IllegalArgumentException("encoding: expected a non-empty \"inputs\" list");
        }
        List<FeatureSpec> out = new ArrayList<>();
        for (int i = 0; i < in.size(); i++) {
            JsonNode f = in.get(i);
            String name = f.path("name").asText("");
            boolean category = f.path("type").asText("").equals("category");
            List<String> vocabulary = new ArrayList<>();
            f.path("vocabulary").forEach(v -> vocabulary.add(v.asText()));
            JsonNode d = f.get("default");
            double def = d == null || d.isNull() ? Double.NaN : d.asDouble();
            try {
                out.add(new FeatureSpec(name, category ? FeatureType.CATEGORICAL : FeatureType.FLOAT32, vocabulary,
                        f.path("hash_buckets").asInt(0), def));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("encoding: inputs[" + i + "]: " + e.getMessage());
            }
        }
        return out;
    }

    /**
     * A short name for an encoding (16 hex digits of a SHA-256): names, kinds, vocabularies, hash buckets and
     * defaults in input order. INT64 and FLOAT32 features are both numbers to a model and count as the same kind.
     */
    public static String fingerprint(List<FeatureSpec> inputs) {
        StringBuilder b = new StringBuilder();
        for (FeatureSpec s : inputs) {
            b.append(s.name()).append('\u0001').append(s.type() == FeatureType.CATEGORICAL ? "category" : "number")
                    .append('\u0001').append(String.join("\u0002", s.vocabulary())).append('\u0001')
                    .append(s.hashBuckets()).append('\u0001').append(Double.isNaN(s.defaultValue()) ? "nan"
                            : Double.toString(s.defaultValue())).append('\n');
        }
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(b.toString().getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(d, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
