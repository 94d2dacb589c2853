package io.mlserve.featurecache;

import io.mlserve.proto.v1.FeatureRecord;
import io.mlserve.proto.v1.FeatureValue;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Every feature view of the server, each in its own {@link FeatureTable} under the data directory.
 * Validates records against their view (names, types, key type) before anything is written, so a bad
 * batch changes nothing.
 */
public final class FeatureStore implements AutoCloseable {
    private final Map<String, FeatureTable> tables;
    private final FeatureStoreListener listener;

    private FeatureStore(Map<String, FeatureTable> tables, FeatureStoreListener listener) {
        this.tables = tables;
        this.listener = listener;
    }

    /** Opens (creating or recovering) one table per view under {@code dataDir}. */
    public static FeatureStore open(Path dataDir, List<FeatureView> views, FeatureStoreListener listener)
            throws IOException {
        Map<String, FeatureTable> tables = new LinkedHashMap<>();
        try {
            for (FeatureView v : views) {
                if (tables.containsKey(v.name())) {
                    throw new IllegalArgumentException("feature view '" + v.name() + "' is defined twice");
                }
                tables.put(v.name(), FeatureTable.open(dataDir, v));
            }
        } catch (IOException | RuntimeException e) {
            tables.values().forEach(FeatureTable::close);
            throw e;
        }
        return new FeatureStore(tables, listener);
    }

    /** The table of {@code view}; {@link FeatureStoreException} (UNKNOWN_VIEW) when there is none. */
    public FeatureTable table(String view) {
        FeatureTable t = tables.get(view);
        if (t == null) {
            throw new FeatureStoreException(FeatureStoreException.Kind.UNKNOWN_VIEW, "no feature view '" + view
                    + "'; views: " + String.join(", ", tables.keySet()));
        }
        return t;
    }

    public List<FeatureTable> tables() {
        return new ArrayList<>(tables.values());
    }

    /** The outcome of a batch write. */
    public record WriteSummary(long written, long ignoredOlder) {
    }

    /** Checks every record against {@code view}, then writes them in order. */
    public WriteSummary write(String view, List<FeatureRecord> records) {
        FeatureTable t = table(view);
        FeatureView v = t.view();
        int n = v.size();
        double[][] values = new double[records.size()][n];
        boolean[][] present = new boolean[records.size()][n];
        String[] ids = new String[records.size()];
        for (int r = 0; r < records.size(); r++) {
            ids[r] = decode(t, records.get(r), "records[" + r + "]", values[r], present[r]);
        }
        long written = 0;
        long ignored = 0;
        for (int r = 0; r < records.size(); r++) {
            FeatureRecord rec = records.get(r);
            boolean applied = t.write(ids[r], rec.getEventTimeMs(), values[r], present[r])
                    == FeatureTable.WriteOutcome.APPLIED;
            listener.written(view, applied, rec.getEventTimeMs());
            if (applied) {
                written++;
            } else {
                ignored++;
            }
        }
        return new WriteSummary(written, ignored);
    }

    /** Reads {@code entityId} of {@code view} into {@code row} as of {@code nowMs} (see {@link FeatureTable#read}). */
    public void read(String view, String entityId, long nowMs, FeatureRow row, String field) {
        FeatureTable t = table(view);
        t.read(checkEntityId(t.view(), entityId, field), nowMs, row);
        listener.read(view, row, nowMs);
    }

    /** Checks and decodes one record; returns its stored entity id. */
    private static String decode(FeatureTable t, FeatureRecord rec, String field, double[] values, boolean[] present) {
        FeatureView v = t.view();
        String id = checkEntityId(v, rec.getEntityId(), field + ".entity_id");
        if (rec.getEventTimeMs() <= 0) {
            throw invalid(field + ".event_time_ms: expected milliseconds since the epoch (> 0), got "
                    + rec.getEventTimeMs());
        }
        for (Map.Entry<String, FeatureValue> e : rec.getValuesMap().entrySet()) {
            int i = v.indexOf(e.getKey());
            if (i < 0) {
                throw invalid(field + ".values: view '" + v.name() + "' has no feature '" + e.getKey() + "'");
            }
            FeatureSpec spec = v.features().get(i);
            FeatureValue fv = e.getValue();
            String where = field + ".values." + e.getKey();
            if (fv.getKindCase() == FeatureValue.KindCase.KIND_NOT_SET) {
                values[i] = Double.NaN; // named as missing (JSON null): reads back DEFAULTED, newer writes aside
                present[i] = true;
                continue;
            }
            values[i] = switch (spec.type()) {
                case FLOAT32 -> switch (fv.getKindCase()) {
                    case NUMBER -> finite(fv.getNumber(), where);
                    case INTEGER -> fv.getInteger();
                    default -> throw invalid(where + ": feature '" + spec.name() + "' is float32, expected a number");
                };
                case INT64 -> switch (fv.getKindCase()) {
                    case INTEGER -> fv.getInteger();
                    case NUMBER -> {
                        double d = fv.getNumber();
                        if (d != Math.rint(d)) {
                            throw invalid(where + ": feature '" + spec.name() + "' is int64, got " + d);
                        }
                        yield d;
                    }
                    default -> throw invalid(where + ": feature '" + spec.name() + "' is int64, expected an integer");
                };
                case CATEGORICAL -> {
                    if (fv.getKindCase() != FeatureValue.KindCase.CATEGORY) {
                        throw invalid(where + ": feature '" + spec.name() + "' is categorical, expected a string");
                    }
                    yield t.categoryCode(i, fv.getCategory());
                }
            };
            present[i] = true;
        }
        return id;
    }

    private static double finite(double d, String where) {
        if (!Double.isFinite(d)) {
            throw invalid(where + ": expected a finite number, got " + d);
        }
        return d;
    }

    /**
     * Checks an entity id and returns the form it is stored under: as given for string views, the canonical
     * decimal for int64 views (so "007", "+7" and "7" are one entity).
     */
    public static String checkEntityId(FeatureView v, String id, String field) {
        if (id.isEmpty()) {
            throw invalid(field + ": empty entity id");
        }
        if (id.length() > FeatureView.MAX_KEY_BYTES) {
            throw invalid(field + ": entity id longer than " + FeatureView.MAX_KEY_BYTES + " characters");
        }
        if (v.keyType() == FeatureView.KeyType.INT64) {
            try {
                return Long.toString(Long.parseLong(id));
            } catch (NumberFormatException e) {
                throw invalid(field + ": view '" + v.name() + "' has int64 " + v.entityKey() + " ids, got '" + id + "'");
            }
        }
        return id;
    }

    private static FeatureStoreException invalid(String message) {
        return new FeatureStoreException(FeatureStoreException.Kind.INVALID, message);
    }

    @Override
    public void close() {
        tables.values().forEach(FeatureTable::close);
    }
}
