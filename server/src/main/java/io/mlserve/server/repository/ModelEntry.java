package io.mlserve.server.repository;

import io.mlserve.proto.inference.ModelConfig;
import io.mlserve.proto.v1.RolloutMode;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Immutable snapshot of one model in the repository: its config, its serving versions (ascending), its state and,
 * for a model under champion/challenger rollout, the two roles. Replaced as a whole on every load, unload,
 * promotion or rollback, so readers never see a half-updated model.
 *
 * @param failures versions that were selected but failed to load, with the reason, for the index
 * @param rollout  the roles when the model's config has a rollout mode, else null
 */
public record ModelEntry(String name, ModelConfig config, ServedVersion[] versions, ModelState state, String reason,
                         List<VersionFailure> failures, Rollout rollout) {

    public ModelEntry(String name, ModelConfig config, ServedVersion[] versions, ModelState state, String reason,
                      List<VersionFailure> failures) {
        this(name, config, versions, state, reason, failures, null);
    }

    /** A selected version that could not be loaded. */
    public record VersionFailure(long version, String reason) {
    }

    /**
     * Champion and challenger of a rollout.
     *
     * @param mode            canary or shadow
     * @param challenger      null while there is none
     * @param weight          canary: the share of routed requests the challenger answers
     * @param stickyByRequest route by request id rather than by entity
     */
    public record Rollout(RolloutMode mode, ServedVersion champion, ServedVersion challenger, double weight,
                          boolean stickyByRequest) {
        public boolean shadow() {
            return mode == RolloutMode.ROLLOUT_MODE_SHADOW && challenger != null;
        }

        /** The version a request with this routing key goes to (null key: chosen at random, not sticky). */
        ServedVersion route(String key) {
            if (challenger == null || mode != RolloutMode.ROLLOUT_MODE_CANARY) {
                return champion;
            }
            double u;
            if (key == null || key.isEmpty()) {
                u = ThreadLocalRandom.current().nextDouble();
            } else {
                long h = key.hashCode() * 0x9E3779B97F4A7C15L;
                h ^= h >>> 29;
                h *= 0xBF58476D1CE4E5B9L;
                h ^= h >>> 32;
                u = (h >>> 11) * 0x1.0p-53;
            }
            return u < weight ? challenger : champion;
        }
    }

    /** The version requests without a version go to: the champion under rollout, else the highest serving one. */
    public ServedVersion latest() {
        if (rollout != null && rollout.champion() != null) {
            return rollout.champion();
        }
        return versions.length == 0 ? null : versions[versions.length - 1];
    }

    /** As {@link #latest}, but a canary rollout sends a share of routing keys to the challenger. */
    public ServedVersion route(String key) {
        return rollout != null && rollout.champion() != null ? rollout.route(key) : latest();
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
