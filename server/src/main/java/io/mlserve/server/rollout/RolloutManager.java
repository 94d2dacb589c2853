package io.mlserve.server.rollout;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mlserve.drift.QualityJoin;
import io.mlserve.proto.inference.ModelConfig;
import io.mlserve.proto.v1.ArmEvidence;
import io.mlserve.proto.v1.RolloutAction;
import io.mlserve.proto.v1.RolloutMode;
import io.mlserve.proto.v1.RolloutStatus;
import io.mlserve.proto.v1.RolloutVerdict;
import io.mlserve.registry.RegistrySource;
import io.mlserve.rollout.ArmRecorder;
import io.mlserve.rollout.RolloutDecision;
import io.mlserve.rollout.RolloutState;
import io.mlserve.rollout.RolloutStates;
import io.mlserve.server.drift.QualityMonitor;
import io.mlserve.server.metrics.RegistryMetrics;
import io.mlserve.server.repository.ModelConfigs;
import io.mlserve.server.repository.ModelEntry;
import io.mlserve.server.repository.ModelRepository;
import io.mlserve.server.repository.ServedVersion;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Judges challengers and moves traffic: once a second, for every model whose rollout has a challenger that has
 * served for its window ({@code window_seconds}) and at least {@code min_requests} requests, both versions' windows
 * are drained and {@link RolloutDecision} decides; a pass promotes the challenger (the champion role moves, the old
 * champion leaves service when the policy no longer selects it), a failure rolls it back (refused for good) — each
 * unless the config asks to wait for an operator. Operators promote, roll back, pin a champion or clear the refused
 * list by hand ({@link #override}). A retrained challenger ends its window at once when the champion has degraded
 * on real outcomes and the trainer's gate found the challenger better ({@link #published}). Every change persists the state, is audited with its evidence, is told to the
 * registry when it has roles (MLflow aliases) and reloads the model on the loader executor, never on a serving
 * thread.
 */
public final class RolloutManager implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RolloutManager.class);
    private final ModelRepository repository;
    private final ExecutorService loader;
    private final QualityMonitor quality;
    private final RegistrySource source;
    private final RepositoryPoller poller;
    private final RegistryMetrics metrics;
    private final ScheduledExecutorService timer;
    private final io.mlserve.server.time.ServerClock clock;
    private final Map<String, Window> windows = new ConcurrentHashMap<>();
    private final Map<String, Judged> last = new ConcurrentHashMap<>();
    /** Models with a role change queued on the loader: not judged again until it has run. */
    private final java.util.Set<String> pending = ConcurrentHashMap.newKeySet();
    /** Pooled judging across replicas, or null: this server judges its own traffic. */
    private RolloutPool pool;
    /** How long a pooled pairing ahead of this replica waits for it to load the challenger (pooled judging). */
    private long pollLagMs = MIN_POLL_LAG_MS;
    /** Per model, a version retrained after a quality alert, until it serves as the challenger (or is overtaken). */
    private final Map<String, Retrained> retrained = new ConcurrentHashMap<>();

    /** A version a retraining job published, the event that started the job, and the job as it ended. */
    private record Retrained(long version, io.mlserve.proto.v1.DriftEvent trigger, io.mlserve.proto.v1.Job job) {
    }

    /** The open window of a model's challenger. */
    private record Window(long champion, long challenger, long startMs) {
    }

    /** The last judgement of a model: for the status and its metrics. */
    private record Judged(RolloutDecision.Result result, String championVersion, ArmRecorder.Window champion,
                          double championAuc, String challengerVersion, ArmRecorder.Window challenger,
                          double challengerAuc) {
    }

    /**
     * @param loader  the executor loads run on (the same one OIP Load uses, so loads never interleave)
     * @param quality live quality for AUC evidence, or null
     * @param source  the registry, told about role changes; null for none
     * @param poller  the registry's poller (its view of the roles follows what is written back), or null
     */
    public RolloutManager(ModelRepository repository, ExecutorService loader, QualityMonitor quality,
                          RegistrySource source, RepositoryPoller poller, RegistryMetrics metrics, long tickMs,
                          io.mlserve.server.time.ServerClock clock) {
        this.clock = clock;
        this.repository = repository;
        this.poller = poller;
        this.loader = loader;
        this.quality = quality;
        this.source = source;
        this.metrics = metrics;
        this.timer = io.mlserve.server.threads.Daemons.scheduler("mlserve-rollout");
        timer.scheduleWithFixedDelay(this::tick, tickMs, tickMs, TimeUnit.MILLISECONDS);
    }

    /**
     * One decision across replicas: this server sends its windows to {@code bootstrap}'s {@code topic} and judges the
     * pooled windows of every replica while it holds the judge's lease (see {@link RolloutPool}).
     */
    public RolloutManager withPooledJudging(String bootstrap, String topic, String instance, int pollSecs) {
        this.pollLagMs = Math.max(MIN_POLL_LAG_MS, 3_000L * pollSecs);
        this.pool = new RolloutPool(bootstrap, topic, instance).start(this::judgePooled);
        LOG.info("rollout: pooled judging over {} on {} as {}", topic, bootstrap, instance);
        return this;
    }

    private void tick() {
        metrics.judge(pool == null || pool.judging());
        for (ModelEntry e : repository.models()) {
            try {
                check(e);
            } catch (RuntimeException ex) {
                LOG.error("rollout of {}: {}", e.name(), ex.toString(), ex);
            }
        }
    }

    private void check(ModelEntry e) {
        ModelEntry.Rollout r = e.rollout();
        if (r != null && r.champion() != null) {
            metrics.roles(e.name(), r.champion().version(), r.challenger() == null ? 0 : r.challenger().version());
        }
        if (pending.contains(e.name())) {
            return;
        }
        if (promotedAtOnce(e, r)) {
            return;
        }
        if (r == null || r.challenger() == null || r.challenger().arm() == null || r.champion().arm() == null) {
            windows.remove(e.name());
            return;
        }
        long now = clock.now();
        Window w = windows.get(e.name());
        if (w == null || w.challenger() != r.challenger().version() || w.champion() != r.champion().version()) {
            // a new pairing: start its window clean
            r.challenger().arm().drain();
            r.champion().arm().drain();
            windows.put(e.name(), new Window(r.champion().version(), r.challenger().version(), now));
            return;
        }
        ModelConfig config = e.config();
        long windowMs = windowMs(config);
        RolloutDecision.Criteria criteria = ModelConfigs.rolloutCriteria(config);
        if (pool != null) {
            // pooled: every window goes to the judge (this replica or another), none is judged here
            if (now - w.startMs() >= Math.min(windowMs, POOL_WINDOW_MS)) {
                ArmRecorder.Window champ = r.champion().arm().drain();
                ArmRecorder.Window chall = r.challenger().arm().drain();
                if (champ.requests() + chall.requests() > 0) {
                    pool.publish(e.name(), w.champion(), w.challenger(), champ, chall, now);
                }
                windows.put(e.name(), new Window(w.champion(), w.challenger(), now));
            }
            return;
        }
        if (now - w.startMs() < windowMs || r.challenger().arm().requests() < criteria.minRequests()) {
            return;
        }
        ArmRecorder.Window champ = r.champion().arm().drain();
        ArmRecorder.Window chall = r.challenger().arm().drain();
        RolloutDecision.Auc champQuality = aucWithCounts(e.name(), r.champion());
        RolloutDecision.Auc challQuality = aucWithCounts(e.name(), r.challenger());
        double champAuc = champQuality.value();
        double challAuc = challQuality.value();
        RolloutDecision.Result result = RolloutDecision.judge(criteria, champ, chall, champQuality, challQuality);
        last.put(e.name(), new Judged(result, r.champion().versionLabel(), champ, champAuc,
                r.challenger().versionLabel(), chall, challAuc));
        windows.put(e.name(), new Window(w.champion(), w.challenger(), now));
        metrics.judged(e.name(), RolloutDecision.label(result.verdict()));
        LOG.info("rollout of {}: challenger {} vs champion {}: {} {}", e.name(), r.challenger().versionLabel(),
                r.champion().versionLabel(), result.verdict(), result.reasons());
        ObjectNode evidence = evidence(result, champ, champAuc, chall, challAuc);
        if (result.verdict() == RolloutVerdict.ROLLOUT_VERDICT_PROMOTE && !config.getRollout().getNoAutoPromote()) {
            apply(e.name(), "rollout", label(RolloutAction.ROLLOUT_ACTION_PROMOTE), r.champion().version(),
                    r.challenger().version(), evidence, s -> s.withChampion(r.challenger().version()), r);
        } else if (result.verdict() == RolloutVerdict.ROLLOUT_VERDICT_ROLLBACK && !config.getRollout().getNoAutoRollback()) {
            apply(e.name(), "rollout", label(RolloutAction.ROLLOUT_ACTION_ROLLBACK), r.challenger().version(),
                    r.champion().version(), evidence, s -> s.reject(r.challenger().version()), r);
        }
    }

    /**
     * Told by the retrain bridge (on its thread) that a job published a version. The version is remembered until it
     * leaves the challenger role: while it is the challenger, {@link #promotedAtOnce} looks at every tick whether the
     * champion has degraded on real outcomes meanwhile, so a canary that started for a healthy champion ends early
     * when the champion's quality alert is raised (a data-drift retrain usually comes before the outcomes show it).
     */
    public void published(String model, io.mlserve.proto.v1.DriftEvent trigger, io.mlserve.proto.v1.Job job) {
        if (job.getResult().getPublished()) {
            retrained.put(model, new Retrained(job.getResult().getVersion(), trigger, job));
        }
    }

    /**
     * Promotes the challenger at once, ending its canary window, when a retraining job published it and the serving
     * champion has degraded on real outcomes: the champion's live-quality alert is raised, the trainer's gate compared
     * the candidate with that champion and found it better by more than {@code rollout.emergency_margin} (on the
     * freshest labelled rows), and the config neither turns this off ({@code no_emergency_promotion}) nor asks for
     * manual promotions ({@code no_auto_promote}). The promotion takes the path an operator's does, with the evidence
     * in the audit log. True when it was queued.
     */
    private boolean promotedAtOnce(ModelEntry e, ModelEntry.Rollout r) {
        Retrained x = retrained.get(e.name());
        if (x == null) {
            return false;
        }
        if (r == null || r.champion() == null || r.champion().version() >= x.version()
                || (r.challenger() != null && r.challenger().version() > x.version())
                || repository.rollouts().get(e.name()).rejected().contains(x.version())) {
            retrained.remove(e.name(), x); // no rollout, or overtaken: promoted, refused, or a newer version came
            return false;
        }
        if (r.challenger() == null || r.challenger().version() != x.version()) {
            return false; // not serving yet
        }
        ServedVersion champion = r.champion();
        io.mlserve.proto.v1.TrainResult gate = x.job().getResult();
        double margin = ModelConfigs.emergencyMargin(e.config());
        String never = null;
        if (e.config().getRollout().getNoEmergencyPromotion() || e.config().getRollout().getNoAutoPromote()) {
            never = "the config turns emergency promotion off";
        } else if (gate.getChampionVersion() != champion.version() || !Double.isFinite(gate.getChampionAuc())) {
            never = "the trainer's gate did not compare the candidate with the champion";
        } else if (!(gate.getCandidateAuc() > gate.getChampionAuc() + margin)) {
            never = String.format(java.util.Locale.ROOT, "the candidate's AUC %.3f is not above the champion's "
                    + "%.3f + %s", gate.getCandidateAuc(), gate.getChampionAuc(), margin);
        }
        if (never != null) {
            retrained.remove(e.name(), x);
            LOG.info("rollout of {}: version {} takes the canary even if the champion degrades: {}", e.name(),
                    x.version(), never);
            return false;
        }
        QualityJoin.Report live = quality == null ? null : quality.last(e.name(), champion.versionLabel());
        if (live == null || !live.alert()) {
            return false; // the champion is healthy as far as outcomes show: the canary decides, looked at again
        }
        retrained.remove(e.name(), x);
        String reason = String.format(java.util.Locale.ROOT, "emergency: champion v%d degraded (live AUC %.3f < %s "
                        + "over %d outcomes); candidate v%d AUC %.3f vs champion %.3f on the freshest labelled rows "
                        + "(%s)", champion.version(), live.metrics().auc(), live.settings().minAuc(),
                live.metrics().pairs(), x.version(), gate.getCandidateAuc(), gate.getChampionAuc(),
                gate.getData().isEmpty() ? "the trainer's holdout" : "holdout of " + gate.getData());
        ObjectNode evidence = JsonNodeFactory.instance.objectNode().put("reason", reason);
        evidence.putObject("champion").put("version", champion.version()).put("live_auc", live.metrics().auc())
                .put("min_auc", live.settings().minAuc()).put("outcomes", live.metrics().pairs());
        evidence.putObject("trigger").put("event", x.trigger().getEventId())
                .put("kind", x.trigger().getKind().name()).put("version", x.trigger().getModelVersion())
                .put("severity", x.trigger().getSeverity());
        evidence.putObject("candidate").put("version", x.version()).put("job", x.job().getJobId())
                .put("candidate_auc", gate.getCandidateAuc()).put("champion_auc", gate.getChampionAuc())
                .put("margin", margin).put("holdout_rows", gate.getHoldoutRows()).put("data", gate.getData());
        LOG.warn("rollout of {}: {}", e.name(), reason);
        apply(e.name(), "retrain", label(RolloutAction.ROLLOUT_ACTION_PROMOTE), champion.version(), x.version(),
                evidence, s -> s.withChampion(x.version()), r);
        return true;
    }

    /** A pooled replica sends its windows at least this often, so the judge's pool fills while the window runs. */
    static final long POOL_WINDOW_MS = 1_000;
    /** The least time a judge waits to load a challenger other replicas already serve (3 poll intervals if longer). */
    static final long MIN_POLL_LAG_MS = 30_000;

    private static long windowMs(ModelConfig config) {
        return (config.getRollout().getWindowSeconds() > 0 ? config.getRollout().getWindowSeconds() : 60) * 1000L;
    }

    /**
     * The lease holder's verdict on a pairing pooled from {@code replicas} replicas: waits (false) until the pooled
     * challenger has its requests and the window since the first evidence has passed; a pairing whose roles are no
     * longer the model's (decided already, or overtaken) is dropped (true). A pairing ahead of this replica — the
     * same champion with a challenger it has not loaded yet, because the others polled the registry first — is kept
     * for up to {@link #pollLagMs} from its first evidence, so the windows the others sent meanwhile still count.
     */
    private boolean judgePooled(String model, long champion, long challenger, ArmRecorder.Window champ,
                                ArmRecorder.Window chall, int replicas, long firstMs) {
        ModelEntry e = repository.model(model);
        ModelEntry.Rollout r = e == null ? null : e.rollout();
        if (r == null || r.champion() == null || r.challenger() == null || r.champion().version() != champion
                || r.challenger().version() != challenger) {
            // a challenger this replica rolled back (or refused) is decided, not late
            boolean ahead = r != null && r.champion() != null && r.champion().version() == champion
                    && (r.challenger() == null || r.challenger().version() < challenger)
                    && !repository.rollouts().get(model).rejected().contains(challenger);
            if (ahead && clock.now() - firstMs < pollLagMs) {
                return false;
            }
            LOG.info("rollout of {}: pooled windows of {} vs {} dropped: the roles are no longer those", model,
                    challenger, champion);
            return true;
        }
        if (pending.contains(model)) {
            return false;
        }
        ModelConfig config = e.config();
        RolloutDecision.Criteria criteria = ModelConfigs.rolloutCriteria(config);
        if (clock.now() - firstMs < windowMs(config) || chall.requests() < criteria.minRequests()) {
            return false;
        }
        RolloutDecision.Result result = RolloutDecision.judge(criteria, champ, chall, RolloutDecision.Auc.NONE,
                RolloutDecision.Auc.NONE);
        last.put(model, new Judged(result, r.champion().versionLabel(), champ, Double.NaN,
                r.challenger().versionLabel(), chall, Double.NaN));
        metrics.judged(model, RolloutDecision.label(result.verdict()));
        LOG.info("rollout of {}: challenger {} vs champion {} pooled from {} replicas: {} {}", model, challenger,
                champion, replicas, result.verdict(), result.reasons());
        ObjectNode evidence = evidence(result, champ, Double.NaN, chall, Double.NaN).put("replicas", replicas);
        if (result.verdict() == RolloutVerdict.ROLLOUT_VERDICT_PROMOTE && !config.getRollout().getNoAutoPromote()) {
            apply(model, "rollout", label(RolloutAction.ROLLOUT_ACTION_PROMOTE), champion, challenger, evidence,
                    s -> s.withChampion(challenger), r);
        } else if (result.verdict() == RolloutVerdict.ROLLOUT_VERDICT_ROLLBACK && !config.getRollout().getNoAutoRollback()) {
            apply(model, "rollout", label(RolloutAction.ROLLOUT_ACTION_ROLLBACK), challenger, champion, evidence,
                    s -> s.reject(challenger), r);
        }
        return true;
    }

    /** A version's AUC in its last live-quality window, with the class counts for its standard error. */
    private RolloutDecision.Auc aucWithCounts(String model, ServedVersion v) {
        QualityJoin.Report q = quality == null ? null : quality.last(model, v.versionLabel());
        return q == null ? RolloutDecision.Auc.NONE : new RolloutDecision.Auc(q.metrics().auc(),
                q.metrics().positives(), q.metrics().pairs() - q.metrics().positives());
    }

    private static ObjectNode evidence(RolloutDecision.Result r, ArmRecorder.Window champ, double champAuc,
                                       ArmRecorder.Window chall, double challAuc) {
        ObjectNode n = JsonNodeFactory.instance.objectNode().put("verdict", RolloutDecision.label(r.verdict()));
        r.reasons().forEach(n.putArray("reasons")::add);
        arm(n.putObject("champion"), champ, r.championP99Ms(), champAuc);
        arm(n.putObject("challenger"), chall, r.challengerP99Ms(), challAuc);
        if (Double.isFinite(r.scorePsi())) {
            n.put("score_psi", r.scorePsi());
        }
        return n;
    }

    private static void arm(ObjectNode n, ArmRecorder.Window w, double p99, double auc) {
        n.put("requests", w.requests()).put("errors", w.errors()).put("error_rate", w.errorRate());
        if (Double.isFinite(p99)) {
            n.put("p99_ms", p99);
        }
        if (Double.isFinite(auc)) {
            n.put("auc", auc);
        }
    }

    /**
     * Changes the model's state, audits it, tells the registry, and reloads the model on the loader executor; the
     * returned future completes when the new roles serve. {@code judged} (automatic decisions; null for an operator's)
     * is the pairing the decision was about: if the roles changed before the loader got to it (an operator acted, a
     * newer version arrived), the decision is dropped.
     */
    private CompletableFuture<ModelEntry> apply(String model, String actor, String action, long from, long to,
                                                ObjectNode evidence, UnaryOperator<RolloutState> change,
                                                ModelEntry.Rollout judged) {
        pending.add(model);
        return CompletableFuture.supplyAsync(() -> {
            try {
                ModelEntry current = repository.model(model);
                if (judged != null && (current == null || current.rollout() == null
                        || current.rollout().champion() != judged.champion()
                        || current.rollout().challenger() != judged.challenger())) {
                    LOG.info("rollout of {}: the {} decided for {} is dropped: the roles changed before it ran", model,
                            action, to);
                    return current;
                }
                RolloutStates states = repository.rollouts();
                RolloutState before = states.get(model);
                RolloutState after = change.apply(before);
                states.put(model, after);
                if (repository.audit() != null) {
                    repository.audit().record(actor, action, model, from, to, evidence);
                }
                metrics.rolloutEvent(model, action);
                LOG.warn("rollout of {}: {} by {} ({} -> {})", model, action, actor, from, to);
                if (source != null) {
                    try {
                        if (after.champion() != before.champion()) {
                            source.setRole(model, "champion", after.champion());
                        }
                        if (after.challenger() != before.challenger() || !after.rejected().equals(before.rejected())) {
                            source.setRole(model, "challenger", after.challenger());
                        }
                        if (poller != null) {
                            poller.rolesMoved(model, after.champion(), after.challenger());
                        }
                    } catch (java.io.IOException | RuntimeException ex) {
                        LOG.error("rollout of {}: registry not told of the {}: {}", model, action, ex.getMessage());
                    }
                }
                windows.remove(model);
                return repository.load(model, actor);
            } finally {
                pending.remove(model);
            }
        }, loader);
    }

    /**
     * An operator's action: {@code promote} (the challenger, or {@code version}), {@code rollback} (the challenger),
     * {@code set_champion} ({@code version}, taken off the refused list), {@code clear_rejected}.
     *
     * @throws IllegalArgumentException when the model, action or version does not fit (the message says why)
     */
    public CompletableFuture<ModelEntry> override(String model, String action, long version, String actor,
                                                  String reason) {
        ModelEntry e = repository.model(model);
        if (e == null) {
            throw new java.util.NoSuchElementException("model '" + model + "' is not in the repository");
        }
        if (ModelConfigs.rolloutMode(e.config()) == null) {
            throw new IllegalArgumentException("model '" + model + "' has no rollout (config.json rollout.mode is "
                    + "off)");
        }
        ModelEntry.Rollout r = e.rollout();
        long champion = r == null || r.champion() == null ? 0 : r.champion().version();
        long challenger = r == null || r.challenger() == null ? 0 : r.challenger().version();
        ObjectNode evidence = JsonNodeFactory.instance.objectNode().put("reason", reason == null ? "" : reason);
        Judged j = last.get(model);
        if (j != null) {
            evidence.set("last_window", evidence(j.result(), j.champion(), j.championAuc(), j.challenger(),
                    j.challengerAuc()));
        }
        RolloutAction asked = action(action);
        switch (asked) {
            case ROLLOUT_ACTION_PROMOTE -> {
                long to = version > 0 ? version : challenger;
                if (to == 0) {
                    throw new IllegalArgumentException("model '" + model + "' has no challenger to promote; name a "
                            + "version");
                }
                if (e.version(to) == null) {
                    throw new IllegalArgumentException("version " + to + " of '" + model + "' is not serving");
                }
                return apply(model, actor, label(asked), champion, to, evidence, s -> s.withChampion(to), null);
            }
            case ROLLOUT_ACTION_ROLLBACK -> {
                if (challenger == 0) {
                    throw new IllegalArgumentException("model '" + model + "' has no challenger to roll back");
                }
                return apply(model, actor, label(asked), challenger, champion, evidence, s -> s.reject(challenger), null);
            }
            case ROLLOUT_ACTION_SET_CHAMPION -> {
                if (version <= 0) {
                    throw new IllegalArgumentException("set_champion needs a version");
                }
                return apply(model, actor, label(asked), champion, version, evidence, s -> {
                    java.util.Set<Long> rejected = new java.util.TreeSet<>(s.rejected());
                    rejected.remove(version);
                    return new RolloutState(version, s.challenger() == version ? 0 : s.challenger(),
                            s.challengerSinceMs(), rejected);
                }, null);
            }
            case ROLLOUT_ACTION_CLEAR_REJECTED -> {
                return apply(model, actor, label(asked), 0, 0, evidence, RolloutState::clearRejected, null);
            }
            default -> throw new IllegalArgumentException("action must be promote, rollback, set_champion or "
                    + "clear_rejected, got '" + action + "'");
        }
    }

    private static final String ACTION_PREFIX = "ROLLOUT_ACTION_";

    /** An action as the API and the audit log write it: its name without the prefix, lower case ("set_champion"). */
    static String label(RolloutAction a) {
        return a.name().substring(ACTION_PREFIX.length()).toLowerCase(java.util.Locale.ROOT);
    }

    /** The action {@code label} names, or UNSPECIFIED when it names none. */
    static RolloutAction action(String label) {
        for (RolloutAction a : RolloutAction.values()) {
            if (a != RolloutAction.UNRECOGNIZED && a != RolloutAction.ROLLOUT_ACTION_UNSPECIFIED
                    && label(a).equals(label)) {
                return a;
            }
        }
        return RolloutAction.ROLLOUT_ACTION_UNSPECIFIED;
    }

    /** The model's rollout as the API reports it. */
    public RolloutStatus status(String model) {
        ModelEntry e = repository.model(model);
        if (e == null) {
            throw new java.util.NoSuchElementException("model '" + model + "' is not in the repository");
        }
        ModelConfigs.Rollout mode = ModelConfigs.rolloutMode(e.config());
        RolloutStatus.Builder b = RolloutStatus.newBuilder().setModelName(model).setMode(ModelConfigs.label(
                mode == null ? RolloutMode.ROLLOUT_MODE_OFF : mode.mode()));
        ModelEntry.Rollout r = e.rollout();
        if (r != null) {
            b.setChampion(r.champion() == null ? "" : r.champion().versionLabel())
                    .setChallenger(r.challenger() == null ? "" : r.challenger().versionLabel())
                    .setChallengerWeight(r.mode() == RolloutMode.ROLLOUT_MODE_CANARY && r.challenger() != null
                            ? r.weight() : 0);
        } else if (e.latest() != null) {
            b.setChampion(e.latest().versionLabel());
        }
        RolloutState s = repository.rollouts().get(model);
        b.setChallengerSinceMs(s.challengerSinceMs()).setJudge(pool == null || pool.judging());
        s.rejected().forEach(v -> b.addRejected(Long.toString(v)));
        Judged j = last.get(model);
        if (j != null) {
            b.setLastDecision(RolloutDecision.label(j.result().verdict()))
                    .addAllLastReasons(j.result().reasons())
                    .setLastChampion(arm(j.championVersion(), j.champion(), j.result().championP99Ms(),
                            j.championAuc()))
                    .setLastChallenger(arm(j.challengerVersion(), j.challenger(), j.result().challengerP99Ms(),
                            j.challengerAuc()))
                    .setLastScorePsi(j.result().scorePsi());
        }
        return b.build();
    }

    private static ArmEvidence arm(String version, ArmRecorder.Window w, double p99, double auc) {
        return ArmEvidence.newBuilder().setVersion(version).setRequests(w.requests()).setErrors(w.errors())
                .setErrorRate(w.errorRate()).setP99Ms(p99).setAuc(auc).build();
    }

    @Override
    public void close() {
        timer.shutdownNow();
        if (pool != null) {
            pool.close();
        }
    }
}
