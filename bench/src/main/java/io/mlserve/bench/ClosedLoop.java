package io.mlserve.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.StreamObserver;
import io.mlserve.datagen.ChurnDataGenerator;
import io.mlserve.datagen.ChurnFiles;
import io.mlserve.datagen.ChurnSchema;
import io.mlserve.drift.DriftDetector;
import io.mlserve.featurecache.FeatureSpec;
import io.mlserve.featurecache.FeatureType;
import io.mlserve.featurecache.FeatureView;
import io.mlserve.proto.v1.DriftEvent;
import io.mlserve.proto.v1.FeatureRecord;
import io.mlserve.proto.v1.FeatureServiceGrpc;
import io.mlserve.proto.v1.FeatureValue;
import io.mlserve.proto.v1.Job;
import io.mlserve.proto.v1.JobState;
import io.mlserve.proto.v1.Outcome;
import io.mlserve.proto.v1.OutcomeServiceGrpc;
import io.mlserve.proto.v1.PredictRequest;
import io.mlserve.proto.v1.PredictResponse;
import io.mlserve.proto.v1.PredictionServiceGrpc;
import io.mlserve.proto.v1.ReportOutcomesRequest;
import io.mlserve.proto.v1.WriteFeaturesRequest;
import io.mlserve.server.MlServer;
import io.mlserve.server.ServerOptions;
import io.mlserve.server.drift.DriftListener;
import io.mlserve.server.drift.DriftMonitor;
import io.mlserve.server.repository.ModelEntry;
import io.mlserve.server.retrain.RetrainOptions;
import io.mlserve.server.retrain.RetrainStatus;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * The closed loop on a simulated clock, with real components: the generator's stream (first year = what v1 is
 * trained on; the rest replayed), {@code ./mlserve train} (Spark, its own JVM) for v1, the trainer service (its own
 * JVM) for retraining, and one in-process server whose clock follows the replay. Every streamed record is written
 * to the feature store (gRPC WriteFeatures) and predicted by entity (gRPC Predict) twice: by {@value #MODEL}, the
 * loop (drift monitoring, live quality from delayed outcomes, retrain on alerts, canary, promotion or rollback, all
 * the server's own machinery) and by {@value #STATIC}, the conventional setup (v1's artifact, trained once, no
 * monitoring). Outcomes are reported {@code labelDelayDays} simulated days after each prediction. While the trainer
 * runs a job the replay waits (the simulated clock stands still: retraining costs its wall time, not days).
 *
 * <p>What is recorded is what a client and an operator see: every score and the version that gave it, every judged
 * drift window and alert, jobs and rollout changes; {@link LoopReport} turns it into the numbers and the chart.
 */
final class ClosedLoop {
    static final String MODEL = "churn";
    static final String STATIC = "churn_static";
    static final String VIEW = "customer";
    static final long DAY = 86_400_000L;
    static final int WIDTH = ChurnSchema.COLUMNS.size();

    /** How to run. */
    record Options(long rows, int years, long seed, int labelDelayDays, int trainDays, int windowRows,
                   int cooldownDays, String algorithm, String sparkMaster, int concurrency, Path work) {
        Options {
            if (years < 2) {
                throw new IllegalArgumentException("--years must be at least 2 (one to train v1 on, then the replay)");
            }
            if (labelDelayDays < 0 || trainDays < 30 || windowRows < 100 || concurrency < 1 || cooldownDays < 0) {
                throw new IllegalArgumentException("need --label-delay-days >= 0, --train-days >= 30, "
                        + "--window >= 100, --cooldown-days >= 0, --concurrency >= 1");
            }
        }
    }

    /** Something that happened, on both clocks. */
    record Mark(long simMs, long wallMs, String kind, String text) {
    }

    /** A judged drift window of the loop's model. */
    record Window(String version, long startMs, long endMs, long rows, boolean drifted, boolean alertRaised,
                  List<String> features) {
    }

    /** A retraining job as the bridge reported it, with the simulated time of the alert that started it. */
    record Retrain(String eventKind, long eventSimMs, long eventWallMs, Job job, long promotedSimMs,
                   long promotedWallMs, String rolloutOutcome) {
    }

    final Options options;
    final PrintStream out;
    final boolean progressLine;

    // the stream, in event-time order
    int n;
    long[] time;
    int[] customer;
    float[] x; // n × WIDTH: numbers (NaN missing), category codes (-1 missing)
    byte[] label;
    int streamFrom;
    List<ChurnDataGenerator.Drift> drifts;

    // what the replay saw, per streamed row (index - streamFrom)
    float[] loopScore;
    int[] loopVersion;
    float[] staticScore;
    final Recorder latency = new Recorder(3);
    final AtomicLong errors = new AtomicLong();
    final List<Mark> timeline = Collections.synchronizedList(new ArrayList<>());
    final List<Window> windows = Collections.synchronizedList(new ArrayList<>());
    final List<DriftEvent> alerts = Collections.synchronizedList(new ArrayList<>());
    final List<Retrain> retrains = new ArrayList<>();
    Histogram latencyTotal;
    double replayWallSeconds;
    double pausedWallSeconds;
    double v1TrainSeconds;
    double v1HoldoutAuc = Double.NaN;
    long predictCalls;

    private volatile MlServer server;
    private volatile boolean preparing;
    private final AtomicInteger slices = new AtomicInteger();

    ClosedLoop(Options options, PrintStream out, boolean progressLine) {
        this.options = options;
        this.out = out;
        this.progressLine = progressLine;
    }

    Path registry() {
        return options.work().resolve("models");
    }

    /** Runs the whole loop; the result is in this object's fields. */
    ClosedLoop run() throws Exception {
        Files.createDirectories(options.work());
        long t0 = System.nanoTime();
        generate();
        step("generated %,d records over %d years (seed %d) in %.1f s; replaying %,d from %s", n, options.years(),
                options.seed(), (System.nanoTime() - t0) / 1e9, n - streamFrom, date(time[streamFrom]));

        Path registry = registry();
        deleteTree(registry);
        writeSlice(time[0], time[streamFrom]);
        t0 = System.nanoTime();
        Process train = io.mlserve.server.cli.TrainerProcess.start(options.work().resolve("train-v1.log"), "TrainMain", "--data",
                trainData().toString(), "--registry", registry.toString(), "--spark-master", options.sparkMaster(),
                "--algorithm", options.algorithm(), "--grid", "");
        if (!train.waitFor(1, TimeUnit.HOURS) || train.exitValue() != 0) {
            throw new IllegalStateException("training v1 failed: see " + options.work().resolve("train-v1.log"));
        }
        v1TrainSeconds = (System.nanoTime() - t0) / 1e9;
        JsonNode meta = new ObjectMapper().readTree(registry.resolve(MODEL + "/1/metadata.json").toFile());
        v1HoldoutAuc = meta.path("metrics").path("holdout_auc").asDouble(Double.NaN);
        step("trained v1 with Spark (%s, %s) on the first year in %.1f s: holdout AUC %.4f", options.algorithm(),
                options.sparkMaster(), v1TrainSeconds, v1HoldoutAuc);
        configure(registry);

        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path trainerLog = options.work().resolve("trainer.log");
        Process trainer = io.mlserve.server.cli.TrainerProcess.start(trainerLog, "TrainerMain", "--host", "127.0.0.1", "--port",
                Integer.toString(port), "--registry", registry.toString(), "--data", trainData().toString(),
                "--spark-master", options.sparkMaster());
        try {
            ServerOptions so = ServerOptions.ephemeral(registry)
                    .withFeatureViews(options.work().resolve("features"), List.of(view()))
                    .withRetrain(RetrainOptions.defaults("127.0.0.1:" + port).withPoll(Duration.ofMillis(200)));
            deleteTree(options.work().resolve("features"));
            try (MlServer s = MlServer.start(so)) {
                server = s;
                s.clock().simulate(time[streamFrom]);
                s.addDriftListener(listener());
                step("server up (gRPC :%d, metrics :%d) serving %s v1 (the loop) and %s v1 (trained once, no "
                        + "monitoring); trainer service on :%d", s.grpcPort(), s.metricsPort(), MODEL, STATIC, port);
                replay(s, trainer, trainerLog);
            } finally {
                server = null;
            }
        } finally {
            trainer.destroy();
            trainer.waitFor(60, TimeUnit.SECONDS);
        }
        return this;
    }

    private void generate() throws Exception {
        ChurnDataGenerator gen = new ChurnDataGenerator(new ChurnDataGenerator.Options(options.rows(),
                options.years(), options.seed()));
        drifts = gen.driftList();
        n = Math.toIntExact(options.rows());
        time = new long[n];
        customer = new int[n];
        x = new float[n * WIDTH];
        label = new byte[n];
        // category codes as the feature store stores them
        io.mlserve.featurecache.CategoryCodes codes = new io.mlserve.featurecache.CategoryCodes(view());
        int[] i = {0};
        gen.stream(row -> {
            int r = i[0]++;
            time[r] = row.eventTime();
            customer[r] = Integer.parseInt(row.customerId().substring(2));
            for (int c = 0; c < WIDTH; c++) {
                ChurnSchema.Column col = ChurnSchema.COLUMNS.get(c);
                if (col.categorical()) {
                    String v = row.category(c);
                    x[r * WIDTH + c] = v == null ? -1 : codes.code(c, v);
                } else {
                    double v = row.number(c);
                    // the data set's precision (ChurnFiles writes four decimals): served and trained values agree
                    x[r * WIDTH + c] = Double.isNaN(v) ? Float.NaN : (float) (Math.round(v * 10_000) / 10_000.0);
                }
            }
            label[r] = (byte) row.churned();
        });
        long cut = ChurnDataGenerator.START_MS + 365 * DAY;
        streamFrom = 0;
        while (streamFrom < n && time[streamFrom] < cut) {
            streamFrom++;
        }
        int m = n - streamFrom;
        loopScore = new float[m];
        loopVersion = new int[m];
        staticScore = new float[m];
    }

    /** The feature view: numbers default to NaN (missing), as the trainer's imputation expects. */
    static FeatureView view() {
        List<FeatureSpec> f = new ArrayList<>();
        for (ChurnSchema.Column c : ChurnSchema.COLUMNS) {
            f.add(c.categorical() ? new FeatureSpec(c.name(), FeatureType.CATEGORICAL, c.vocabulary(), 0, -1)
                    : FeatureSpec.numeric(c.name(), Double.NaN));
        }
        return new FeatureView(VIEW, "customer_id", FeatureView.KeyType.STRING, f, Duration.ofDays(400), 4_000_000,
                false);
    }

    private Path trainData() {
        return options.work().resolve("train");
    }

    /**
     * Writes the records with event time in [from, to) as a data set (data.parquet) into a new directory and points
     * {@code work/train} (what the trainer reads) at it; the previous slice stays for a job still reading it.
     */
    private synchronized void writeSlice(long from, long to) throws IOException {
        Path dir = options.work().resolve("slices").resolve(Integer.toString(slices.getAndIncrement()));
        deleteTree(dir);
        String[] cats = new String[WIDTH - ChurnSchema.NUMERIC.size()];
        double[] num = new double[ChurnSchema.NUMERIC.size()];
        try (ChurnFiles files = new ChurnFiles(dir)) {
            for (int r = 0; r < n && time[r] < to; r++) {
                if (time[r] < from) {
                    continue;
                }
                for (int c = 0; c < WIDTH; c++) {
                    float v = x[r * WIDTH + c];
                    ChurnSchema.Column col = ChurnSchema.COLUMNS.get(c);
                    if (col.categorical()) {
                        cats[c - num.length] = v < 0 ? null : col.vocabulary().get((int) v);
                    } else {
                        num[c] = v;
                    }
                }
                files.write(time[r], "c-" + customer[r], num, cats, label[r]);
            }
        }
        Path link = trainData();
        Path tmp = options.work().resolve("train.tmp-link");
        Files.deleteIfExists(tmp);
        Files.createSymbolicLink(tmp, dir.toAbsolutePath());
        Files.move(tmp, link, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /** The loop's config (retrain on alerts, drift and quality settings, canary) and the conventional copy of v1. */
    private void configure(Path registry) throws IOException {
        ObjectMapper json = new ObjectMapper();
        Path cfgFile = registry.resolve(MODEL + "/config.json");
        ObjectNode cfg = (ObjectNode) json.readTree(cfgFile.toFile());
        // every version stays loaded while it may be needed (champion, challenger); the rollout decides who serves
        cfg.putObject("version_policy").putObject("latest").put("num_versions", 2);
        // the cooldown is in the server's (simulated) time: by default at most one retrain a month
        ObjectNode retrain = cfg.putObject("retrain").put("enabled", true)
                .put("cooldown_seconds", Math.max(1, options.cooldownDays() * 86_400));
        retrain.putObject("train").put("algorithm", options.algorithm()).put("grid", "");
        // two drifted features make dataset drift (bench/RESULTS.md §11); a standing alert asks again every 20 windows
        cfg.putObject("drift").put("window_rows", options.windowRows()).put("dataset_share", 0.04)
                .put("renotify_windows", 20);
        long judgeDays = options.labelDelayDays() + 7L;
        cfg.putObject("rollout").put("mode", "canary").put("challenger_weight", 0.5)
                .put("window_seconds", judgeDays * 86_400).put("min_requests", 300)
                // a retrained model is meant to score differently after drift: its AUC on outcomes decides
                .put("max_score_psi", 10.0).put("max_auc_drop", 0.02);
        json.writerWithDefaultPrettyPrinter().writeValue(cfgFile.toFile(), cfg);

        Path fixed = registry.resolve(STATIC);
        Files.createDirectories(fixed.resolve("1"));
        try (Stream<Path> files = Files.list(registry.resolve(MODEL + "/1"))) {
            for (Path f : files.toList()) {
                Files.copy(f, fixed.resolve("1").resolve(f.getFileName()));
            }
        }
        ObjectNode fixedCfg = (ObjectNode) json.readTree(cfgFile.toFile());
        fixedCfg.put("name", STATIC);
        fixedCfg.remove(List.of("retrain", "rollout"));
        fixedCfg.putObject("drift").put("disabled", true);
        json.writerWithDefaultPrettyPrinter().writeValue(fixed.resolve("config.json").toFile(), fixedCfg);
    }

    private DriftListener listener() {
        return new DriftListener() {
            @Override
            public void window(String model, String version, DriftDetector.Report r) {
                if (MODEL.equals(model) && r.judged()) {
                    windows.add(new Window(version, r.startMs(), r.endMs(), r.rows(), r.drifted(), r.alertRaised(),
                            r.features().entrySet().stream().filter(e -> e.getValue().drifted()).map(Map.Entry::getKey)
                                    .sorted().toList()));
                }
            }

            @Override
            public void alert(DriftEvent e) {
                if (!MODEL.equals(e.getModelName())) {
                    return;
                }
                alerts.add(e);
                if (!DriftMonitor.STILL_RAISED.equals(e.getDetail())) {
                    // (a standing alert handed on again is not news: the timeline shows when it was raised)
                    mark(e.getDetectedMs(), "alert", String.format(Locale.ROOT, "%s alert on v%s: %s", e.getKind(),
                            e.getModelVersion(), e.getFeaturesCount() > 0 ? String.join(", ", e.getFeaturesList())
                                    : e.getDetail()));
                }
                MlServer s = server;
                RetrainStatus st = s == null || s.retrain() == null ? null : s.retrain().status(MODEL);
                if (st != null && (!"idle".equals(st.phase()) && !"cooldown".equals(st.phase())
                        || e.getDetectedMs() < st.cooldownUntilMs())) {
                    // a job is in flight (its data must stay put) or the model is cooling down: no job will start
                    return;
                }
                // the data a retrain can use now: labelled records up to the label delay, the last trainDays of them
                // (the replay waits meanwhile, as it does while the trainer works)
                long known = e.getDetectedMs() - options.labelDelayDays() * DAY;
                preparing = true;
                try {
                    writeSlice(known - options.trainDays() * DAY, known);
                } catch (IOException ex) {
                    mark(e.getDetectedMs(), "error", "could not write the training slice: " + ex);
                } finally {
                    preparing = false;
                }
            }
        };
    }

    private void replay(MlServer s, Process trainer, Path trainerLog) throws Exception {
        ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", s.grpcPort()).usePlaintext()
                .maxInboundMessageSize(64 << 20).build();
        try {
            FeatureServiceGrpc.FeatureServiceBlockingStub features = FeatureServiceGrpc.newBlockingStub(channel);
            OutcomeServiceGrpc.OutcomeServiceBlockingStub outcomes = OutcomeServiceGrpc.newBlockingStub(channel);
            PredictionServiceGrpc.PredictionServiceStub predict = PredictionServiceGrpc.newStub(channel);
            Semaphore inFlight = new Semaphore(options.concurrency());
            int batch = 200;
            int nextOutcome = streamFrom;
            long delay = options.labelDelayDays() * DAY;
            long started = System.nanoTime();
            long paused = 0;
            long lastProgress = 0;
            String champion = "1";
            String challenger = null;
            JobState lastJobState = null;
            Map<String, Retrain> open = new HashMap<>();
            Set<Integer> inBatch = new HashSet<>();
            for (int from = streamFrom, to; from < n; from = to) {
                // a batch ends before a customer repeats, and starts once the previous one is answered: every
                // prediction reads exactly the features of its own record (what the skew check compares)
                inBatch.clear();
                to = from;
                while (to < n && to - from < batch && inBatch.add(customer[to])) {
                    to++;
                }
                inFlight.acquire(options.concurrency());
                inFlight.release(options.concurrency());
                while (preparing) {
                    Thread.sleep(5);
                }
                // while the trainer works, the simulated clock stands still
                RetrainStatus st = s.retrain().status(MODEL);
                if (st != null && isBusy(st)) {
                    long p0 = System.nanoTime();
                    inFlight.acquire(options.concurrency());
                    inFlight.release(options.concurrency());
                    while (isBusy(st = s.retrain().status(MODEL))) {
                        if (!trainer.isAlive()) {
                            throw new IllegalStateException("the trainer stopped: see " + trainerLog);
                        }
                        lastJobState = jobChanged(st, lastJobState, open);
                        progress(from, started, paused, champion, challenger, true);
                        Thread.sleep(50);
                    }
                    paused += System.nanoTime() - p0;
                }
                if (st != null) {
                    lastJobState = jobChanged(st, lastJobState, open);
                }
                long now = time[from];
                s.clock().simulate(now);
                ReportOutcomesRequest.Builder ob = ReportOutcomesRequest.newBuilder();
                while (nextOutcome < from && time[nextOutcome] + delay <= now) {
                    int r = nextOutcome++;
                    ob.addOutcomes(Outcome.newBuilder().setEntityId("c-" + customer[r]).setRequestId("r" + r)
                            .setObservedEventTimeMs(time[r]).setEventTimeMs(time[r] + delay).setLabel(label[r]));
                    if (ob.getOutcomesCount() == 1000) {
                        outcomes.withDeadlineAfter(30, TimeUnit.SECONDS).reportOutcomes(ob.build());
                        ob.clear();
                    }
                }
                if (ob.getOutcomesCount() > 0) {
                    outcomes.withDeadlineAfter(30, TimeUnit.SECONDS).reportOutcomes(ob.build());
                }
                WriteFeaturesRequest.Builder wb = WriteFeaturesRequest.newBuilder().setView(VIEW);
                for (int r = from; r < to; r++) {
                    wb.addRecords(record(r));
                }
                features.withDeadlineAfter(30, TimeUnit.SECONDS).writeFeatures(wb.build());
                for (int r = from; r < to; r++) {
                    inFlight.acquire(2);
                    send(predict, inFlight, r, MODEL, "r" + r);
                    send(predict, inFlight, r, STATIC, "s" + r);
                }
                // rollout changes as the server applies them
                ModelEntry.Rollout ro = s.repository().model(MODEL).rollout();
                if (ro != null && ro.champion() != null) {
                    String champ = ro.champion().versionLabel();
                    String chall = ro.challenger() == null ? null : ro.challenger().versionLabel();
                    if (!champ.equals(champion)) {
                        mark(now, "promote", "v" + champ + " promoted to champion (v" + champion + " retired)");
                        closeRetrain(open, champ, now, true);
                    } else if (challenger != null && chall == null) {
                        mark(now, "rollback", "v" + challenger + " rolled back; v" + champ + " stays champion");
                        closeRetrain(open, challenger, now, false);
                    }
                    if (chall != null && !chall.equals(challenger)) {
                        mark(now, "canary", "v" + chall + " canary starts: 50 % of entities, judged on AUC after "
                                + (options.labelDelayDays() + 7) + " days");
                    }
                    champion = champ;
                    challenger = chall;
                }
                long t = System.nanoTime();
                if (t - lastProgress > 500_000_000L) {
                    lastProgress = t;
                    progress(to, started, paused, champion, challenger, false);
                }
            }
            inFlight.acquire(options.concurrency());
            inFlight.release(options.concurrency());
            replayWallSeconds = (System.nanoTime() - started) / 1e9;
            pausedWallSeconds = paused / 1e9;
            progress(n, started, paused, champion, challenger, false);
            if (progressLine) {
                out.println();
            }
            latencyTotal = latency.getIntervalHistogram();
            for (Retrain r : open.values()) {
                retrains.add(r);
            }
            retrains.sort((a, b) -> Long.compare(a.eventWallMs(), b.eventWallMs()));
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    private static boolean isBusy(RetrainStatus st) {
        return st != null && ("delivering".equals(st.phase()) || "queued".equals(st.phase())
                || "running".equals(st.phase()));
    }

    /** Notes a job's state changes in the timeline; returns the state now. */
    private JobState jobChanged(RetrainStatus st, JobState last, Map<String, Retrain> open) {
        Job j = st.job();
        if (j == null || j.getState() == last) {
            return last;
        }
        long sim = server.clock().now();
        DriftEvent ev = st.lastEvent();
        switch (j.getState()) {
            case RUNNING -> mark(sim, "retrain", String.format(Locale.ROOT, "retraining (%s, job %s) on the last %d "
                    + "days of labelled records", ev == null ? "?" : ev.getKind(), j.getJobId(), options.trainDays()));
            case SUCCEEDED -> {
                mark(sim, "published", String.format(Locale.ROOT, "v%d published: holdout AUC %.4f vs champion "
                        + "%.4f (trained in %.1f s)", j.getResult().getVersion(), j.getResult().getCandidateAuc(),
                        j.getResult().getChampionAuc(), (j.getFinishedMs() - j.getStartedMs()) / 1e3));
                open.put(Long.toString(j.getResult().getVersion()), new Retrain(ev == null ? "?" : ev.getKind().name(),
                        ev == null ? sim : ev.getDetectedMs(), j.getSubmittedMs(), j, -1, -1, "pending"));
            }
            case REJECTED, FAILED -> {
                mark(sim, "rejected", "job " + j.getJobId() + " " + j.getState() + ": " + j.getMessage());
                retrains.add(new Retrain(ev == null ? "?" : ev.getKind().name(), ev == null ? sim : ev.getDetectedMs(),
                        j.getSubmittedMs(), j, -1, -1, j.getState().name().toLowerCase(Locale.ROOT)));
            }
            default -> {
            }
        }
        return j.getState();
    }

    private void closeRetrain(Map<String, Retrain> open, String version, long sim, boolean promoted) {
        Retrain r = open.remove(version);
        if (r != null) {
            retrains.add(new Retrain(r.eventKind(), r.eventSimMs(), r.eventWallMs(), r.job(), promoted ? sim : -1,
                    promoted ? System.currentTimeMillis() : -1, promoted ? "promoted" : "rolled back after "
                    + String.format(Locale.ROOT, "%.1f d", (sim - r.eventSimMs()) / (double) DAY)));
        }
    }

    private FeatureRecord record(int r) {
        FeatureRecord.Builder b = FeatureRecord.newBuilder().setEntityId("c-" + customer[r]).setEventTimeMs(time[r]);
        for (int c = 0; c < WIDTH; c++) {
            float v = x[r * WIDTH + c];
            ChurnSchema.Column col = ChurnSchema.COLUMNS.get(c);
            if (col.categorical()) {
                if (v >= 0) {
                    b.putValues(col.name(), FeatureValue.newBuilder().setCategory(col.vocabulary().get((int) v))
                            .build());
                }
            } else if (!Float.isNaN(v)) {
                b.putValues(col.name(), FeatureValue.newBuilder().setNumber(v).build());
            }
        }
        return b.build();
    }

    private void send(PredictionServiceGrpc.PredictionServiceStub stub, Semaphore inFlight, int r, String model,
                      String id) {
        long t0 = System.nanoTime();
        int at = r - streamFrom;
        stub.withDeadlineAfter(30, TimeUnit.SECONDS).predict(PredictRequest.newBuilder().setModelName(model)
                .addEntityIds("c-" + customer[r]).setId(id).build(), new StreamObserver<>() {
                    @Override
                    public void onNext(PredictResponse resp) {
                        float score = (float) resp.getPredictions(0).getScore();
                        if (MODEL.equals(model)) {
                            latency.recordValue(Math.max(1, (System.nanoTime() - t0) / 1000));
                            loopScore[at] = score;
                            loopVersion[at] = Integer.parseInt(resp.getModelVersion());
                        } else {
                            staticScore[at] = score;
                        }
                    }

                    @Override
                    public void onError(Throwable t) {
                        errors.incrementAndGet();
                        if (MODEL.equals(model)) {
                            loopScore[at] = Float.NaN;
                        } else {
                            staticScore[at] = Float.NaN;
                        }
                        inFlight.release();
                    }

                    @Override
                    public void onCompleted() {
                        inFlight.release();
                    }
                });
        predictCalls++;
    }

    private void progress(int at, long started, long paused, String champion, String challenger, boolean training) {
        double share = (double) (at - streamFrom) / (n - streamFrom);
        String line = String.format(Locale.ROOT, "[%-30s] %5.1f %%  %s  champion v%s%s  alerts %d  %s  %.0f s",
                "=".repeat((int) Math.round(share * 30)), share * 100, date(at < n ? time[at] : time[n - 1]), champion,
                challenger == null ? "" : ", canary v" + challenger, alerts.size(), training ? "retraining..."
                        : "replaying   ", (System.nanoTime() - started) / 1e9);
        if (progressLine) {
            out.print("\r" + line);
            return;
        }
        // a log, not a terminal: a line per tenth of the replay
        int tenth = (int) (share * 10);
        if (!training && tenth != lastTenth) {
            lastTenth = tenth;
            out.println(line);
        }
    }

    private int lastTenth = -1;

    private void step(String format, Object... args) {
        if (progressLine) {
            out.print("\r");
        }
        out.println("• " + String.format(Locale.ROOT, format, args));
    }

    private void mark(long simMs, String kind, String text) {
        timeline.add(new Mark(simMs, System.currentTimeMillis(), kind, text));
        if (progressLine) {
            out.print("\r" + " ".repeat(110) + "\r");
        }
        out.println("  " + date(simMs) + "  " + text);
    }

    static String date(long ms) {
        return LocalDate.ofInstant(Instant.ofEpochMilli(ms), ZoneOffset.UTC).toString();
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(p)) {
            for (Path f : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(f);
            }
        }
    }

    /** The non-recurring drifts (what monitoring should find). */
    List<ChurnDataGenerator.Drift> realDrifts() {
        return drifts.stream().filter(d -> !d.recurring()).toList();
    }
}
