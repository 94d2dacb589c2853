package io.mlserve.server.repository;

import io.mlserve.batching.BatchingConfig;
import io.mlserve.proto.inference.ModelConfig;
import io.mlserve.runtime.ModelLoadException;
import io.mlserve.runtime.ModelSession;
import io.mlserve.runtime.SessionConfig;
import io.mlserve.runtime.Warmup;
import io.mlserve.runtime.WarmupSample;
import io.mlserve.server.drift.VersionDrift;
import io.mlserve.server.metrics.ServerMetrics;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The file-system model repository {@code <root>/<model>/<version>/model.onnx} and the models loaded from
 * it. Lookups ({@link #model}) are lock-free reads of immutable {@link ModelEntry} snapshots; loads and
 * unloads are serialised by one lock and never run on serving threads. A version is published only after
 * its session is created, checked against config.json and warmed up; a version that leaves service is
 * closed once its in-flight requests are done.
 */
public final class ModelRepository implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ModelRepository.class);
    /** Positive decimal without leading zeros: "7" is a version, "07", "0", "3.tmp-x" are not. */
    /** How long requests already queued on a version that leaves service may take to run. */
    private static final Duration RETIRE_GRACE = Duration.ofSeconds(30);
    private static final Pattern VERSION_DIR = Pattern.compile("[1-9][0-9]{0,17}");

    private final Path root;
    private final SessionConfig sessionDefaults;
    private final int defaultInstances;
    private final ServerMetrics metrics;
    private final ConcurrentHashMap<String, ModelEntry> models = new ConcurrentHashMap<>();
    private final Object loadLock = new Object();

    /**
     * @param sessionDefaults  ONNX Runtime settings a config may override; intra-op threads 0 = cores / instances
     * @param defaultInstances instances per model without an instance_group
     */
    public ModelRepository(Path root, SessionConfig sessionDefaults, int defaultInstances, ServerMetrics metrics) {
        this.root = root.toAbsolutePath().normalize();
        this.sessionDefaults = sessionDefaults;
        this.defaultInstances = defaultInstances;
        this.metrics = metrics;
    }

    public Path root() {
        return root;
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

    /**
     * Loads (or reloads) model {@code name} from disk: versions the policy selects and that are not yet
     * serving are loaded, versions no longer selected are retired, and a changed config.json reloads all.
     *
     * @return the new snapshot; its state is UNAVAILABLE with a reason when nothing could be served
     */
    public ModelEntry load(String name) {
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
            List<Long> selected;
            SessionConfig sessionConfig;
            BatchingConfig scheduling;
            try {
                config = ModelConfigs.read(dir, name);
                selected = ModelConfigs.selectVersions(config, versionsOnDisk(dir, config));
                Path configFile = dir.resolve(ModelConfigs.CONFIG_FILE);
                scheduling = ModelConfigs.batchingConfig(config, defaultInstances, configFile);
                sessionConfig = ModelConfigs.sessionConfig(config, sessionDefaults, scheduling.instances(), configFile);
            } catch (ModelLoadException | IOException e) {
                LOG.error("model {}: {}", name, e.getMessage());
                metrics.recordLoadFailure(name);
                return keepOrFail(name, previous, e.getMessage());
            }
            if (selected.isEmpty()) {
                return publishUnavailable(name, config, "no version directory with "
                        + config.getDefaultModelFilename() + " matches the version policy in " + dir);
            }
            boolean configChanged = previous == null || !previous.config().equals(config);
            if (previous != null && previous.state() != ModelState.UNAVAILABLE) {
                models.put(name, new ModelEntry(name, previous.config(), previous.versions(), ModelState.LOADING,
                        "", previous.failures()));
            }
            TreeMap<Long, ServedVersion> next = new TreeMap<>();
            List<ModelEntry.VersionFailure> failures = new ArrayList<>();
            for (long v : selected) {
                ServedVersion existing = previous == null || configChanged ? null : previous.version(v);
                if (existing != null) {
                    next.put(v, existing);
                    continue;
                }
                try {
                    next.put(v, loadVersion(name, v, dir, config, sessionConfig, scheduling));
                } catch (ModelLoadException e) {
                    LOG.error("model {} version {} not loaded: {}", name, v, e.getMessage());
                    metrics.recordLoadFailure(name);
                    failures.add(new ModelEntry.VersionFailure(v, e.getMessage()));
                }
            }
            ServedVersion[] versions = next.values().toArray(new ServedVersion[0]);
            ModelEntry entry = versions.length > 0
                    ? new ModelEntry(name, config, versions, ModelState.READY, "", List.copyOf(failures))
                    : new ModelEntry(name, config, versions, ModelState.UNAVAILABLE,
                            failures.isEmpty() ? "no version loaded" : failures.get(0).reason(), List.copyOf(failures));
            if (versions.length == 0 && previous != null && previous.versions().length > 0) {
                // nothing new could be served: keep serving what was there rather than going dark
                LOG.warn("model {}: reload produced no servable version; keeping versions already serving", name);
                entry = new ModelEntry(name, previous.config(), previous.versions(), ModelState.READY, "",
                        List.copyOf(failures));
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
            LOG.info("model {} serving versions {}", name, next.keySet());
            return entry;
        }
    }

    private ServedVersion loadVersion(String name, long version, Path dir, ModelConfig config,
                                      SessionConfig sessionConfig, BatchingConfig scheduling)
            throws ModelLoadException {
        Path file = dir.resolve(Long.toString(version)).resolve(config.getDefaultModelFilename());
        Path configFile = dir.resolve(ModelConfigs.CONFIG_FILE);
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
                drift = VersionDrift.create(name, version, config, file.getParent(), session.signature());
            } catch (IOException | IllegalArgumentException e) {
                // a broken reference must not keep a good model from serving: serve it unmonitored, say so
                LOG.error("{}: drift monitoring off: {}", session.label(), e.getMessage());
            }
            return new ServedVersion(name, version, config, session,
                    metrics.forVersion(name, Long.toString(version), scheduling.priorityLevels()), scheduling, drift);
        } catch (ModelLoadException | RuntimeException e) {
            session.close();
            throw e;
        }
    }

    private static List<Long> versionsOnDisk(Path dir, ModelConfig config) throws IOException {
        List<Long> versions = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                String n = p.getFileName().toString();
                if (Files.isDirectory(p) && VERSION_DIR.matcher(n).matches()
                        && Files.isRegularFile(p.resolve(config.getDefaultModelFilename()))) {
                    versions.add(Long.parseLong(n));
                }
            }
        }
        return versions;
    }

    /** Takes model {@code name} out of service; in-flight requests finish on the versions they hold. */
    public boolean unload(String name) {
        synchronized (loadLock) {
            ModelEntry previous = models.get(name);
            if (previous == null) {
                return false;
            }
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
                metrics.forget(v.model(), v.versionLabel());
                v.retire(RETIRE_GRACE);
            }
        }
    }

    private ModelEntry keepOrFail(String name, ModelEntry previous, String reason) {
        if (previous != null && previous.versions().length > 0) {
            LOG.warn("model {}: keeping versions already serving after a failed reload", name);
            ModelEntry kept = new ModelEntry(name, previous.config(), previous.versions(), ModelState.READY, "",
                    previous.failures());
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
