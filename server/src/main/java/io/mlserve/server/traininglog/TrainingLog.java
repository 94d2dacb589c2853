package io.mlserve.server.traininglog;

import io.mlserve.drift.QualityJoin;
import io.mlserve.featurecache.FeatureView;
import io.mlserve.proto.inference.ModelFeatureBinding;
import io.mlserve.proto.v1.FeatureStatus;
import io.mlserve.server.metrics.TrainingLogMetrics;
import io.mlserve.server.time.ServerClock;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The training log: every Predict row of a model bound to a feature view — the features exactly as served, the
 * score, the version — joined with its outcome by live quality's {@link QualityJoin} (this is its listener), or
 * unlabelled when none came in time, written as Parquet under {@code <dir>/<model>/date=YYYY-MM-DD/} for the
 * trainer (see {@link RowEncoding} for the columns).
 *
 * <p>Threads: the join's thread hands joined and expired rows over through a lock-free queue; one writer thread
 * owns the per-model buffers and the files. A model's buffer is written when it holds {@code flushRows} rows,
 * every {@code flushInterval} of wall time, on {@link #flush}, and at {@link #close}; a write failure keeps the rows
 * for the next attempt, up to twice {@code flushRows}, and drops (counting) beyond. A crash loses the rows not yet
 * written and those still waiting for outcomes; at a clean shutdown the waiting rows are written unlabelled.
 */
public final class TrainingLog implements QualityJoin.Listener, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TrainingLog.class);
    /** The training log's directory under the data directory. */
    public static final String DIR = "training-log";
    private static final long FAILURE_LOG_MS = 60_000;
    private static final long DAY_MS = 86_400_000L;

    /**
     * @param enabled        whether the server keeps the log (it also needs a data directory and feature views)
     * @param flushRows      rows buffered per model before they are written
     * @param flushInterval  wall time between writes of whatever is buffered
     * @param retentionDays  date partitions older than this many days (server time) are deleted at flush time
     * @param outcomeWait    how long (server time) a row waits for its outcome before it is written unlabelled
     * @param maxPendingRows rows waiting for outcomes (the join's buffer); beyond it the oldest are written unlabelled
     */
    public record Options(boolean enabled, int flushRows, Duration flushInterval, int retentionDays,
                          Duration outcomeWait, int maxPendingRows) {
        public Options {
            if (flushRows < 1) {
                throw new IllegalArgumentException("training_log.flush_rows must be at least 1, got " + flushRows);
            }
            if (flushInterval.toMillis() < 1) {
                throw new IllegalArgumentException("training_log.flush_seconds must be positive, got "
                        + flushInterval);
            }
            if (retentionDays < 1) {
                throw new IllegalArgumentException("training_log.retention_days must be at least 1, got "
                        + retentionDays);
            }
            if (outcomeWait.toMillis() < 1) {
                throw new IllegalArgumentException("training_log.outcome_wait must be positive, got " + outcomeWait);
            }
            if (maxPendingRows < 1) {
                throw new IllegalArgumentException("training_log.max_pending_rows must be at least 1, got "
                        + maxPendingRows);
            }
        }

        /** On; 50,000 rows or 10 s; 180 days kept; 30 days' wait for outcomes; 100,000 rows waiting. */
        public static Options defaults() {
            return new Options(true, 50_000, Duration.ofSeconds(10), 180, Duration.ofDays(30), 100_000);
        }

        public Options withEnabled(boolean on) {
            return new Options(on, flushRows, flushInterval, retentionDays, outcomeWait, maxPendingRows);
        }

        public Options withFlush(int rows, Duration interval) {
            return new Options(enabled, rows, interval, retentionDays, outcomeWait, maxPendingRows);
        }

        public Options withRetentionDays(int days) {
            return new Options(enabled, flushRows, flushInterval, days, outcomeWait, maxPendingRows);
        }

        public Options withOutcomeWait(Duration wait) {
            return new Options(enabled, flushRows, flushInterval, retentionDays, wait, maxPendingRows);
        }

        public Options withMaxPendingRows(int rows) {
            return new Options(enabled, flushRows, flushInterval, retentionDays, outcomeWait, rows);
        }
    }

    /** A model's training log as the endpoint reports it; dates null while there are no files. */
    public record Status(String model, Path dir, long files, long bytes, long rowsLabelled, long rowsUnlabelled,
                         long pending, long buffered, LocalDate oldestDate, LocalDate newestDate) {
    }

    private record FlushRequest(String model, CompletableFuture<Void> done) {
    }

    /** The encoding of a model's current binding (null: the binding cannot be logged). */
    private record Cached(ModelFeatureBinding binding, FeatureView view, RowEncoding encoding) {
    }

    /** One model: counters any thread reads; the buffer and files belong to the writer thread. */
    private static final class ModelLog {
        final String name;
        final Path dir;
        final TrainingLogMetrics.Model metrics;
        final AtomicLong pending = new AtomicLong();
        volatile long labelled;
        volatile long unlabelled;
        volatile int buffered;
        volatile ModelFiles.Disk disk = ModelFiles.Disk.EMPTY;
        final ModelFiles files;
        List<LoggedRow> buffer = new ArrayList<>();
        long retryAtMs;
        long lastFailureLogMs = Long.MIN_VALUE / 2;

        ModelLog(String name, Path dir, TrainingLogMetrics.Model metrics) {
            this.name = name;
            this.dir = dir;
            this.metrics = metrics;
            this.files = new ModelFiles(dir);
        }
    }

    private final Path root;
    private final Options options;
    private final TrainingLogMetrics metrics;
    private final ServerClock clock;
    private final ConcurrentHashMap<String, ModelLog> models = new ConcurrentHashMap<>();
    private final ConcurrentHashMap<String, Cached> encodings = new ConcurrentHashMap<>();
    private final ConcurrentLinkedQueue<Object> queue = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final Thread thread;

    private TrainingLog(Path root, Options options, TrainingLogMetrics metrics, ServerClock clock) {
        this.root = root;
        this.options = options;
        this.metrics = metrics;
        this.clock = clock;
        this.thread = new Thread(this::run, "mlserve-training-log");
        thread.setDaemon(true);
    }

    /**
     * Opens the log in {@code root} (created if needed) and starts its writer thread.
     *
     * @throws IOException with one line naming the directory when it cannot be created, written or read
     */
    public static TrainingLog open(Path root, Options options, TrainingLogMetrics metrics, ServerClock clock)
            throws IOException {
        Path dir = root.toAbsolutePath().normalize();
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new IOException("cannot create the training log directory " + dir + ": " + reason(e), e);
        }
        Path probe = dir.resolve(".probe-" + ProcessHandle.current().pid());
        try {
            Files.deleteIfExists(probe);
            Files.write(probe, new byte[0]);
            Files.delete(probe);
        } catch (IOException e) {
            throw new IOException("cannot write in the training log directory " + dir + ": " + reason(e), e);
        }
        TrainingLog log = new TrainingLog(dir, options, metrics, clock);
        try (DirectoryStream<Path> existing = Files.newDirectoryStream(dir, Files::isDirectory)) {
            for (Path p : existing) {
                ModelLog m = log.model(p.getFileName().toString());
                m.files.scan();
                m.disk = m.files.disk();
                m.metrics.files().set(m.disk.files());
                m.metrics.bytes().set(m.disk.bytes());
            }
        } catch (IOException e) {
            throw new IOException("cannot read the training log directory " + dir + ": " + reason(e), e);
        }
        log.thread.start();
        return log;
    }

    private static String reason(IOException e) {
        if (e instanceof FileAlreadyExistsException) {
            return "a file of that name is in the way";
        }
        if (e instanceof AccessDeniedException denied) {
            return "permission denied" + (denied.getFile() == null ? "" : " on " + denied.getFile());
        }
        return e.getMessage() == null ? e.toString() : e.getMessage();
    }

    public Options options() {
        return options;
    }

    /** The directory of {@code model}'s log. */
    public Path dir(String model) {
        return root.resolve(model);
    }

    private ModelLog model(String name) {
        ModelLog m = models.get(name);
        if (m != null) {
            return m;
        }
        return models.computeIfAbsent(name, n -> new ModelLog(n, root.resolve(n), metrics.forModel(n)));
    }

    /**
     * The encoding {@code model}'s Predict rows are logged with under {@code binding} of {@code view}, or null when
     * the binding cannot be logged (said once in the log). Computed once per binding; a lock-free read after that.
     */
    public RowEncoding encoding(String model, ModelFeatureBinding binding, FeatureView view) {
        Cached c = encodings.get(model);
        if (c != null && c.binding() == binding && c.view() == view) {
            return c.encoding();
        }
        RowEncoding e = null;
        try {
            e = new RowEncoding(view, binding.getNamesList());
        } catch (IllegalArgumentException ex) {
            LOG.error("model '{}' is not written to the training log: {}", model, ex.getMessage());
        }
        encodings.put(model, new Cached(binding, view, e));
        return e;
    }

    /** A row was lost before it reached the log (live quality's queue was full): counted as dropped. */
    public void dropped(String model) {
        model(model).metrics.dropped().inc();
    }

    @Override
    public void waiting(QualityJoin.Pending p) {
        if (p.row() instanceof ServedRow) {
            ModelLog m = model(p.model());
            m.metrics.pending().set(m.pending.incrementAndGet());
        }
    }

    @Override
    public void joined(QualityJoin.Pending p, double label, long outcomeEventTimeMs) {
        if (p.row() instanceof ServedRow s) {
            ModelLog m = model(p.model());
            m.metrics.pending().set(m.pending.decrementAndGet());
            queue.offer(new LoggedRow(p, s, true, label, outcomeEventTimeMs));
        }
    }

    @Override
    public void expired(QualityJoin.Pending p) {
        if (p.row() instanceof ServedRow s) {
            ModelLog m = model(p.model());
            m.metrics.pending().set(m.pending.decrementAndGet());
            queue.offer(new LoggedRow(p, s, false, Double.NaN, 0));
        }
    }

    /**
     * Writes the rows of {@code model} joined or expired so far; completes when they are on disk (exceptionally
     * with the IOException when they could not be written — they stay buffered for the next attempt).
     */
    public CompletableFuture<Void> flush(String model) {
        if (!running.get()) {
            return CompletableFuture.failedFuture(new IllegalStateException("the training log is closed"));
        }
        CompletableFuture<Void> done = new CompletableFuture<>();
        queue.offer(new FlushRequest(model, done));
        return done;
    }

    /** {@code model}'s log: files on disk, rows written since start, rows waiting for outcomes and buffered. */
    public Status status(String model) {
        ModelLog m = models.get(model);
        if (m == null) {
            return new Status(model, dir(model), 0, 0, 0, 0, 0, 0, null, null);
        }
        ModelFiles.Disk d = m.disk;
        return new Status(model, m.dir, d.files(), d.bytes(), m.labelled, m.unlabelled, m.pending.get(), m.buffered,
                d.oldest(), d.newest());
    }

    private void run() {
        long interval = options.flushInterval().toMillis();
        long nextTick = System.currentTimeMillis() + interval;
        // idle: a few spins and yields, then parks growing to 20 ms — not a wake-up a millisecond on an idle server
        org.agrona.concurrent.IdleStrategy idle = new org.agrona.concurrent.BackoffIdleStrategy(10, 10, 50_000,
                20_000_000);
        while (true) {
            long now = System.currentTimeMillis();
            if (now >= nextTick) {
                for (ModelLog m : models.values()) {
                    if (!m.buffer.isEmpty() || retentionDue(m)) {
                        tryWrite(m, now);
                    }
                }
                nextTick = now + interval;
            }
            Object item = queue.poll();
            if (item == null) {
                if (!running.get()) {
                    break;
                }
                idle.idle();
                continue;
            }
            idle.reset();
            try {
                if (item instanceof LoggedRow l) {
                    add(l, now);
                } else {
                    FlushRequest f = (FlushRequest) item;
                    ModelLog m = models.get(f.model());
                    if (m != null) {
                        write(m, now);
                    }
                    f.done().complete(null);
                }
            } catch (IOException e) {
                ((FlushRequest) item).done().completeExceptionally(e);
            } catch (RuntimeException e) {
                LOG.error("training log: {}", e.toString());
                if (item instanceof FlushRequest f) {
                    f.done().completeExceptionally(e);
                }
            }
        }
        long now = System.currentTimeMillis();
        for (ModelLog m : models.values()) {
            if (!m.buffer.isEmpty()) {
                tryWrite(m, now);
            }
        }
    }

    private void add(LoggedRow l, long now) {
        ModelLog m = model(l.pending().model());
        if (m.buffer.size() >= 2L * options.flushRows()) {
            m.metrics.dropped().inc(); // writes keep failing: the buffer holds no more
            return;
        }
        m.buffer.add(l);
        m.buffered = m.buffer.size();
        if (m.buffer.size() >= options.flushRows() && now >= m.retryAtMs) {
            tryWrite(m, now);
        }
    }

    private void tryWrite(ModelLog m, long now) {
        try {
            write(m, now);
        } catch (IOException e) {
            // counted and said in write(); the rows wait for the next attempt
        }
    }

    /**
     * Writes the model's buffer, one file per date partition (and encoding, when versions bound differently), then
     * deletes partitions past the retention. A file that fails keeps its rows in the buffer; the first failure is
     * thrown once the others are written.
     */
    private void write(ModelLog m, long now) throws IOException {
        IOException failed = null;
        if (!m.buffer.isEmpty()) {
            Map<String, List<LoggedRow>> groups = new LinkedHashMap<>();
            for (LoggedRow l : m.buffer) {
                LocalDate date = LocalDate.ofEpochDay(Math.floorDiv(l.pending().timeMs(), DAY_MS));
                groups.computeIfAbsent(date + "\u0000" + l.served().encoding().fingerprint, k -> new ArrayList<>())
                        .add(l);
            }
            List<LoggedRow> kept = new ArrayList<>();
            for (List<LoggedRow> rows : groups.values()) {
                LoggedRow first = rows.get(0);
                LocalDate date = LocalDate.ofEpochDay(Math.floorDiv(first.pending().timeMs(), DAY_MS));
                try {
                    m.files.write(date, first.served().encoding(), rows);
                    long labelled = rows.stream().filter(LoggedRow::labelled).count();
                    m.labelled += labelled;
                    m.unlabelled += rows.size() - labelled;
                    m.metrics.labelled().inc(labelled);
                    m.metrics.unlabelled().inc(rows.size() - labelled);
                } catch (IOException e) {
                    m.metrics.writeFailures().inc();
                    failure(m, now, "cannot write " + rows.size() + " rows of " + date + ": " + e.getMessage());
                    kept.addAll(rows);
                    failed = failed == null ? e : failed;
                }
            }
            m.buffer = kept;
            m.buffered = kept.size();
            m.retryAtMs = failed == null ? 0 : now + options.flushInterval().toMillis();
        }
        if (retentionDue(m)) {
            try {
                int deleted = m.files.deleteBefore(retentionCutoff());
                LOG.info("training log of '{}': {} date partition(s) older than {} days deleted", m.name, deleted,
                        options.retentionDays());
            } catch (IOException e) {
                failure(m, now, "cannot delete old date partitions in " + m.dir + ": " + e.getMessage());
            }
        }
        ModelFiles.Disk d = m.files.disk();
        m.disk = d;
        m.metrics.files().set(d.files());
        m.metrics.bytes().set(d.bytes());
        if (failed != null) {
            throw failed;
        }
    }

    private void failure(ModelLog m, long now, String what) {
        if (now - m.lastFailureLogMs >= FAILURE_LOG_MS) {
            m.lastFailureLogMs = now;
            LOG.error("training log of '{}': {} (kept for the next attempt; said at most once a minute)", m.name,
                    what);
        }
    }

    private boolean retentionDue(ModelLog m) {
        if (clock.replaying() && !clock.simulated()) {
            return false; // a replay clock that has seen no event yet reads the wall clock: no judge of replayed dates
        }
        LocalDate oldest = m.files.oldest();
        return oldest != null && oldest.isBefore(retentionCutoff());
    }

    /** The first date kept: today in server time, less the retention. */
    private LocalDate retentionCutoff() {
        return LocalDate.ofEpochDay(Math.floorDiv(clock.now(), DAY_MS) - options.retentionDays());
    }

    /**
     * Writes what is buffered and stops the writer thread. Call after the join has handed over its last rows (live
     * quality closed first).
     */
    @Override
    public void close() {
        if (running.compareAndSet(true, false)) {
            try {
                thread.join(60_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            for (Object o; (o = queue.poll()) != null; ) {
                if (o instanceof FlushRequest f) {
                    f.done().completeExceptionally(new IllegalStateException("the training log is closed"));
                }
            }
        }
    }
}
