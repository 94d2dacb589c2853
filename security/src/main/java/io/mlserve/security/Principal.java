package io.mlserve.security;

import java.util.Set;

/**
 * Who a request comes from, as the token file names them.
 *
 * @param models the models it may use, or empty for every model
 */
public record Principal(String name, Set<Role> roles, Set<String> models) {
    /** The caller when authentication is off. */
    public static final Principal ANONYMOUS = new Principal("anonymous", Set.of(Role.values()), Set.of());

    public Principal {
        roles = Set.copyOf(roles);
        models = Set.copyOf(models);
    }

    public boolean has(Role role) {
        return roles.contains(role) || roles.contains(Role.ADMIN);
    }

    /** Whether the allow-list (if any) lets it use {@code model}. */
    public boolean mayUse(String model) {
        return models.isEmpty() || models.contains(model);
    }
}
