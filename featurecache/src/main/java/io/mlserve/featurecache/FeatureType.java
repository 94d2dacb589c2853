package io.mlserve.featurecache;

/** How a feature's value is held: a number, an integer, or a category encoded as an index. */
public enum FeatureType {
    FLOAT32,
    INT64,
    /** A string category, stored as its index in the vocabulary (or a hash bucket when the view hashes). */
    CATEGORICAL
}
