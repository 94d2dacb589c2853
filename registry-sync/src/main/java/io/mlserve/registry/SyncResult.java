package io.mlserve.registry;

import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What one {@link RegistrySource#sync} found.
 *
 * @param changed models whose local copy changed since the previous pass (appeared, gained or lost a version,
 *                config changed, or went away); every model present on the first pass
 * @param roles   per model the registry's roles, e.g. {"champion": 3, "challenger": 4} (MLflow aliases); empty
 *                for a registry without roles
 * @param errors  what went wrong in this pass (unreachable, a version not READY, a failed download), one line each
 */
public record SyncResult(Set<String> changed, Map<String, Map<String, Long>> roles, List<String> errors) {
    public SyncResult {
        changed = Set.copyOf(changed);
        roles = Map.copyOf(roles);
        errors = List.copyOf(errors);
    }
}
