package io.mlserve.featurecache;

/** What a read found for one feature of one entity. */
public enum FeatureStatus {
    /** A value written within the view's TTL. */
    PRESENT,
    /** The entity exists but this feature was never written: the default was used. */
    DEFAULTED,
    /** The entity's last write is older than the TTL: the default was used (or the value, by policy). */
    STALE,
    /** The entity is unknown: the default was used. */
    MISSING
}
