package io.mlserve.server.time;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * The server's notion of "now" for what is judged in time: feature TTLs, drift windows and their season buckets,
 * trend projection, live-quality joins and the training log's outcome wait, rollout windows and retrain cooldowns.
 * It is the wall clock unless a replay drives it: explicitly ({@link #simulate}), or, for a replay clock
 * ({@link #replaying()}), by the event times the server sees ({@link #observe}) — then the server behaves as it
 * would have at the replayed time, so a year of recorded traffic can be replayed in minutes with seasons, windows
 * and cooldowns meaning what they say. Latency, deadlines and health keep using the wall clock.
 */
public final class ServerClock {
    private static final long WALL = Long.MIN_VALUE;
    private static final VarHandle SIMULATED;

    static {
        try {
            SIMULATED = MethodHandles.lookup().findVarHandle(ServerClock.class, "simulated", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final boolean replay;
    private volatile long simulated = WALL;

    /** The wall clock (until {@link #simulate}). */
    public ServerClock() {
        this(false);
    }

    private ServerClock(boolean replay) {
        this.replay = replay;
    }

    /**
     * A clock that follows the largest event time {@link #observe observed}, never going back. Before the first
     * event it reads the wall clock: a replay starts "now" until its first record says when it is.
     */
    public static ServerClock replay() {
        return new ServerClock(true);
    }

    /** Epoch milliseconds: the simulated time while a replay drives the clock, else the wall clock. */
    public long now() {
        long t = simulated;
        return t == WALL ? System.currentTimeMillis() : t;
    }

    /**
     * An event happened at {@code eventTimeMs}: a replay clock moves forward to it when it is later than the clock's
     * time (lock-free; concurrent observers keep the largest); an earlier event, or any event on a clock that is
     * not a replay clock, changes nothing.
     */
    public void observe(long eventTimeMs) {
        if (!replay || eventTimeMs == WALL) {
            return;
        }
        long t = simulated;
        while (eventTimeMs > t && !SIMULATED.compareAndSet(this, t, eventTimeMs)) {
            t = simulated;
        }
    }

    /** From now on the server's time is {@code epochMs} (until the next call, a later observed event, or {@link #wall}). */
    public void simulate(long epochMs) {
        if (epochMs == WALL) {
            throw new IllegalArgumentException("not a time: " + epochMs);
        }
        simulated = epochMs;
    }

    /** Back to the wall clock (a replay clock follows the next event observed again). */
    public void wall() {
        simulated = WALL;
    }

    public boolean simulated() {
        return simulated != WALL;
    }

    /** Whether observed event times drive this clock (--replay-clock). */
    public boolean replaying() {
        return replay;
    }
}
