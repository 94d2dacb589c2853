package io.mlserve.trainer;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Where the trainer's versions go besides its registry directory, and where the versions its quality gate needs come
 * from. {@link #LOCAL}: the directory is the registry (a volume the servers read, or a local run). {@link
 * MlflowPublication}: the servers' MLflow tracking server is, and the directory is the trainer's working copy.
 */
public interface Publication {
    /** The registry directory alone. */
    Publication LOCAL = new Publication() {
    };

    /**
     * Before {@code model} is trained: brings the versions the gate needs into {@code registry}.
     *
     * @return the serving champion's version when the registry names one (0: the highest local version serves)
     */
    default long prepare(String model, Path registry) throws IOException {
        return 0;
    }

    /** The number the next version of {@code model} gets, given the registry directory's next. */
    default long nextVersion(String model, long localNext) throws IOException {
        return localNext;
    }

    /**
     * The version now in {@code versionDir} (its model's config.json at {@code modelConfig}), published wherever else
     * it goes; an IOException fails the job (the version then serves nowhere but this directory).
     */
    default void published(String model, long version, Path versionDir, Path modelConfig) throws IOException {
    }

    /** Whether the registry directory is a working copy whose versions may be replaced (the registry is elsewhere). */
    default boolean remote() {
        return false;
    }
}
