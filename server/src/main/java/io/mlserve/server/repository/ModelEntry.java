package io.mlserve.server.repository;

import io.mlserve.proto.inference.ModelConfig;
import java.util.List;

/**
 * Immutable snapshot of one model in the repository: its config, its serving versions (ascending) and
 * its state. Replaced as a whole on every load or unload, so readers never see a half-updated model.
 *
 * @param failures versions that were selected but failed to load, with the reason, for the index
 */
public record ModelEntry(String name, ModelConfig config, ServedVersion[] versions, ModelState state, String reason,
                         List<VersionFailure> failures) {

    /** A selected version that could not be loaded. */
    public record VersionFailure(long version, String reason) {
    }

    /** The version requests without a version go to: the highest serving one, or null. */
    public ServedVersion latest() {
        return versions.length == 0 ? null : versions[versions.length - 1];
    }

    /** The serving version numbered {@code version}, or null. */
    public ServedVersion version(long version) {
        for (ServedVersion v : versions) {
            if (v.version() == version) {
                return v;
            }
        }
        return null;
    }

    public boolean ready() {
        return state == ModelState.READY && versions.length > 0;
    }
}
