package io.mlserve.featurecache;

/** What a read found for one feature of one entity. */
public enum FeatureStatus {
    /** A value written within its TTL (the feature's own, else the view's). */
    PRESENT,
    /** The entity exists but this feature was never written: the default was used. */
    DEFAULTED,
    /**
     * The value is older than its TTL (by its own event time in MERGE mode, the row's in REPLACE mode): the
     * default was used (or the value, by policy).
     */
    STALE,
    /** The entity is unknown: the default was used. */
    MISSING
}
