package io.mlserve.featurecache;

import java.time.Duration;
import java.util.HashSet;
import java.util.List;

/**
 * A named group of features keyed by one entity (e.g. {@code customer} keyed by {@code customer_id}).
 *
 * @param name         view name (also the table's file name)
 * @param entityKey    name of the entity key, e.g. customer_id
 * @param keyType      STRING or INT64 entity ids
 * @param features     the features, in the order rows are laid out
 * @param ttl          how long a value stays fresh unless its feature has its own ttl; Duration.ZERO = forever
 * @param maxEntities  how many entities the table is sized for (Chronicle Map cannot grow past it)
 * @param serveStale   whether STALE features return their last value instead of the default
 * @param writeMode    MERGE: a write updates the features it names, each ordered by its own event time;
 *                     REPLACE: a write is the entity's whole row
 */
public record FeatureView(String name, String entityKey, KeyType keyType, List<FeatureSpec> features, Duration ttl,
                          long maxEntities, boolean serveStale, WriteMode writeMode) {

    /** Entity id types. */
    public enum KeyType { STRING, INT64 }

    /** How a write meets the stored row (see {@link FeatureTable}). */
    public enum WriteMode { MERGE, REPLACE }

    /** Largest entity id accepted, in UTF-8 bytes. */
    public static final int MAX_KEY_BYTES = 256;

    public FeatureView {
        if (name == null || !name.matches("[A-Za-z0-9_.-]+")) {
            throw new IllegalArgumentException("feature view name must be letters, digits, '_', '.', '-', got '"
                    + name + "'");
        }
        features = List.copyOf(features);
        if (features.isEmpty()) {
            throw new IllegalArgumentException("feature view '" + name + "' has no features");
        }
        HashSet<String> seen = new HashSet<>();
        for (FeatureSpec f : features) {
            if (!seen.add(f.name())) {
                throw new IllegalArgumentException("feature view '" + name + "' has feature '" + f.name() + "' twice");
            }
        }
        if (ttl.isNegative()) {
            throw new IllegalArgumentException("feature view '" + name + "': ttl must be >= 0");
        }
        if (maxEntities < 1) {
            throw new IllegalArgumentException("feature view '" + name + "': max_entities must be >= 1");
        }
        if (writeMode == null) {
            throw new IllegalArgumentException("feature view '" + name + "': write_mode is required");
        }
    }

    /** A view in the default write mode, MERGE. */
    public FeatureView(String name, String entityKey, KeyType keyType, List<FeatureSpec> features, Duration ttl,
                       long maxEntities, boolean serveStale) {
        this(name, entityKey, keyType, features, ttl, maxEntities, serveStale, WriteMode.MERGE);
    }

    /** Index of feature {@code feature}, or -1. */
    public int indexOf(String feature) {
        for (int i = 0; i < features.size(); i++) {
            if (features.get(i).name().equals(feature)) {
                return i;
            }
        }
        return -1;
    }

    public int size() {
        return features.size();
    }
}
