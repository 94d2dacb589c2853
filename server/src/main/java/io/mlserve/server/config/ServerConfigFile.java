package io.mlserve.server.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.mlserve.featurecache.FeatureSpec;
import io.mlserve.featurecache.FeatureType;
import io.mlserve.featurecache.FeatureView;
import io.mlserve.featurecache.kafka.IngestConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The server config file given with {@code --config} (YAML or JSON): where the model repository and the
 * data directory are, and the feature views. Paths are relative to the file's directory. Every mistake is
 * reported as {@code <file>: <key path>: <what was expected>}.
 *
 * @param modelRepository the model repository, or null when the file names none
 * @param dataDir         where feature tables live, or null when the file names none
 * @param featureViews    the feature views (may be empty)
 * @param kafka           Kafka ingestion of feature updates, or null
 * @param snapshots       CSV snapshots loaded into their views at start-up, before serving
 * @param repositoryPollSecs seconds between passes over the model registry, or null when the file says nothing
 */
public record ServerConfigFile(Path modelRepository, Path dataDir, List<FeatureView> featureViews,
                               IngestConfig kafka, List<Snapshot> snapshots, Integer repositoryPollSecs) {

    /** A snapshot (CSV, or Parquet file/directory) to load into {@code view} at start-up. */
    public record Snapshot(String view, Path csv, String eventTimeColumn) {
    }

    private static final Set<String> TOP_KEYS = Set.of("model_repository", "data_dir", "feature_views", "kafka",
            "snapshots", "repository_poll_secs");
    private static final Set<String> SNAPSHOT_KEYS = Set.of("view", "csv", "parquet", "path", "event_time_column");
    private static final Set<String> KAFKA_KEYS = Set.of("bootstrap_servers", "group_id", "topics");
    private static final Set<String> TOPIC_KEYS = Set.of("name", "format", "view", "dead_letter_topic");
    private static final Set<String> VIEW_KEYS = Set.of("name", "entity_key", "key_type", "ttl", "max_entities",
            "serve_stale", "features");
    private static final Set<String> FEATURE_KEYS = Set.of("name", "type", "vocabulary", "hash_buckets", "default");
    private static final Pattern DURATION = Pattern.compile("(\\d+)\\s*(ms|s|m|h|d)?");

    public ServerConfigFile {
        featureViews = List.copyOf(featureViews);
        snapshots = List.copyOf(snapshots);
    }

    /** Reads and checks {@code file}. */
    public static ServerConfigFile read(Path file) throws IOException {
        JsonNode root;
        try {
            String text = Files.readString(file);
            ObjectMapper mapper = new ObjectMapper(new YAMLFactory());
            root = mapper.readTree(text);
        } catch (JsonProcessingException e) {
            throw new ConfigException(file + ": not valid YAML/JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            throw new ConfigException(file + ": expected a mapping with model_repository, data_dir, feature_views");
        }
        Path base = file.toAbsolutePath().getParent();
        checkKeys(file, "", root, TOP_KEYS);
        Path repo = root.has("model_repository") ? base.resolve(text(file, "model_repository", root.get("model_repository"))) : null;
        Path data = root.has("data_dir") ? base.resolve(text(file, "data_dir", root.get("data_dir"))) : null;
        List<FeatureView> views = new ArrayList<>();
        JsonNode vs = root.get("feature_views");
        if (vs != null && !vs.isNull()) {
            if (!vs.isArray()) {
                throw new ConfigException(file + ": feature_views: expected a list of views");
            }
            for (int i = 0; i < vs.size(); i++) {
                views.add(view(file, "feature_views[" + i + "]", vs.get(i)));
            }
        }
        IngestConfig kafka = root.has("kafka") ? kafka(file, root.get("kafka")) : null;
        List<Snapshot> snapshots = new ArrayList<>();
        JsonNode ss = root.get("snapshots");
        if (ss != null && !ss.isNull()) {
            if (!ss.isArray()) {
                throw new ConfigException(file + ": snapshots: expected a list of {view, csv, event_time_column}");
            }
            for (int i = 0; i < ss.size(); i++) {
                String key = "snapshots[" + i + "]";
                JsonNode sn = ss.get(i);
                if (!sn.isObject()) {
                    throw new ConfigException(file + ": " + key + ": expected a mapping");
                }
                checkKeys(file, key + ".", sn, SNAPSHOT_KEYS);
                String view = text(file, key + ".view", require(file, key, sn, "view"));
                if (views.stream().noneMatch(v -> v.name().equals(view))) {
                    throw new ConfigException(file + ": " + key + ".view: no feature view '" + view + "'");
                }
                String pathKey = sn.has("path") ? "path" : sn.has("parquet") ? "parquet" : "csv";
                snapshots.add(new Snapshot(view, base.resolve(text(file, key + "." + pathKey,
                        require(file, key, sn, pathKey))),
                        sn.has("event_time_column") ? text(file, key + ".event_time_column", sn.get("event_time_column"))
                                : "event_time"));
            }
        }
        Integer poll = null;
        if (root.has("repository_poll_secs")) {
            JsonNode p = root.get("repository_poll_secs");
            if (!p.canConvertToInt() || !p.isIntegralNumber() || p.asInt() < 0) {
                throw new ConfigException(file + ": repository_poll_secs: expected a whole number of seconds >= 0, got "
                        + p);
            }
            poll = p.asInt();
        }
        return new ServerConfigFile(repo, data, views, kafka, snapshots, poll);
    }

    private static IngestConfig kafka(Path file, JsonNode k) {
        if (!k.isObject()) {
            throw new ConfigException(file + ": kafka: expected a mapping with bootstrap_servers and topics");
        }
        checkKeys(file, "kafka.", k, KAFKA_KEYS);
        String servers = text(file, "kafka.bootstrap_servers", require(file, "kafka", k, "bootstrap_servers"));
        String group = k.has("group_id") ? text(file, "kafka.group_id", k.get("group_id")) : "mlserve";
        JsonNode ts = require(file, "kafka", k, "topics");
        if (!ts.isArray() || ts.isEmpty()) {
            throw new ConfigException(file + ": kafka.topics: expected a non-empty list");
        }
        List<IngestConfig.Topic> topics = new ArrayList<>();
        for (int i = 0; i < ts.size(); i++) {
            String key = "kafka.topics[" + i + "]";
            JsonNode t = ts.get(i);
            if (!t.isObject()) {
                throw new ConfigException(file + ": " + key + ": expected a mapping");
            }
            checkKeys(file, key + ".", t, TOPIC_KEYS);
            String format = t.has("format") ? text(file, key + ".format", t.get("format")).toLowerCase(Locale.ROOT)
                    : "protobuf";
            IngestConfig.Format f = switch (format) {
                case "protobuf" -> IngestConfig.Format.PROTOBUF;
                case "json" -> IngestConfig.Format.JSON;
                default -> throw new ConfigException(file + ": " + key + ".format: expected protobuf or json, got '"
                        + format + "'");
            };
            try {
                topics.add(new IngestConfig.Topic(text(file, key + ".name", require(file, key, t, "name")), f,
                        t.has("view") ? text(file, key + ".view", t.get("view")) : "",
                        t.has("dead_letter_topic") ? text(file, key + ".dead_letter_topic", t.get("dead_letter_topic")) : ""));
            } catch (IllegalArgumentException e) {
                throw new ConfigException(file + ": " + key + ": " + e.getMessage());
            }
        }
        return new IngestConfig(servers, group, topics, java.time.Duration.ofMillis(500));
    }

    private static FeatureView view(Path file, String key, JsonNode v) {
        if (!v.isObject()) {
            throw new ConfigException(file + ": " + key + ": expected a mapping");
        }
        checkKeys(file, key + ".", v, VIEW_KEYS);
        String name = text(file, key + ".name", require(file, key, v, "name"));
        String entityKey = text(file, key + ".entity_key", require(file, key, v, "entity_key"));
        String keyType = v.has("key_type") ? text(file, key + ".key_type", v.get("key_type")).toLowerCase(Locale.ROOT) : "string";
        FeatureView.KeyType kt = switch (keyType) {
            case "string" -> FeatureView.KeyType.STRING;
            case "int64" -> FeatureView.KeyType.INT64;
            default -> throw new ConfigException(file + ": " + key + ".key_type: expected string or int64, got '"
                    + keyType + "'");
        };
        Duration ttl = v.has("ttl") ? duration(file, key + ".ttl", v.get("ttl")) : Duration.ZERO;
        long maxEntities = v.has("max_entities") ? positive(file, key + ".max_entities", v.get("max_entities")) : 1_000_000;
        boolean serveStale = v.has("serve_stale") && bool(file, key + ".serve_stale", v.get("serve_stale"));
        JsonNode fs = require(file, key, v, "features");
        if (!fs.isArray() || fs.isEmpty()) {
            throw new ConfigException(file + ": " + key + ".features: expected a non-empty list");
        }
        List<FeatureSpec> features = new ArrayList<>();
        for (int i = 0; i < fs.size(); i++) {
            features.add(feature(file, key + ".features[" + i + "]", fs.get(i)));
        }
        try {
            return new FeatureView(name, entityKey, kt, features, ttl, maxEntities, serveStale);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(file + ": " + key + ": " + e.getMessage());
        }
    }

    private static FeatureSpec feature(Path file, String key, JsonNode f) {
        if (!f.isObject()) {
            throw new ConfigException(file + ": " + key + ": expected a mapping with name and type");
        }
        checkKeys(file, key + ".", f, FEATURE_KEYS);
        String name = text(file, key + ".name", require(file, key, f, "name"));
        String type = f.has("type") ? text(file, key + ".type", f.get("type")).toLowerCase(Locale.ROOT) : "float32";
        FeatureType ft = switch (type) {
            case "float32", "float", "double" -> FeatureType.FLOAT32;
            case "int64", "int" -> FeatureType.INT64;
            case "categorical", "string" -> FeatureType.CATEGORICAL;
            default -> throw new ConfigException(file + ": " + key + ".type: expected float32, int64 or categorical, got '"
                    + type + "'");
        };
        List<String> vocabulary = new ArrayList<>();
        if (f.has("vocabulary")) {
            JsonNode voc = f.get("vocabulary");
            if (!voc.isArray()) {
                throw new ConfigException(file + ": " + key + ".vocabulary: expected a list of strings");
            }
            for (int i = 0; i < voc.size(); i++) {
                vocabulary.add(text(file, key + ".vocabulary[" + i + "]", voc.get(i)));
            }
        }
        int buckets = f.has("hash_buckets") ? (int) positive(file, key + ".hash_buckets", f.get("hash_buckets")) : 0;
        double def = 0;
        if (f.has("default")) {
            JsonNode d = f.get("default");
            if (d.isTextual() && d.asText().equalsIgnoreCase("nan")) {
                def = Double.NaN; // "missing": a model with imputation in its graph fills it
            } else if (d.isNumber()) {
                def = d.doubleValue();
            } else {
                throw new ConfigException(file + ": " + key + ".default: expected a number or nan");
            }
        }
        try {
            return new FeatureSpec(name, ft, vocabulary, buckets, def);
        } catch (IllegalArgumentException e) {
            throw new ConfigException(file + ": " + key + ": " + e.getMessage());
        }
    }

    private static void checkKeys(Path file, String prefix, JsonNode node, Set<String> allowed) {
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!allowed.contains(k)) {
                throw new ConfigException(file + ": " + prefix + k + ": unknown key; expected one of "
                        + String.join(", ", new java.util.TreeSet<>(allowed)));
            }
        }
    }

    private static JsonNode require(Path file, String key, JsonNode node, String field) {
        JsonNode v = node.get(field);
        if (v == null || v.isNull()) {
            throw new ConfigException(file + ": " + key + "." + field + ": required");
        }
        return v;
    }

    private static String text(Path file, String key, JsonNode v) {
        if (!v.isTextual() || v.asText().isEmpty()) {
            throw new ConfigException(file + ": " + key + ": expected a non-empty string");
        }
        return v.asText();
    }

    private static boolean bool(Path file, String key, JsonNode v) {
        if (!v.isBoolean()) {
            throw new ConfigException(file + ": " + key + ": expected true or false");
        }
        return v.booleanValue();
    }

    private static long positive(Path file, String key, JsonNode v) {
        if (!v.isIntegralNumber() || v.longValue() < 1) {
            throw new ConfigException(file + ": " + key + ": expected a positive integer");
        }
        return v.longValue();
    }

    /** A duration: seconds as a number, or a number with ms, s, m, h or d. */
    static Duration duration(Path file, String key, JsonNode v) {
        if (v.isIntegralNumber() && v.longValue() >= 0) {
            return Duration.ofSeconds(v.longValue());
        }
        Matcher m = v.isTextual() ? DURATION.matcher(v.asText().trim()) : null;
        if (m == null || !m.matches()) {
            throw new ConfigException(file + ": " + key + ": expected a duration such as 90s, 15m, 24h or 7d");
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

    /** A mistake in the config file; its message names the file and key. */
    public static final class ConfigException extends RuntimeException {
        public ConfigException(String message) {
            super(message);
        }
    }
}
