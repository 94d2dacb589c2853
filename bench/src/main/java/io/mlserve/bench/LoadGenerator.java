package io.mlserve.bench;

import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.mlserve.proto.inference.GRPCInferenceServiceGrpc;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.proto.inference.ModelInferResponse;
import io.mlserve.proto.inference.ModelMetadataRequest;
import io.mlserve.proto.inference.ModelMetadataResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * gRPC ModelInfer load: closed loop (a fixed number of calls always outstanding) or open loop (calls
 * started on a fixed schedule whatever the server does; latency counted from each call's scheduled start,
 * so a stalled server shows up in the tail instead of hiding — coordinated omission corrected).
 * Requests are built once from the model's metadata (random data, raw contents) and reused.
 */
public final class LoadGenerator implements AutoCloseable {
    private static final long MAX_LATENCY_NANOS = TimeUnit.SECONDS.toNanos(60);

    private final List<ManagedChannel> channels = new ArrayList<>();
    private final List<GRPCInferenceServiceGrpc.GRPCInferenceServiceStub> stubs = new ArrayList<>();

    /** Opens {@code connections} HTTP/2 connections to {@code host:port}; calls are spread over them. */
    public LoadGenerator(String host, int port, int connections) {
        for (int i = 0; i < connections; i++) {
            ManagedChannel ch = NettyChannelBuilder.forAddress(host, port).usePlaintext()
                    .maxInboundMessageSize(256 << 20).build();
            channels.add(ch);
            stubs.add(GRPCInferenceServiceGrpc.newStub(ch));
        }
    }

    /** A request for {@code model} with {@code rows} rows of random data in raw (or typed) contents. */
    public ModelInferRequest requestFor(String model, int rows, boolean raw) {
        ModelMetadataResponse md = GRPCInferenceServiceGrpc.newBlockingStub(channels.get(0))
                .withDeadlineAfter(30, TimeUnit.SECONDS)
                .modelMetadata(ModelMetadataRequest.newBuilder().setName(model).build());
        SplittableRandom random = new SplittableRandom(1);
        ModelInferRequest.Builder b = ModelInferRequest.newBuilder().setModelName(model);
        for (ModelMetadataResponse.TensorMetadata in : md.getInputsList()) {
            ModelInferRequest.InferInputTensor.Builder t = ModelInferRequest.InferInputTensor.newBuilder()
                    .setName(in.getName()).setDatatype(in.getDatatype());
            long elements = 1;
            for (int d = 0; d < in.getShapeCount(); d++) {
                long dim = in.getShape(d) >= 0 ? in.getShape(d) : d == 0 ? rows : 1;
                t.addShape(dim);
                elements *= dim;
            }
            if (!in.getDatatype().equals("FP32")) {
                throw new IllegalArgumentException("the load generator fills FP32 inputs; input '" + in.getName()
                        + "' is " + in.getDatatype());
            }
            ByteBuffer data = ByteBuffer.allocate((int) elements * 4).order(ByteOrder.LITTLE_ENDIAN);
            var typed = io.mlserve.proto.inference.InferTensorContents.newBuilder();
            for (long i = 0; i < elements; i++) {
                float v = (float) (random.nextDouble() * 2 - 1);
                data.putFloat(v);
                typed.addFp32Contents(v);
            }
            if (raw) {
                b.addRawInputContents(ByteString.copyFrom(data.array()));
            } else {
                t.setContents(typed);
            }
            b.addInputs(t);
        }
        return b.build();
    }

    /** One blocking call, e.g. to capture a real response. */
    public ModelInferResponse callOnce(ModelInferRequest request) {
        return GRPCInferenceServiceGrpc.newBlockingStub(channels.get(0)).withDeadlineAfter(30, TimeUnit.SECONDS)
                .modelInfer(request);
    }

