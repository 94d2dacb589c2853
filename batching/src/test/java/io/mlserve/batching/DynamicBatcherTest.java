package io.mlserve.batching;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.agrona.concurrent.CachedNanoClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The batcher's semantics on a clock the test moves by hand ({@link #clock}): queue delays, timeouts,
 * deadlines and the shutdown grace are decided by the batcher's clock, so no assertion here depends on how
 * fast this machine happens to be. Real time only bounds how long a test waits for an answer that must come.
 */
class DynamicBatcherTest {
    private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);

    /** A request that records how it ended. */
    static final class Req extends QueuedRequest {
        final int id;
        final int shape;
        volatile boolean cancelled;
        final CompletableFuture<String> outcome = new CompletableFuture<>();
        volatile long executedAt;

        Req(int id, int rows, int level, long deadlineNanos, long timeoutMicros, int shape) {
            super(rows, level, deadlineNanos, timeoutMicros);
            this.id = id;
            this.shape = shape;
        }

        static Req of(int id, int rows) {
            return new Req(id, rows, 1, Long.MAX_VALUE, 0, 0);
        }

        @Override
        protected boolean cancelled() {
            return cancelled;
        }

        @Override
        protected boolean batchesWith(QueuedRequest first) {
            return ((Req) first).shape == shape;
        }

        @Override
        protected void reject(Rejection reason, String message) {
            outcome.complete(reason.name());
        }
    }

    /** Records batches (and when, on the batcher's clock); can hold executions until released. */
    static final class Recorder implements BatchExecutor<Req> {
        final CachedNanoClock clock;
        final List<List<Integer>> batches = Collections.synchronizedList(new ArrayList<>());
        final List<Integer> executionOrder = Collections.synchronizedList(new ArrayList<>());
        final AtomicInteger running = new AtomicInteger();
        final AtomicInteger maxRunning = new AtomicInteger();
        volatile CountDownLatch gate = new CountDownLatch(0);

        Recorder(CachedNanoClock clock) {
            this.clock = clock;
        }

        @Override
        public Runnable execute(List<Req> requests, int rows, int instance) {
            int now = running.incrementAndGet();
            maxRunning.accumulateAndGet(now, Math::max);
            List<Integer> ids = new ArrayList<>();
            long t = clock.nanoTime();
            for (Req r : requests) {
                ids.add(r.id);
                executionOrder.add(r.id);
                r.executedAt = t;
            }
            batches.add(ids);
            try {
                gate.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            running.decrementAndGet();
            List<Req> done = new ArrayList<>(requests);
            return () -> done.forEach(r -> r.outcome.complete("OK:" + rows));
        }
    }

    final CachedNanoClock clock = new CachedNanoClock();
    final Recorder exec = new Recorder(clock);
    DynamicBatcher<Req> batcher;

    @AfterEach
    void close() {
        exec.gate = new CountDownLatch(0);
        if (batcher != null) {
            batcher.close(Duration.ofSeconds(5));
        }
    }

    static BatchingConfig dynamic(int max, int[] preferred, long delayMicros, int instances) {
        return new BatchingConfig(max, true, preferred, delayMicros, false, 1, 1,
                new QueuePolicy[] {QueuePolicy.DEFAULT}, instances);
    }

    @Test
    void loneRequestWaitsExactlyMaxQueueDelay() throws Exception {
        batcher = start(dynamic(8, new int[0], 20_000, 1));
        for (int i = 0; i < 3; i++) {
            Req r = Req.of(i, 1);
            batcher.submit(r);
            clock.advance(20 * MS - 1);
            Thread.sleep(120); // the dispatcher looks again at least every 50 ms of real time
            assertThat(r.outcome).isNotDone();
            clock.advance(1);
            assertThat(r.outcome.get(5, TimeUnit.SECONDS)).isEqualTo("OK:1");
            assertThat(r.executedAt - r.enqueuedNanos()).isEqualTo(20 * MS);
        }
    }

    @Test
    void fullAndPreferredBatchesGoWithoutWaiting() throws Exception {
        batcher = start(dynamic(8, new int[] {4}, 2_000_000, 1));
        exec.gate = new CountDownLatch(1);
        Req blocker = Req.of(100, 8);
        batcher.submit(blocker);
        awaitRunning(1);
        List<Req> reqs = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            reqs.add(Req.of(i, 1));
            batcher.submit(reqs.get(i));
        }
        exec.gate.countDown();
        for (Req r : reqs) {
            r.outcome.get(5, TimeUnit.SECONDS);
        }
        // 12 waiting one-row requests: a full batch of 8 at once, then the preferred 4 at once; the clock never
        // moved, so neither waited for the 2 s queue delay
        assertThat(exec.batches).containsExactly(List.of(100), List.of(0, 1, 2, 3, 4, 5, 6, 7), List.of(8, 9, 10, 11));
    }

    @Test
    void multiRowRequestsCountTheirRowsAndAreNeverSplit() throws Exception {
        batcher = start(dynamic(8, new int[0], 0, 1));
        exec.gate = new CountDownLatch(1);
        batcher.submit(Req.of(100, 1));
        awaitRunning(1);
        List<Req> reqs = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            reqs.add(Req.of(i, 3));
            batcher.submit(reqs.get(i));
        }
        exec.gate.countDown();
        for (Req r : reqs) {
            assertThat(r.outcome.get(5, TimeUnit.SECONDS)).isIn("OK:6", "OK:3");
        }
        assertThat(exec.batches).containsExactly(List.of(100), List.of(0, 1), List.of(2, 3), List.of(4));
    }

    @Test
    void requestsOfDifferentShapesAreNotCombined() throws Exception {
        batcher = start(dynamic(8, new int[0], 0, 1));
        exec.gate = new CountDownLatch(1);
        batcher.submit(Req.of(100, 1));
        awaitRunning(1);
        Req a = new Req(0, 1, 1, Long.MAX_VALUE, 0, 7);
        Req b = new Req(1, 1, 1, Long.MAX_VALUE, 0, 9);
        Req c = new Req(2, 1, 1, Long.MAX_VALUE, 0, 9);
        batcher.submit(a);
        batcher.submit(b);
        batcher.submit(c);
        exec.gate.countDown();
        CompletableFuture.allOf(a.outcome, b.outcome, c.outcome).get(5, TimeUnit.SECONDS);
        assertThat(exec.batches).containsExactly(List.of(100), List.of(0), List.of(1, 2));
    }

    @Test
    void higherPriorityRunsBeforeLowerPriorityQueuedEarlier() throws Exception {
        BatchingConfig cfg = new BatchingConfig(2, true, new int[0], 0, false, 2, 2,
                new QueuePolicy[] {QueuePolicy.DEFAULT, QueuePolicy.DEFAULT}, 1);
        batcher = start(cfg);
        exec.gate = new CountDownLatch(1);
        batcher.submit(new Req(100, 2, 1, Long.MAX_VALUE, 0, 0));
        awaitRunning(1);
        List<Req> all = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            all.add(new Req(i, 1, 2, Long.MAX_VALUE, 0, 0)); // low priority first
        }
        for (int i = 10; i < 14; i++) {
            all.add(new Req(i, 1, 1, Long.MAX_VALUE, 0, 0));
        }
        all.forEach(batcher::submit);
        assertThat(batcher.pending(1)).isEqualTo(4);
        assertThat(batcher.pending(2)).isEqualTo(4);
        exec.gate.countDown();
        for (Req r : all) {
            r.outcome.get(5, TimeUnit.SECONDS);
        }
        assertThat(exec.executionOrder).containsExactly(100, 10, 11, 12, 13, 0, 1, 2, 3);
    }

    @Test
    void fullQueueRejectsAtOnce() throws Exception {
        QueuePolicy small = new QueuePolicy(QueuePolicy.TimeoutAction.REJECT, 0, false, 2);
        batcher = start(new BatchingConfig(4, true, new int[0], 0, false, 1, 1,
                new QueuePolicy[] {small}, 1));
        exec.gate = new CountDownLatch(1);
        batcher.submit(Req.of(100, 4));
        awaitRunning(1);
        Req a = Req.of(0, 1);
        Req b = Req.of(1, 1);
        Req c = Req.of(2, 1);
        assertThat(batcher.submit(a)).isTrue();
        assertThat(batcher.submit(b)).isTrue();
        assertThat(batcher.submit(c)).isFalse();
        // refused on the caller's thread, before submit returned
        assertThat(c.outcome.getNow("pending")).isEqualTo("QUEUE_FULL");
        exec.gate.countDown();
        assertThat(a.outcome.get(5, TimeUnit.SECONDS)).startsWith("OK");
        assertThat(exec.executionOrder).doesNotContain(2);
    }

    @Test
    void timedOutAndCancelledRequestsAreDroppedUnexecuted() throws Exception {
        QueuePolicy tenMillis = new QueuePolicy(QueuePolicy.TimeoutAction.REJECT, 10_000, true, 0);
        batcher = start(new BatchingConfig(4, true, new int[0], 0, false, 1, 1,
                new QueuePolicy[] {tenMillis}, 1));
        exec.gate = new CountDownLatch(1);
        batcher.submit(Req.of(100, 4));
        awaitRunning(1);
        Req queueTimeout = Req.of(0, 1);
        Req deadline = new Req(1, 1, 1, clock.nanoTime() + 5 * MS, 0, 0);
        Req cancelled = new Req(2, 1, 1, Long.MAX_VALUE, 0, 0);
        Req overrideHigher = new Req(3, 1, 1, Long.MAX_VALUE, 1_000_000, 0); // may only lower the default
        batcher.submit(queueTimeout);
        batcher.submit(deadline);
        batcher.submit(cancelled);
        batcher.submit(overrideHigher);
        cancelled.cancelled = true;
        clock.advance(30 * MS);
        exec.gate.countDown();
        assertThat(queueTimeout.outcome.get(5, TimeUnit.SECONDS)).isEqualTo("TIMEOUT");
        assertThat(deadline.outcome.get(5, TimeUnit.SECONDS)).isEqualTo("TIMEOUT");
        assertThat(cancelled.outcome.get(5, TimeUnit.SECONDS)).isEqualTo("CANCELLED");
        assertThat(overrideHigher.outcome.get(5, TimeUnit.SECONDS)).isEqualTo("TIMEOUT");
        assertThat(exec.executionOrder).containsExactly(100);
    }

    @Test
    void delayedRequestsRunAfterThoseWithinTheirTimeout() throws Exception {
        QueuePolicy delay = new QueuePolicy(QueuePolicy.TimeoutAction.DELAY, 5_000, true, 0);
        batcher = start(new BatchingConfig(1, true, new int[0], 0, false, 1, 1,
                new QueuePolicy[] {delay}, 1));
        exec.gate = new CountDownLatch(1);
        batcher.submit(Req.of(100, 1));
        awaitRunning(1);
        Req old = Req.of(0, 1);
        batcher.submit(old);
        clock.advance(20 * MS); // old passes its 5 ms queue timeout
        Req fresh = new Req(1, 1, 1, Long.MAX_VALUE, 0, 0);
        batcher.submit(fresh);
        exec.gate.countDown();
        assertThat(old.outcome.get(5, TimeUnit.SECONDS)).startsWith("OK");
        assertThat(fresh.outcome.get(5, TimeUnit.SECONDS)).startsWith("OK");
        assertThat(exec.executionOrder).containsExactly(100, 1, 0);
    }

    @Test
    void instanceCountBoundsConcurrentExecutionsAndOrderingIsPreserved() throws Exception {
        BatchingConfig cfg = new BatchingConfig(1, true, new int[0], 0, true, 1, 1,
                new QueuePolicy[] {QueuePolicy.DEFAULT}, 3);
        List<Integer> delivered = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger running = new AtomicInteger();
        AtomicInteger maxRunning = new AtomicInteger();
        BatchExecutor<Req> jittery = (requests, rows, instance) -> {
            maxRunning.accumulateAndGet(running.incrementAndGet(), Math::max);
            try {
                Thread.sleep(requests.get(0).id % 3 == 0 ? 15 : 1); // later batches often finish first
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            running.decrementAndGet();
            Req r = requests.get(0);
            return () -> {
                delivered.add(r.id);
                r.outcome.complete("OK");
            };
        };
        batcher = new DynamicBatcher<>("t", cfg, jittery, BatcherListener.NONE);
        List<Req> all = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            all.add(Req.of(i, 1));
            batcher.submit(all.get(i));
        }
        for (Req r : all) {
            r.outcome.get(10, TimeUnit.SECONDS);
        }
        assertThat(maxRunning.get()).isBetween(2, 3);
        List<Integer> expected = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            expected.add(i);
        }
        assertThat(delivered).isEqualTo(expected);
    }

    @Test
    void shutdownRunsWhatItCanWithinTheGracePeriodAndRefusesTheRest() throws Exception {
        batcher = start(dynamic(2, new int[0], 0, 1));
        exec.gate = new CountDownLatch(1);
        List<Req> all = new ArrayList<>();
        all.add(Req.of(0, 1));
        batcher.submit(all.get(0));
        awaitRunning(1); // the first batch is request 0 alone, held by the gate
        for (int i = 1; i < 200; i++) {
            all.add(Req.of(i, 1));
            batcher.submit(all.get(i));
        }
        DynamicBatcher<Req> closing = batcher;
        CompletableFuture<Void> closed = CompletableFuture.runAsync(() -> closing.close(Duration.ofMillis(200)));
        Req late = Req.of(999, 1);
        long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (batcher.submit(late) && System.nanoTime() < until) {
            late = Req.of(999, 1); // close has not stopped accepting yet
        }
        assertThat(late.outcome.getNow("")).isEqualTo("SHUTDOWN");
        assertThat(closed).isNotDone();
        clock.advance(200 * MS); // the grace is over while the first batch still runs
        Thread.sleep(120);
        exec.gate.countDown();
        closed.get(10, TimeUnit.SECONDS);
        int ok = 0;
        int shutdown = 0;
        for (Req r : all) {
            String o = r.outcome.get(1, TimeUnit.SECONDS);
            if (o.startsWith("OK")) {
                ok++;
            } else {
                assertThat(o).isEqualTo("SHUTDOWN");
                shutdown++;
            }
        }
        assertThat(ok).isEqualTo(1); // the batch that was running when the grace ended
        assertThat(shutdown).isEqualTo(199);
        assertThat(exec.batches).containsExactly(List.of(0));
        batcher = null;
    }

    private DynamicBatcher<Req> start(BatchingConfig config) {
        return new DynamicBatcher<>("t", config, exec, BatcherListener.NONE, clock);
    }

    private void awaitRunning(int n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (exec.running.get() < n && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertThat(exec.running.get()).isEqualTo(n);
    }
}
