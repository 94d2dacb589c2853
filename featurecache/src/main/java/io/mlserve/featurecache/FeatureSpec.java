package io.mlserve.featurecache;

import java.time.Duration;
import java.util.List;

/**
 * One feature of a view.
 *
 * @param name         feature name (unique in the view)
 * @param type         FLOAT32, INT64 or CATEGORICAL
 * @param vocabulary   CATEGORICAL only: the known categories, index = position; empty when hashing
 * @param hashBuckets  CATEGORICAL only: when > 0, categories are hashed into this many buckets instead
 * @param defaultValue the value reads return when the feature is absent, stale or the entity unknown
 * @param ttl          how long this feature's value stays fresh; Duration.ZERO = the view's ttl
 */
public record FeatureSpec(String name, FeatureType type, List<String> vocabulary, int hashBuckets,
                          double defaultValue, Duration ttl) {

    public FeatureSpec {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("a feature needs a name");
        }
        vocabulary = List.copyOf(vocabulary);
        if (type == FeatureType.CATEGORICAL && vocabulary.isEmpty() && hashBuckets <= 0) {
            throw new IllegalArgumentException("categorical feature '" + name + "' needs a vocabulary or hash_buckets");
        }
        if (type != FeatureType.CATEGORICAL && (!vocabulary.isEmpty() || hashBuckets > 0)) {
            throw new IllegalArgumentException("feature '" + name + "': vocabulary and hash_buckets are for categorical features");
        }
        ttl = ttl == null ? Duration.ZERO : ttl;
        if (ttl.isNegative()) {
            throw new IllegalArgumentException("feature '" + name + "': ttl must be >= 0");
        }
    }

    /** A feature that goes stale with its view's ttl. */
    public FeatureSpec(String name, FeatureType type, List<String> vocabulary, int hashBuckets, double defaultValue) {
        this(name, type, vocabulary, hashBuckets, defaultValue, Duration.ZERO);
    }

    public static FeatureSpec numeric(String name, double defaultValue) {
        return new FeatureSpec(name, FeatureType.FLOAT32, List.of(), 0, defaultValue);
    }
}
