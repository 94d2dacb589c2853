package io.mlserve.server;

/**
 * The server's notion of "now" for what is judged in time: drift windows and their season buckets, trend
 * projection, live-quality joins, rollout windows and retrain cooldowns. It is the wall clock unless a replay
 * drives it ({@link #simulate}): then the server behaves as it would have at the replayed time, so a year of
 * recorded traffic can be replayed in minutes with seasons, windows and cooldowns meaning what they say.
 * Latency, deadlines and health keep using the wall clock.
 */
public final class ServerClock {
    private static final long WALL = Long.MIN_VALUE;
    private volatile long simulated = WALL;

    /** Epoch milliseconds: the simulated time while a replay drives the clock, else the wall clock. */
    public long now() {
        long t = simulated;
        return t == WALL ? System.currentTimeMillis() : t;
    }

    /** From now on the server's time is {@code epochMs} (until the next call or {@link #wall}). */
    public void simulate(long epochMs) {
        if (epochMs == WALL) {
            throw new IllegalArgumentException("not a time: " + epochMs);
        }
        simulated = epochMs;
    }

    /** Back to the wall clock. */
    public void wall() {
        simulated = WALL;
    }

    public boolean simulated() {
        return simulated != WALL;
    }
}
