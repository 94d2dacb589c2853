package io.mlserve.server.http;

import io.mlserve.security.Role;
import io.netty.handler.codec.http.HttpMethod;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The HTTP endpoints as data: each route is a method, a path pattern whose {@code {name}} segments bind parameters,
 * the role it needs ({@code null}: open to callers without a token), whether it runs off the event loop, and its
 * handler. Matching is by segment, in the order routes were added (so a literal such as {@code /v2/models/stats}
 * added before {@code /v2/models/{model}} wins); a path some route matches under another method is a 405 naming the
 * methods it takes, a path no route matches a 404. GET routes answer HEAD too.
 *
 * @param <H> the handler type
 */
final class RouteTable<H> {
    /** One endpoint: {@code segments} hold literals and {@code {name}} parameters. */
    record Route<H>(HttpMethod method, String pattern, String[] segments, Role role, boolean slow, H handler) {
        /** Whether the route declares parameter {@code name}. */
        boolean binds(String name) {
            return pattern.contains("{" + name + "}");
        }
    }

    /** The outcome of matching a request: a route and its parameters, or the status and message to answer with. */
    record Match<H>(Route<H> route, String[] values, int status, String message) {
        /** Parameter {@code name}'s value (URL segments are not decoded: model and view names are plain). */
        String param(String name) {
            String[] s = route.segments();
            for (int i = 0; i < s.length; i++) {
                if (s[i].equals("{" + name + "}")) {
                    return values[i];
                }
            }
            throw new IllegalArgumentException(route.pattern() + " has no parameter " + name);
        }

        boolean found() {
            return route != null;
        }
    }

    private final List<Route<H>> routes = new ArrayList<>();

    /** Adds {@code method pattern}, needing {@code role} (null: open), answered on the event loop. */
    RouteTable<H> add(HttpMethod method, String pattern, Role role, H handler) {
        return add(method, pattern, role, false, handler);
    }

    /** As {@link #add(HttpMethod, String, Role, Object)}; {@code slow} routes run on their own executor. */
    RouteTable<H> add(HttpMethod method, String pattern, Role role, boolean slow, H handler) {
        routes.add(new Route<>(method, pattern, split(pattern), role, slow, handler));
        return this;
    }

    /** Every route, in matching order. */
    List<Route<H>> routes() {
        return List.copyOf(routes);
    }

    Match<H> match(HttpMethod method, String path) {
        String[] p = split(path);
        Set<String> allowed = null;
        for (Route<H> r : routes) {
            if (!matches(r.segments(), p)) {
                continue;
            }
            if (r.method().equals(method) || (method.equals(HttpMethod.HEAD) && r.method().equals(HttpMethod.GET))) {
                return new Match<>(r, p, 200, null);
            }
            if (allowed == null) {
                allowed = new LinkedHashSet<>();
            }
            allowed.add(r.method().name());
        }
        if (allowed != null) {
            return new Match<>(null, p, 405, path + " takes " + String.join(" or ", allowed));
        }
        return new Match<>(null, p, 404, "no endpoint " + path + "; the REST APIs live under /v2 (inference) and /v1 "
                + "(features, Predict, drift, rollout)");
    }

    private static boolean matches(String[] pattern, String[] path) {
        if (pattern.length != path.length) {
            return false;
        }
        for (int i = 0; i < pattern.length; i++) {
            if (!pattern[i].startsWith("{") && !pattern[i].equals(path[i])) {
                return false;
            }
        }
        return true;
    }

    /** A path's non-empty segments ("/v2//models/" is v2, models). */
    static String[] split(String path) {
        int n = 0;
        for (String s : path.split("/")) {
            n += s.isEmpty() ? 0 : 1;
        }
        String[] out = new String[n];
        int k = 0;
        for (String s : path.split("/")) {
            if (!s.isEmpty()) {
                out[k++] = s;
            }
        }
        return out;
    }
}
