package io.mlserve.server.repository;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.InvalidProtocolBufferException;
import io.mlserve.featurecache.FeatureJson;
import io.mlserve.featurecache.FeatureRow;
import io.mlserve.featurecache.FeatureStatus;
import io.mlserve.featurecache.FeatureTable;
import io.mlserve.featurecache.FeatureSpec;
import io.mlserve.featurecache.FeatureStore;
import io.mlserve.featurecache.FeatureStoreException;
import io.mlserve.featurecache.FeatureStoreListener;
import io.mlserve.featurecache.FeatureType;
import io.mlserve.featurecache.FeatureView;
import io.mlserve.proto.v1.FeatureRecord;
import io.mlserve.proto.v1.FeatureUpdate;
import io.mlserve.runtime.ModelLoadException;
import io.mlserve.server.config.ServerConfigFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/**
 * Fuzzing the parsers of what operators and producers send: a model's config.json and the server config file (a
 * refusal is one line naming the file; nothing else may be thrown), and Kafka feature records in both formats written
 * into a real Chronicle Map feature table (a bad record is a FeatureStoreException — the ingester dead-letters it — and a
 * good one is stored: every feature it names reads back with its value unless a newer write to that feature came
 * first, checked against a model of the merge view kept here).
 */
class ConfigAndRecordFuzzTest {
    private static Path dir;
    private static FeatureStore store;
    private static final ObjectMapper JSON = new ObjectMapper();
    /** What the merge view must hold: per entity, each feature's newest value and its event time (0 = never). */
    private static final Map<String, double[]> EXPECTED_VALUES = new HashMap<>();
    private static final Map<String, long[]> EXPECTED_TIMES = new HashMap<>();

    @BeforeAll
    static void open() throws Exception {
        dir = Files.createTempDirectory("mlserve-fuzz");
        store = FeatureStore.open(dir.resolve("tables"), List.of(new FeatureView("customer", "customer_id",
                FeatureView.KeyType.STRING, List.of(FeatureSpec.numeric("spend", 0),
                new FeatureSpec("plan", FeatureType.CATEGORICAL, List.of("basic", "pro"), 0, -1),
                new FeatureSpec("visits", FeatureType.INT64, List.of(), 0, 0)), Duration.ofDays(1), 10_000, false)),
                FeatureStoreListener.NONE);
    }

    @AfterAll
    static void close() {
        store.close();
    }

    @FuzzTest(maxDuration = "20s")
    void configFiles(FuzzedDataProvider d) throws IOException {
        boolean server = d.consumeBoolean();
        String text = d.consumeRemainingAsString();
        Path m = Files.createDirectories(dir.resolve("models/m"));
        if (server) {
            Path f = dir.resolve("mlserve.yaml");
            Files.writeString(f, text);
            try {
                ServerConfigFile.read(f);
            } catch (IOException | ServerConfigFile.ConfigException e) {
                refusedInOneLineNaming(e.getMessage(), f);
            }
            return;
        }
        Files.writeString(m.resolve("config.json"), text);
        try {
            ModelConfigs.read(m, "m");
        } catch (ModelLoadException e) {
            refusedInOneLineNaming(e.getMessage(), m.resolve("config.json"));
        }
    }

    /** What the operator reads: one line that starts with the file it is about. */
    private static void refusedInOneLineNaming(String message, Path file) {
        if (message == null || !message.startsWith(file.toString()) || message.contains("\n")) {
            throw new AssertionError("a refusal must be one line naming " + file + ", got: " + message);
        }
    }

    @FuzzTest(maxDuration = "20s")
    void kafkaFeatureRecords(FuzzedDataProvider d) {
        boolean json = d.consumeBoolean();
        String key = d.consumeString(20);
        byte[] value = d.consumeRemainingAsBytes();
        FeatureRecord record;
        try {
            if (json) {
                JsonNode node;
                try {
                    node = JSON.readTree(value);
                } catch (IOException e) {
                    return;
                }
                record = FeatureJson.record(node, key, "record");
            } else {
                record = FeatureUpdate.parseFrom(value).getRecord();
            }
            if (record.getEntityId().isEmpty()) {
                record = record.toBuilder().setEntityId(key).build();
            }
            store.write("customer", List.of(record));
        } catch (InvalidProtocolBufferException | FeatureStoreException e) {
            return; // dead-lettered by the ingester
        }
        checkStored(record);
    }

    /** The record's features, where no newer write to them came first, read back as written. */
    private static void checkStored(FeatureRecord record) {
        FeatureTable table = store.table("customer");
        FeatureView view = table.view();
        double[] values = EXPECTED_VALUES.computeIfAbsent(record.getEntityId(), k -> new double[view.size()]);
        long[] times = EXPECTED_TIMES.computeIfAbsent(record.getEntityId(), k -> new long[view.size()]);
        long t = record.getEventTimeMs();
        record.getValuesMap().forEach((name, v) -> {
            int i = view.indexOf(name);
            if (t >= times[i]) {
                values[i] = switch (v.getKindCase()) {
                    case NUMBER -> v.getNumber();
                    case INTEGER -> v.getInteger();
                    case CATEGORY -> table.categoryCode(i, v.getCategory());
                    default -> Double.NaN; // named as missing
                };
                times[i] = t;
            }
        });
        FeatureRow row = new FeatureRow(view);
        store.read("customer", record.getEntityId(), t, row, "entity");
        for (int i = 0; i < view.size(); i++) {
            if (times[i] == 0 || t - times[i] > view.ttl().toMillis()) {
                continue; // never written, or stale as of this record
            }
            if (Double.isNaN(values[i]) ? row.status(i) != FeatureStatus.DEFAULTED
                    : row.status(i) != FeatureStatus.PRESENT || Double.compare(row.value(i), values[i]) != 0) {
                throw new AssertionError("feature " + view.features().get(i).name() + " of '" + record.getEntityId()
                        + "' reads " + row.value(i) + " (" + row.status(i) + "), expected " + values[i]
                        + " written at " + times[i] + "; last record " + record);
            }
        }
    }
}
