package io.mlserve.server.retrain;

import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.NettyChannelBuilder;
import io.mlserve.proto.inference.ModelConfig;
import io.mlserve.proto.inference.ModelRetrainPolicy;
import io.mlserve.proto.v1.DriftEvent;
import io.mlserve.proto.v1.DriftKind;
import io.mlserve.proto.v1.GetJobRequest;
import io.mlserve.proto.v1.Job;
import io.mlserve.proto.v1.JobKind;
import io.mlserve.proto.v1.JobRequest;
import io.mlserve.proto.v1.JobState;
import io.mlserve.proto.v1.SubmitJobResponse;
import io.mlserve.proto.v1.TrainerServiceGrpc;
import io.mlserve.server.metrics.RetrainMetrics;
import io.mlserve.server.repository.ModelEntry;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drift events → retraining jobs on the trainer service, never on the request path: everything runs on one
 * background thread, and {@link #onDrift} only hands the event over.
 *
 * <p>Policy, per model whose config.json has {@code retrain.enabled}: an event starts a job unless one is
 * already being delivered or running for the model ({@code in_flight}: at most one job per model), the same
 * event id was seen before ({@code duplicate}), the model is cooling down after its last job
 * ({@code cooldown}; MANUAL events skip it), its kind or severity is not one the policy triggers on
 * ({@code ignored}), or it reports a version older than the one serving ({@code stale}).
 *
 * <p>The job carries its data ({@link JobData}): for a model bound to a feature view, the model's training log over the
 * last {@code window_days}, the view's encoding and the serving champion; the log is flushed first, so the job sees
 * every row joined so far.
 *
 * <p>Delivery: SubmitJob over gRPC (asynchronous calls whose answers are handled on the bridge thread) with a
 * request id derived from the event, so a retry after a lost reply is the same job on the trainer. While the
 * trainer is unreachable or busy (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED) the request is
 * retried with exponential backoff and jitter until it is delivered; UNKNOWN and INTERNAL up to
 * {@link #MAX_ERROR_ATTEMPTS} times; a refusal (INVALID_ARGUMENT, ...) ends it. A delivered job is polled until it ends; when it published a version, the model is reloaded
 * from the repository (unless its policy says no_reload), and the {@link Published} listener (the rollout, which may
 * promote a version retrained for a degraded champion at once) hears which event started the job and what it found.
 */
public final class RetrainBridge implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RetrainBridge.class);
    private static final long CALL_DEADLINE_MS = 10_000;
    private static final int SEEN_EVENTS = 1024;

    /** What the bridge did with an event. */
    public enum Outcome { ACCEPTED, REFUSED, DUPLICATE, IN_FLIGHT, COOLDOWN, IGNORED, STALE, NOT_ENABLED, UNKNOWN_MODEL }

    /** Attempts for errors that may be the trainer's own bug (UNKNOWN, INTERNAL) before the request is given up. */
    static final int MAX_ERROR_ATTEMPTS = 5;

    /** Reads the models the server has: the entry (with its config) by name, or null. */
    public interface Models {
        ModelEntry model(String name);
    }

    /** Told, on the bridge thread, when a job published a version; must not block. */
    public interface Published {
        /**
         * @param trigger the event that started the job
         * @param job     the job as it ended: its result names the version, both AUCs of the gate and the champion
         *                they were compared with
         */
        void published(String model, DriftEvent trigger, Job job);
    }

    private final RetrainOptions options;
    private final Models models;
    private final Function<String, CompletableFuture<?>> reload;
    private final RetrainMetrics metrics;
    private final ManagedChannel channel;
    private final TrainerServiceGrpc.TrainerServiceFutureStub stub;
    private final ScheduledExecutorService thread;
    // touched only on the bridge thread
    private final Map<String, ModelRetrain> state = new HashMap<>();
    // published snapshots for readers on other threads
    private final Map<String, RetrainStatus> statuses = new ConcurrentHashMap<>();
    private final io.mlserve.server.time.ServerClock clock;
    private final JobData data;
    private volatile Published publishedListener;

    /** @param reload loads a model again from the repository (the OIP repository load) */
    public RetrainBridge(RetrainOptions options, Models models, Function<String, CompletableFuture<?>> reload,
                         RetrainMetrics metrics) {
        this(options, models, reload, metrics, new io.mlserve.server.time.ServerClock(), null);
    }

    /**
     * @param clock the time cooldowns and training windows are measured in (the server's: replayed during a replay)
     * @param data  what jobs of view-bound models train on, or null: the configured TrainSpec as it is
     */
    public RetrainBridge(RetrainOptions options, Models models, Function<String, CompletableFuture<?>> reload,
                         RetrainMetrics metrics, io.mlserve.server.time.ServerClock clock, JobData data) {
        this.clock = clock;
        this.data = data;
        this.options = options;
        this.models = models;
        this.reload = reload;
        this.metrics = metrics;
        this.channel = NettyChannelBuilder.forTarget(options.trainer()).usePlaintext().build();
        this.stub = TrainerServiceGrpc.newFutureStub(channel);
        this.thread = io.mlserve.server.threads.Daemons.scheduler("mlserve-retrain");
    }

    /**
     * Hands a drift event to the bridge; completes with what was done with it — for an accepted event, once the
     * first delivery attempt has answered (ACCEPTED: delivered or being retried; REFUSED: the trainer refused it).
     * Never blocks.
     */
    public CompletableFuture<Outcome> onDrift(DriftEvent event) {
        try {
            return CompletableFuture.supplyAsync(() -> handle(event, clock.now()), thread)
                    .thenCompose(f -> f);
        } catch (RejectedExecutionException e) {
            return CompletableFuture.failedFuture(new IllegalStateException("the server is stopping"));
        }
    }

    /** Tells {@code listener} of every version a job publishes from now on. */
    public void onPublished(Published listener) {
        this.publishedListener = listener;
    }

    /** The model's retraining status, or null when the bridge has seen nothing for it. */
    public RetrainStatus status(String model) {
        return statuses.get(model);
    }

    public String trainer() {
        return options.trainer();
    }

    private static final class ModelRetrain {
        final LinkedHashSet<String> seen = new LinkedHashSet<>();
        JobRequest request;          // the request being delivered or run, or null
        DriftEvent trigger;          // the event that started the current or last job
        CompletableFuture<Outcome> firstAttempt; // completed when the accepted event's first delivery answers
        int attempts;
        long nextAttemptMs;
        long eventReceivedMs;
        long eventNanos;
        String lastError = "";
        long cooldownUntilMs;
        DriftEvent lastEvent;
        String lastOutcome = "";
        Job job;
        long servingVersion;
        int pollFailures;
    }

    private CompletableFuture<Outcome> handle(DriftEvent event, long now) {
        String name = event.getModelName();
        ModelEntry entry = models.model(name);
        if (entry == null) {
            // one label for every unknown name: event producers must not be able to mint metric series
            metrics.event("_unknown", label(Outcome.UNKNOWN_MODEL));
            LOG.warn("drift event {} for unknown model '{}' ignored", event.getEventId(), name);
            return CompletableFuture.completedFuture(Outcome.UNKNOWN_MODEL);
        }
        ModelRetrain m = state.computeIfAbsent(name, k -> new ModelRetrain());
        m.lastEvent = event;
        Outcome o = decide(event, entry, m, now);
        m.lastOutcome = label(o);
        metrics.event(name, label(o));
        if (!event.getEventId().isEmpty()) {
            m.seen.add(event.getEventId());
            if (m.seen.size() > SEEN_EVENTS) {
                m.seen.remove(m.seen.iterator().next());
            }
        }
        if (o == Outcome.ACCEPTED) {
            ModelRetrainPolicy policy = entry.config().getRetrain();
            io.mlserve.proto.v1.TrainSpec spec;
            try {
                spec = data == null ? policy.getTrain() : data.complete(entry, policy.getTrain(), now);
            } catch (IllegalStateException e) {
                m.lastOutcome = label(Outcome.REFUSED);
                m.lastError = e.getMessage();
                metrics.attempt(name, "refused");
                LOG.error("model {}: {} → not retrained: {}", name, reason(event), e.getMessage());
                startCooldown(name, m);
                publish(name, m);
                return CompletableFuture.completedFuture(Outcome.REFUSED);
            }
            m.request = JobRequest.newBuilder()
                    .setRequestId(options.requester() + ":" + name + ":" + (event.getEventId().isEmpty()
                            ? "t" + now : event.getEventId()))
                    .setKind(JobKind.TRAIN).setModelName(name).setTrain(spec)
                    .setReason(reason(event)).setRequestedBy(options.requester()).build();
            m.trigger = event;
            m.attempts = 0;
            m.eventReceivedMs = System.currentTimeMillis(); // wall time: compared with the trainer's job times
            m.eventNanos = System.nanoTime();
            m.job = null;
            m.lastError = "";
            LOG.info("model {}: {} → retraining (request {})", name, reason(event), m.request.getRequestId());
            m.firstAttempt = new CompletableFuture<>();
            CompletableFuture<Outcome> answered = m.firstAttempt;
            JobRequest request = m.request;
            publish(name, m);
            // the rows joined so far on disk first, then the job (on the bridge thread)
            (data == null ? CompletableFuture.<Void>completedFuture(null) : data.flush(name)).whenComplete((ok, e) -> {
                if (e != null) {
                    LOG.warn("model {}: the training log was not flushed before the job ({}); the job reads what is "
                            + "on disk", name, e.toString());
                }
                schedule(() -> {
                    if (m.request == request) {
                        deliver(name);
                    }
                }, 0);
            });
            return answered;
        }
        LOG.info("model {}: drift event {} not acted on: {}", name, event.getEventId(), label(o));
        publish(name, m);
        return CompletableFuture.completedFuture(o);
    }

    /** Completes the accepted event's future (after {@link #publish}, so its caller reads the status it caused). */
    private static void answer(ModelRetrain m, Outcome o) {
        if (m.firstAttempt != null) {
            m.firstAttempt.complete(o);
            m.firstAttempt = null;
        }
    }

    private Outcome decide(DriftEvent event, ModelEntry entry, ModelRetrain m, long now) {
        ModelRetrainPolicy policy = entry.config().getRetrain();
        if (!policy.getEnabled()) {
            return Outcome.NOT_ENABLED;
        }
        if (!event.getEventId().isEmpty() && m.seen.contains(event.getEventId())) {
            return Outcome.DUPLICATE;
        }
        if (m.request != null) {
            return Outcome.IN_FLIGHT;
        }
        boolean manual = event.getKind() == DriftKind.MANUAL;
        if (!manual && !triggers(policy, event)) {
            return Outcome.IGNORED;
        }
        if (!manual && entry.latest() != null && !event.getModelVersion().isEmpty()) {
            try {
                if (Long.parseLong(event.getModelVersion()) < entry.latest().version()) {
                    return Outcome.STALE;
                }
            } catch (NumberFormatException e) {
                // a version label we cannot order: act on it
            }
        }
        if (!manual && now < m.cooldownUntilMs) {
            return Outcome.COOLDOWN;
        }
        return Outcome.ACCEPTED;
    }

    private static boolean triggers(ModelRetrainPolicy policy, DriftEvent event) {
        if (event.getSeverity() < policy.getMinSeverity()) {
            return false;
        }
        if (policy.getOnCount() == 0) {
            return true;
        }
        String kind = event.getKind().name().toLowerCase(Locale.ROOT);
        return policy.getOnList().contains(kind);
    }

    private static String reason(DriftEvent e) {
        StringBuilder b = new StringBuilder(e.getKind() == DriftKind.MANUAL ? "manual" : "drift "
                + e.getKind().name().toLowerCase(Locale.ROOT));
        if (!e.getModelVersion().isEmpty()) {
            b.append(" on version ").append(e.getModelVersion());
        }
        if (e.getFeaturesCount() > 0) {
            b.append(": ").append(String.join(", ", e.getFeaturesList()));
        }
        if (!e.getEventId().isEmpty()) {
            b.append(" (event ").append(e.getEventId()).append(')');
        }
        return b.toString();
    }

    private void deliver(String name) {
        ModelRetrain m = state.get(name);
        if (m == null || m.request == null) {
            return;
        }
        JobRequest request = m.request;
        m.attempts++;
        m.nextAttemptMs = 0;
        // a channel that failed to connect backs off by itself (up to minutes): try now, on our schedule
        channel.resetConnectBackoff();
        onBridge(stub.withDeadlineAfter(CALL_DEADLINE_MS, TimeUnit.MILLISECONDS).submitJob(request),
                r -> delivered(name, request, r), status -> deliveryFailed(name, request, status));
    }

    private void delivered(String name, JobRequest request, SubmitJobResponse r) {
        ModelRetrain m = state.get(name);
        if (m == null || m.request != request) {
            return;
        }
        metrics.attempt(name, "delivered");
        m.job = r.getJob();
        m.lastError = "";
        LOG.info("model {}: job {} {} on the trainer after {} attempt(s){}", name, r.getJob().getJobId(),
                r.getJob().getState(), m.attempts, r.getDeduplicated() ? " (the trainer already had it)" : "");
        publish(name, m);
        answer(m, Outcome.ACCEPTED);
        track(name, r.getJob());
    }

    private void deliveryFailed(String name, JobRequest request, Status status) {
        ModelRetrain m = state.get(name);
        if (m == null || m.request != request) {
            return;
        }
        Status.Code code = status.getCode();
        m.lastError = code + ": " + status.getDescription();
        if (retryable(code, m.attempts)) {
            metrics.attempt(name, "retry");
            long delay = backoffMs(m.attempts);
            m.nextAttemptMs = System.currentTimeMillis() + delay;
            LOG.warn("model {}: trainer {} not reached (attempt {}: {}); retrying in {} ms", name,
                    options.trainer(), m.attempts, m.lastError, delay);
            publish(name, m);
            answer(m, Outcome.ACCEPTED);
            schedule(() -> deliver(name), delay);
        } else {
            metrics.attempt(name, "refused");
            LOG.error("model {}: the trainer refused the job (attempt {}): {}", name, m.attempts, m.lastError);
            m.request = null;
            startCooldown(name, m);
            publish(name, m);
            answer(m, Outcome.REFUSED);
        }
    }

    /**
     * Whether a failed call is tried again: while the trainer is unreachable or busy, always; after errors that may
     * be a bug on its side, up to {@link #MAX_ERROR_ATTEMPTS}; never after a refusal of the request itself.
     */
    static boolean retryable(Status.Code code, int attempts) {
        return switch (code) {
            case UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED -> true;
            case UNKNOWN, INTERNAL -> attempts < MAX_ERROR_ATTEMPTS;
            default -> false;
        };
    }

    /** min(max, initial × 2^(attempt−1) × jitter in [0.8, 1.2)): never longer than the configured maximum. */
    long backoffMs(int attempt) {
        double base = options.initialBackoff().toMillis() * Math.pow(2, Math.min(attempt - 1, 30));
        double jittered = base * (0.8 + 0.4 * ThreadLocalRandom.current().nextDouble());
        return Math.max(1, Math.round(Math.min(jittered, options.maxBackoff().toMillis())));
    }

    /** Runs the call's outcome on the bridge thread. */
    private <T> void onBridge(ListenableFuture<T> call, java.util.function.Consumer<T> ok,
                              java.util.function.Consumer<Status> failed) {
        try {
            Futures.addCallback(call, new FutureCallback<T>() {
                @Override
                public void onSuccess(T result) {
                    ok.accept(result);
                }

                @Override
                public void onFailure(Throwable t) {
                    failed.accept(Status.fromThrowable(t));
                }
            }, thread);
        } catch (RejectedExecutionException e) {
            // the server is stopping
        }
    }

    private void track(String name, Job job) {
        ModelRetrain m = state.get(name);
        if (m == null) {
            return;
        }
        m.job = job;
        switch (job.getState()) {
            case QUEUED, RUNNING -> {
                publish(name, m);
                schedule(() -> poll(name, job.getJobId()), options.poll().toMillis());
            }
            default -> ended(name, m, job);
        }
    }

    private void poll(String name, String jobId) {
        ModelRetrain m = state.get(name);
        if (m == null || m.request == null) {
            return;
        }
        JobRequest request = m.request;
        channel.resetConnectBackoff();
        onBridge(stub.withDeadlineAfter(CALL_DEADLINE_MS, TimeUnit.MILLISECONDS)
                        .getJob(GetJobRequest.newBuilder().setJobId(jobId).build()),
                job -> {
                    if (m.request == request) {
                        m.pollFailures = 0;
                        track(name, job);
                    }
                },
                status -> {
                    if (m.request != request) {
                        return;
                    }
                    if (status.getCode() == Status.Code.NOT_FOUND) {
                        // the trainer restarted and forgot it: the next event may start a new job at once
                        LOG.error("model {}: the trainer no longer knows job {} ({}); a new drift event will start "
                                + "another", name, jobId, status.getDescription());
                        metrics.jobEnded(name, "lost");
                        m.lastError = "job " + jobId + " lost by the trainer";
                        m.request = null;
                        publish(name, m);
                    } else {
                        m.lastError = status.getCode() + ": " + status.getDescription();
                        long delay = Math.max(options.poll().toMillis(), backoffMs(++m.pollFailures));
                        publish(name, m);
                        schedule(() -> poll(name, jobId), delay);
                    }
                });
    }

    private void ended(String name, ModelRetrain m, Job job) {
        String s = job.getState().name().toLowerCase(Locale.ROOT);
        metrics.jobEnded(name, s);
        m.request = null;
        m.attempts = 0;
        startCooldown(name, m);
        m.lastError = job.getState() == JobState.FAILED ? job.getMessage() : "";
        if (job.getState() == JobState.SUCCEEDED) {
            double published = Math.max(0, job.getFinishedMs() - m.eventReceivedMs) / 1000.0;
            metrics.published(name, published);
            long version = job.getResult().getVersion();
            LOG.info("model {}: job {} published version {} {} s after the drift event", name, job.getJobId(), version,
                    String.format(Locale.ROOT, "%.1f", published));
            Published listener = publishedListener;
            if (listener != null && m.trigger != null) {
                try {
                    listener.published(name, m.trigger, job);
                } catch (RuntimeException e) {
                    LOG.error("model {}: the rollout was not told of version {}: {}", name, version, e.toString(), e);
                }
            }
            ModelEntry entry = models.model(name);
            if (entry != null && !entry.config().getRetrain().getNoReload()) {
                long started = m.eventNanos;
                reload.apply(name).whenComplete((ok, error) -> {
                    try {
                        thread.execute(() -> reloaded(name, version, started, error));
                    } catch (RejectedExecutionException stopping) {
                        // the server is stopping
                    }
                });
            }
        } else {
            LOG.info("model {}: job {} ended {}: {}", name, job.getJobId(), s, job.getMessage());
        }
        publish(name, m);
    }

    private void reloaded(String name, long version, long startedNanos, Throwable error) {
        ModelRetrain m = state.get(name);
        ModelEntry entry = models.model(name);
        if (error != null || entry == null || entry.version(version) == null) {
            String why = error != null ? error.getMessage() : "version " + version + " is not serving after the reload";
            LOG.error("model {}: reload after retraining failed: {}", name, why);
            if (m != null) {
                m.lastError = "reload: " + why;
                publish(name, m);
            }
            return;
        }
        double seconds = (System.nanoTime() - startedNanos) / 1e9;
        metrics.serving(name, seconds);
        LOG.info("model {}: serving version {} {} s after the drift event", name, version,
                String.format(Locale.ROOT, "%.1f", seconds));
        if (m != null) {
            m.servingVersion = version;
            publish(name, m);
        }
    }

    private void startCooldown(String name, ModelRetrain m) {
        long ms = cooldownMs(name);
        m.cooldownUntilMs = clock.now() + ms;
        // the phase shown (status, gauge) turns from cooldown to idle when it ends
        schedule(() -> publish(name, m), ms + 1);
    }

    private long cooldownMs(String name) {
        ModelEntry e = models.model(name);
        int configured = e == null ? 0 : e.config().getRetrain().getCooldownSeconds();
        return configured > 0 ? configured * 1000L : options.cooldown().toMillis();
    }

    private void schedule(Runnable r, long delayMs) {
        try {
            thread.schedule(r, delayMs, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            // the server is stopping: the request is dropped with it
        }
    }

    private void publish(String name, ModelRetrain m) {
        long now = clock.now();
        String phase;
        if (m.request != null) {
            phase = m.job == null ? "delivering" : m.job.getState() == JobState.RUNNING ? "running" : "queued";
        } else {
            phase = now < m.cooldownUntilMs ? "cooldown" : "idle";
        }
        metrics.phase(name, phase);
        statuses.put(name, new RetrainStatus(name, phase, m.request == null ? 0 : m.attempts, m.nextAttemptMs,
                m.lastError, m.cooldownUntilMs, m.lastEvent, m.lastOutcome, m.job, m.servingVersion));
    }

    private static String label(Outcome o) {
        return o.name().toLowerCase(Locale.ROOT);
    }

    /** The models with a status, for listings. */
    public List<RetrainStatus> statuses() {
        return new ArrayList<>(statuses.values());
    }

    /** True when the config enables retraining for the model. */
    public static boolean enabled(ModelConfig config) {
        return config.hasRetrain() && config.getRetrain().getEnabled();
    }

    /** Stops the bridge thread (waiting for a step in progress, so no reload starts after this returns). */
    @Override
    public void close() {
        thread.shutdownNow();
        channel.shutdownNow();
        try {
            thread.awaitTermination(5, TimeUnit.SECONDS);
            channel.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
