package io.mlserve.rollout;

import java.util.List;
import java.util.Map;

/**
 * Which versions a model under rollout serves as champion and challenger (0: none), chosen when the model is
 * (re)loaded from the versions that may serve (on disk, not refused, not failed).
 *
 * <p>A registry that names roles (MLflow aliases {@code champion} and {@code challenger}) is followed when the version
 * it names is a candidate. Otherwise the champion is the persisted one while it is still a candidate, else the newest;
 * and the challenger, only without named roles, is the newest version above the champion. A version never holds
 * both roles.
 */
public record Roles(long champion, long challenger) {
    public static final Roles NONE = new Roles(0, 0);

    /**
     * @param candidates the versions that may serve
     * @param state the persisted rollout state
     * @param named the registry's roles ({@code "champion"}, {@code "challenger"} → version); empty when it has none
     */
    public static Roles select(List<Long> candidates, RolloutState state, Map<String, Long> named) {
        if (candidates.isEmpty()) {
            return NONE;
        }
        long newest = candidates.stream().mapToLong(Long::longValue).max().orElseThrow();
        long champion = pick(named.get("champion"), candidates,
                state.champion() > 0 && candidates.contains(state.champion()) ? state.champion() : newest);
        long challenger = named.isEmpty() ? (newest > champion ? newest : 0)
                : pick(named.get("challenger"), candidates, 0);
        return new Roles(champion, challenger == champion ? 0 : challenger);
    }

    /** The registry's named version when it is a candidate, else the fallback. */
    private static long pick(Long named, List<Long> candidates, long fallback) {
        return named != null && candidates.contains(named) ? named : fallback;
    }
}
