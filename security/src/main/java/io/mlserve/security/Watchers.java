package io.mlserve.security;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/** The watchers of this module (token file, certificates, refusals to audit) each on one named daemon thread. */
final class Watchers {
    private Watchers() {
    }

    static ScheduledExecutorService daemon(String name) {
        return Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        });
    }
}
