package io.mlserve.server.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.mlserve.featurecache.FeatureView;
import io.mlserve.featurecache.FeatureViewConfig;
import io.mlserve.featurecache.kafka.IngestConfig;
import io.mlserve.server.traininglog.TrainingLog;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

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
 * @param trainingLog     the training_log block over the defaults, or null when the file has none
 */
public record ServerConfigFile(Path modelRepository, Path dataDir, List<FeatureView> featureViews,
                               IngestConfig kafka, List<Snapshot> snapshots, Integer repositoryPollSecs,
                               TrainingLog.Options trainingLog) {

    /** A snapshot (CSV, or Parquet file/directory) to load into {@code view} at start-up. */
    public record Snapshot(String view, Path csv, String eventTimeColumn) {
    }

    private static final Set<String> TOP_KEYS = Set.of("model_repository", "data_dir", "feature_views", "kafka",
            "snapshots", "repository_poll_secs", "training_log");
    private static final Set<String> TRAINING_LOG_KEYS = Set.of("enabled", "flush_rows", "flush_seconds",
            "retention_days", "outcome_wait", "max_pending_rows");
    private static final Set<String> SNAPSHOT_KEYS = Set.of("view", "csv", "parquet", "path", "event_time_column");
    private static final Set<String> KAFKA_KEYS = Set.of("bootstrap_servers", "group_id", "topics");
    private static final Set<String> TOPIC_KEYS = Set.of("name", "format", "view", "dead_letter_topic");

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
            // the parser's message spans lines (quoted source, a caret drawing): keep its unindented lines
            String first = String.join("; ", e.getOriginalMessage().strip().lines()
                    .filter(l -> !l.isBlank() && !Character.isWhitespace(l.charAt(0))).toList());
            var at = e.getLocation();
            throw new ConfigException(file + ": not valid YAML/JSON" + (at != null && at.getLineNr() > 0
                    ? " at line " + at.getLineNr() + ", column " + at.getColumnNr() : "") + ": " + first);
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
                int at = i;
                views.add(checked(() -> view(file, "feature_views[" + at + "]", vs.get(at))));
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
        TrainingLog.Options trainingLog = root.has("training_log") ? trainingLog(file, root.get("training_log")) : null;
        return new ServerConfigFile(repo, data, views, kafka, snapshots, poll, trainingLog);
    }

    /** training_log: {enabled, flush_rows, flush_seconds, retention_days, outcome_wait, max_pending_rows}. */
    private static TrainingLog.Options trainingLog(Path file, JsonNode t) {
        if (!t.isObject()) {
            throw new ConfigException(file + ": training_log: expected a mapping with " + String.join(", ",
                    new java.util.TreeSet<>(TRAINING_LOG_KEYS)));
        }
        checkKeys(file, "training_log.", t, TRAINING_LOG_KEYS);
        TrainingLog.Options d = TrainingLog.Options.defaults();
        boolean enabled = !t.has("enabled") || checked(() -> FeatureViewConfig.bool(file.toString(),
                "training_log.enabled", t.get("enabled")));
        int rows = t.has("flush_rows") ? positiveInt(file, "training_log.flush_rows", t.get("flush_rows"))
                : d.flushRows();
        Duration interval = t.has("flush_seconds") ? Duration.ofSeconds(positiveInt(file, "training_log.flush_seconds",
                t.get("flush_seconds"))) : d.flushInterval();
        int retention = t.has("retention_days") ? positiveInt(file, "training_log.retention_days",
                t.get("retention_days")) : d.retentionDays();
        Duration wait = d.outcomeWait();
        if (t.has("outcome_wait")) {
            wait = duration(file, "training_log.outcome_wait", t.get("outcome_wait"));
            if (wait.isZero()) {
                throw new ConfigException(file + ": training_log.outcome_wait: expected a duration above zero, such "
                        + "as 7d or 30d");
            }
        }
        int pending = t.has("max_pending_rows") ? positiveInt(file, "training_log.max_pending_rows",
                t.get("max_pending_rows")) : d.maxPendingRows();
        return new TrainingLog.Options(enabled, rows, interval, retention, wait, pending);
    }

    private static int positiveInt(Path file, String key, JsonNode v) {
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() < 1) {
            throw new ConfigException(file + ": " + key + ": expected a whole number of at least 1, got " + v);
        }
        return v.intValue();
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
        return FeatureViewConfig.view(file.toString(), key, v);
    }

    private static <T> T checked(java.util.function.Supplier<T> read) {
        try {
            return read.get();
        } catch (IllegalArgumentException e) {
            throw new ConfigException(e.getMessage());
        }
    }

    private static void checkKeys(Path file, String prefix, JsonNode node, Set<String> allowed) {
        checked(() -> {
            FeatureViewConfig.checkKeys(file.toString(), prefix, node, allowed);
            return null;
        });
    }

    private static JsonNode require(Path file, String key, JsonNode node, String field) {
        return checked(() -> FeatureViewConfig.require(file.toString(), key, node, field));
    }

    private static String text(Path file, String key, JsonNode v) {
        return checked(() -> FeatureViewConfig.text(file.toString(), key, v));
    }

    static Duration duration(Path file, String key, JsonNode v) {
        return checked(() -> FeatureViewConfig.duration(file.toString(), key, v));
    }

    /** A mistake in the config file; its message names the file and key. */
    public static final class ConfigException extends IllegalArgumentException {
        /** One line, whatever the file held: control characters in the names and values it echoes are escaped. */
        public ConfigException(String message) {
            super(FeatureViewConfig.printable(message));
        }
    }
}
