package io.mlserve.runtime;

/** A model file could not be turned into a serving session; the message says which file and why. */
public final class ModelLoadException extends Exception {
    public ModelLoadException(String message) {
        super(message);
    }

    public ModelLoadException(String message, Throwable cause) {
        super(message, cause);
    }
}
