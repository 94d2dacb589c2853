package io.mlserve.featurecache;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A feature view as a config file writes it (one entry of {@code feature_views}): the one reader of that form, for
 * the server's {@code --config} and for the trainer, which trains on the view a model binds. Every mistake is an
 * {@link IllegalArgumentException} whose message is {@code <where>: <key path>: <what was expected>}.
 */
public final class FeatureViewConfig {
    private static final Set<String> VIEW_KEYS = Set.of("name", "entity_key", "key_type", "ttl", "max_entities",
            "serve_stale", "write_mode", "features");
    private static final Set<String> FEATURE_KEYS = Set.of("name", "type", "vocabulary", "hash_buckets", "default",
            "ttl");
    private static final Pattern DURATION = Pattern.compile("(\\d+)\\s*(ms|s|m|h|d)?");

    private FeatureViewConfig() {
    }

    /**
     * @param where the file, for messages
     * @param key   the view's key path, e.g. {@code feature_views[0]}
     */
    public static FeatureView view(String where, String key, JsonNode v) {
        if (!v.isObject()) {
            throw fail(where, key, "expected a mapping");
        }
        checkKeys(where, key + ".", v, VIEW_KEYS);
        String name = text(where, key + ".name", require(where, key, v, "name"));
        String entityKey = text(where, key + ".entity_key", require(where, key, v, "entity_key"));
        String keyType = v.has("key_type") ? text(where, key + ".key_type", v.get("key_type")).toLowerCase(Locale.ROOT)
                : "string";
        FeatureView.KeyType kt = switch (keyType) {
            case "string" -> FeatureView.KeyType.STRING;
            case "int64" -> FeatureView.KeyType.INT64;
            default -> throw fail(where, key + ".key_type", "expected string or int64, got '" + keyType + "'");
        };
        Duration ttl = v.has("ttl") ? duration(where, key + ".ttl", v.get("ttl")) : Duration.ZERO;
        long maxEntities = v.has("max_entities") ? positive(where, key + ".max_entities", v.get("max_entities"))
                : 1_000_000;
        boolean serveStale = v.has("serve_stale") && bool(where, key + ".serve_stale", v.get("serve_stale"));
        String writeMode = v.has("write_mode")
                ? text(where, key + ".write_mode", v.get("write_mode")).toLowerCase(Locale.ROOT) : "merge";
        FeatureView.WriteMode mode = switch (writeMode) {
            case "merge" -> FeatureView.WriteMode.MERGE;
            case "replace" -> FeatureView.WriteMode.REPLACE;
            default -> throw fail(where, key + ".write_mode", "expected merge or replace, got '" + writeMode + "'");
        };
        JsonNode fs = require(where, key, v, "features");
        if (!fs.isArray() || fs.isEmpty()) {
            throw fail(where, key + ".features", "expected a non-empty list");
        }
        List<FeatureSpec> features = new ArrayList<>();
        for (int i = 0; i < fs.size(); i++) {
            features.add(feature(where, key + ".features[" + i + "]", fs.get(i)));
        }
        try {
            return new FeatureView(name, entityKey, kt, features, ttl, maxEntities, serveStale, mode);
        } catch (IllegalArgumentException e) {
            throw fail(where, key, e.getMessage());
        }
    }

    /**
     * The view named {@code name} in a config file's root mapping ({@code feature_views: [...]}).
     *
     * @throws IllegalArgumentException when there is none (the message lists the views there are)
     */
    public static FeatureView find(String where, JsonNode root, String name) {
        JsonNode vs = root == null ? null : root.get("feature_views");
        if (vs == null || !vs.isArray() || vs.isEmpty()) {
            throw new IllegalArgumentException(where + ": no feature_views");
        }
        List<String> names = new ArrayList<>();
        for (int i = 0; i < vs.size(); i++) {
            JsonNode n = vs.get(i).get("name");
            String viewName = n == null ? "" : n.asText();
            names.add(viewName);
            if (name == null ? vs.size() == 1 : viewName.equals(name)) {
                return view(where, "feature_views[" + i + "]", vs.get(i));
            }
        }
        throw new IllegalArgumentException(where + ": " + (name == null ? "several feature views (" + String.join(", ",
                names) + "): name one" : "no feature view '" + name + "'; it has " + String.join(", ", names)));
    }

