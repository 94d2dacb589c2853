package io.mlserve.rollout;

import java.util.Set;
import java.util.TreeSet;

/**
 * One model's rollout state as persisted: the champion, the challenger under evaluation and since when, and the
 * versions refused (rolled back, or failed to load) that are never selected again until an operator clears them.
 * Immutable; every change writes a new one.
 */
public record RolloutState(long champion, long challenger, long challengerSinceMs, Set<Long> rejected) {
    public static final RolloutState EMPTY = new RolloutState(0, 0, 0, Set.of());

    public RolloutState {
        rejected = Set.copyOf(new TreeSet<>(rejected));
    }

    public RolloutState withChampion(long v) {
        return new RolloutState(v, challenger == v ? 0 : challenger, challenger == v ? 0 : challengerSinceMs,
                rejected);
    }

    public RolloutState withChallenger(long v, long sinceMs) {
        return new RolloutState(champion, v, v == 0 ? 0 : sinceMs, rejected);
    }

    public RolloutState reject(long v) {
        Set<Long> r = new TreeSet<>(rejected);
        r.add(v);
        return new RolloutState(champion, challenger == v ? 0 : challenger, challenger == v ? 0 : challengerSinceMs,
                r);
    }

    public RolloutState clearRejected() {
        return new RolloutState(champion, challenger, challengerSinceMs, Set.of());
    }
}
