package io.mlserve.server.threads;

import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/** The server's background agents each run on one named daemon thread (a stuck agent never holds the JVM up). */
public final class Daemons {
    private Daemons() {
    }

    /** A scheduler with one daemon thread called {@code name}. */
    public static ScheduledExecutorService scheduler(String name) {
        return Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, name);
            t.setDaemon(true);
            return t;
        });
    }
}
