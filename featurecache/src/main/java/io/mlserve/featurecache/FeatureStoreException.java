package io.mlserve.featurecache;

/** A feature store call the caller got wrong: an unknown view, or a record that does not fit its view. */
public final class FeatureStoreException extends RuntimeException {
    /** What kind of mistake, so servers can pick the status (NOT_FOUND / INVALID_ARGUMENT). */
    public enum Kind { UNKNOWN_VIEW, INVALID }

    private final Kind kind;

    public FeatureStoreException(Kind kind, String message) {
        super(message, null, false, false);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
