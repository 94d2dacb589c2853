package io.mlserve.server.repository;

import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import io.mlserve.batching.BatchingConfig;
import io.mlserve.batching.QueuePolicy;
import io.mlserve.featurecache.FeatureViewConfig;
import io.mlserve.proto.inference.ModelConfig;
import io.mlserve.proto.inference.ModelDynamicBatching;
import io.mlserve.proto.inference.ModelInput;
import io.mlserve.proto.inference.ModelInstanceGroup;
import io.mlserve.proto.inference.ModelOutput;
import io.mlserve.proto.inference.ModelParameter;
import io.mlserve.proto.inference.ModelQueuePolicy;
import io.mlserve.proto.inference.ModelVersionPolicy;
import io.mlserve.proto.inference.ModelWarmup;
import io.mlserve.proto.v1.RolloutMode;
import io.mlserve.runtime.DataType;
import io.mlserve.runtime.Device;
import io.mlserve.runtime.ModelLoadException;
import io.mlserve.runtime.ModelSignature;
import io.mlserve.runtime.SessionConfig;
import io.mlserve.runtime.TensorSpec;
import io.mlserve.runtime.WarmupSample;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads {@code <repo>/<model>/config.json} (Triton's model configuration in its JSON form) and turns it
 * into session settings, warm-up samples and checks against the ONNX signature. Every error names the
 * file and the key, so a user can fix it without reading code.
 */
public final class ModelConfigs {
    static final String CONFIG_FILE = "config.json";
    static final String DEFAULT_MODEL_FILE = "model.onnx";
    static final String PLATFORM = "onnxruntime_onnx";

    private ModelConfigs() {
    }

    /**
     * A JSON parser's complaint as one line: the JSON library's exception class and its "see this page" line
     * are left out.
     */
    /**
     * A refusal of {@code file} (null: none to name): one line that starts with the file, whatever the file held —
     * control characters in names and values it echoes are escaped.
     */
    private static ModelLoadException refuse(Path file, String what) {
        return new ModelLoadException(FeatureViewConfig.printable(file == null ? what : file + ": " + what));
    }

    private static ModelLoadException refuse(Path file, String what, Throwable cause) {
        return new ModelLoadException(FeatureViewConfig.printable(file + ": " + what), cause);
    }

    private static String parseError(String message) {
        String first = message == null ? "not valid JSON" : message.strip().lines().findFirst().orElse("not valid JSON");
        int colon = first.indexOf("Exception: ");
        return colon >= 0 && !first.substring(0, colon).contains(" ") ? first.substring(colon + 11) : first;
    }

    /** The model's config: parsed from config.json when present, else just its name and the defaults. */
    public static ModelConfig read(Path modelDir, String modelName) throws ModelLoadException {
        Path file = modelDir.resolve(CONFIG_FILE);
        ModelConfig.Builder b = ModelConfig.newBuilder();
        if (Files.isRegularFile(file)) {
            try {
                JsonFormat.parser().merge(Files.readString(file), b);
            } catch (InvalidProtocolBufferException e) {
                throw refuse(file, parseError(e.getMessage()));
            } catch (IOException e) {
                throw refuse(file, "cannot read: " + e.getMessage(), e);
            }
        }
        if (!b.getName().isEmpty() && !b.getName().equals(modelName)) {
            throw refuse(file, "name '" + b.getName() + "' differs from the directory name '"
                    + modelName + "'");
        }
        if (!b.getPlatform().isEmpty() && !b.getPlatform().equals(PLATFORM)) {
            throw refuse(file, "platform '" + b.getPlatform() + "' is not served; mlserve runs '"
                    + PLATFORM + "'");
        }
        if (!b.getBackend().isEmpty() && !b.getBackend().equals("onnxruntime")) {
            throw refuse(file, "backend '" + b.getBackend() + "' is not served; use 'onnxruntime'");
        }
        if (b.getMaxBatchSize() < 0) {
            throw refuse(file, "max_batch_size must be >= 0, got " + b.getMaxBatchSize());
        }
        ModelVersionPolicy policy = b.getVersionPolicy();
        if (policy.hasLatest() && policy.getLatest().getNumVersions() < 1) {
            throw refuse(file, "version_policy.latest.num_versions must be >= 1");
        }
        if (policy.hasSpecific()) {
            for (long v : policy.getSpecific().getVersionsList()) {
                if (v < 1) {
                    throw refuse(file, "version_policy.specific.versions must be positive, got " + v);
                }
            }
        }
        if (b.hasRetrain()) {
            checkRetrain(b.getRetrain(), file);
        }
        if (b.hasDrift()) {
            checkDrift(b.getDrift(), file);
        }
        if (b.hasRollout()) {
            checkRollout(b.getRollout(), file);
        }
        if (b.getDefaultModelFilename().isEmpty()) {
            b.setDefaultModelFilename(DEFAULT_MODEL_FILE);
        } else if (b.getDefaultModelFilename().contains("/") || b.getDefaultModelFilename().contains("..")) {
            throw refuse(file, "default_model_filename must be a plain file name");
        }
        return b.setName(modelName).setPlatform(PLATFORM).setBackend("onnxruntime").build();
    }

    /** A rollout's routing: canary or shadow, the challenger's share, sticky by request id rather than entity. */
    public record Rollout(RolloutMode mode, double weight, boolean stickyByRequest) {
    }

    private static final String MODE_PREFIX = "ROLLOUT_MODE_";

    /** A mode as config files and the API write it: its name without the prefix, lower case ("canary"). */
    public static String label(RolloutMode mode) {
        return mode.name().substring(MODE_PREFIX.length()).toLowerCase(java.util.Locale.ROOT);
    }

    /** The mode {@code label} names ("" is off), or null when it names none. */
    static RolloutMode mode(String label) {
        if (label.isEmpty()) {
            return RolloutMode.ROLLOUT_MODE_OFF;
        }
        for (RolloutMode m : RolloutMode.values()) {
            if (m != RolloutMode.UNRECOGNIZED && label(m).equals(label)) {
                return m;
            }
        }
        return null;
    }

    /** The model's rollout routing, or null when its rollout is off. */
    public static Rollout rolloutMode(ModelConfig config) {
        io.mlserve.proto.inference.ModelRolloutConfig r = config.getRollout();
        RolloutMode mode = mode(r.getMode());
        if (mode == null || mode == RolloutMode.ROLLOUT_MODE_OFF) {
            return null;
        }
        return new Rollout(mode, r.getChallengerWeight() > 0 ? r.getChallengerWeight() : 0.1,
                r.getSticky().equals("request"));
    }

    /** The rollout block's mode, routing and limits (0 and "" mean the default). */
    static void checkRollout(io.mlserve.proto.inference.ModelRolloutConfig r, Path file) throws ModelLoadException {
        if (mode(r.getMode()) == null) {
            throw refuse(file, "rollout.mode must be off, canary or shadow, got '" + r.getMode()
                    + "'");
        }
        if (!java.util.Set.of("", "entity", "request").contains(r.getSticky())) {
            throw refuse(file, "rollout.sticky must be entity or request, got '" + r.getSticky()
                    + "'");
        }
        if (r.getChallengerWeight() < 0 || r.getChallengerWeight() > 1) {
            throw refuse(file, "rollout.challenger_weight must be in [0, 1], got "
                    + r.getChallengerWeight());
        }
        if (r.getMaxErrorRate() < 0 || r.getMaxErrorRate() > 1 || r.getMaxP99Ratio() < 0 || r.getP99SlackMs() < 0
                || r.getMaxScorePsi() < 0
                || r.getMaxAucDrop() < 0 || r.getMaxAucDrop() > 1 || r.getEmergencyMargin() < 0
                || r.getEmergencyMargin() > 1) {
            throw refuse(file, "rollout limits must be >= 0 (max_error_rate, max_auc_drop and "
                    + "emergency_margin at most 1)");
        }
    }

    /** The AUC by which a retrained version must beat a degraded champion to skip the canary (0 = 0.01). */
    public static double emergencyMargin(ModelConfig config) {
        double m = config.getRollout().getEmergencyMargin();
        return m > 0 ? m : 0.01;
    }

    /** The rollout's limits with the defaults filled in. */
    public static io.mlserve.rollout.RolloutDecision.Criteria rolloutCriteria(ModelConfig config) {
        io.mlserve.proto.inference.ModelRolloutConfig r = config.getRollout();
        return new io.mlserve.rollout.RolloutDecision.Criteria(r.getMinRequests() > 0 ? r.getMinRequests() : 200,
                r.getMaxErrorRate() > 0 ? r.getMaxErrorRate() : 0.01, r.getMaxP99Ratio() > 0 ? r.getMaxP99Ratio() : 2.0,
                r.getP99SlackMs() > 0 ? r.getP99SlackMs() : 5.0, r.getMaxScorePsi() > 0 ? r.getMaxScorePsi() : 0.25, r.getMaxAucDrop() > 0 ? r.getMaxAucDrop() : 0.02);
    }

    private static final java.util.Set<String> RETRAIN_ON = java.util.Set.of("data", "prediction", "quality");

    /** The drift block's methods and ranges (0 and "" mean the default). */
    static void checkDrift(io.mlserve.proto.inference.ModelDriftConfig d, Path file) throws ModelLoadException {
        if (!d.getNumericMethod().isEmpty() && !java.util.Set.of("psi", "ks", "js").contains(d.getNumericMethod())) {
            throw refuse(file, "drift.numeric_method: expected psi, ks or js, got '"
                    + d.getNumericMethod() + "'");
        }
        if (!d.getCategoricalMethod().isEmpty()
                && !java.util.Set.of("chi2", "js", "psi").contains(d.getCategoricalMethod())) {
            throw refuse(file, "drift.categorical_method: expected chi2, js or psi, got '"
                    + d.getCategoricalMethod() + "'");
        }
        if (d.getDatasetShare() < 0 || d.getDatasetShare() > 1) {
            throw refuse(file, "drift.dataset_share: expected a share in (0, 1], got "
                    + d.getDatasetShare());
        }
        if (d.getPsiThreshold() < 0 || d.getKsThreshold() < 0 || d.getJsThreshold() < 0 || d.getChi2PValue() < 0
                || d.getChi2PValue() >= 1 || d.getQualityMinAuc() < 0 || d.getQualityMinAuc() > 1
                || d.getQualityThreshold() < 0 || d.getQualityThreshold() >= 1) {
            throw refuse(file, "drift: thresholds must not be negative, chi2_p_value and "
                    + "quality_threshold below 1, quality_min_auc at most 1");
        }
        if (d.getQualityWindowPairs() == 1) {
            throw refuse(file, "drift.quality_window_pairs: at least 2 (0 = 1000)");
        }
        if (!d.getAlerts().isEmpty() && !java.util.Set.of("sequential", "windows").contains(d.getAlerts())) {
            throw refuse(file, "drift.alerts: expected sequential or windows, got '"
                    + d.getAlerts() + "'");
        }
        if (d.getSequentialK() < 0 || d.getSequentialH() < 0 || d.getImportanceShare() < 0
                || d.getImportanceShare() > 1) {
            throw refuse(file, "drift: sequential_k and sequential_h must not be negative, "
                    + "importance_share must be a share in (0, 1]");
        }
    }

    /** What the server can check of a retrain policy; the trainer checks the rest when the job is submitted. */
    private static void checkRetrain(io.mlserve.proto.inference.ModelRetrainPolicy r, Path file)
            throws ModelLoadException {
        for (String kind : r.getOnList()) {
            if (!RETRAIN_ON.contains(kind)) {
                throw refuse(file, "retrain.on: '" + kind + "' is not a drift kind; use "
                        + "data, prediction or quality");
            }
        }
        String algorithm = r.getTrain().getAlgorithm();
        if (!algorithm.isEmpty() && !java.util.Set.of("lr", "gbt", "mlp").contains(algorithm)) {
            throw refuse(file, "retrain.train.algorithm: expected lr, gbt or mlp, got '" + algorithm
                    + "'");
        }
        if (r.getTrain().getTrees() < 0 || r.getTrain().getDepth() < 0 || r.getTrain().getHoldout() < 0
                || r.getTrain().getHoldout() >= 1) {
            throw refuse(file, "retrain.train: trees and depth must be >= 0 and holdout in [0, 1)");
        }
        if (!(r.getMinSeverity() >= 0)) {
            throw refuse(file, "retrain.min_severity must be >= 0");
        }
        io.mlserve.proto.v1.TrainSpec t = r.getTrain();
        if (t.hasThreshold() && t.hasCostRatio()) {
            throw refuse(file, "retrain.train: give threshold (used as it is) or cost_ratio (a "
                    + "threshold is chosen for it), not both");
        }
        if (t.hasThreshold() && !(t.getThreshold() > 0 && t.getThreshold() < 1)) {
            throw refuse(file, "retrain.train.threshold must be in (0, 1), got "
                    + t.getThreshold());
        }
        if (t.hasCostRatio() && !(t.getCostRatio() > 0 && Double.isFinite(t.getCostRatio()))) {
            throw refuse(file, "retrain.train.cost_ratio must be a positive number (a false "
                    + "negative costs this many false positives), got " + t.getCostRatio());
        }
    }

    /** Which of the available versions the config's version policy serves (latest 1 by default). */
    static List<Long> selectVersions(ModelConfig config, List<Long> available) {
        List<Long> sorted = new ArrayList<>(available);
        sorted.sort(null);
        ModelVersionPolicy p = config.getVersionPolicy();
        if (p.hasAll()) {
            return sorted;
        }
        if (p.hasSpecific()) {
            List<Long> chosen = new ArrayList<>();
            for (long v : p.getSpecific().getVersionsList()) {
                if (sorted.contains(v) && !chosen.contains(v)) {
                    chosen.add(v);
                }
            }
            chosen.sort(null);
            return chosen;
        }
        int n = p.hasLatest() ? p.getLatest().getNumVersions() : 1;
        return sorted.subList(Math.max(0, sorted.size() - n), sorted.size());
    }

    /**
     * Scheduling from max_batch_size, dynamic_batching and instance_group; {@code defaultInstances} when the
     * config has no instance_group.
     */
    static BatchingConfig batchingConfig(ModelConfig config, int defaultInstances, Path file)
            throws ModelLoadException {
        int instances = 0;
        for (ModelInstanceGroup g : config.getInstanceGroupList()) {
            if (g.getCount() < 0) {
                throw refuse(file, "instance_group count must be >= 0, got " + g.getCount());
            }
            instances += Math.max(1, g.getCount());
        }
        if (instances == 0) {
            instances = defaultInstances;
        }
        try {
            if (!config.hasDynamicBatching()) {
                return BatchingConfig.unbatched(config.getMaxBatchSize(), instances);
            }
            ModelDynamicBatching d = config.getDynamicBatching();
            if (config.getMaxBatchSize() == 0) {
                throw refuse(file, "dynamic_batching needs max_batch_size > 0");
            }
            int levels = (int) Math.max(1, d.getPriorityLevels());
            if (d.getPriorityLevels() > 1 && d.getDefaultPriorityLevel() == 0) {
                throw refuse(file, "dynamic_batching.default_priority_level is required when "
                        + "priority_levels is " + d.getPriorityLevels());
            }
            int defaultLevel = (int) Math.max(1, d.getDefaultPriorityLevel());
            QueuePolicy base = d.hasDefaultQueuePolicy() ? policy(d.getDefaultQueuePolicy()) : QueuePolicy.DEFAULT;
            QueuePolicy[] policies = new QueuePolicy[levels];
            java.util.Arrays.fill(policies, base);
            for (java.util.Map.Entry<Long, ModelQueuePolicy> e : d.getPriorityQueuePolicyMap().entrySet()) {
                long level = e.getKey();
                if (level < 1 || level > levels) {
                    throw refuse(file, "dynamic_batching.priority_queue_policy has level " + level
                            + "; levels are 1.." + levels);
                }
                policies[(int) level - 1] = policy(e.getValue());
            }
            int[] preferred = d.getPreferredBatchSizeList().stream().mapToInt(Integer::intValue).toArray();
            return new BatchingConfig(config.getMaxBatchSize(), true, preferred, d.getMaxQueueDelayMicroseconds(),
                    d.getPreserveOrdering(), levels, defaultLevel, policies, instances);
        } catch (IllegalArgumentException e) {
            throw refuse(file, e.getMessage());
        }
    }

    private static QueuePolicy policy(ModelQueuePolicy p) {
        return new QueuePolicy(p.getTimeoutAction() == ModelQueuePolicy.TimeoutAction.DELAY
                ? QueuePolicy.TimeoutAction.DELAY : QueuePolicy.TimeoutAction.REJECT,
                p.getDefaultTimeoutMicroseconds(), p.getAllowTimeoutOverride(), p.getMaxQueueSize());
    }

    /**
     * Session settings: server defaults, overridden by instance_group, optimization and parameters. When
     * neither the server nor the config fixes intra-op threads, each of the {@code instances} concurrent
     * executions gets cores / instances of them, so instances do not oversubscribe the cores.
     */
    static SessionConfig sessionConfig(ModelConfig config, SessionConfig defaults, int instances, Path file)
            throws ModelLoadException {
        SessionConfig s = defaults;
        if (s.intraOpThreads() == 0) {
            s = s.withIntraOpThreads(Math.max(1, Runtime.getRuntime().availableProcessors() / instances));
        }
        for (ModelInstanceGroup g : config.getInstanceGroupList()) {
            if (g.getKind() == ModelInstanceGroup.Kind.KIND_GPU) {
                s = s.withDevice(Device.cuda(g.getGpusCount() > 0 ? g.getGpus(0) : 0));
            } else if (g.getKind() == ModelInstanceGroup.Kind.KIND_CPU) {
                s = s.withDevice(Device.CPU);
            }
        }
        if (config.hasOptimization() && config.getOptimization().hasGraph()) {
            int level = config.getOptimization().getGraph().getLevel();
            s = s.withOptimization(switch (level) {
                case -1 -> SessionConfig.Optimization.NONE;
                case 0 -> SessionConfig.Optimization.BASIC;
                case 1 -> SessionConfig.Optimization.EXTENDED;
                case 2 -> SessionConfig.Optimization.ALL;
                default -> throw refuse(file, "optimization.graph.level must be -1, 0, 1 or 2, got "
                        + level);
            });
        }
        Map<String, ModelParameter> params = config.getParametersMap();
        try {
            if (params.containsKey("intra_op_thread_count")) {
                s = s.withIntraOpThreads(intParam(params, "intra_op_thread_count", file));
            }
            if (params.containsKey("inter_op_thread_count")) {
                s = s.withInterOpThreads(intParam(params, "inter_op_thread_count", file));
            }
            if (params.containsKey("enable_mem_arena")) {
                s = s.withMemoryArena(boolParam(params, "enable_mem_arena", file));
            }
            if (params.containsKey("allow_spinning")) {
                s = s.withAllowSpinning(boolParam(params, "allow_spinning", file));
            }
            if (params.containsKey("gpu_mem_limit") || params.containsKey("arena_extend_strategy")) {
                long limit = params.containsKey("gpu_mem_limit") ? longParam(params, "gpu_mem_limit", file) : 0;
                String strategy = params.containsKey("arena_extend_strategy")
                        ? params.get("arena_extend_strategy").getStringValue().trim() : s.arenaExtendStrategy();
                s = s.withCudaArena(limit, strategy);
            }
            if (params.containsKey("cudnn_conv_algo_search")) {
                s = s.withCudnnConvAlgoSearch(params.get("cudnn_conv_algo_search").getStringValue());
            }
        } catch (IllegalArgumentException e) {
            throw refuse(file, "parameters: " + e.getMessage());
        }
        return s;
    }

    private static int intParam(Map<String, ModelParameter> params, String key, Path file) throws ModelLoadException {
        String v = params.get(key).getStringValue();
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw refuse(file, "parameters." + key + " must be an integer, got '" + v + "'");
        }
    }

    private static long longParam(Map<String, ModelParameter> params, String key, Path file) throws ModelLoadException {
        String v = params.get(key).getStringValue();
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            throw refuse(file, "parameters." + key + " must be an integer, got '" + v + "'");
        }
    }

    private static boolean boolParam(Map<String, ModelParameter> params, String key, Path file)
            throws ModelLoadException {
        String v = params.get(key).getStringValue().trim();
        if (v.equals("true") || v.equals("1")) {
            return true;
        }
        if (v.equals("false") || v.equals("0")) {
            return false;
        }
        throw refuse(file, "parameters." + key + " must be true or false, got '" + v + "'");
    }

    /**
     * Checks the config's declared inputs, outputs and max_batch_size against what the ONNX file really
     * has. With max_batch_size > 0, dims exclude the batch dimension (Triton's convention).
     */
    static void checkAgainstSignature(ModelConfig config, ModelSignature sig, Path file) throws ModelLoadException {
        boolean batching = config.getMaxBatchSize() > 0;
        if (batching) {
            for (TensorSpec in : sig.inputs()) {
                if (!in.hasBatchDimension()) {
                    throw refuse(file, "max_batch_size is " + config.getMaxBatchSize()
                            + " but input '" + in.name() + "' has no variable first dimension " + in);
                }
            }
        }
        if (config.hasFeatures()) {
            checkFeatureBinding(config.getFeatures(), sig, file);
        }
        for (int i = 0; i < config.getInputCount(); i++) {
            ModelInput in = config.getInput(i);
            int idx = sig.inputIndex(in.getName());
            if (idx < 0) {
                throw refuse(file, "input[" + i + "] '" + in.getName()
                        + "' is not an input of the model; its inputs are " + ModelSignature.names(sig.inputs()));
            }
            checkTensor(file, "input[" + i + "]", sig.inputs().get(idx), in.getDataType(), in.getDimsList(), batching);
        }
        for (int i = 0; i < config.getOutputCount(); i++) {
            ModelOutput out = config.getOutput(i);
            int idx = sig.outputIndex(out.getName());
            if (idx < 0) {
                throw refuse(file, "output[" + i + "] '" + out.getName()
                        + "' is not an output of the model; its outputs are " + ModelSignature.names(sig.outputs()));
            }
            checkTensor(file, "output[" + i + "]", sig.outputs().get(idx), out.getDataType(), out.getDimsList(),
                    batching);
        }
    }

    /** The features binding must name a view and features, and feed an FP32 [-1, len(names)] input. */
    private static void checkFeatureBinding(io.mlserve.proto.inference.ModelFeatureBinding b, ModelSignature sig,
                                            Path file) throws ModelLoadException {
        if (b.getView().isEmpty()) {
            throw refuse(file, "features.view: required");
        }
        if (b.getNamesCount() == 0) {
            throw refuse(file, "features.names: list the view's features in the input's column order");
        }
        if (new java.util.HashSet<>(b.getNamesList()).size() != b.getNamesCount()) {
            throw refuse(file, "features.names: a feature is listed twice");
        }
        TensorSpec input;
        if (b.getInput().isEmpty()) {
            if (sig.inputs().size() != 1) {
                throw refuse(file, "features.input: required, the model has inputs "
                        + ModelSignature.names(sig.inputs()));
            }
            input = sig.inputs().get(0);
        } else {
            int idx = sig.inputIndex(b.getInput());
            if (idx < 0) {
                throw refuse(file, "features.input '" + b.getInput() + "' is not an input of the model");
            }
            input = sig.inputs().get(idx);
        }
        if (sig.inputs().size() != 1) {
            throw refuse(file, "features: Predict feeds one input, the model has "
                    + sig.inputs().size());
        }
        long[] shape = input.shape();
        if (input.dataType() != DataType.FP32 || shape.length != 2 || shape[0] != -1
                || (shape[1] != -1 && shape[1] != b.getNamesCount())) {
            throw refuse(file, "features: input '" + input.name() + "' is " + input
                    + "; Predict feeds FP32 [-1, " + b.getNamesCount() + "] (one column per listed feature)");
        }
    }

    private static void checkTensor(Path file, String key, TensorSpec spec, io.mlserve.proto.inference.DataType type,
                                    List<Long> dims, boolean batching) throws ModelLoadException {
        if (type != io.mlserve.proto.inference.DataType.TYPE_INVALID && DataType.fromConfig(type) != spec.dataType()) {
            throw refuse(file, key + ".data_type " + type + " does not match the model's "
                    + spec.dataType().configType() + " for '" + spec.name() + "'");
        }
        if (dims.isEmpty()) {
            return;
        }
        long[] model = spec.shape();
        int offset = batching ? 1 : 0;
        boolean fits = dims.size() + offset == model.length;
        for (int d = 0; fits && d < dims.size(); d++) {
            long want = dims.get(d);
            long has = model[d + offset];
            fits = want == -1 || has == -1 || want == has;
        }
        if (!fits) {
            throw refuse(file, key + ".dims " + dims + " do not match the model's shape "
                    + Arrays.toString(model) + " for '" + spec.name() + "'"
                    + (batching ? " (with max_batch_size > 0, dims leave out the batch dimension)" : ""));
        }
    }

    /**
     * A version's metadata.json may say how the model encodes a missing value of each input ({@code "inputs":
     * {"missing": {"<feature>": null | <number>}}}, null = NaN, imputed by its graph). A bound feature the view
     * serves a different default for when absent would reach the model as a value it does not take for missing:
     * refused. Versions without {@code inputs.missing} are not checked.
     */
    static void checkMissingEncoding(String model, long version, io.mlserve.proto.inference.ModelFeatureBinding b,
                                     io.mlserve.featurecache.FeatureView view, Path versionDir)
            throws ModelLoadException {
        Path meta = versionDir.resolve(METADATA_FILE);
        com.fasterxml.jackson.databind.JsonNode missing = metadata(versionDir).path("inputs").path("missing");
        if (missing.isMissingNode() || missing.isNull()) {
            return;
        }
        if (!missing.isObject()) {
            throw refuse(meta, "inputs.missing: expected a mapping of feature name to null (NaN) "
                    + "or a number");
        }
        for (String name : b.getNamesList()) {
            com.fasterxml.jackson.databind.JsonNode m = missing.get(name);
            int f = view.indexOf(name);
            if (m == null || f < 0) {
                continue; // not declared, or not in the view (Predict reports that)
            }
            if (!m.isNull() && !m.isNumber()) {
                throw refuse(meta, "inputs.missing." + name + ": expected null (NaN) or a number, "
                        + "got " + m);
            }
            double encoded = m.isNull() ? Double.NaN : m.doubleValue();
            double served = view.features().get(f).defaultValue();
            if (Double.isNaN(encoded) ? !Double.isNaN(served) : encoded != served) {
                throw refuse(null, "model '" + model + "' version " + version + " encodes a missing '"
                        + name + "' as " + (Double.isNaN(encoded) ? "NaN (imputed by the model)" : encoded)
                        + ", but view '" + view.name() + "' serves " + served + " for it when absent; give the "
                        + "feature default: " + (Double.isNaN(encoded) ? "nan" : encoded) + " in the view, or "
                        + "retrain the model on this view");
            }
        }
    }

    /** A version's lineage, metrics and checksums, written by the trainer beside its model. */
    public static final String METADATA_FILE = "metadata.json";

    /** A version directory's metadata.json, or a missing node when it has none. */
    static com.fasterxml.jackson.databind.JsonNode metadata(Path versionDir) throws ModelLoadException {
        Path meta = versionDir.resolve(METADATA_FILE);
        if (!Files.isRegularFile(meta)) {
            return com.fasterxml.jackson.databind.node.MissingNode.getInstance();
        }
        try {
            return new com.fasterxml.jackson.databind.ObjectMapper().readTree(meta.toFile());
        } catch (IOException e) {
            throw refuse(meta, "not valid JSON: " + e.getMessage(), e);
        }
    }

    /**
     * The version's operating threshold — {@code metrics.threshold} in its metadata.json, which the trainer chose on
     * the holdout (or was given) — or NaN when it names none in [0, 1]. Live quality counts accuracy at it.
     */
    public static double metadataThreshold(Path versionDir) {
        try {
            com.fasterxml.jackson.databind.JsonNode t = metadata(versionDir).path("metrics").path("threshold");
            return t.isNumber() && t.doubleValue() >= 0 && t.doubleValue() <= 1 ? t.doubleValue() : Double.NaN;
        } catch (ModelLoadException e) {
            return Double.NaN; // a broken metadata.json is refused at load, with the reason
        }
    }

    /**
     * The version's AUC on the trainer's holdout — {@code metrics.holdout_auc} in its metadata.json — or NaN when it
     * names none in [0, 1]. Live quality is judged against it unless config.json sets quality_min_auc.
     */
    public static double metadataHoldoutAuc(Path versionDir) {
        try {
            com.fasterxml.jackson.databind.JsonNode a = metadata(versionDir).path("metrics").path("holdout_auc");
            return a.isNumber() && a.doubleValue() >= 0 && a.doubleValue() <= 1 ? a.doubleValue() : Double.NaN;
        } catch (ModelLoadException e) {
            return Double.NaN;
        }
    }

    /** Warm-up samples from model_warmup; without any, one zero-filled run at batch 1 (and at max_batch_size). */
    static List<WarmupSample> warmups(ModelConfig config, Path file) throws ModelLoadException {
        List<WarmupSample> samples = new ArrayList<>();
        for (int i = 0; i < config.getModelWarmupCount(); i++) {
            ModelWarmup w = config.getModelWarmup(i);
            String name = w.getName().isEmpty() ? "warmup" + i : w.getName();
            Map<String, long[]> dims = new HashMap<>();
            boolean random = false;
            for (Map.Entry<String, ModelWarmup.Input> e : w.getInputsMap().entrySet()) {
                ModelWarmup.Input in = e.getValue();
                if (in.hasInputDataFile()) {
                    throw refuse(file, "model_warmup[" + i + "].inputs." + e.getKey()
                            + ".input_data_file is not supported; use zero_data or random_data");
                }
                random |= in.getRandomData();
                dims.put(e.getKey(), in.getDimsList().stream().mapToLong(Long::longValue).toArray());
            }
            int batch = w.getBatchSize();
            if (config.getMaxBatchSize() > 0 && batch > config.getMaxBatchSize()) {
                throw refuse(file, "model_warmup[" + i + "].batch_size " + batch
                        + " exceeds max_batch_size " + config.getMaxBatchSize());
            }
            samples.add(new WarmupSample(name, Math.max(batch, config.getMaxBatchSize() > 0 ? 1 : 0),
                    Math.max(1, w.getCount()), dims, random));
        }
        return samples;
    }

    /** The implicit warm-up when the config names none: zeros at batch 1 and at max_batch_size. */
    static List<WarmupSample> defaultWarmups(ModelConfig config) {
        List<WarmupSample> samples = new ArrayList<>();
        samples.add(WarmupSample.zeros(1));
        if (config.getMaxBatchSize() > 1) {
            samples.add(WarmupSample.zeros(config.getMaxBatchSize()));
        }
        return samples;
    }
}
