package io.mlserve.app;

import io.mlserve.featurecache.FeatureView;
import io.mlserve.server.config.ServerConfigFile;
import io.mlserve.server.replay.Replay;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/** {@code mlserve replay}: recorded traffic replayed through a running server's public API (see {@link Replay}). */
@Command(name = "replay", mixinStandardHelpOptions = true,
        description = "Replay a data set through a running server as its clients would have sent it: each record, in "
                + "event-time order, written to the feature store, predicted by entity by every --model (with the "
                + "record's event_time_ms), and its label reported as an outcome --label-delay-days later. Start the "
                + "server with --replay-clock so its time follows the records. Writes every answer to --out.")
public final class ReplayCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--data", required = true, description = "CSV (with a header) or Parquet file/directory: the "
            + "view's entity key, event_time (epoch ms), its features and the label.")
    Path data;

    @Option(names = "--config", required = true, description = "The server's config file (its feature_views).")
    Path config;

    @Option(names = "--view", description = "The feature view (default: the config's only view).")
    String view;

    @Option(names = "--label", defaultValue = "label", description = "The label column, 0 or 1 (default: "
            + "${DEFAULT-VALUE}).")
    String label;

    @Option(names = "--model", required = true, description = "A model to predict with (repeat for several).")
    List<String> models;

    @Option(names = "--server", defaultValue = "127.0.0.1:8001", description = "The server's gRPC address "
            + "(default: ${DEFAULT-VALUE}).")
    String server;

    @Option(names = "--http", defaultValue = "http://127.0.0.1:8000", description = "The server's HTTP base URL, to "
            + "wait while a model retrains (default: ${DEFAULT-VALUE}).")
    String http;

    @Option(names = "--label-delay-days", defaultValue = "7", description = "Outcomes are reported this many days of "
            + "event time after their record; negative: none (default: ${DEFAULT-VALUE}).")
    double labelDelayDays;

    @Option(names = "--from", description = "Only records at or after this (yyyy-mm-dd UTC or epoch ms).")
    String from;

    @Option(names = "--to", description = "Only records before this (yyyy-mm-dd UTC or epoch ms).")
    String to;

    @Option(names = "--batch", defaultValue = "200", description = "Records per feature write (default: "
            + "${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--concurrency", defaultValue = "32", description = "Predict calls in flight (default: "
            + "${DEFAULT-VALUE}).")
    int concurrency;

    @Option(names = "--no-pause", description = "Do not wait while a model retrains (by default the replay stands "
            + "still then, so retraining costs wall time, not replayed days).")
    boolean noPause;

    @Option(names = "--token-file", description = "File holding a bearer token for the server.")
    Path tokenFile;

    @Option(names = "--out", description = "Write every answer here as CSV (record, entity, event_time, model, "
            + "version, score, label).")
    Path out;

    @Override
    public Integer call() throws Exception {
        ServerConfigFile cfg = ServerConfigFile.read(config);
        FeatureView v = cfg.featureViews().stream().filter(x -> view == null ? cfg.featureViews().size() == 1
                : x.name().equals(view)).findFirst().orElseThrow(() -> new IllegalArgumentException(config
                + ": " + (view == null ? "name the view with --view" : "no feature view '" + view + "'")));
        String token = tokenFile == null ? null : Files.readString(tokenFile).strip();
        Replay.Options o = new Replay.Options(data, v, label, models, server, http, labelDelayDays,
                from == null ? 0 : time("--from", from), to == null ? 0 : time("--to", to), batch, concurrency,
                !noPause, token);
        long t0 = System.nanoTime();
        Replay.Records records = Replay.read(data, v, label, o.fromMs(), o.toMs());
        if (records.n == 0) {
            throw new IllegalArgumentException(data + ": no records in the range");
        }
        boolean terminal = System.console() != null;
        long[] last = {0};
        Replay replay = new Replay(o, new Replay.Listener() {
            @Override
            public void batch(long eventTimeMs, int done, int total) {
                long now = System.nanoTime();
                if (now - last[0] > 1_000_000_000L) {
                    last[0] = now;
                    String line = String.format(Locale.ROOT, "%s  %,d of %,d records (%.0f %%)  %.0f s",
                            java.time.Instant.ofEpochMilli(eventTimeMs).toString().substring(0, 10), done, total,
                            100.0 * done / total, (now - t0) / 1e9);
                    System.out.print(terminal ? "\r" + line : line + "\n");
                }
            }
        });
        List<Replay.Served> served = replay.run(records);
        if (terminal) {
            System.out.println();
        }
        for (int m = 0; m < models.size(); m++) {
            System.out.printf(Locale.ROOT, "%s: AUC %.4f over %,d labelled records%n", models.get(m),
                    auc(records, served.get(m)), labelled(records));
        }
        System.out.printf(Locale.ROOT, "replayed %,d records (%,d Predict calls, %,d failed%s) in %.1f s%n", records.n,
                replay.predictions(), replay.failures(), replay.failures() == 0 ? "" : ": " + replay.lastFailure(),
                (System.nanoTime() - t0) / 1e9);
        if (out != null) {
            Replay.write(out, records, models, served);
            System.out.println("answers: " + out);
        }
        return replay.failures() == 0 ? 0 : 1;
    }

    private static long labelled(Replay.Records r) {
        long n = 0;
        for (byte b : r.label) {
            n += b >= 0 ? 1 : 0;
        }
        return n;
    }

    /** AUC of the answered, labelled records. */
    static double auc(Replay.Records r, Replay.Served s) {
        int n = 0;
        float[] score = new float[r.n];
        double[] label = new double[r.n];
        for (int i = 0; i < r.n; i++) {
            if (r.label[i] >= 0 && !Float.isNaN(s.score()[i])) {
                score[n] = s.score()[i];
                label[n++] = r.label[i];
            }
        }
        return io.mlserve.drift.Quality.auc(java.util.Arrays.copyOf(score, n), java.util.Arrays.copyOf(label, n));
    }

    /** yyyy-mm-dd (UTC midnight) or epoch ms. */
    static long time(String option, String value) {
        try {
            return value.matches("\\d{4}-\\d{2}-\\d{2}") ? java.time.LocalDate.parse(value)
                    .atStartOfDay(java.time.ZoneOffset.UTC).toInstant().toEpochMilli() : Long.parseLong(value);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(option + ": expected yyyy-mm-dd or epoch ms, got '" + value + "'");
        }
    }
}
