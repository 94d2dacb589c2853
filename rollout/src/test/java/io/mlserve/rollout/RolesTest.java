package io.mlserve.rollout;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Which versions take the champion's and the challenger's roles, with and without a registry that names them. */
class RolesTest {
    private static RolloutState champion(long v) {
        return RolloutState.EMPTY.withChampion(v);
    }

    @Test
    void withoutNamedRolesThePersistedChampionStaysAndTheNewestAboveItIsTheChallenger() {
        assertThat(Roles.select(List.of(1L, 2L, 3L), champion(2), Map.of())).isEqualTo(new Roles(2, 3));
        assertThat(Roles.select(List.of(1L, 2L, 3L), champion(3), Map.of())).isEqualTo(new Roles(3, 0));
        // nothing persisted yet: the newest serves alone
        assertThat(Roles.select(List.of(1L, 2L), RolloutState.EMPTY, Map.of())).isEqualTo(new Roles(2, 0));
        // the persisted champion was refused or removed: the newest candidate takes over
        assertThat(Roles.select(List.of(1L, 3L), champion(2), Map.of())).isEqualTo(new Roles(3, 0));
        // a newer version below the champion is no challenger
        assertThat(Roles.select(List.of(1L, 4L), champion(4), Map.of())).isEqualTo(new Roles(4, 0));
    }

    @Test
    void namedRolesAreFollowedWhenTheyNameACandidate() {
        assertThat(Roles.select(List.of(1L, 2L, 3L), champion(1), Map.of("champion", 2L, "challenger", 1L)))
                .isEqualTo(new Roles(2, 1));
        // with named roles a newer version is not a challenger unless the registry says so
        assertThat(Roles.select(List.of(1L, 2L, 3L), champion(1), Map.of("champion", 2L)))
                .isEqualTo(new Roles(2, 0));
        // a named version that may not serve (refused, missing) falls back
        assertThat(Roles.select(List.of(1L, 3L), champion(1), Map.of("champion", 2L, "challenger", 5L)))
                .isEqualTo(new Roles(1, 0));
        // one version never holds both roles
        assertThat(Roles.select(List.of(1L, 2L), champion(1), Map.of("champion", 2L, "challenger", 2L)))
                .isEqualTo(new Roles(2, 0));
    }

    @Test
    void noCandidatesNoRoles() {
        assertThat(Roles.select(List.of(), new RolloutState(3, 4, 1, Set.of(5L)), Map.of("champion", 3L)))
                .isEqualTo(Roles.NONE);
    }
}
