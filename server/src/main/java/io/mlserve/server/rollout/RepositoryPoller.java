package io.mlserve.server.rollout;

import io.mlserve.registry.RegistrySource;
import io.mlserve.registry.SyncResult;
import io.mlserve.server.metrics.RegistryMetrics;
import io.mlserve.server.repository.ModelRepository;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Passes over the registry every {@code --repository-poll-secs}: the source brings the local repository up to date
 * (MLflow downloads; the file system is the repository) and reports which models changed — files, config, or the
 * registry's roles — and each of those is reloaded on the loader executor, where a new version is verified, loaded
 * and warmed up before it takes traffic, and a broken one is refused while the current one keeps serving. A
 * registry that cannot be reached leaves everything as it is.
 */
public final class RepositoryPoller implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RepositoryPoller.class);
    private final RegistrySource source;
    private final ModelRepository repository;
    private final ExecutorService loader;
    private final RegistryMetrics metrics;
    private final ScheduledExecutorService timer;
    private final Map<String, Map<String, Long>> roles = new ConcurrentHashMap<>();
    private volatile String lastErrors = "";
    /** When this server last moved a model's roles in the registry (System.nanoTime). */
    private final Map<String, Long> movedAt = new ConcurrentHashMap<>();

    public RepositoryPoller(RegistrySource source, ModelRepository repository, ExecutorService loader,
                            RegistryMetrics metrics) {
        this.source = source;
        this.repository = repository;
        this.loader = loader;
        this.metrics = metrics;
        this.timer = io.mlserve.server.threads.Daemons.scheduler("mlserve-registry-poll");
    }

    /** The registry's roles of a model as of the last pass (MLflow aliases); empty for none. */
    public Map<String, Long> roles(String model) {
        return roles.getOrDefault(model, Map.of());
    }

    /**
     * The roles were moved in the registry by this server (a promotion or rollback written back): serve by them
     * until the next pass reads them from the registry.
     */
    public void rolesMoved(String model, long champion, long challenger) {
        movedAt.put(model, System.nanoTime());
        roles.computeIfPresent(model, (k, before) -> {
            Map<String, Long> m = new java.util.HashMap<>();
            if (champion > 0) {
                m.put("champion", champion);
            }
            if (challenger > 0) {
                m.put("challenger", challenger);
            }
            return Map.copyOf(m);
        });
    }

    /** One pass now, on the caller's thread: sync, then the changed models' reloads (waited for). */
    public Set<String> pollOnce() {
        long t0 = System.nanoTime();
        SyncResult r = source.sync();
        Set<String> changed = new TreeSet<>(r.changed());
        for (Map.Entry<String, Map<String, Long>> e : r.roles().entrySet()) {
            if (movedAt.getOrDefault(e.getKey(), Long.MIN_VALUE) - t0 > 0) {
                continue; // moved by us while this pass read the registry: the pass saw the old roles
            }
            Map<String, Long> before = roles.put(e.getKey(), Map.copyOf(e.getValue()));
            if (before == null || !before.equals(e.getValue())) {
                changed.add(e.getKey());
            }
        }
        String errors = String.join("; ", r.errors());
        if (!r.errors().isEmpty() && !errors.equals(lastErrors)) {
            LOG.warn("registry {}: {}", source.describe(), errors);
        }
        lastErrors = errors;
        metrics.sync(r.errors().isEmpty(), r.errors().size());
        for (String model : changed) {
            try {
                loader.submit(() -> repository.load(model, "registry")).get();
                metrics.changeToServing(model, (System.nanoTime() - t0) / 1e9);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return changed;
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.RejectedExecutionException e) {
                LOG.error("registry: reload of {} failed: {}", model, e.toString());
            }
        }
        return changed;
    }

    /** Polls every {@code seconds} from now on. */
    public RepositoryPoller start(int seconds) {
        timer.scheduleWithFixedDelay(() -> {
            try {
                pollOnce();
            } catch (Throwable e) {
                // anything escaping would cancel every later pass silently
                LOG.error("registry poll failed: {}", e.toString(), e);
            }
        }, seconds, seconds, TimeUnit.SECONDS);
        return this;
    }

    @Override
    public void close() {
        timer.shutdownNow();
        source.close();
    }
}
