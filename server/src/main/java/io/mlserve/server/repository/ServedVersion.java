package io.mlserve.server.repository;

import io.mlserve.batching.BatchingConfig;
import io.mlserve.batching.DynamicBatcher;
import io.mlserve.batching.QueuedRequest;
import io.mlserve.proto.inference.ModelConfig;
import io.mlserve.registry.VersionChecksum;
import io.mlserve.rollout.ArmRecorder;
import io.mlserve.runtime.ModelSession;
import io.mlserve.runtime.ModelSignature;
import io.mlserve.server.drift.VersionDrift;
import io.mlserve.server.metrics.ModelMetrics;
import java.time.Duration;

/**
 * One version of a model that is loaded, warmed up and serving. Requests {@link #acquire()} it before use
 * and {@link #release()} it after; an unloaded version stays usable by the requests already holding it.
 */
public final class ServedVersion {
    /**
     * Starts the scheduler that executes a version's requests once the repository publishes it (the server gives its
     * batch runner). The catalogue keeps the scheduler only to stop it when the version leaves service; it never looks
     * at what runs in it.
     */
    @FunctionalInterface
    public interface Scheduler {
        DynamicBatcher<QueuedRequest> start(ServedVersion version, BatchingConfig scheduling);
    }

    private final String model;
    private final long version;
    private final String versionLabel;
    private final ModelConfig config;
    private final ModelSession session;
    private final ModelMetrics metrics;
    private final DynamicBatcher<QueuedRequest> batcher;
    private final VersionDrift drift;
    private final VersionChecksum.Result checksum;
    private final ArmRecorder arm;
    private final java.nio.file.Path modelFile;
    private final double threshold;
    private Explanations explanations;

    /**
     * Publishes a loaded, warmed-up session: starts its scheduler (dispatcher and instance threads) with
     * {@code scheduler}.
     *
     * @param threshold the version's operating threshold from its metadata.json, or NaN
     */
    ServedVersion(String model, long version, ModelConfig config, ModelSession session, ModelMetrics metrics,
                  BatchingConfig scheduling, VersionDrift drift, VersionChecksum.Result checksum,
                  java.nio.file.Path modelFile, double threshold, Scheduler scheduler) {
        this.modelFile = modelFile;
        this.threshold = threshold;
        this.checksum = checksum;
        this.arm = ModelConfigs.rolloutMode(config) == null ? null : new ArmRecorder();
        this.model = model;
        this.version = version;
        this.versionLabel = Long.toString(version);
        this.config = config;
        this.session = session;
        this.metrics = metrics;
        this.drift = drift;
        this.batcher = scheduler.start(this, scheduling);
    }

    public String model() {
        return model;
    }

    public long version() {
        return version;
    }

    /** The version as the protocol writes it (a decimal string). */
    public String versionLabel() {
        return versionLabel;
    }

    public ModelConfig config() {
        return config;
    }

    public ModelSignature signature() {
        return session.signature();
    }

    public ModelSession session() {
        return session;
    }

    public ModelMetrics metrics() {
        return metrics;
    }

    /** Largest batch a request may carry; 0 = the model does not batch (no limit beyond message size). */
    public int maxBatchSize() {
        return config.getMaxBatchSize();
    }

    /** The version's drift monitoring, or null (no profile.json, or drift disabled). */
    public VersionDrift drift() {
        return drift;
    }

    /** Whether its files matched the checksums of its metadata.json (or there were none). */
    public VersionChecksum.Result checksum() {
        return checksum;
    }

    /**
     * The operating threshold the version was trained for (P(1) at or above it is a positive: metadata.json
     * {@code metrics.threshold}, chosen by the trainer on its holdout), or NaN when its metadata names none.
     */
    public double threshold() {
        return threshold;
    }

    /** Requests, errors, latency and scores for the rollout's judgement, or null when the model has no rollout. */
    public ArmRecorder arm() {
        return arm;
    }

    /** The version's scheduler: where requests queue and batch. */
    public DynamicBatcher<QueuedRequest> batcher() {
        return batcher;
    }

    public boolean acquire() {
        return session.acquire();
    }

    public void release() {
        session.release();
    }

    /**
     * Called once when the version leaves service: queued requests still run (up to {@code grace}), then
     * the scheduler stops, and the session closes after its last in-flight request.
     */
    void retire(Duration grace) {
        try {
            batcher.close(grace);
        } finally {
            session.close();
        }
    }

    /** How this version's predictions are explained: an explainer, or why there is none. */
    public record Explanations(io.mlserve.explain.Explainer explainer, String unavailable) {
    }

    /**
     * The version's explainer, read from its graph on the first request that asks for explanations (never on the
     * path of requests that do not).
     */
    public synchronized Explanations explanations() {
        if (explanations == null) {
            int width = (int) session.signature().inputs().get(0).shape()[1];
            try {
                explanations = new Explanations(io.mlserve.explain.ExactExplainers.read(modelFile, width), null);
            } catch (IllegalArgumentException | java.io.IOException | IndexOutOfBoundsException e) {
                explanations = sampled(width, e.getMessage());
            }
        }
        return explanations;
    }

    /** Any other graph: Shapley values by sampling against background rows drawn from the version's profile. */
    private Explanations sampled(int width, String notExact) {
        java.nio.file.Path profile = modelFile.resolveSibling(VersionDrift.PROFILE_FILE);
        String why = "model '" + model + "' version " + version + ": " + notExact + "; ";
        if (session.signature().inputs().size() != 1
                || session.signature().inputs().get(0).dataType() != io.mlserve.runtime.DataType.FP32
                || session.signature().outputs().get(0).dataType() != io.mlserve.runtime.DataType.FP32) {
            return new Explanations(null, why + "sampling needs one FP32 input and an FP32 first output");
        }
        if (!java.nio.file.Files.isRegularFile(profile)) {
            return new Explanations(null, why + "sampling draws its background from profile.json, which this "
                    + "version does not have");
        }
        try {
            return new Explanations(new io.mlserve.explain.SamplingExplainer(session, this::acquire,
                    this::release, io.mlserve.drift.ReferenceProfile.read(profile), width), null);
        } catch (java.io.IOException | ai.onnxruntime.OrtException | RuntimeException e) {
            return new Explanations(null, why + "sampling failed: " + e.getMessage());
        }
    }

    @Override
    public String toString() {
        return model + ":" + versionLabel;
    }
}
