package io.mlserve.server.repository;

import io.mlserve.proto.inference.ModelConfig;
import io.mlserve.runtime.ModelSession;
import io.mlserve.runtime.ModelSignature;
import io.mlserve.runtime.TensorBatch;
import io.mlserve.server.metrics.ModelMetrics;

/**
 * One version of a model that is loaded, warmed up and serving. Requests {@link #acquire()} it before use
 * and {@link #release()} it after; an unloaded version stays usable by the requests already holding it.
 */
public final class ServedVersion {
    private final String model;
    private final long version;
    private final String versionLabel;
    private final ModelConfig config;
    private final ModelSession session;
    private final ModelMetrics metrics;
    private final ThreadLocal<TensorBatch> batches;

    ServedVersion(String model, long version, ModelConfig config, ModelSession session, ModelMetrics metrics) {
        this.model = model;
        this.version = version;
        this.versionLabel = Long.toString(version);
        this.config = config;
        this.session = session;
        this.metrics = metrics;
        ModelSignature sig = session.signature();
        this.batches = ThreadLocal.withInitial(() -> new TensorBatch(sig));
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

    /** This thread's reusable input buffers for this version. */
    public TensorBatch threadBatch() {
        return batches.get();
    }

    public boolean acquire() {
        return session.acquire();
    }

    public void release() {
        session.release();
    }

    /** Called once when the version leaves service; the session closes after its last in-flight request. */
    void retire() {
        session.close();
    }

    @Override
    public String toString() {
        return model + ":" + versionLabel;
    }
}