    /** Keeps {@code concurrency} calls outstanding for {@code seconds} (after {@code warmupSeconds} unrecorded). */
    public LoadResult closedLoop(String label, ModelInferRequest request, int concurrency, double warmupSeconds,
                                 double seconds) throws InterruptedException {
        Recorder recorder = new Recorder(MAX_LATENCY_NANOS, 3);
        Map<String, Long> errors = new ConcurrentHashMap<>();
        AtomicBoolean recording = new AtomicBoolean();
        AtomicBoolean stop = new AtomicBoolean();
        CountDownLatch drained = new CountDownLatch(concurrency);
        for (int i = 0; i < concurrency; i++) {
            GRPCInferenceServiceGrpc.GRPCInferenceServiceStub stub = stubs.get(i % stubs.size());
            new Object() {
                void next() {
                    if (stop.get()) {
                        drained.countDown();
                        return;
                    }
                    long start = System.nanoTime();
                    stub.modelInfer(request, new StreamObserver<>() {
                        @Override
                        public void onNext(ModelInferResponse value) {
                            if (recording.get()) {
                                recorder.recordValue(Math.min(System.nanoTime() - start, MAX_LATENCY_NANOS));
                            }
                        }

                        @Override
                        public void onError(Throwable t) {
                            if (recording.get()) {
                                errors.merge(Status.fromThrowable(t).getCode().name(), 1L, Long::sum);
                            }
                            next();
                        }

                        @Override
                        public void onCompleted() {
                            next();
                        }
                    });
                }
            }.next();
        }
        sleepSeconds(warmupSeconds);
        recorder.getIntervalHistogram();
        recording.set(true);
        long begin = System.nanoTime();
        sleepSeconds(seconds);
        recording.set(false);
        Histogram h = recorder.getIntervalHistogram();
        double elapsed = (System.nanoTime() - begin) / 1e9;
        stop.set(true);
        drained.await(60, TimeUnit.SECONDS);
        return LoadResult.of(label, "closed", concurrency, 0, rows(request), elapsed, h, errors);
    }

    /**
     * Starts calls at {@code rate} per second for {@code seconds}; each call's latency is measured from its
     * scheduled start. Calls beyond {@code maxOutstanding} in flight are not sent and count as errors
     * ("CLIENT_BACKLOG"), so an overloaded server cannot exhaust the client's memory.
     */
    public LoadResult openLoop(String label, ModelInferRequest request, double rate, double warmupSeconds,
                               double seconds, int maxOutstanding) throws InterruptedException {
        Recorder recorder = new Recorder(MAX_LATENCY_NANOS, 3);
        Map<String, Long> errors = new ConcurrentHashMap<>();
        AtomicInteger outstanding = new AtomicInteger();
        LongAdder sent = new LongAdder();
        java.util.concurrent.atomic.AtomicLong lastAnswer = new java.util.concurrent.atomic.AtomicLong();
        double interval = 1e9 / rate;
        long t0 = System.nanoTime();
        long warmupEnd = t0 + (long) (warmupSeconds * 1e9);
        long end = warmupEnd + (long) (seconds * 1e9);
        for (long i = 0; ; i++) {
            long intended = t0 + (long) (i * interval);
            if (intended >= end) {
                break;
            }
            long wait = intended - System.nanoTime();
            if (wait > 0) {
                LockSupport.parkNanos(wait);
            }
            boolean record = intended >= warmupEnd;
            if (outstanding.get() >= maxOutstanding) {
                if (record) {
                    errors.merge("CLIENT_BACKLOG", 1L, Long::sum);
                }
                continue;
            }
            outstanding.incrementAndGet();
            sent.increment();
            stubs.get((int) (i % stubs.size())).modelInfer(request, new StreamObserver<>() {
                @Override
                public void onNext(ModelInferResponse value) {
                    if (record) {
                        long now = System.nanoTime();
                        recorder.recordValue(Math.min(now - intended, MAX_LATENCY_NANOS));
                        lastAnswer.accumulateAndGet(now, Math::max);
                    }
                }

                @Override
                public void onError(Throwable t) {
                    outstanding.decrementAndGet();
                    if (record) {
                        errors.merge(Status.fromThrowable(t).getCode().name(), 1L, Long::sum);
                    }
                }

                @Override
                public void onCompleted() {
                    outstanding.decrementAndGet();
                }
            });
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (outstanding.get() > 0 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        Histogram h = recorder.getIntervalHistogram();
        // throughput is answers per second of wall time, from the first recorded send to the last answer: a server
        // that falls behind the schedule stretches that window and shows a rate below the offered one
        double measured = Math.max(seconds, (lastAnswer.get() - warmupEnd) / 1e9);
        return LoadResult.of(label, "open", 0, rate, rows(request), measured, h, errors);
    }

    private static int rows(ModelInferRequest r) {
        return r.getInputsCount() == 0 || r.getInputs(0).getShapeCount() == 0 ? 1 : (int) r.getInputs(0).getShape(0);
    }

    private static void sleepSeconds(double s) throws InterruptedException {
        Thread.sleep((long) (s * 1000));
    }

    @Override
    public void close() throws InterruptedException {
        for (ManagedChannel ch : channels) {
            ch.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }
}
