package io.mlserve.batching;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemNanoClock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Triton-style dynamic batching for one model version.
 *
 * <p>Threads and what they own:
 * <ul>
 *   <li><b>submitters</b> (network threads) call {@link #submit}: a bounds check on an atomic counter and
 *       an offer into the level's lock-free many-to-one queue — no lock, no allocation;</li>
 *   <li>the <b>dispatcher</b> thread alone consumes those queues, keeps the waiting requests in its own
 *       deques, drops cancelled and expired ones, and decides when a batch goes: at once when it reaches
 *       max_batch_size or a preferred size (or cannot grow), otherwise when its oldest request has waited
 *       max_queue_delay; levels are served in strict priority order;</li>
 *   <li>each <b>instance</b> thread (instance_group count of them) executes one batch at a time with its own
 *       buffers; the dispatcher hands it a batch only while it is idle.</li>
 * </ul>
 * A request handed to an instance has left the queue; a request that is rejected never took a slot.
 *
 * <p>Every time the batcher reads — a request's arrival, its queue timeout and deadline, the queue delay,
 * the shutdown grace — comes from one {@link NanoClock}, the system's unless one is injected (tests drive
 * the delays with a clock they move by hand instead of sleeping).
 */
public final class DynamicBatcher<R extends QueuedRequest> implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(DynamicBatcher.class);
    private static final long IDLE_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    private final String name;
    private final BatchingConfig config;
    private final BatchExecutor<R> executor;
    private final BatcherListener listener;
    private final NanoClock clock;
    private final int levels;
    private final ManyToOneConcurrentArrayQueue<R>[] inbound;
    private final AtomicInteger[] queued;
    private final ArrayDeque<R>[] waiting;
    private final ArrayDeque<R>[] delayed;
    private final List<Instance> instances;
    private final Thread dispatcher;
    private final AtomicInteger submitting = new AtomicInteger();
    private volatile boolean accepting = true;
    private volatile boolean stopping;
    private volatile long drainDeadlineNanos = Long.MAX_VALUE;
    private volatile boolean dispatcherParked;

    // preserve_ordering: batches deliver in the order the dispatcher formed them
    private final Object orderLock = new Object();
    private final TreeMap<Long, Runnable> finished = new TreeMap<>();
    private long nextToDeliver;
    private long nextSequence;

    public DynamicBatcher(String name, BatchingConfig config, BatchExecutor<R> executor, BatcherListener listener) {
        this(name, config, executor, listener, SystemNanoClock.INSTANCE);
    }

    /**
     * As {@link #DynamicBatcher(String, BatchingConfig, BatchExecutor, BatcherListener)}, reading time from
     * {@code clock}; requests' deadlines must be in the same time base.
     */
    @SuppressWarnings("unchecked")
    public DynamicBatcher(String name, BatchingConfig config, BatchExecutor<R> executor, BatcherListener listener,
                          NanoClock clock) {
        this.name = name;
        this.clock = clock;
        this.config = config;
        this.executor = executor;
        this.listener = listener;
        this.levels = config.priorityLevels();
        this.inbound = new ManyToOneConcurrentArrayQueue[levels];
        this.queued = new AtomicInteger[levels];
        this.waiting = new ArrayDeque[levels];
        this.delayed = new ArrayDeque[levels];
        for (int l = 0; l < levels; l++) {
            inbound[l] = new ManyToOneConcurrentArrayQueue<>(config.policy(l + 1).capacity());
            queued[l] = new AtomicInteger();
            waiting[l] = new ArrayDeque<>();
            delayed[l] = new ArrayDeque<>();
        }
        this.instances = new ArrayList<>(config.instances());
        for (int i = 0; i < config.instances(); i++) {
            instances.add(new Instance(i));
        }
        this.dispatcher = new Thread(this::dispatchLoop, name + "-dispatch");
        dispatcher.setDaemon(true);
        dispatcher.start();
        for (Instance in : instances) {
            in.thread.start();
        }
    }

    public BatchingConfig config() {
        return config;
    }

    /**
     * Queues {@code request}; returns false when it was rejected (queue full, shutting down), in which case
     * {@link QueuedRequest#reject} has already been called on this thread.
     */
    public boolean submit(R request) {
        submitting.incrementAndGet();
        try {
            if (!accepting) {
                reject(request, Rejection.SHUTDOWN, "the model is being unloaded or the server is shutting down");
                return false;
            }
            int l = request.level - 1;
            if (config.combines() && request.rows > config.maxBatchSize()) {
                throw new IllegalArgumentException(request.rows + " rows exceed max_batch_size "
                        + config.maxBatchSize() + "; callers must refuse such requests before submitting");
            }
            request.enqueuedNanos = clock.nanoTime();
            QueuePolicy policy = config.policy(request.level);
            long timeout = policy.effectiveTimeoutMicros(request.requestedTimeoutMicros);
            request.queueTimeoutNanos = timeout > 0 ? request.enqueuedNanos + timeout * 1000 : Long.MAX_VALUE;
            if (!reserveSlot(queued[l], policy.capacity())) {
                reject(request, Rejection.QUEUE_FULL, "the queue of priority level " + request.level + " is full ("
                        + policy.capacity() + " requests waiting)");
                return false;
            }
            notifyPending(request.level, 1);
            if (!inbound[l].offer(request)) {
                queued[l].decrementAndGet();
                notifyPending(request.level, -1);
                reject(request, Rejection.QUEUE_FULL, "the queue of priority level " + request.level + " is full");
                return false;
            }
            if (dispatcherParked) {
                LockSupport.unpark(dispatcher);
            }
            return true;
        } finally {
            submitting.decrementAndGet();
        }
    }

    /** Takes one of {@code capacity} places, without ever counting past it (no spurious "full"). */
    private static boolean reserveSlot(AtomicInteger count, int capacity) {
        for (;;) {
            int n = count.get();
            if (n >= capacity) {
                return false;
            }
            if (count.compareAndSet(n, n + 1)) {
                return true;
            }
        }
    }

    private void notifyPending(int level, int delta) {
        try {
            listener.pendingChanged(level, delta);
        } catch (RuntimeException e) {
            LOG.warn("{}: listener failed", name, e);
        }
    }

    /** Requests waiting at {@code level} (1-based), for tests and gauges. */
    public int pending(int level) {
        return queued[level - 1].get();
    }

    private void reject(R r, Rejection reason, String message) {
        try {
            listener.rejected(reason);
        } catch (RuntimeException e) {
            LOG.warn("{}: listener failed", name, e);
        }
        try {
            r.reject(reason, message);
        } catch (RuntimeException e) {
            LOG.warn("{}: rejecting a request failed", name, e);
        }
    }

    // ---- dispatcher thread -------------------------------------------------------------------------

    private void dispatchLoop() {
        List<R> candidate = new ArrayList<>();
        try {
            for (;;) {
                drainInbound();
                long now = clock.nanoTime();
                if (stopping) {
                    if (now >= drainDeadlineNanos) {
                        rejectAllWaiting(Rejection.SHUTDOWN, "the server shut down before this request could run");
                    }
                    if (nothingWaiting() && allIdle() && submitting.get() == 0 && inboundEmpty()) {
                        return;
                    }
                }
                Instance free = freeInstance();
                long wakeAt;
                if (free == null) {
                    wakeAt = now + IDLE_PARK_NANOS;
                } else {
                    wakeAt = formAndDispatch(free, candidate, now);
                    if (wakeAt == 0) {
                        continue;
                    }
                }
                if (stopping) {
                    wakeAt = Math.min(wakeAt, Math.min(drainDeadlineNanos, now + IDLE_PARK_NANOS));
                }
                park(wakeAt, free == null);
            }
        } catch (Throwable t) {
            // nobody will read the queues again: refuse new work, then answer everything that got in
            LOG.error("{}: dispatcher failed; rejecting what waits", name, t);
            accepting = false;
            do {
                rejectAllWaiting(Rejection.EXECUTION_FAILED, "the model's scheduler failed: " + t);
                Thread.onSpinWait();
            } while (submitting.get() > 0 || !inboundEmpty());
        }
    }

    private void park(long wakeAt, boolean waitingForInstance) {
        dispatcherParked = true;
        try {
            if (!inboundEmpty() || (waitingForInstance && freeInstance() != null)) {
                return;
            }
            // a clock that is not the system's may jump: never park past the idle look-again interval
            long nanos = Math.min(wakeAt - clock.nanoTime(), IDLE_PARK_NANOS);
            if (nanos > 0) {
                LockSupport.parkNanos(this, nanos);
            }
        } finally {
            dispatcherParked = false;
        }
    }

    private void drainInbound() {
        for (int l = 0; l < levels; l++) {
            ArrayDeque<R> w = waiting[l];
            inbound[l].drain(w::addLast);
        }
    }

    private boolean inboundEmpty() {
        for (ManyToOneConcurrentArrayQueue<R> q : inbound) {
            if (!q.isEmpty()) {
                return false;
            }
        }
        return true;
    }

    private boolean nothingWaiting() {
        for (int l = 0; l < levels; l++) {
            if (!waiting[l].isEmpty() || !delayed[l].isEmpty()) {
                return false;
            }
        }
        return true;
    }

    private Instance freeInstance() {
        for (Instance in : instances) {
            if (!in.busy) {
                return in;
            }
        }
        return null;
    }

    private boolean allIdle() {
        return freeCount() == instances.size();
    }

    private int freeCount() {
        int n = 0;
        for (Instance in : instances) {
            if (!in.busy) {
                n++;
            }
        }
        return n;
    }

    /**
     * Gathers the next batch in priority order and hands it to {@code free} if it should go now.
     *
     * @return 0 when a batch was dispatched, else the clock's time to look again at
     */
    private long formAndDispatch(Instance free, List<R> batch, long now) {
        batch.clear();
        int rows = 0;
        R first = null;
        long oldest = Long.MAX_VALUE;
        boolean full = false;
        int max = config.maxBatchSize();
        boolean combines = config.combines();
        outer:
        for (int l = 0; l < levels; l++) {
            // pass 0: requests within their queue timeout; pass 1: this level's timed-out DELAY requests,
            // which wait behind every request of their own and higher levels (Triton's DELAY)
            for (int pass = 0; pass < 2; pass++) {
                ArrayDeque<R> deque = pass == 0 ? waiting[l] : delayed[l];
                for (Iterator<R> it = deque.iterator(); it.hasNext(); ) {
                    R r = it.next();
                    if (r.cancelled()) {
                        it.remove();
                        dequeued(r);
                        reject(r, Rejection.CANCELLED, "the caller cancelled the request while it waited");
                        continue;
                    }
                    if (now >= r.deadlineNanos) {
                        it.remove();
                        dequeued(r);
                        reject(r, Rejection.TIMEOUT, "the request's deadline passed while it waited in the queue");
                        continue;
                    }
                    if (pass == 0 && now >= r.queueTimeoutNanos) {
                        it.remove();
                        if (config.policy(r.level).timeoutAction() == QueuePolicy.TimeoutAction.REJECT) {
                            dequeued(r);
                            reject(r, Rejection.TIMEOUT, "the request waited longer than its queue timeout of "
                                    + config.policy(r.level).effectiveTimeoutMicros(r.requestedTimeoutMicros) + " µs");
                        } else {
                            r.delayed = true;
                            delayed[r.level - 1].addLast(r);
                        }
                        continue;
                    }
                    if (!combines) {
                        batch.add(r);
                        rows = r.rows;
                        full = true;
                        break outer;
                    }
                    if (first != null && (rows + r.rows > max || !r.batchesWith(first))) {
                        full = true; // the batch cannot grow past this request: waiting gains nothing
                        break outer;
                    }
                    if (first == null) {
                        first = r;
                    }
                    batch.add(r);
                    rows += r.rows;
                    oldest = Math.min(oldest, r.enqueuedNanos);
                    if (rows == max) {
                        full = true;
                        break outer;
                    }
                }
            }
        }
        if (batch.isEmpty()) {
            return now + IDLE_PARK_NANOS;
        }
        if (!full && combines) {
            int preferred = largestPreferredPrefix(batch);
            if (preferred > 0) {
                while (batch.size() > preferred) {
                    batch.remove(batch.size() - 1);
                }
                rows = 0;
                for (R r : batch) {
                    rows += r.rows;
                }
            } else {
                long sendAt = oldest + config.maxQueueDelayMicros() * 1000;
                if (now < sendAt && !stopping) {
                    return sendAt;
                }
            }
        }
        dispatch(free, batch, rows);
        return 0;
    }

    /** Number of leading requests whose rows add up to the largest preferred batch size, or 0. */
    private int largestPreferredPrefix(List<R> batch) {
        int rows = 0;
        int best = 0;
        for (int i = 0; i < batch.size(); i++) {
            rows += batch.get(i).rows;
            if (config.preferred(rows)) {
                best = i + 1;
            }
        }
        return best;
    }

    private void dequeued(R r) {
        queued[r.level - 1].decrementAndGet();
        notifyPending(r.level, -1);
    }

    private void dispatch(Instance in, List<R> batch, int rows) {
        for (R r : batch) {
            ArrayDeque<R> deque = r.delayed ? delayed[r.level - 1] : waiting[r.level - 1];
            R head = deque.pollFirst();
            if (head != r) {
                throw new IllegalStateException("batch formation out of order");
            }
            dequeued(r);
        }
        in.requests.clear();
        in.requests.addAll(batch);
        in.rows = rows;
        in.sequence = nextSequence++;
        in.busy = true;
        in.assigned = true;
        LockSupport.unpark(in.thread);
        try {
            listener.batchFormed(rows, batch.size());
        } catch (RuntimeException e) {
            LOG.warn("{}: listener failed", name, e);
        }
    }

    private void rejectAllWaiting(Rejection reason, String message) {
        drainInbound();
        for (int l = 0; l < levels; l++) {
            for (ArrayDeque<R> d : List.of(waiting[l], delayed[l])) {
                R r;
                while ((r = d.pollFirst()) != null) {
                    dequeued(r);
                    reject(r, reason, message);
                }
            }
        }
    }

    // ---- instances ---------------------------------------------------------------------------------

    private final class Instance {
        final int index;
        final Thread thread;
        final List<R> requests = new ArrayList<>();
        int rows;
        long sequence;
        volatile boolean busy;
        volatile boolean assigned;

        Instance(int index) {
            this.index = index;
            this.thread = new Thread(this::run, name + "-instance-" + index);
            thread.setDaemon(true);
        }

        private void run() {
            for (;;) {
                while (!assigned) {
                    if (stopping && !busy && !dispatcher.isAlive()) {
                        return;
                    }
                    LockSupport.parkNanos(this, IDLE_PARK_NANOS);
                }
                Runnable deliver;
                try {
                    deliver = executor.execute(requests, rows, index);
                } catch (Throwable t) {
                    LOG.error("{}: executing a batch of {} rows failed", name, rows, t);
                    List<R> failed = new ArrayList<>(requests);
                    deliver = () -> {
                        for (R r : failed) {
                            reject(r, Rejection.EXECUTION_FAILED, "the model failed: " + t);
                        }
                    };
                }
                try {
                    if (config.preserveOrdering()) {
                        deliverInOrder(sequence, deliver);
                    } else {
                        runDelivery(deliver);
                    }
                } finally {
                    requests.clear();
                    assigned = false;
                    busy = false;
                    if (dispatcherParked) {
                        LockSupport.unpark(dispatcher);
                    }
                }
            }
        }
    }

    private void deliverInOrder(long sequence, Runnable deliver) {
        synchronized (orderLock) {
            finished.put(sequence, deliver);
            Runnable next;
            while ((next = finished.remove(nextToDeliver)) != null) {
                nextToDeliver++;
                runDelivery(next);
            }
        }
    }

    private void runDelivery(Runnable deliver) {
        try {
            deliver.run();
        } catch (Throwable e) {
            LOG.error("{}: delivering responses failed", name, e);
        }
    }

    /**
     * Stops accepting, lets queued requests run for up to {@code grace}, rejects what is left with
     * SHUTDOWN, and stops the threads once running batches finish.
     */
    public void close(Duration grace) {
        accepting = false;
        drainDeadlineNanos = clock.nanoTime() + grace.toNanos();
        stopping = true;
        LockSupport.unpark(dispatcher);
        try {
            // the grace is on the batcher's clock; the wall-clock wait only bounds a dispatcher that hangs
            dispatcher.join(grace.toMillis() + TimeUnit.MINUTES.toMillis(1));
            for (Instance in : instances) {
                LockSupport.unpark(in.thread);
                in.thread.join(TimeUnit.SECONDS.toMillis(10));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (dispatcher.isAlive()) {
            LOG.warn("{}: dispatcher still running after close", name);
        }
    }

    @Override
    public void close() {
        close(Duration.ofSeconds(30));
    }
}
