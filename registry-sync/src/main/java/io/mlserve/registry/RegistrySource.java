package io.mlserve.registry;

import java.io.IOException;
import java.nio.file.Path;

/**
 * Where model versions come from. The server always serves from a local repository directory laid out as
 * {@code <root>/<model>/config.json} and {@code <root>/<model>/<version>/<files>}; a source keeps that directory in
 * step with its registry — the file system source <em>is</em> the directory, the MLflow source downloads into a
 * cache laid out the same way. A version directory appears only complete (written elsewhere, then renamed), so
 * the loader never sees half a version.
 */
public interface RegistrySource extends AutoCloseable {
    /**
     * One pass over the registry. Never throws because the registry is unreachable or answers nonsense: the result
     * carries the errors and the local copy stays as it was, so serving is unaffected.
     */
    SyncResult sync();

    /** The local repository root the server loads from. */
    Path localRoot();

    /** For logs and the index: what this source reads ("file system /models", "MLflow http://..."). */
    String describe();

    /**
     * Points {@code role} ("champion", "challenger") of {@code model} at {@code version} in the registry, or removes
     * the role when version is 0; for registries with roles (MLflow aliases), after an automatic promotion or
     * rollback. The file system has no roles: nothing to do.
     */
    default void setRole(String model, String role, long version) throws IOException {
    }

    @Override
    default void close() {
    }
}
