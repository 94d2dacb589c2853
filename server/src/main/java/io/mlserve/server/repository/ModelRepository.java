package io.mlserve.server.repository;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mlserve.batching.BatchingConfig;
import io.mlserve.proto.inference.ModelConfig;
import io.mlserve.registry.FileSystemSource;
import io.mlserve.registry.VersionChecksum;
import io.mlserve.rollout.Roles;
import io.mlserve.rollout.RolloutState;
import io.mlserve.rollout.RolloutStates;
import io.mlserve.runtime.ModelLoadException;
import io.mlserve.runtime.ModelSession;
import io.mlserve.runtime.SessionConfig;
import io.mlserve.runtime.Warmup;
import io.mlserve.runtime.WarmupSample;
import io.mlserve.security.AuditLog;
import io.mlserve.server.drift.VersionDrift;
import io.mlserve.server.metrics.ServerMetrics;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The local model repository {@code <root>/<model>/<version>/model.onnx} (the file-system registry itself, or the
 * MLflow source's cache) and the models loaded from it. Lookups ({@link #model}) are lock-free reads of immutable
 * {@link ModelEntry} snapshots; loads and unloads are serialised by one lock and never run on serving threads. A
 * version is published only after its files match the checksums in its metadata.json, its session is created,
 * checked against config.json and warmed up; a version that leaves service is closed once its in-flight requests
 * are done. A version that fails is not tried again until its files change. Every load, refusal and unload is
 * written to the audit log.
 *
 * <p>With a rollout mode in config.json the versions served are those the policy selects plus the champion and
 * the challenger: the champion is the persisted one (or, first time, the newest version), the challenger the newest
 * version above it that was not refused; a registry with roles (MLflow aliases) names both instead. A challenger
 * that fails to load is refused for good (until an operator clears it).
 */
public final class ModelRepository implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ModelRepository.class);
    /** Positive decimal without leading zeros: "7" is a version, "07", "0", "3.tmp-x" are not. */
    /** How long requests already queued on a version that leaves service may take to run. */
    private static final Duration RETIRE_GRACE = Duration.ofSeconds(30);

    private final Path root;
    private final SessionConfig sessionDefaults;
    private final int defaultInstances;
    private final ServerMetrics metrics;
    private final ServedVersion.Scheduler scheduler;
    private final ConcurrentHashMap<String, ModelEntry> models = new ConcurrentHashMap<>();
    private final Object loadLock = new Object();
    /** "model/version" → fingerprint of the files that failed to load; retried only when they change. */
    private final Map<String, String> failed = new HashMap<>();
    private RolloutStates rollouts = new RolloutStates(null);
    private AuditLog audit;
    private Function<String, Map<String, Long>> roles = m -> Map.of();
    private io.mlserve.server.time.ServerClock clock = new io.mlserve.server.time.ServerClock();
    private Map<String, io.mlserve.featurecache.FeatureView> views = Map.of();

    /**
     * @param sessionDefaults  ONNX Runtime settings a config may override; intra-op threads 0 = cores / instances
     * @param defaultInstances instances per model without an instance_group
     * @param scheduler        starts what executes each version the repository publishes
     */
    public ModelRepository(Path root, SessionConfig sessionDefaults, int defaultInstances, ServerMetrics metrics,
                           ServedVersion.Scheduler scheduler) {
        this.scheduler = scheduler;
        this.root = root.toAbsolutePath().normalize();
        this.sessionDefaults = sessionDefaults;
        this.defaultInstances = defaultInstances;
        this.metrics = metrics;
    }

    /** The drift windows of every serving version that has one. */
    public List<VersionDrift> driftWindows() {
        List<VersionDrift> out = new java.util.ArrayList<>();
        for (ModelEntry e : models.values()) {
            for (ServedVersion v : e.versions()) {
                if (v.drift() != null) {
                    out.add(v.drift());
                }
            }
        }
        return out;
    }

    public Path root() {
        return root;
    }

    /** The clock drift monitoring of loaded versions records and judges in (set before the first load). */
    public ModelRepository withClock(io.mlserve.server.time.ServerClock serverClock) {
        this.clock = serverClock;
        return this;
    }

    /**
     * The server's feature views: a version binding one is checked against it at load (its metadata.json's encoding
     * of missing values against the view's defaults). Set before the first load.
     */
    public ModelRepository withFeatureViews(List<io.mlserve.featurecache.FeatureView> featureViews) {
        Map<String, io.mlserve.featurecache.FeatureView> byName = new HashMap<>();
        featureViews.forEach(v -> byName.put(v.name(), v));
        this.views = Map.copyOf(byName);
        return this;
    }

    /**
     * Where rollout state persists, where loads and refusals are audited (null: not audited), and the registry's
     * roles per model (MLflow aliases; empty map for none). Set before the first load.
     */
    public ModelRepository withRegistry(RolloutStates states, AuditLog auditLog,
                                        Function<String, Map<String, Long>> registryRoles) {
        this.rollouts = states;
        this.audit = auditLog;
        this.roles = registryRoles;
        return this;
    }

    public RolloutStates rollouts() {
        return rollouts;
    }

    /** The audit log, or null. */
    public AuditLog audit() {
        return audit;
    }

    private void audit(String actor, String action, String model, long from, long to, ObjectNode evidence) {
        if (audit != null) {
            audit.record(actor, action, model, from, to, evidence);
        }
    }

    private static ObjectNode evidence() {
        return JsonNodeFactory.instance.objectNode();
    }

    /** Model names present on disk (directories under the root), sorted. */
    public List<String> modelNamesOnDisk() throws IOException {
        try (Stream<Path> s = Files.list(root)) {
            return s.filter(Files::isDirectory).map(p -> p.getFileName().toString())
                    .filter(n -> !n.startsWith(".")).sorted().toList();
        }
    }

    /** Loads every model on disk; one broken model is reported and does not stop the others. */
    public void loadAll() throws IOException {
        if (!Files.isDirectory(root)) {
            throw new IOException("model repository " + root + " is not a directory");
        }
        for (String name : modelNamesOnDisk()) {
            load(name);
        }
    }

    /** The current snapshot of {@code name}, or null when the repository has never seen it. */
    public ModelEntry model(String name) {
        return models.get(name);
    }

    public Collection<ModelEntry> models() {
        return models.values();
    }

    /** True when every model the server was asked to load is serving. */
    public boolean allReady() {
        for (ModelEntry e : models.values()) {
            boolean unloadedOnPurpose = e.state() == ModelState.UNAVAILABLE && "unloaded".equals(e.reason());
            if (!e.ready() && !unloadedOnPurpose) {
                return false;
            }
        }
        return true;
    }

    /** As {@link #load(String, String)} by the registry poller or an operator without a name. */
    public ModelEntry load(String name) {
        return load(name, "registry");
    }

    /**
     * Loads (or reloads) model {@code name} from disk: versions the policy (and the rollout) selects and that are
     * not yet serving are loaded, versions no longer selected are retired, and a changed config.json reloads all.
     *
     * @param actor who asked, for the audit log
     * @return the new snapshot; its state is UNAVAILABLE with a reason when nothing could be served
     */
    public ModelEntry load(String name, String actor) {
        synchronized (loadLock) {
            Path dir = root.resolve(name).normalize();
            ModelEntry previous = models.get(name);
            if (!dir.getParent().equals(root) || !Files.isDirectory(dir)) {
                String reason = "no model directory " + dir;
                // a name never seen stays unknown; a model whose directory went away leaves service
                return previous == null ? new ModelEntry(name, ModelConfig.newBuilder().setName(name).build(),
                        new ServedVersion[0], ModelState.UNAVAILABLE, reason, List.of())
                        : publishUnavailable(name, null, reason);
            }
            ModelConfig config;
            List<Long> onDisk;
            SessionConfig sessionConfig;
            BatchingConfig scheduling;
            try {
                config = ModelConfigs.read(dir, name);
                onDisk = versionsOnDisk(dir, config);
                Path configFile = dir.resolve(ModelConfigs.CONFIG_FILE);
                scheduling = ModelConfigs.batchingConfig(config, defaultInstances, configFile);
                sessionConfig = ModelConfigs.sessionConfig(config, sessionDefaults, scheduling.instances(), configFile);
            } catch (ModelLoadException | IOException e) {
                LOG.error("model {}: {}", name, e.getMessage());
                metrics.recordLoadFailure(name);
                return keepOrFail(name, previous, e.getMessage());
            }
            boolean configChanged = previous == null || !previous.config().equals(config);
            boolean rollout = ModelConfigs.rolloutMode(config) != null;
            RolloutState state = rollout ? rollouts.get(name) : RolloutState.EMPTY;
            List<Long> candidates = new ArrayList<>();
            for (long v : onDisk) {
                String fp = failed.get(name + "/" + v);
                if (state.rejected().contains(v) || (fp != null && fp.equals(failureFingerprint(dir, v)))) {
                    continue;
                }
                candidates.add(v);
            }
            Set<Long> selected = new TreeSet<>(ModelConfigs.selectVersions(config, candidates));
            long champion = 0;
            long challenger = 0;
            if (rollout && !candidates.isEmpty()) {
                Roles chosen = Roles.select(candidates, state, roles.apply(name));
                champion = chosen.champion();
                challenger = chosen.challenger();
                selected.add(champion);
                if (challenger > 0) {
                    selected.add(challenger);
                }
            }
            if (selected.isEmpty()) {
                return publishUnavailable(name, config, "no version directory with "
                        + config.getDefaultModelFilename() + " matches the version policy in " + dir
                        + (onDisk.isEmpty() ? "" : " (refused or failed: " + onDisk + ")"));
            }
            if (previous != null && previous.state() != ModelState.UNAVAILABLE) {
                models.put(name, new ModelEntry(name, previous.config(), previous.versions(), ModelState.LOADING,
                        "", previous.failures(), previous.rollout()));
            }
            TreeMap<Long, ServedVersion> next = new TreeMap<>();
            List<ModelEntry.VersionFailure> failures = new ArrayList<>();
            for (long v : selected) {
                ServedVersion existing = previous == null || configChanged ? null : previous.version(v);
                if (existing != null) {
                    next.put(v, existing);
                    continue;
                }
                long t0 = System.nanoTime();
                String fingerprint = failureFingerprint(dir, v); // before loading: files still arriving count as new
                try {
                    ServedVersion sv = loadVersion(name, v, dir, config, sessionConfig, scheduling);
                    next.put(v, sv);
                    failed.remove(name + "/" + v);
                    audit(actor, "load", name, 0, v, evidence().put("checksum", sv.checksum().name().toLowerCase(
                            java.util.Locale.ROOT)).put("load_ms", (System.nanoTime() - t0) / 1_000_000));
                } catch (ModelLoadException e) {
                    LOG.error("model {} version {} not loaded: {}", name, v, e.getMessage());
                    metrics.recordLoadFailure(name);
                    failures.add(new ModelEntry.VersionFailure(v, e.getMessage()));
                    failed.put(name + "/" + v, fingerprint);
                    audit(actor, "reject", name, 0, v, evidence().put("reason", e.getMessage()));
                    if (rollout && v == challenger) {
                        state = state.reject(v);
                        challenger = 0;
                    }
                }
            }
            ServedVersion[] versions = next.values().toArray(new ServedVersion[0]);
            ModelEntry.Rollout roles = null;
            if (rollout && versions.length > 0) {
                ServedVersion champ = next.get(champion);
                if (champ == null) {
                    // the champion itself failed: keep the one serving before, else the newest that loaded
                    ServedVersion before = previous == null || previous.rollout() == null ? null
                            : previous.rollout().champion();
                    champ = before != null && next.containsValue(before) ? before : versions[versions.length - 1];
                    champion = champ.version();
                }
                ServedVersion chall = challenger > 0 ? next.get(challenger) : null;
                ModelConfigs.Rollout r = ModelConfigs.rolloutMode(config);
                roles = new ModelEntry.Rollout(r.mode(), champ, chall, r.weight(), r.stickyByRequest());
                RolloutState updated = state.withChampion(champion).withChallenger(chall == null ? 0 : challenger,
                        state.challenger() == challenger ? state.challengerSinceMs() : System.currentTimeMillis());
                if (!updated.equals(rollouts.get(name))) {
                    if (updated.challenger() > 0 && updated.challenger() != rollouts.get(name).challenger()) {
                        audit(actor, "challenger", name, champion, updated.challenger(), evidence()
                                .put("mode", ModelConfigs.label(r.mode())).put("weight", r.weight()));
                    }
                    rollouts.put(name, updated);
                }
            }
            ModelEntry entry = versions.length > 0
                    ? new ModelEntry(name, config, versions, ModelState.READY, "", List.copyOf(failures), roles)
                    : new ModelEntry(name, config, versions, ModelState.UNAVAILABLE,
                            failures.isEmpty() ? "no version loaded" : failures.get(0).reason(), List.copyOf(failures));
            if (versions.length == 0 && previous != null && previous.versions().length > 0) {
                // nothing new could be served: keep serving what was there rather than going dark
                LOG.warn("model {}: reload produced no servable version; keeping versions already serving", name);
                entry = new ModelEntry(name, previous.config(), previous.versions(), ModelState.READY, "",
                        List.copyOf(failures), previous.rollout());
                models.put(name, entry);
                return entry;
            }
            models.put(name, entry);
            for (ServedVersion v : versions) {
                metrics.setReady(name, v.versionLabel(), true);
            }
            if (previous != null) {
                retireAllBut(previous, next);
            }
            LOG.info("model {} serving versions {}{}", name, next.keySet(), roles == null ? ""
                    : " (champion " + roles.champion().versionLabel() + (roles.challenger() == null ? ""
                    : ", " + ModelConfigs.label(roles.mode()) + " challenger " + roles.challenger().versionLabel()) + ")");
            return entry;
        }
    }

    /**
     * What a failed load depended on: the version's files and the model's config.json (a failure caused by the config
     * is retried once the config is fixed).
     */
    private static String failureFingerprint(Path dir, long v) {
        try {
            Path config = dir.resolve(ModelConfigs.CONFIG_FILE);
            String c = Files.isRegularFile(config) ? Files.getLastModifiedTime(config).toMillis() + ":"
                    + Files.size(config) : "none";
            return c + "|" + FileSystemSource.versionFingerprint(dir.resolve(Long.toString(v)));
        } catch (IOException e) {
            return "unreadable: " + e;
        }
    }

    private ServedVersion loadVersion(String name, long version, Path dir, ModelConfig config,
                                      SessionConfig sessionConfig, BatchingConfig scheduling)
            throws ModelLoadException {
        Path file = dir.resolve(Long.toString(version)).resolve(config.getDefaultModelFilename());
        Path configFile = dir.resolve(ModelConfigs.CONFIG_FILE);
        VersionChecksum.Result checksum;
        try {
            checksum = VersionChecksum.verify(file.getParent(), config.getDefaultModelFilename());
        } catch (IOException e) {
            throw new ModelLoadException(name + " version " + version + ": " + e.getMessage());
        }
        io.mlserve.featurecache.FeatureView view = config.hasFeatures() ? views.get(config.getFeatures().getView())
                : null;
        if (view != null) {
            ModelConfigs.checkMissingEncoding(name, version, config.getFeatures(), view, file.getParent());
        }
        ModelSession session = ModelSession.open(name + ":" + version, file, sessionConfig);
        try {
            ModelConfigs.checkAgainstSignature(config, session.signature(), configFile);
            List<WarmupSample> explicit = ModelConfigs.warmups(config, configFile);
            if (!explicit.isEmpty()) {
                for (WarmupSample w : explicit) {
                    Warmup.run(session, w);
                }
            } else {
                for (WarmupSample w : ModelConfigs.defaultWarmups(config)) {
                    try {
                        Warmup.run(session, w);
                    } catch (ModelLoadException e) {
                        // zeros may not be valid input for every model; only explicit warm-ups are binding
                        LOG.warn("{}: implicit warm-up skipped: {}", session.label(), e.getMessage());
                        break;
                    }
                }
            }
            if (config.getMaxBatchSize() > 0) {
                for (io.mlserve.runtime.TensorSpec out : session.signature().outputs()) {
                    if (!out.hasBatchDimension()) {
                        throw new ModelLoadException(configFile + ": max_batch_size is " + config.getMaxBatchSize()
                                + " but output '" + out.name() + "' has no variable first dimension " + out);
                    }
                }
            }
            VersionDrift drift = null;
            try {
                drift = VersionDrift.create(name, version, config, file.getParent(), session.signature(), clock);
            } catch (IOException | IllegalArgumentException e) {
                // a broken reference must not keep a good model from serving: serve it unmonitored, say so
                LOG.error("{}: drift monitoring off: {}", session.label(), e.getMessage());
            }
            ServedVersion served = new ServedVersion(name, version, config, session,
                    metrics.forVersion(name, Long.toString(version), scheduling.priorityLevels()), scheduling, drift,
                    checksum, file, ModelConfigs.metadataThreshold(file.getParent()), scheduler);
            if (drift != null) {
                VersionDrift d = drift;
                drift.importanceFrom(() -> importance(served, d));
            }
            return served;
        } catch (ModelLoadException | RuntimeException e) {
            session.close();
            throw e;
        }
    }

    /**
     * The version's importance per input feature — the mean |contribution| its explainer gives over 128 rows drawn from
     * its drift profile — or null when it has no explainer. What its drift alerts weigh flagged features by.
     */
    static java.util.Map<String, Double> importance(ServedVersion v, VersionDrift drift) {
        ServedVersion.Explanations x = v.explanations();
        if (x.explainer() == null) {
            return null;
        }
        int width = drift.width();
        List<String> names = new ArrayList<>(java.util.Collections.nCopies(width, ""));
        if (v.config().hasFeatures() && v.config().getFeatures().getNamesCount() == width) {
            names = new ArrayList<>(v.config().getFeatures().getNamesList());
        } else {
            for (io.mlserve.drift.ReferenceProfile.Feature f : drift.reference().features()) {
                names.set(f.index(), f.name());
            }
        }
        float[] rows = io.mlserve.explain.SamplingExplainer.draw(drift.reference(), width, 128,
                new java.util.SplittableRandom(20261203L));
        java.util.Map<String, Double> out = new java.util.HashMap<>();
        for (io.mlserve.explain.Importance.Feature f : io.mlserve.explain.Importance.of(x.explainer(),
                rows, names, n -> null).features()) {
            out.put(f.name(), f.meanAbs());
        }
        LOG.info("{}:{}: drift alerts weigh features by the model's importance ({})", v.model(), v.versionLabel(),
                x.explainer().method());
        return out;
    }

    private static List<Long> versionsOnDisk(Path dir, ModelConfig config) throws IOException {
        List<Long> versions = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String n = p.getFileName().toString();
                if (Files.isDirectory(p) && FileSystemSource.VERSION_DIR.matcher(n).matches()
                        && Files.isRegularFile(p.resolve(config.getDefaultModelFilename()))) {
                    versions.add(Long.parseLong(n));
                }
            }
        }
        return versions;
    }

    /** Takes model {@code name} out of service; in-flight requests finish on the versions they hold. */
    public boolean unload(String name) {
        return unload(name, "admin");
    }

    /** As {@link #unload(String)}, audited as done by {@code actor}. */
    public boolean unload(String name, String actor) {
        synchronized (loadLock) {
            ModelEntry previous = models.get(name);
            if (previous == null) {
                return false;
            }
            audit(actor, "unload", name, previous.latest() == null ? 0 : previous.latest().version(), 0, evidence());
            models.put(name, new ModelEntry(name, previous.config(), new ServedVersion[0], ModelState.UNAVAILABLE,
                    "unloaded", List.of()));
            retireAllBut(previous, Map.of());
            LOG.info("model {} unloaded", name);
            return true;
        }
    }

    private void retireAllBut(ModelEntry previous, Map<Long, ServedVersion> keep) {
        for (ServedVersion v : previous.versions()) {
            if (keep.get(v.version()) != v) {
                metrics.setReady(v.model(), v.versionLabel(), false);
                v.metrics().forget();
                if (v.drift() != null) {
                    metrics.drift().forget(v.model(), v.versionLabel(), v.drift().featureNames());
                }
                v.retire(RETIRE_GRACE);
            }
        }
    }

    private ModelEntry keepOrFail(String name, ModelEntry previous, String reason) {
        if (previous != null && previous.versions().length > 0) {
            LOG.warn("model {}: keeping versions already serving after a failed reload", name);
            ModelEntry kept = new ModelEntry(name, previous.config(), previous.versions(), ModelState.READY, "",
                    previous.failures(), previous.rollout());
            models.put(name, kept);
            return kept;
        }
        return publishUnavailable(name, null, reason);
    }

    private ModelEntry publishUnavailable(String name, ModelConfig config, String reason) {
        ModelEntry e = new ModelEntry(name, config == null ? ModelConfig.newBuilder().setName(name).build() : config,
                new ServedVersion[0], ModelState.UNAVAILABLE, reason, List.of());
        ModelEntry previous = models.put(name, e);
        if (previous != null) {
            retireAllBut(previous, Map.of());
        }
        LOG.error("model {} unavailable: {}", name, reason);
        return e;
    }

    /** Retires every version; sessions close as their last requests finish. */
    @Override
    public void close() {
        synchronized (loadLock) {
            for (String name : new ArrayList<>(models.keySet())) {
                ModelEntry e = models.remove(name);
                if (e != null) {
                    retireAllBut(e, Map.of());
                }
            }
        }
    }
}
