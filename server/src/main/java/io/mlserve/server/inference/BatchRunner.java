package io.mlserve.server.inference;

import ai.onnxruntime.OrtException;
import io.grpc.Status;
import io.mlserve.batching.BatchExecutor;
import io.mlserve.batching.BatchingConfig;
import io.mlserve.batching.DynamicBatcher;
import io.mlserve.batching.QueuedRequest;
import io.mlserve.runtime.ModelSignature;
import io.mlserve.runtime.RunOutputs;
import io.mlserve.runtime.TensorBatch;
import io.mlserve.server.drift.VersionDrift;
import io.mlserve.server.repository.ServedVersion;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Executes batches of one model version on the batcher's instance threads: copies each request's rows
 * into the instance's reused buffers at its offset, runs ONNX Runtime once (fixed-shape outputs written
 * into reused buffers), and has each request take its answer from the outputs at its row offset. Instance {@code i} owns
 * {@code batches[i]}; nothing else touches it.
 */
public final class BatchRunner implements BatchExecutor<QueuedRequest> {
    private static final Logger LOG = LoggerFactory.getLogger(BatchRunner.class);

    private final ServedVersion version;
    private final ModelSignature signature;
    private final boolean batched;
    private final TensorBatch[] batches;
    private final VersionDrift.Rows[] driftViews;
    private volatile long lastDriftError;

    private BatchRunner(ServedVersion version, int instances) {
        this.version = version;
        this.signature = version.signature();
        this.batched = version.maxBatchSize() > 0;
        this.batches = new TensorBatch[instances];
        this.driftViews = new VersionDrift.Rows[instances];
    }

    /**
     * Starts the scheduler of {@code version}: its dispatcher and instance threads (the repository's factory for
     * what executes a version it publishes).
     */
    public static DynamicBatcher<QueuedRequest> start(ServedVersion version, BatchingConfig config) {
        return new DynamicBatcher<>(version.toString(), config, new BatchRunner(version, config.instances()),
                version.metrics());
    }

    @Override
    public Runnable execute(List<QueuedRequest> queued, int rows, int instance) {
        PendingInference[] requests = new PendingInference[queued.size()];
        for (int k = 0; k < requests.length; k++) {
            requests[k] = (PendingInference) queued.get(k); // the core queues nothing else
        }
        long start = System.nanoTime();
        int n = requests.length;
        version.metrics().started(n);
        TensorBatch batch = batches[instance];
        if (batch == null) {
            batch = new TensorBatch(signature);
            batches[instance] = batch;
        }
        InferenceError failure = null;
        try {
            requests[0].request.prepare(batch, signature, rows, batched);
            int offset = 0;
            for (PendingInference p : requests) {
                p.request.copyInto(batch, signature, offset);
                offset += p.rows();
            }
            long inferStart = System.nanoTime();
            long inferEnd;
            Set<String> wanted = outputsOf(requests);
            try (RunOutputs out = version.session().run(batch, wanted, batched ? rows : -1)) {
                inferEnd = System.nanoTime();
                offset = 0;
                for (PendingInference p : requests) {
                    p.request.encode(version, out, offset, p.rows(), batched ? rows : 0);
                    offset += p.rows();
                }
                if (version.drift() != null) {
                    recordDrift(version.drift(), batch, out, rows, instance, wanted);
                }
                if (version.arm() != null) {
                    recordScores(version.arm(), out, rows, wanted);
                }
            }
            long end = System.nanoTime();
            version.metrics().recordExecution(rows, inferStart - start, inferEnd - inferStart, end - inferEnd);
            for (PendingInference p : requests) {
                version.metrics().recordSuccess(end - p.request.receivedNanos, start - p.request.receivedNanos);
                if (version.arm() != null) {
                    version.arm().success(end - p.request.receivedNanos);
                }
            }
        } catch (InferenceError e) {
            failure = e;
        } catch (OrtException | RuntimeException e) {
            failure = mapFailure(e);
        } finally {
            version.metrics().finished(n);
        }
        InferenceError error = failure;
        return () -> {
            for (PendingInference p : requests) {
                if (error != null) {
                    p.fail(error);
                } else {
                    p.succeed();
                }
            }
        };
    }

    /** Each row's score (the first value of the first output, when it is FP32 and was computed) for the rollout. */
    private void recordScores(io.mlserve.rollout.ArmRecorder arm, RunOutputs out, int rows, Set<String> computed) {
        io.mlserve.runtime.TensorSpec first = signature.outputs().get(0);
        if (first.dataType() != io.mlserve.runtime.DataType.FP32
                || (computed != null && !computed.contains(first.name()))) {
            return;
        }
        try {
            java.nio.ByteBuffer scores = out.bytes(0);
            long[] shape = out.shape(0);
            int width = 1;
            for (int d = 1; d < shape.length; d++) {
                width *= (int) shape[d];
            }
            for (int r = 0; r < rows; r++) {
                arm.score(scores.getFloat(r * width * Float.BYTES));
            }
        } catch (RuntimeException e) {
            // the judgement loses some scores; the requests are unaffected
        }
    }

    /** The whole batch into the version's drift window, once; never fails or delays the requests. */
    private void recordDrift(VersionDrift drift, TensorBatch batch, RunOutputs out, int rows, int instance,
                             Set<String> computed) {
        try {
            VersionDrift.Rows view = driftViews[instance];
            if (view == null) {
                view = new VersionDrift.Rows();
                driftViews[instance] = view;
            }
            java.nio.ByteBuffer scores = null;
            int outWidth = 1;
            if (drift.output() >= 0
                    && (computed == null || computed.contains(signature.outputs().get(drift.output()).name()))) {
                scores = out.bytes(drift.output());
                long[] shape = out.shape(drift.output());
                for (int d = 1; d < shape.length; d++) {
                    outWidth *= (int) shape[d];
                }
            }
            drift.record(view.set(batch.bufferOf(drift.input()), drift.width(), scores, outWidth), rows);
        } catch (RuntimeException e) {
            long now = System.nanoTime();
            if (now - lastDriftError > 60_000_000_000L) {
                lastDriftError = now;
                LOG.error("{}: drift recording failed (requests unaffected; logged once a minute)", version, e);
            }
        }
    }

    /** Outputs to compute for the batch: null (all) unless every request named a subset, then their union. */
    private static Set<String> outputsOf(PendingInference[] requests) {
        Set<String> union = null;
        for (PendingInference p : requests) {
            if (p.outputs == null) {
                return null;
            }
            if (union == null) {
                union = requests.length == 1 ? p.outputs : new LinkedHashSet<>(p.outputs);
            } else {
                union.addAll(p.outputs);
            }
        }
        return union;
    }

    private InferenceError mapFailure(Exception e) {
        if (e instanceof OrtException ort && ort.getCode() == OrtException.OrtErrorCode.ORT_INVALID_ARGUMENT) {
            // shapes the signature allows but the graph rejects (e.g. mismatched dynamic dimensions)
            return InferenceError.invalid("model '" + version.model() + "' rejected the inputs: " + e.getMessage());
        }
        LOG.error("{}: inference failed", version, e);
        return new InferenceError(Status.Code.INTERNAL, "model '" + version.model() + "' version "
                + version.versionLabel() + " failed: " + e.getMessage());
    }
}
