package io.mlserve.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mlserve.app.ServerProcess;
import io.mlserve.app.TrainerProcess;
import io.mlserve.datagen.ChurnDataGenerator;
import io.mlserve.datagen.ChurnSchema;
import io.mlserve.featurecache.CategoryCodes;
import io.mlserve.featurecache.FeatureView;
import io.mlserve.proto.v1.Job;
import io.mlserve.proto.v1.JobState;
import io.mlserve.server.config.ServerConfigFile;
import io.mlserve.server.replay.Replay;
import java.io.IOException;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * The closed loop on a simulated clock, driven only through the product's public interfaces, as a user would
 * replay last year's traffic: the generator writes two years of records; {@code mlserve train} (Spark, its own JVM)
 * fits v1 on the first; the trainer service and {@code mlserve serve --replay-clock --trainer} run as processes;
 * {@link Replay} sends the second year over gRPC — every record written to the feature store and predicted by entity
 * with its event time, by {@value #MODEL} (the loop: drift monitoring, live quality from delayed outcomes, retraining
 * from the server's own training log, canary, promotion or rollback) and by {@value #STATIC} (the conventional setup:
 * v1's artifact, trained once, no monitoring), every outcome reported {@code labelDelayDays} later. While a model
 * retrains the replay waits (the server's clock follows the records, so retraining costs wall time, not days).
 *
 * <p>What is recorded is what a client and an operator see: every answer and the version that gave it, the server's
 * drift history ({@code GET /v1/drift/{m}/history}), its retraining status and rollout ({@code GET /v1/models/{m}},
 * {@code /rollout}); {@link LoopReport} turns them into the numbers and the chart.
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
            if (labelDelayDays < 0 || trainDays < 14 || (windowRows != 0 && windowRows < 100) || concurrency < 1
                    || cooldownDays < 0) {
                throw new IllegalArgumentException("need --label-delay-days >= 0, --train-days >= 14, "
                        + "--window 0 (the default) or >= 100, --cooldown-days >= 0, --concurrency >= 1");
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

    /** A sequential flag of a feature (or "score") raised or ended, as the server's history shows it. */
    record FlagMark(String version, String feature, boolean on, long timeMs) {
    }

    /** A drift or quality alert as the server raised it. */
    record Alert(String kind, String version, long detectedMs, List<String> features, String detail, boolean again) {
    }

    /** A retraining job as the server reported it, with the simulated time of the alert that started it. */
    record Retrain(String eventKind, long eventSimMs, long eventWallMs, Job job, long promotedSimMs,
                   long promotedWallMs, String rolloutOutcome) {
    }

    final Options options;
    final PrintStream out;
    final boolean progressLine;

    // the replayed records, in event-time order (streamFrom = 0: only the replayed year is kept)
    int n;
    final int streamFrom = 0;
    long[] time;
    float[] x; // n × WIDTH as the feature store serves them to the model: numbers (NaN missing), category codes
    byte[] label;
    List<ChurnDataGenerator.Drift> drifts;

    // what the replay saw, per record
    float[] loopScore;
    int[] loopVersion;
    float[] staticScore;
    final Recorder latency = new Recorder(3);
    final AtomicLong errors = new AtomicLong();
    final List<Mark> timeline = Collections.synchronizedList(new ArrayList<>());
    final List<Window> windows = new ArrayList<>();
    final List<Alert> alerts = new ArrayList<>();
    final List<Retrain> retrains = new ArrayList<>();
    final List<FlagMark> flags = new ArrayList<>();
    Histogram latencyTotal;
    double replayWallSeconds;
    double pausedWallSeconds;
    double v1TrainSeconds;
    double v1HoldoutAuc = Double.NaN;
    long predictCalls;

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
        Path work = options.work();
        Files.createDirectories(work);
        long t0 = System.nanoTime();
        Path data = work.resolve("data");
        ChurnDataGenerator gen = new ChurnDataGenerator(new ChurnDataGenerator.Options(options.rows(),
                options.years(), options.seed()));
        gen.generate(data);
        drifts = gen.driftList();
        long cut = ChurnDataGenerator.START_MS + 365 * DAY;
        step("generated %,d records over %d years (seed %d) in %.1f s; replaying from %s", options.rows(),
                options.years(), options.seed(), (System.nanoTime() - t0) / 1e9, date(cut));

        Path registry = registry();
        deleteTree(registry);
        t0 = System.nanoTime();
        Process train = TrainerProcess.start(work.resolve("train-v1.log"), "TrainMain", "--data", data.toString(),
                "--config", data.resolve("mlserve.yaml").toString(), "--view", VIEW, "--label", ChurnSchema.LABEL,
                "--model", MODEL, "--registry", registry.toString(), "--to", Long.toString(cut), "--spark-master",
                options.sparkMaster(), "--algorithm", options.algorithm(), "--grid", "");
        if (!train.waitFor(1, TimeUnit.HOURS) || train.exitValue() != 0) {
            throw new IllegalStateException("training v1 failed: see " + work.resolve("train-v1.log"));
        }
        v1TrainSeconds = (System.nanoTime() - t0) / 1e9;
        JsonNode meta = new ObjectMapper().readTree(registry.resolve(MODEL + "/1/metadata.json").toFile());
        v1HoldoutAuc = meta.path("metrics").path("holdout_auc").asDouble(Double.NaN);
        step("trained v1 with Spark (%s, %s) on the first year in %.1f s: holdout AUC %.4f", options.algorithm(),
                options.sparkMaster(), v1TrainSeconds, v1HoldoutAuc);
        Path config = configure(registry, data);
        FeatureView view = ServerConfigFile.read(config).featureViews().get(0);
        Replay.Records records = Replay.read(data.resolve("data.parquet"), view, ChurnSchema.LABEL, cut, 0);
        keep(records, view);

        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Path trainerLog = work.resolve("trainer.log");
        Process trainer = TrainerProcess.start(trainerLog, "TrainerMain", "--host", "127.0.0.1", "--port",
                Integer.toString(port), "--registry", registry.toString(), "--spark-master", options.sparkMaster());
        deleteTree(work.resolve("server-data"));
        try (ServerProcess server = ServerProcess.start(work.resolve("server.log"), 300, "--config", config.toString(),
                "--replay-clock", "--trainer", "127.0.0.1:" + port, "--audit-log",
                work.resolve("audit.jsonl").toString(), "--repository-poll-secs", "1")) {
            step("server up (gRPC :%d, HTTP :%d; log %s) serving %s v1 (the loop) and %s v1 (trained once, no "
                    + "monitoring); trainer service on :%d", server.grpcPort, server.httpPort, server.log(), MODEL,
                    STATIC, port);
            replay(server, view, records, trainer, trainerLog);
        } finally {
            trainer.destroy();
            trainer.waitFor(60, TimeUnit.SECONDS);
        }
        return this;
    }

    /** The replayed records and their inputs as the store serves them (for the offline skew check). */
    private void keep(Replay.Records r, FeatureView view) {
        n = r.n;
        time = r.time;
        label = r.label;
        x = new float[n * WIDTH];
        CategoryCodes codes = new CategoryCodes(view);
        List<String> names = ChurnSchema.COLUMNS.stream().map(ChurnSchema.Column::name).toList();
        for (int i = 0; i < n; i++) {
            System.arraycopy(Replay.encoded(r, view, codes, names, i), 0, x, i * WIDTH, WIDTH);
        }
        loopScore = new float[n];
        loopVersion = new int[n];
        staticScore = new float[n];
    }

    /**
     * The server's config (the generator's churn view, a data directory for the feature store and the training log),
     * the loop's config.json (retrain from the training log on alerts, drift and quality settings, canary) and the
     * conventional copy of v1: what a user writes before serving.
     */
    private Path configure(Path registry, Path data) throws IOException {
        Path config = options.work().resolve("mlserve.yaml");
        Files.writeString(config, "model_repository: models\ndata_dir: server-data\n"
                + Files.readString(data.resolve("mlserve.yaml")));
        ObjectMapper json = new ObjectMapper();
        Path cfgFile = registry.resolve(MODEL + "/config.json");
        ObjectNode cfg = (ObjectNode) json.readTree(cfgFile.toFile());
        // every version stays loaded while it may be needed (champion, challenger); the rollout decides who serves
        cfg.putObject("version_policy").putObject("latest").put("num_versions", 2);
        // the cooldown is in the server's (replayed) time: by default at most one retrain a month
        ObjectNode retrain = cfg.putObject("retrain").put("enabled", true)
                .put("cooldown_seconds", Math.max(1, options.cooldownDays() * 86_400));
        retrain.putObject("train").put("data", "log").put("window_days", options.trainDays())
                .put("algorithm", options.algorithm()).put("grid", "");
        // the drift defaults (sequential detection); a standing alert is handed on again at every window, the
        // retrain cooldown pacing what it starts
        ObjectNode drift = cfg.putObject("drift").put("renotify_windows", 1);
        if (options.windowRows() > 0) {
            drift.put("window_rows", options.windowRows());
        }
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
        return config;
    }

    /** What the loop's rollout and retraining looked like at the last look. */
    private String champion = "1";
    private String challenger;
    private String lastJob = "";
    private JobState lastJobState;
    private long lastHistoryMs;
    private final Map<String, Retrain> open = new HashMap<>();
    private long pausedNanos;
    private long pauseStarted;
    private long replayedMs;

    private void replay(ServerProcess server, FeatureView view, Replay.Records r, Process trainer, Path trainerLog)
            throws Exception {
        Replay.Options o = new Replay.Options(options.work().resolve("data/data.parquet"), view, ChurnSchema.LABEL,
                List.of(MODEL, STATIC), server.grpc(), server.http(), options.labelDelayDays(), 0, 0, 200,
                options.concurrency(), true, null);
        long started = System.nanoTime();
        long[] lastProgress = {0};
        long[] lastLook = {0};
        Replay[] self = new Replay[1];
        self[0] = new Replay(o, new Replay.Listener() {
            @Override
            public void batch(long eventTimeMs, int done, int total) {
                replayedMs = eventTimeMs;
                if (pauseStarted != 0) {
                    pausedNanos += System.nanoTime() - pauseStarted;
                    pauseStarted = 0;
                }
                try {
                    // the rollout and the retraining as the server shows them, about every simulated six hours
                    if (eventTimeMs - lastLook[0] >= DAY / 4) {
                        lastLook[0] = eventTimeMs;
                        look(self[0], eventTimeMs);
                    }
                } catch (Exception e) {
                    throw new IllegalStateException("reading the server's state: " + e.getMessage(), e);
                }
                long t = System.nanoTime();
                if (t - lastProgress[0] > 500_000_000L) {
                    lastProgress[0] = t;
                    progress(done, eventTimeMs, started, false);
                }
            }

            @Override
            public void waiting(String model, JsonNode status) {
                if (pauseStarted == 0) {
                    pauseStarted = System.nanoTime();
                }
                if (!trainer.isAlive()) {
                    throw new IllegalStateException("the trainer stopped: see " + trainerLog);
                }
                job(status, replayedMs);
                progress(-1, replayedMs, started, true);
            }

            @Override
            public void answered(int model, long nanos) {
                if (model == 0) {
                    latency.recordValue(Math.max(1, nanos / 1000));
                }
            }
        });
        List<Replay.Served> served = self[0].run(r);
        look(self[0], r.time[r.n - 1] + 1);
        replayWallSeconds = (System.nanoTime() - started) / 1e9;
        pausedWallSeconds = pausedNanos / 1e9;
        predictCalls = self[0].predictions();
        errors.addAndGet(self[0].failures());
        System.arraycopy(served.get(0).score(), 0, loopScore, 0, n);
        System.arraycopy(served.get(0).version(), 0, loopVersion, 0, n);
        System.arraycopy(served.get(1).score(), 0, staticScore, 0, n);
        progress(n, r.time[n - 1], started, false);
        if (progressLine) {
            out.println();
        }
        latencyTotal = latency.getIntervalHistogram();
        retrains.addAll(open.values());
        retrains.sort((a, b) -> Long.compare(a.eventWallMs(), b.eventWallMs()));
        // the whole history, for the report (windows are judged on the server's clock)
        JsonNode history = self[0].get("/v1/drift/" + MODEL + "/history?limit=100000");
        flags.clear();
        for (JsonNode f : history.path("flags")) {
            flags.add(new FlagMark(f.path("version").asText(), f.path("feature").asText(), f.path("on").asBoolean(),
                    f.path("time_ms").asLong()));
        }
        windows.clear();
        for (JsonNode w : history.path("windows")) {
            List<String> fs = new ArrayList<>();
            w.path("features").forEach(f -> fs.add(f.asText()));
            windows.add(new Window(w.path("version").asText(), w.path("start_ms").asLong(), w.path("end_ms").asLong(),
                    w.path("rows").asLong(), w.path("drifted").asBoolean(), w.path("alert_raised").asBoolean(),
                    fs));
        }
    }

    /** Reads the loop's rollout, retraining job and new alerts from the server; notes what changed. */
    private void look(Replay replay, long simMs) throws Exception {
        JsonNode history = replay.get("/v1/drift/" + MODEL + "/history?since_ms=" + lastHistoryMs);
        for (JsonNode a : history == null ? List.<JsonNode>of() : iterable(history.path("alerts"))) {
            long t = a.path("detected_ms").asLong();
            if (t < lastHistoryMs) {
                continue;
            }
            List<String> fs = new ArrayList<>();
            a.path("features").forEach(f -> fs.add(f.asText()));
            boolean again = a.path("detail").asText().contains("still raised");
            Alert alert = new Alert(a.path("kind").asText(), a.path("version").asText(), t, fs,
                    a.path("detail").asText(), again);
            alerts.add(alert);
            if (!again) {
                mark(t, "alert", String.format(Locale.ROOT, "%s alert on v%s: %s", alert.kind(), alert.version(),
                        fs.isEmpty() ? alert.detail() : String.join(", ", fs)));
            }
        }
        lastHistoryMs = Math.max(lastHistoryMs, simMs);
        JsonNode model = replay.get("/v1/models/" + MODEL);
        if (model != null) {
            job(model.path("retrain"), simMs);
        }
        JsonNode ro = replay.get("/v1/models/" + MODEL + "/rollout");
        if (ro == null) {
            return;
        }
        String champ = ro.path("champion").asText(champion);
        String chall = ro.path("challenger").isMissingNode() || ro.path("challenger").isNull()
                || ro.path("challenger").asText().isEmpty() ? null : ro.path("challenger").asText();
        if (!champ.equals(champion)) {
            mark(simMs, "promote", "v" + champ + " promoted to champion (v" + champion + " retired)");
            closeRetrain(champ, simMs, true);
        } else if (challenger != null && chall == null) {
            mark(simMs, "rollback", "v" + challenger + " rolled back; v" + champ + " stays champion");
            closeRetrain(challenger, simMs, false);
        }
        if (chall != null && !chall.equals(challenger)) {
            mark(simMs, "canary", "v" + chall + " canary starts: 50 % of entities, judged on AUC after "
                    + (options.labelDelayDays() + 7) + " days");
        }
        champion = champ;
        challenger = chall;
    }

    private static Iterable<JsonNode> iterable(JsonNode array) {
        List<JsonNode> l = new ArrayList<>();
        array.forEach(l::add);
        return l;
    }

    /** Notes a retraining job's state changes in the timeline. */
    private void job(JsonNode retrain, long simMs) {
        JsonNode j = retrain.path("job");
        if (j.isMissingNode() || j.isNull()) {
            return;
        }
        JobState state = JobState.valueOf(j.path("state").asText("JOB_STATE_UNSPECIFIED"));
        String id = j.path("job_id").asText();
        if (id.equals(lastJob) && state == lastJobState) {
            return;
        }
        lastJob = id;
        lastJobState = state;
        Job job = toJob(j);
        JsonNode ev = retrain.path("last_event");
        String kind = ev.path("kind").asText("?");
        long eventMs = ev.path("detected_ms").asLong(simMs);
        JsonNode res = j.path("result");
        switch (state) {
            case RUNNING -> mark(simMs, "retrain", String.format(Locale.ROOT, "retraining (%s, job %s) on the last %d "
                    + "days of the server's training log", kind, id, options.trainDays()));
            case SUCCEEDED -> {
                mark(simMs, "published", String.format(Locale.ROOT, "v%s published: holdout AUC %.4f vs champion "
                        + "v%s %.4f (trained in %.1f s on %s; skew %d of %d logged rows)", res.path("version").asText(),
                        res.path("candidate_auc").asDouble(), res.path("champion_version").asText(),
                        res.path("champion_auc").asDouble(), (job.getFinishedMs() - job.getStartedMs()) / 1e3,
                        res.path("data").asText(), res.path("skew_rows").asLong(), res.path("skew_checked").asLong()));
                open.put(res.path("version").asText(), new Retrain(kind, eventMs, job.getSubmittedMs(), job, -1, -1,
                        "pending"));
            }
            case REJECTED, FAILED -> {
                mark(simMs, "rejected", "job " + id + " " + state + ": " + j.path("message").asText());
                retrains.add(new Retrain(kind, eventMs, job.getSubmittedMs(), job, -1, -1,
                        state.name().toLowerCase(Locale.ROOT)));
            }
            default -> {
            }
        }
    }

    /** The job as the server's JSON shows it. */
    private static Job toJob(JsonNode j) {
        JsonNode r = j.path("result");
        Job.Builder b = Job.newBuilder().setJobId(j.path("job_id").asText()).setState(JobState.valueOf(
                        j.path("state").asText("JOB_STATE_UNSPECIFIED"))).setMessage(j.path("message").asText(""))
                .setSubmittedMs(j.path("submitted_ms").asLong()).setStartedMs(j.path("started_ms").asLong())
                .setFinishedMs(j.path("finished_ms").asLong());
        if (!r.isMissingNode()) {
            b.getResultBuilder().setVersion(r.path("version").asLong()).setPublished(r.path("published").asBoolean())
                    .setCandidateAuc(r.path("candidate_auc").asDouble(Double.NaN))
                    .setChampionAuc(r.path("champion_auc").asDouble(Double.NaN))
                    .setSkewChecked(r.path("skew_checked").asLong()).setSkewRows(r.path("skew_rows").asLong())
                    .setSkewMaxAbsDelta(r.path("skew_max_abs_delta").asDouble())
                    .setData(r.path("data").asText("")).setChampionVersion(r.path("champion_version").asLong());
        }
        return b.build();
    }

    private void closeRetrain(String version, long sim, boolean promoted) {
        Retrain r = open.remove(version);
        if (r != null) {
            retrains.add(new Retrain(r.eventKind(), r.eventSimMs(), r.eventWallMs(), r.job(), promoted ? sim : -1,
                    promoted ? System.currentTimeMillis() : -1, promoted ? "promoted" : "rolled back after "
                    + String.format(Locale.ROOT, "%.1f d", (sim - r.eventSimMs()) / (double) DAY)));
        }
    }

    private void progress(int at, long simMs, long started, boolean training) {
        double share = at < 0 ? lastShare : (double) at / n;
        lastShare = share;
        String line = String.format(Locale.ROOT, "[%-30s] %5.1f %%  %s  champion v%s%s  alerts %d  %s  %.0f s",
                "=".repeat((int) Math.round(share * 30)), share * 100, date(simMs), champion,
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

    private double lastShare;
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

    /** The decision threshold a version of {@code model} chose (its metadata.json), or 0.5. */
    double threshold(String model, int version) {
        try {
            JsonNode meta = new ObjectMapper().readTree(registry().resolve(model).resolve(Integer.toString(version))
                    .resolve("metadata.json").toFile());
            double t = meta.path("metrics").path("threshold").asDouble(0.5);
            return t > 0 && t < 1 ? t : 0.5;
        } catch (IOException e) {
            return 0.5;
        }
    }

    /** When the training data of {@code model}'s version ended (its metadata.json), or 0. */
    long trainedUntil(String model, int version) {
        try {
            JsonNode meta = new ObjectMapper().readTree(registry().resolve(model).resolve(Integer.toString(version))
                    .resolve("metadata.json").toFile());
            return meta.path("data").path("event_time_to_ms").asLong(0);
        } catch (IOException e) {
            return 0;
        }
    }

    /** The non-recurring drifts (what monitoring should find). */
    List<ChurnDataGenerator.Drift> realDrifts() {
        return drifts.stream().filter(d -> !d.recurring()).toList();
    }

    /** The churn feature view as the generator writes it (numbers default to NaN: missing, as the data has them). */
    static FeatureView view() throws IOException {
        Path tmp = Files.createTempFile("churn-view", ".yaml");
        try {
            Files.writeString(tmp, "feature_views:\n" + ChurnSchema.viewYaml("  "));
            return ServerConfigFile.read(tmp).featureViews().get(0);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