    private static FeatureSpec feature(String where, String key, JsonNode f) {
        if (!f.isObject()) {
            throw fail(where, key, "expected a mapping with name and type");
        }
        checkKeys(where, key + ".", f, FEATURE_KEYS);
        String name = text(where, key + ".name", require(where, key, f, "name"));
        String type = f.has("type") ? text(where, key + ".type", f.get("type")).toLowerCase(Locale.ROOT) : "float32";
        FeatureType ft = switch (type) {
            case "float32", "float", "double" -> FeatureType.FLOAT32;
            case "int64", "int" -> FeatureType.INT64;
            case "categorical", "string" -> FeatureType.CATEGORICAL;
            default -> throw fail(where, key + ".type", "expected float32, int64 or categorical, got '" + type + "'");
        };
        List<String> vocabulary = new ArrayList<>();
        if (f.has("vocabulary")) {
            JsonNode voc = f.get("vocabulary");
            if (!voc.isArray()) {
                throw fail(where, key + ".vocabulary", "expected a list of strings");
            }
            for (int i = 0; i < voc.size(); i++) {
                vocabulary.add(text(where, key + ".vocabulary[" + i + "]", voc.get(i)));
            }
        }
        int buckets = f.has("hash_buckets") ? (int) positive(where, key + ".hash_buckets", f.get("hash_buckets")) : 0;
        double def = 0;
        if (f.has("default")) {
            JsonNode d = f.get("default");
            if (d.isTextual() && d.asText().equalsIgnoreCase("nan")) {
                def = Double.NaN; // "missing": a model with imputation in its graph fills it
            } else if (d.isNumber()) {
                def = d.doubleValue();
            } else {
                throw fail(where, key + ".default", "expected a number or nan");
            }
        }
        Duration ttl = f.has("ttl") ? duration(where, key + ".ttl", f.get("ttl")) : Duration.ZERO;
        try {
            return new FeatureSpec(name, ft, vocabulary, buckets, def, ttl);
        } catch (IllegalArgumentException e) {
            throw fail(where, key, e.getMessage());
        }
    }

    /** A duration: seconds as a number, or a number with ms, s, m, h or d. */
    public static Duration duration(String where, String key, JsonNode v) {
        if (v.isIntegralNumber() && v.longValue() >= 0) {
            return Duration.ofSeconds(v.longValue());
        }
        Matcher m = v.isTextual() ? DURATION.matcher(v.asText().trim()) : null;
        if (m == null || !m.matches()) {
            throw fail(where, key, "expected a duration such as 90s, 15m, 24h or 7d");
        }
        long n = Long.parseLong(m.group(1));
        String unit = m.group(2) == null ? "s" : m.group(2);
        return switch (unit) {
            case "ms" -> Duration.ofMillis(n);
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            case "d" -> Duration.ofDays(n);
            default -> Duration.ofSeconds(n);
        };
    }

    /** Fails on a key of {@code node} that is not in {@code allowed}, naming the ones that are. */
    public static void checkKeys(String where, String prefix, JsonNode node, Set<String> allowed) {
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!allowed.contains(k)) {
                throw fail(where, prefix + k, "unknown key; expected one of " + String.join(", ", new TreeSet<>(allowed)));
            }
        }
    }

    public static JsonNode require(String where, String key, JsonNode node, String field) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            throw fail(where, key + "." + field, "required");
        }
        return v;
    }

    public static String text(String where, String key, JsonNode v) {
        if (!v.isTextual() || v.asText().isEmpty()) {
            throw fail(where, key, "expected a non-empty string");
        }
        return v.asText();
    }

    public static boolean bool(String where, String key, JsonNode v) {
        if (!v.isBoolean()) {
            throw fail(where, key, "expected true or false");
        }
        return v.booleanValue();
    }

    public static long positive(String where, String key, JsonNode v) {
        if (!v.isIntegralNumber() || v.longValue() < 1) {
            throw fail(where, key, "expected a positive integer");
        }
        return v.longValue();
    }

    private static IllegalArgumentException fail(String where, String key, String what) {
        return new IllegalArgumentException(where + ": " + printable(key + ": " + what));
    }

    /**
     * {@code s} as one line of text for a message: control characters (a key may hold a line break) written as Java
     * escapes, so a refusal stays one line whatever the file held.
     */
    public static String printable(String s) {
        StringBuilder b = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean control = c < 0x20 || c == 0x7f || c == '\u2028' || c == '\u2029' || c == '\u0085';
            if (control && b == null) {
                b = new StringBuilder(s.length() + 8).append(s, 0, i);
            }
            if (b != null) {
                if (!control) {
                    b.append(c);
                } else if (c == '\n') {
                    b.append("\\n");
                } else if (c == '\r') {
                    b.append("\\r");
                } else if (c == '\t') {
                    b.append("\\t");
                } else {
                    b.append(String.format(java.util.Locale.ROOT, "\\u%04x", (int) c));
                }
            }
        }
        return b == null ? s : b.toString();
    }
}
