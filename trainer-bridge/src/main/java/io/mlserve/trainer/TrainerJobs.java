package io.mlserve.trainer;

import io.mlserve.proto.v1.GetJobRequest;
import io.mlserve.proto.v1.Job;
import io.mlserve.proto.v1.JobKind;
import io.mlserve.proto.v1.JobRequest;
import io.mlserve.proto.v1.JobState;
import io.mlserve.proto.v1.ListJobsRequest;
import io.mlserve.proto.v1.ListJobsResponse;
import io.mlserve.proto.v1.SubmitJobResponse;
import io.mlserve.proto.v1.TrainResult;
import io.mlserve.proto.v1.TrainSpec;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The trainer's jobs: accepted from gRPC and Kafka, run one at a time in submission order on one worker
 * thread, and kept (the last {@code history} finished ones) for GetJob/ListJobs.
 *
 * <p>Deduplication: a request whose request_id is already known returns that job; a request for a model that
 * already has a QUEUED or RUNNING job returns that job (at most one job per model at a time). Both answers say
 * {@code deduplicated}. Requests are validated completely before they are queued: a bad one is refused with an
 * {@link IllegalArgumentException} and leaves no job behind.
 */
public final class TrainerJobs implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TrainerJobs.class);

    private final Path registry;
    private Publication publication = Publication.LOCAL;
    private final Defaults defaults;
    private final String master;
    private final int history;
    private final ExecutorService worker;
    private final String runId = Long.toString(System.currentTimeMillis(), 36);
    private final AtomicLong sequence = new AtomicLong();
    // guarded by this: jobs by id in submission order, and request ids → job ids
    private final Map<String, Job> jobs = new java.util.LinkedHashMap<>();
    private final Map<String, String> byRequest = new HashMap<>();
    private final Deque<String> finished = new ArrayDeque<>();
    private boolean closed;

    /**
     * What a job that leaves them out trains on.
     *
     * @param data   the data directory (may be null)
     * @param config the server config file naming the feature view (may be null)
     * @param view   the view in it (null: its only view)
     */
    public record Defaults(Path data, Path config, String view) {
        public static final Defaults NONE = new Defaults(null, null, null);
    }

    /**
     * @param registry    the model repository jobs publish into
     * @param defaults    what jobs that name no data or schema use
     * @param master      the Spark master every job uses
     * @param history     finished jobs kept for GetJob/ListJobs
     */
    /** Where versions go besides the registry directory (see {@link MlflowPublication}). */
    public TrainerJobs withPublication(Publication p) {
        this.publication = p;
        return this;
    }

    public TrainerJobs(Path registry, Defaults defaults, String master, int history) {
        if (history < 1) {
            throw new IllegalArgumentException("history must be at least 1, got " + history);
        }
        this.registry = registry;
        this.defaults = defaults;
        this.master = master;
        this.history = history;
        this.worker = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "mlserve-trainer-job");
            t.setDaemon(true);
            return t;
        });
    }

    /** Validates and queues {@code request}; {@code source} ("grpc", "kafka") is recorded on the job. */
    public synchronized SubmitJobResponse submit(JobRequest request, String source) {
        if (closed) {
            throw new IllegalStateException("the trainer is stopping");
        }
        String known = request.getRequestId().isEmpty() ? null : byRequest.get(request.getRequestId());
        if (known != null && jobs.containsKey(known)) {
            return SubmitJobResponse.newBuilder().setJob(jobs.get(known)).setDeduplicated(true).build();
        }
        for (Job j : jobs.values()) {
            if (j.getRequest().getModelName().equals(request.getModelName()) && active(j.getState())
                    && (j.getRequest().getKind() == JobKind.SCORE) == (request.getKind() == JobKind.SCORE)) {
                if (!request.getRequestId().isEmpty()) {
                    byRequest.put(request.getRequestId(), j.getJobId());
                }
                return SubmitJobResponse.newBuilder().setJob(j).setDeduplicated(true).build();
            }
        }
        boolean scoring = request.getKind() == JobKind.SCORE;
        TrainingPlan plan = scoring ? null : plan(request);
        SparkScorer.Encoding encoding = scoring ? encoding(request) : null;
        String id = runId + "-" + sequence.incrementAndGet();
        JobRequest stored = request.getRequestId().isEmpty() ? request.toBuilder().setRequestId(id).build() : request;
        Job job = Job.newBuilder().setJobId(id).setRequest(stored).setState(JobState.QUEUED).setSource(source)
                .setSubmittedMs(System.currentTimeMillis()).build();
        jobs.put(id, job);
        byRequest.put(stored.getRequestId(), id);
        try {
            worker.execute(() -> {
                if (scoring) {
                    score(id, request.getScore(), encoding);
                } else {
                    run(id, plan);
                }
            });
        } catch (RejectedExecutionException e) {
            jobs.remove(id);
            byRequest.remove(stored.getRequestId());
            throw new IllegalStateException("the trainer is stopping");
        }
        if (scoring) {
            LOG.info("job {} queued ({}): score {} on {} into {}; reason: {}", id, source, request.getModelName(),
                    request.getScore().getData(), request.getScore().getOut(),
                    request.getReason().isEmpty() ? "-" : request.getReason());
        } else {
            LOG.info("job {} queued ({}): train {} with {} on {}; reason: {}", id, source, request.getModelName(),
                    plan.algorithm(), plan.source().describe(), request.getReason().isEmpty() ? "-" : request.getReason());
        }
        return SubmitJobResponse.newBuilder().setJob(job).build();
    }

    /** A SCORE job's encoding, checked before it is queued. */
    private static SparkScorer.Encoding encoding(JobRequest r) {
        io.mlserve.proto.v1.ScoreSpec s = r.getScore();
        if (s.getData().isEmpty() || s.getOut().isEmpty() || s.getEncoding().isEmpty()) {
            throw new IllegalArgumentException("score.data, score.out and score.encoding are required for SCORE");
        }
        if (s.getBatch() < 0) {
            throw new IllegalArgumentException("score.batch must not be negative");
        }
        SparkScorer.Encoding e;
        try {
            e = SparkScorer.Encoding.parse(s.getEncoding());
        } catch (java.io.IOException | RuntimeException ex) {
            throw new IllegalArgumentException("score.encoding: " + ex.getMessage());
        }
        if (!e.model().equals(r.getModelName())) {
            throw new IllegalArgumentException("score.encoding is for model '" + e.model() + "', the job names '"
                    + r.getModelName() + "'");
        }
        if (!java.nio.file.Files.isRegularFile(Path.of(e.modelFile()))) {
            throw new IllegalArgumentException("score.encoding: no model file " + e.modelFile());
        }
        return e;
    }

    private void score(String id, io.mlserve.proto.v1.ScoreSpec spec, SparkScorer.Encoding encoding) {
        synchronized (this) {
            if (closed) {
                return;
            }
            update(id, j -> j.setState(JobState.RUNNING).setStartedMs(System.currentTimeMillis()));
        }
        long start = System.nanoTime();
        try {
            long rows = SparkScorer.run(master, encoding, spec.getData(), spec.getOut(),
                    spec.getBatch() > 0 ? spec.getBatch() : 8192);
            double seconds = (System.nanoTime() - start) / 1e9;
            String message = String.format(java.util.Locale.ROOT, "scored %d rows with version %d in %.1f s -> %s",
                    rows, encoding.version(), seconds, spec.getOut());
            LOG.info("job {}: {}", id, message);
            synchronized (this) {
                update(id, j -> j.setScored(io.mlserve.proto.v1.ScoreResult.newBuilder().setRows(rows)
                        .setSeconds(seconds).setOut(spec.getOut())));
            }
            finish(id, JobState.SUCCEEDED, message, null);
        } catch (Exception | LinkageError e) {
            LOG.error("job {} failed", id, e);
            finish(id, JobState.FAILED, e.toString(), null);
        }
    }

    private TrainingPlan plan(JobRequest r) {
        if (r.getKind() != JobKind.TRAIN && r.getKind() != JobKind.JOB_KIND_UNSPECIFIED) {
            throw new IllegalArgumentException("kind " + r.getKind() + " is not a job this trainer runs (TRAIN, "
                    + "SCORE)");
        }
        TrainSpec t = r.getTrain();
        if (t.getTrees() < 0 || t.getDepth() < 0 || t.getHoldout() < 0 || t.getEpochs() < 0 || t.getFromMs() < 0
                || t.getToMs() < 0 || t.getChampionVersion() < 0) {
            throw new IllegalArgumentException("train.trees, depth, holdout, epochs, from_ms, to_ms and "
                    + "champion_version must not be negative");
        }
        boolean log = t.getData().equals("log");
        String label = log ? TrainingData.LOG_LABEL : t.getLabel();
        TrainingSchema schema;
        if (!t.getSchema().isEmpty()) {
            schema = TrainingSchema.fromEncoding(t.getSchema(), label);
        } else if (defaults.config() != null) {
            try {
                schema = TrainingSchema.fromConfig(defaults.config(), defaults.view(), label);
            } catch (java.io.IOException e) {
                throw new IllegalArgumentException(defaults.config() + ": " + e.getMessage());
            }
        } else {
            throw new IllegalArgumentException("train.schema is empty and the trainer has no --config: name the "
                    + "feature view the model binds");
        }
        TrainingData.Source source;
        if (log) {
            if (t.hasLogKafka() && !t.getLogKafka().getBootstrapServers().isEmpty()) {
                source = new TrainingData.Topics(t.getLogKafka(), r.getModelName(), t.getFromMs(), t.getToMs());
            } else if (t.getLogDir().isEmpty()) {
                throw new IllegalArgumentException("train.data is \"log\" but the job names no log_dir or log_kafka");
            } else {
                source = new TrainingData.Log(Path.of(t.getLogDir()), t.getFromMs(), t.getToMs());
            }
        } else {
            Path data = t.getData().isEmpty() ? defaults.data() : Path.of(t.getData());
            if (data == null) {
                throw new IllegalArgumentException("train.data is empty and the trainer has no --data default");
            }
            source = TrainingData.source(data, t.getFromMs(), t.getToMs());
        }
        return TrainingPlan.of(schema, source, r.getModelName(), new TrainingPlan.Settings(
                t.getAlgorithm().isEmpty() ? "lr" : t.getAlgorithm(), master,
                t.getHoldout() == 0 ? ModelTrainer.DEFAULT_HOLDOUT : t.getHoldout(),
                t.getTrees() == 0 ? ModelTrainer.DEFAULT_TREES : t.getTrees(),
                t.getDepth() == 0 ? ModelTrainer.DEFAULT_DEPTH : t.getDepth(),
                t.hasGateMargin() ? t.getGateMargin() : ModelTrainer.DEFAULT_GATE_MARGIN,
                t.hasThreshold() ? t.getThreshold() : null,
                t.hasGrid() ? t.getGrid() : null, t.getEpochs() == 0 ? ModelTrainer.DEFAULT_EPOCHS : t.getEpochs(),
                t.getBalance().isEmpty() ? "weights" : t.getBalance(),
                t.getBins() == 0 ? ModelTrainer.DEFAULT_BINS : Math.max(0, t.getBins()), t.getChampionVersion(),
                t.hasCostRatio() ? t.getCostRatio() : null));
    }

    private void run(String id, TrainingPlan plan) {
        synchronized (this) {
            if (closed) {
                return;
            }
            update(id, j -> j.setState(JobState.RUNNING).setStartedMs(System.currentTimeMillis()));
        }
        try {
            ModelTrainer.Result r = plan.publishingTo(publication).run(registry);
            TrainResult result = TrainResult.newBuilder().setVersion(r.version()).setPublished(r.published())
                    .setCandidateAuc(r.candidateAuc()).setChampionAuc(r.championAuc())
                    .setMaxAbsDelta(r.maxAbsDelta()).setTrainRows(r.trainRows()).setHoldoutRows(r.holdoutRows())
                    .setLogLoss(r.metrics().logLoss()).setAccuracy(r.metrics().accuracy())
                    .setPrecision(r.metrics().precision()).setRecall(r.metrics().recall())
                    .setThreshold(r.metrics().threshold()).setThresholdRule(r.metrics().thresholdRule())
                    .setSkewChecked(r.skew().checked())
                    .setSkewRows(r.skew().rows()).setSkewMaxAbsDelta(r.skew().maxAbsDelta()).setData(r.data())
                    .setChampionVersion(r.championVersion()).build();
            String message = r.published() ? "published version " + r.version()
                    : String.format(java.util.Locale.ROOT, "quality gate: candidate AUC %.4f < champion %.4f - margin; "
                            + "nothing published", r.candidateAuc(), r.championAuc());
            LOG.info("job {}: {}", id, message);
            finish(id, r.published() ? JobState.SUCCEEDED : JobState.REJECTED, message, result);
        } catch (IllegalArgumentException e) {
            // the job's data or schema: the user's to fix, said in one line
            LOG.error("job {} failed: {}", id, e.getMessage());
            finish(id, JobState.FAILED, e.getMessage(), null);
        } catch (Exception | LinkageError e) {
            LOG.error("job {} failed", id, e);
            finish(id, JobState.FAILED, e.toString(), null);
        }
    }

    private synchronized void finish(String id, JobState state, String message, TrainResult result) {
        update(id, j -> {
            j.setState(state).setMessage(message).setFinishedMs(System.currentTimeMillis());
            if (result != null) {
                j.setResult(result);
            }
        });
        finished.addLast(id);
        while (finished.size() > history) {
            String gone = finished.removeFirst();
            jobs.remove(gone);
            // the job's own request id and every id that was matched to it
            byRequest.values().removeIf(gone::equals);
        }
        notifyAll();
    }

    private void update(String id, java.util.function.Consumer<Job.Builder> change) {
        Job j = jobs.get(id);
        if (j != null) {
            Job.Builder b = j.toBuilder();
            change.accept(b);
            jobs.put(id, b.build());
        }
    }

    /** The job with this id (or, when the id is empty, this request id), or null. */
    public synchronized Job get(GetJobRequest request) {
        String id = request.getJobId().isEmpty() ? byRequest.get(request.getRequestId()) : request.getJobId();
        return id == null ? null : jobs.get(id);
    }

    /** Newest first. */
    public synchronized ListJobsResponse list(ListJobsRequest request) {
        int limit = request.getLimit() > 0 ? request.getLimit() : 100;
        List<Job> all = new ArrayList<>(jobs.values());
        ListJobsResponse.Builder b = ListJobsResponse.newBuilder();
        for (int i = all.size() - 1; i >= 0 && b.getJobsCount() < limit; i--) {
            Job j = all.get(i);
            if ((request.getModelName().isEmpty() || j.getRequest().getModelName().equals(request.getModelName()))
                    && (!request.getActiveOnly() || active(j.getState()))) {
                b.addJobs(j);
            }
        }
        return b.build();
    }

    /** Waits up to {@code timeoutMs} for the job to end; the job as it is then. */
    public synchronized Job await(String jobId, long timeoutMs) throws InterruptedException {
        long end = System.currentTimeMillis() + timeoutMs;
        Job j = jobs.get(jobId);
        while (j != null && active(j.getState()) && System.currentTimeMillis() < end) {
            wait(Math.max(1, end - System.currentTimeMillis()));
            j = jobs.get(jobId);
        }
        return j;
    }

    static boolean active(JobState s) {
        return s == JobState.QUEUED || s == JobState.RUNNING;
    }

    /**
     * Stops taking jobs; queued jobs are marked FAILED; a running job gets {@code graceSeconds} to finish (its
     * version is published by an atomic rename, so stopping it midway never leaves a half-written version).
     */
    public void close(int graceSeconds) {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            for (Iterator<Job> it = List.copyOf(jobs.values()).iterator(); it.hasNext(); ) {
                Job j = it.next();
                if (j.getState() == JobState.QUEUED) {
                    update(j.getJobId(), b -> b.setState(JobState.FAILED).setMessage("the trainer stopped before it ran")
                            .setFinishedMs(System.currentTimeMillis()));
                }
            }
            notifyAll();
        }
        worker.shutdown();
        try {
            if (!worker.awaitTermination(graceSeconds, TimeUnit.SECONDS)) {
                LOG.warn("a job is still running after {} s; stopping without it", graceSeconds);
                worker.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            worker.shutdownNow();
        }
    }

    @Override
    public void close() {
        close(30);
    }
}
