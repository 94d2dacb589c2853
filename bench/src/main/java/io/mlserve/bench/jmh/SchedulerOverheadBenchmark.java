package io.mlserve.bench.jmh;

import io.mlserve.batching.BatchExecutor;
import io.mlserve.batching.BatcherListener;
import io.mlserve.batching.BatchingConfig;
import io.mlserve.batching.DynamicBatcher;
import io.mlserve.batching.QueuePolicy;
import io.mlserve.batching.QueuedRequest;
import io.mlserve.batching.Rejection;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What the scheduler itself costs per request: submit → dispatcher → instance → completion with a model
 * that does nothing. {@code roundTrip} is one caller waiting for each answer (latency: the thread hand-offs);
 * {@code pipelined} keeps 64 requests in flight from one caller (throughput of the scheduler).
 */
@State(Scope.Benchmark)
@Fork(value = 1, jvmArgsAppend = {"--add-exports=java.base/jdk.internal.misc=ALL-UNNAMED"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 3)
public class SchedulerOverheadBenchmark {

    /** A request whose completion is a volatile flag the caller spins on. */
    static final class NoOp extends QueuedRequest {
        volatile boolean done;

        NoOp() {
            super(1, 1, Long.MAX_VALUE, 0);
        }

        @Override
        protected boolean cancelled() {
            return false;
        }

        @Override
        protected boolean batchesWith(QueuedRequest first) {
            return true;
        }

        @Override
        protected void reject(Rejection reason, String message) {
            done = true;
        }
    }

    @Param({"1", "64"})
    int maxBatchSize;

    DynamicBatcher<NoOp> batcher;

    @Setup(Level.Trial)
    public void start() {
        BatchExecutor<NoOp> noModel = (List<NoOp> requests, int rows, int instance) -> {
            NoOp[] batch = requests.toArray(new NoOp[0]);
            return () -> {
                for (NoOp r : batch) {
                    r.done = true;
                }
            };
        };
        BatchingConfig cfg = new BatchingConfig(maxBatchSize, true, new int[0], 0, false, 1, 1,
                new QueuePolicy[] {QueuePolicy.DEFAULT}, 1);
        batcher = new DynamicBatcher<>("jmh", cfg, noModel, BatcherListener.NONE);
    }

    @TearDown(Level.Trial)
    public void stop() {
        batcher.close();
    }

    @Benchmark
    @BenchmarkMode({Mode.AverageTime, Mode.SampleTime})
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public boolean roundTrip() {
        NoOp r = new NoOp();
        batcher.submit(r);
        while (!r.done) {
            Thread.onSpinWait();
        }
        return r.done;
    }

    @Benchmark
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    @org.openjdk.jmh.annotations.OperationsPerInvocation(64)
    public boolean pipelined() {
        NoOp[] inFlight = new NoOp[64];
        for (int i = 0; i < inFlight.length; i++) {
            inFlight[i] = new NoOp();
            batcher.submit(inFlight[i]);
        }
        for (NoOp r : inFlight) {
            while (!r.done) {
                Thread.onSpinWait();
            }
        }
        return true;
    }
}
