package io.mlserve.runtime;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import ai.onnxruntime.providers.OrtCUDAProviderOptions;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One ONNX model loaded into ONNX Runtime, shared by every request that uses it and reference-counted:
 * the loader holds the first reference, each request {@link #acquire()}s and {@link #release()}s one,
 * and the native session closes when the last reference goes — so a version swapped out mid-request
 * finishes its in-flight work. {@link #run} is safe to call from many threads at once.
 */
public final class ModelSession implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ModelSession.class);
    private static final AtomicInteger OPEN_SESSIONS = new AtomicInteger();
    private static volatile OrtEnvironment environment;

    private final String label;
    private final OrtSession session;
    private final ModelSignature signature;
    private final Device device;
    private final String[] inputNames;
    private final AtomicInteger references = new AtomicInteger(1);
    private final AtomicInteger ownerReleased = new AtomicInteger();

    private ModelSession(String label, OrtSession session, ModelSignature signature, Device device) {
        this.label = label;
        this.session = session;
        this.signature = signature;
        this.device = device;
        this.inputNames = new String[signature.inputs().size()];
        for (int i = 0; i < inputNames.length; i++) {
            inputNames[i] = signature.inputs().get(i).name();
        }
    }

    /** The process-wide ONNX Runtime environment (created on first use, never closed before exit). */
    public static OrtEnvironment environment() {
        OrtEnvironment env = environment;
        if (env == null) {
            synchronized (ModelSession.class) {
                env = environment;
                if (env == null) {
                    env = OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_WARNING, "mlserve");
                    environment = env;
                }
            }
        }
        return env;
    }

    /** How many native sessions are open right now in this process (a leak check for tests and shutdown). */
    public static int openSessions() {
        return OPEN_SESSIONS.get();
    }

    /**
     * Loads {@code modelFile} with {@code config}. A CUDA device that cannot be used (no GPU build of
     * ONNX Runtime, no driver or CUDA libraries) falls back to the CPU with one warning line.
     *
     * @param label name used in log lines and errors, e.g. {@code churn:3}
     */
    public static ModelSession open(String label, Path modelFile, SessionConfig config) throws ModelLoadException {
        if (!Files.isRegularFile(modelFile)) {
            throw new ModelLoadException(label + ": model file " + modelFile + " does not exist");
        }
        OrtEnvironment env = environment();
        boolean cuda = config.device().kind() == Device.Kind.CUDA;
        try {
            try (OrtSession.SessionOptions options = options(config)) {
                Device effective = cuda ? addCuda(label, options, config) : Device.CPU;
                if (effective.kind() == Device.Kind.CUDA) {
                    try {
                        return loaded(label, modelFile, env.createSession(modelFile.toString(), options), effective);
                    } catch (OrtException e) {
                        // the GPU build added its provider, but the session could not be built on it (no driver,
                        // CUDA or cuDNN libraries, out of GPU memory): built again on the CPU below
                        LOG.warn("{}: could not build the session on CUDA device {} ({}); running on CPU", label,
                                effective, firstLine(e.getMessage()));
                        CUDA_FALLBACKS.incrementAndGet();
                    }
                } else {
                    if (cuda) {
                        CUDA_FALLBACKS.incrementAndGet();
                    }
                    return loaded(label, modelFile, env.createSession(modelFile.toString(), options), effective);
                }
            }
            try (OrtSession.SessionOptions cpu = options(config)) {
                return loaded(label, modelFile, env.createSession(modelFile.toString(), cpu), Device.CPU);
            }
        } catch (OrtException e) {
            throw new ModelLoadException(label + ": ONNX Runtime could not load " + modelFile + ": " + e.getMessage(), e);
        }
    }

    private static final java.util.concurrent.atomic.AtomicLong CUDA_FALLBACKS = new java.util.concurrent.atomic.AtomicLong();

    /** Sessions asked for on a CUDA device that run on the CPU instead (the provider or the session failed there). */
    public static long cudaFallbacks() {
        return CUDA_FALLBACKS.get();
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    private static OrtSession.SessionOptions options(SessionConfig config) throws OrtException {
        OrtSession.SessionOptions options = new OrtSession.SessionOptions();
        try {
            options.setOptimizationLevel(switch (config.optimization()) {
                case NONE -> OrtSession.SessionOptions.OptLevel.NO_OPT;
                case BASIC -> OrtSession.SessionOptions.OptLevel.BASIC_OPT;
                case EXTENDED -> OrtSession.SessionOptions.OptLevel.EXTENDED_OPT;
                case ALL -> OrtSession.SessionOptions.OptLevel.ALL_OPT;
            });
            options.setIntraOpNumThreads(config.intraOpThreads());
            if (config.interOpThreads() > 0) {
                options.setInterOpNumThreads(config.interOpThreads());
                options.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.PARALLEL);
            }
            options.setCPUArenaAllocator(config.memoryArena());
            String spin = config.allowSpinning() ? "1" : "0";
            options.addConfigEntry("session.intra_op.allow_spinning", spin);
            options.addConfigEntry("session.inter_op.allow_spinning", spin);
            return options;
        } catch (OrtException | RuntimeException e) {
            options.close();
            throw e;
        }
    }

    private static ModelSession loaded(String label, Path modelFile, OrtSession session, Device effective)
            throws OrtException, ModelLoadException {
        try {
            ModelSignature signature = signatureOf(label, session);
            OPEN_SESSIONS.incrementAndGet();
            LOG.info("loaded {} from {} on {} ({} inputs, {} outputs)", label, modelFile, effective,
                    signature.inputs().size(), signature.outputs().size());
            return new ModelSession(label, session, signature, effective);
        } catch (ModelLoadException | RuntimeException e) {
            session.close();
            throw e;
        }
    }

    private static Device addCuda(String label, OrtSession.SessionOptions options, SessionConfig config) {
        Device wanted = config.device();
        try (OrtCUDAProviderOptions cuda = new OrtCUDAProviderOptions(wanted.id())) {
            cuda.add("cudnn_conv_algo_search", config.cudnnConvAlgoSearch());
            cuda.add("arena_extend_strategy", config.arenaExtendStrategy());
            if (config.gpuMemLimit() > 0) {
                cuda.add("gpu_mem_limit", Long.toString(config.gpuMemLimit()));
            }
            options.addCUDA(cuda);
            return wanted;
        } catch (OrtException | RuntimeException | LinkageError e) {
            LOG.warn("{}: CUDA device {} is not usable ({}); running on CPU", label, wanted, e.getMessage());
            return Device.CPU;
        }
    }

    private static ModelSignature signatureOf(String label, OrtSession session)
            throws OrtException, ModelLoadException {
        List<TensorSpec> inputs = new ArrayList<>();
        for (Map.Entry<String, NodeInfo> e : session.getInputInfo().entrySet()) {
            if (!(e.getValue().getInfo() instanceof TensorInfo info)) {
                throw new ModelLoadException(label + ": input '" + e.getKey()
                        + "' is not a tensor (" + e.getValue().getInfo() + "); only tensor inputs can be served");
            }
            DataType type = DataType.fromOnnx(info.onnxType);
            if (type == null || !type.supportedByRuntime()) {
                throw new ModelLoadException(label + ": input '" + e.getKey() + "' has element type "
                        + info.onnxType + ", which ONNX Runtime's Java API cannot feed");
            }
            inputs.add(new TensorSpec(e.getKey(), type, info.getShape()));
        }
        List<TensorSpec> outputs = new ArrayList<>();
        for (Map.Entry<String, NodeInfo> e : session.getOutputInfo().entrySet()) {
            DataType type = e.getValue().getInfo() instanceof TensorInfo info ? DataType.fromOnnx(info.onnxType) : null;
            if (type == null) {
                // e.g. ZipMap's sequence-of-maps output from converted scikit-learn classifiers
                LOG.warn("{}: output '{}' ({}) is not a tensor of a protocol datatype; it is not served",
                        label, e.getKey(), e.getValue().getInfo());
                continue;
            }
            outputs.add(new TensorSpec(e.getKey(), type, ((TensorInfo) e.getValue().getInfo()).getShape()));
        }
        if (outputs.isEmpty()) {
            throw new ModelLoadException(label + ": the model has no tensor output to serve");
        }
        return new ModelSignature(inputs, outputs);
    }

    public String label() {
        return label;
    }

    public ModelSignature signature() {
        return signature;
    }

    /** The device the session actually runs on (CPU after a CUDA fallback). */
    public Device device() {
        return device;
    }

    /** Takes a reference for one use; false when the session is already closed (then don't use it). */
    public boolean acquire() {
        for (;;) {
            int n = references.get();
            if (n == 0) {
                return false;
            }
            if (references.compareAndSet(n, n + 1)) {
                return true;
            }
        }
    }

    /** Returns a reference taken with {@link #acquire()}; the last one closes the native session. */
    public void release() {
        int n = references.decrementAndGet();
        if (n == 0) {
            closeNative();
        } else if (n < 0) {
            throw new IllegalStateException(label + ": released more often than acquired");
        }
    }

    /** Drops the loader's own reference (once); in-flight users keep the session open until they release. */
    @Override
    public void close() {
        if (ownerReleased.compareAndSet(0, 1)) {
            release();
        }
    }

    private void closeNative() {
        try {
            session.close();
            LOG.info("closed session {}", label);
        } catch (OrtException e) {
            LOG.warn("closing session {} failed: {}", label, e.getMessage());
        } finally {
            OPEN_SESSIONS.decrementAndGet();
        }
    }

    /**
     * Runs the model on every input of {@code batch} and returns the outputs named in
     * {@code outputs} (all outputs when null). The caller must hold a reference.
     */
    public RunOutputs run(TensorBatch batch, Set<String> outputs) throws OrtException {
        return run(batch, outputs, -1);
    }

    /**
     * As {@link #run(TensorBatch, Set)}, and when {@code rows} ≥ 0 the outputs whose shape is
     * [-1, fixed...] are written straight into {@code batch}'s reused output buffers sized for
     * {@code rows} rows (no per-run allocation of output arrays); the others come back as ONNX Runtime
     * allocates them. The returned outputs are valid until {@code batch} runs again.
     */
    public RunOutputs run(TensorBatch batch, Set<String> outputs, int rows) throws OrtException {
        OrtEnvironment env = environment();
        int n = inputNames.length;
        Map<String, OnnxTensor> feed = batch.feed;
        feed.clear();
        OnnxTensor[] pinned = null;
        try {
            for (int i = 0; i < n; i++) {
                feed.put(inputNames[i], tensorFor(env, batch, i));
            }
            if (rows < 0) {
                OrtSession.Result result = outputs == null ? session.run(feed) : session.run(feed, outputs);
                return new RunOutputs(result, signature, null);
            }
            pinned = new OnnxTensor[signature.outputs().size()];
            Map<String, OnnxTensor> pinnedByName = new HashMap<>();
            Set<String> allocated = new LinkedHashSet<>();
            for (int j = 0; j < pinned.length; j++) {
                TensorSpec spec = signature.outputs().get(j);
                if (outputs != null && !outputs.contains(spec.name())) {
                    continue;
                }
                long[] shape = pinnableShape(spec, rows);
                if (shape == null) {
                    allocated.add(spec.name());
                    continue;
                }
                int bytes = Math.toIntExact(TensorSpec.elements(shape) * spec.dataType().byteSize());
                ByteBuffer buf = batch.outputBuffer(j, bytes);
                pinned[j] = OnnxTensor.createTensor(env, buf, shape, spec.dataType().ortJavaType());
                pinnedByName.put(spec.name(), pinned[j]);
            }
            OrtSession.Result result = session.run(feed, allocated, pinnedByName);
            RunOutputs out = new RunOutputs(result, signature, pinned);
            pinned = null; // now owned by out
            return out;
        } finally {
            for (OnnxTensor t : feed.values()) {
                t.close();
            }
            feed.clear();
            if (pinned != null) {
                for (OnnxTensor t : pinned) {
                    if (t != null) {
                        t.close();
                    }
                }
            }
        }
    }

    /** [rows, fixed dims...] for an output whose only variable dimension is the first, else null. */
    private static long[] pinnableShape(TensorSpec spec, int rows) {
        if (spec.dataType().byteSize() == 0 || !spec.dataType().supportedByRuntime() || !spec.hasBatchDimension()) {
            return null;
        }
        long[] shape = spec.shape();
        shape[0] = rows;
        for (int d = 1; d < shape.length; d++) {
            if (shape[d] < 0) {
                return null;
            }
        }
        return shape;
    }

    private OnnxTensor tensorFor(OrtEnvironment env, TensorBatch batch, int input) throws OrtException {
        TensorSpec spec = signature.inputs().get(input);
        long[] shape = batch.shapeOf(input);
        if (spec.dataType() == DataType.BYTES) {
            return OnnxTensor.createTensor(env, batch.stringsOf(input), shape);
        }
        ByteBuffer data = batch.bufferOf(input);
        if (data == null) {
            throw new IllegalStateException(label + ": input '" + spec.name() + "' was not filled");
        }
        data.position(0);
        return OnnxTensor.createTensor(env, data, shape, spec.dataType().ortJavaType());
    }

    @Override
    public String toString() {
        return "ModelSession[" + label + " on " + device + "]";
    }
}
