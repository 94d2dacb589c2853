package io.mlserve.bench;

import io.mlserve.drift.DriftDetector;
import io.mlserve.drift.ProfileBuilder;
import io.mlserve.drift.ReferenceProfile;
import io.mlserve.drift.SequentialDetector;
import io.mlserve.drift.WindowRecorder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Sequential detection with the defaults a user gets (a profile and no drift block) beside today's windows (10,000
 * rows, the window default), on a 47-feature stream shaped like a real model's inputs — 41 numbers (normal, skewed,
 * discrete counts, bounded, some with missing values) and 6 categories — through the same recorder and detectors the
 * server runs, the sequential one looked at every {@code --look} rows (the server looks every 100 ms):
 * <ul>
 *   <li>a sudden +1 sd shift in 2 of the 47 features after 30,000 i.i.d. rows: rows until each is flagged, and until
 *       an alert with uniform importance and with the two carrying 40 % of it;</li>
 *   <li>half the features shifted by +1 sd: rows until the alert;</li>
 *   <li>long i.i.d. streams: false flags per 10,000 rows per feature, false alerts per 100,000 rows (with uniform
 *       importance and with one feature carrying 30 %: the worst case for a single false flag).</li>
 * </ul>
 */
@Command(name = "drift-seq", mixinStandardHelpOptions = true,
        description = "Sequential drift detection (defaults) vs windows on a 47-feature stream: delays in rows, false "
                + "flags and false alerts on i.i.d. rows.")
final class DriftSeqBench implements Callable<Integer> {
    static final int NUMERIC = 41;
    static final int CATEGORICAL = 6;
    static final int WIDTH = NUMERIC + CATEGORICAL;

    @Option(names = "--seeds", defaultValue = "5", description = "Runs per experiment (default: ${DEFAULT-VALUE}).")
    int seeds;

    @Option(names = "--iid-rows", defaultValue = "1000000", description = "Rows per i.i.d. run (default: "
            + "${DEFAULT-VALUE}).")
    int iidRows;

    @Option(names = "--look", defaultValue = "50", description = "Rows between sequential looks (default: "
            + "${DEFAULT-VALUE}).")
    int look;

    /** A row of the stream: feature j shifted by {@code shift} sd when j &lt; shifted. */
    static void row(SplittableRandom r, float[] x, double shift, int shifted) {
        for (int j = 0; j < NUMERIC; j++) {
            double s = j < shifted ? shift : 0;
            double v = switch (j % 5) {
                case 0 -> gaussian(r) + s;                                // normal
                case 1 -> Math.exp(0.5 * gaussian(r) + s * 0.5);          // skewed (lognormal, +1 sd of the log)
                case 2 -> poisson(r, 3 + s * Math.sqrt(3));               // counts
                case 3 -> Math.min(1, Math.max(0, r.nextDouble() + s * 0.29)); // bounded
                default -> 50 + 10 * gaussian(r) + s * 10;                // another scale
            };
            x[j] = j % 7 == 3 && r.nextDouble() < 0.02 ? Float.NaN : (float) v;
        }
        for (int c = 0; c < CATEGORICAL; c++) {
            int levels = 3 + c % 3;
            double u = r.nextDouble();
            int code = (int) Math.min(levels - 1, Math.floor(-Math.log(1 - u) * 1.2));
            x[NUMERIC + c] = r.nextDouble() < 0.01 ? -1 : code;
        }
    }

    static ReferenceProfile reference(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int n = 100_000;
        float[] rows = new float[n * WIDTH];
        float[] x = new float[WIDTH];
        for (int i = 0; i < n; i++) {
            row(r, x, 0, 0);
            System.arraycopy(x, 0, rows, i * WIDTH, WIDTH);
        }
        List<ProfileBuilder.Column> cols = new ArrayList<>();
        for (int j = 0; j < WIDTH; j++) {
            int levels = 3 + (j - NUMERIC) % 3;
            cols.add(j < NUMERIC ? ProfileBuilder.Column.numeric("n" + j)
                    : new ProfileBuilder.Column("c" + (j - NUMERIC), java.util.stream.IntStream.range(0, levels)
                            .mapToObj(k -> "k" + k).toList()));
        }
        return ReferenceProfile.parse(ProfileBuilder.build(cols, rows, null, null), "bench");
    }

    /** What one stream did, in rows from its start. */
    record Run(Map<String, Long> firstFlag, List<Long> alerts, long flags, List<Long> windowAlerts,
               Map<String, Long> firstWindowFlag, long windowFlags) {
    }

    static Run stream(ReferenceProfile ref, long seed, int rows, int at, double shift, int shifted,
                      Map<String, Double> importance, int look) {
        WindowRecorder rec = new WindowRecorder(ref, 1, 0);
        SequentialDetector seq = new SequentialDetector(SequentialDetector.Config.defaults(), ref, rec.tables());
        if (importance != null) {
            seq.weights(importance);
        }
        DriftDetector windows = new DriftDetector(DriftDetector.Config.defaults(), ref);
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[WIDTH];
        WindowRecorder.Rows view = new WindowRecorder.Rows() {
            @Override
            public float value(int row, int column) {
                return x[column];
            }

            @Override
            public float score(int row) {
                return Float.NaN;
            }
        };
        Map<String, Long> firstFlag = new HashMap<>();
        Map<String, Long> firstWindowFlag = new HashMap<>();
        List<Long> alerts = new ArrayList<>();
        List<Long> windowAlerts = new ArrayList<>();
        long flags = 0;
        long windowFlags = 0;
        for (int i = 0; i < rows; i++) {
            row(r, x, i >= at ? shift : 0, shifted);
            rec.record(view, 1, 0);
            if ((i + 1) % look == 0) {
                SequentialDetector.Verdict v = seq.update(rec.totals(), 0);
                for (SequentialDetector.Flag f : v.newFlags()) {
                    flags++;
                    firstFlag.putIfAbsent(f.feature(), (long) i + 1);
                }
                if (v.raised()) {
                    alerts.add((long) i + 1);
                }
            }
            if ((i + 1) % 10_000 == 0) {
                DriftDetector.Report w = windows.evaluate(rec.close(0));
                for (Map.Entry<String, DriftDetector.FeatureResult> e : w.features().entrySet()) {
                    if (e.getValue().drifted()) {
                        windowFlags++;
                        firstWindowFlag.putIfAbsent(e.getKey(), (long) i + 1);
                    }
                }
                if (w.alertRaised()) {
                    windowAlerts.add((long) i + 1);
                }
            }
        }
        return new Run(firstFlag, alerts, flags, windowAlerts, firstWindowFlag, windowFlags);
    }

    @Override
    public Integer call() {
        ReferenceProfile ref = reference(1);
        System.out.println("47 features (41 numeric, 6 categorical); reference 100,000 i.i.d. rows; sequential "
                + "defaults (k 0.25, h 20, hold 5,000 rows, importance share 0.2, dataset share 0.5), looked at every "
                + look + " rows; windows: the default 10,000 rows, PSI 0.2 / JS 0.1, alert after 2 drifted windows");
        Map<String, Double> twoHeavy = new HashMap<>();
        Map<String, Double> oneHeavy = new HashMap<>();
        for (int j = 0; j < NUMERIC; j++) {
            twoHeavy.put("n" + j, j < 2 ? 20.0 : 60.0 / 45);
            oneHeavy.put("n" + j, j == 0 ? 30.0 : 70.0 / 46);
        }
        for (int c = 0; c < CATEGORICAL; c++) {
            twoHeavy.put("c" + c, 60.0 / 45);
            oneHeavy.put("c" + c, 70.0 / 46);
        }
        System.out.println("\nsudden +1 sd in 2 of 47 features at row 30,000 (rows after the shift; -: none by row "
                + "100,000)");
        System.out.println("seed  seq flag n0  seq flag n1  seq alert (uniform)  seq alert (2 carry 40 %)  "
                + "window flag n0  window flag n1  window alert");
        for (int s = 0; s < seeds; s++) {
            Run u = stream(ref, 100 + s, 100_000, 30_000, 1.0, 2, null, look);
            Run h = stream(ref, 100 + s, 100_000, 30_000, 1.0, 2, twoHeavy, look);
            System.out.printf(Locale.ROOT, "%4d  %11s  %11s  %19s  %24s  %14s  %14s  %12s%n", s, after(u.firstFlag()
                    .get("n0"), 30_000), after(u.firstFlag().get("n1"), 30_000), after(first(u.alerts()), 30_000),
                    after(first(h.alerts()), 30_000), after(u.firstWindowFlag().get("n0"), 30_000),
                    after(u.firstWindowFlag().get("n1"), 30_000), after(first(u.windowAlerts()), 30_000));
        }
        System.out.println("\n+1 sd in half the features (24 of 47) at row 30,000");
        System.out.println("seed  seq alert  window alert  alerts before the shift (seq / windows)");
        for (int s = 0; s < seeds; s++) {
            Run h = stream(ref, 200 + s, 100_000, 30_000, 1.0, 24, null, look);
            System.out.printf(Locale.ROOT, "%4d  %9s  %12s  %d / %d%n", s, after(first(h.alerts()), 30_000),
                    after(first(h.windowAlerts()), 30_000), h.alerts().stream().filter(a -> a < 30_000).count(),
                    h.windowAlerts().stream().filter(a -> a < 30_000).count());
        }
        System.out.printf(Locale.ROOT, "%ni.i.d. streams of %,d rows%n", iidRows);
        System.out.println("seed  seq flags  per 10k rows per feature  seq alerts (uniform / one carries 30 %)  "
                + "window flags  per 10k rows per feature  window alerts");
        long totalRows = 0;
        long seqFlags = 0;
        long seqAlerts = 0;
        long seqAlertsHeavy = 0;
        long winFlags = 0;
        long winAlerts = 0;
        for (int s = 0; s < seeds; s++) {
            Run u = stream(ref, 300 + s, iidRows, Integer.MAX_VALUE, 0, 0, null, look);
            Run h = stream(ref, 300 + s, iidRows, Integer.MAX_VALUE, 0, 0, oneHeavy, look);
            totalRows += iidRows;
            seqFlags += u.flags();
            seqAlerts += u.alerts().size();
            seqAlertsHeavy += h.alerts().size();
            winFlags += u.windowFlags();
            winAlerts += u.windowAlerts().size();
            System.out.printf(Locale.ROOT, "%4d  %9d  %24.4f  %17d / %d  %21d  %24.4f  %13d%n", s, u.flags(),
                    u.flags() / (iidRows / 10_000.0) / WIDTH, u.alerts().size(), h.alerts().size(), u.windowFlags(),
                    u.windowFlags() / (iidRows / 10_000.0) / WIDTH, u.windowAlerts().size());
        }
        System.out.printf(Locale.ROOT, "all   %,d rows: sequential %.4f false flags per 10k rows per feature, %.2f / %.2f "
                        + "false alerts per 100k rows; windows %.4f flags per 10k rows per feature, %.2f alerts per "
                        + "100k rows%n", totalRows, seqFlags / (totalRows / 10_000.0) / WIDTH,
                seqAlerts / (totalRows / 100_000.0), seqAlertsHeavy / (totalRows / 100_000.0),
                winFlags / (totalRows / 10_000.0) / WIDTH, winAlerts / (totalRows / 100_000.0));
        return 0;
    }

    private static Long first(List<Long> l) {
        return l.isEmpty() ? null : l.get(0);
    }

    private static String after(Long row, long at) {
        return row == null || row < at ? "-" : Long.toString(row - at);
    }

    static double gaussian(SplittableRandom r) {
        return Math.sqrt(-2 * Math.log(1 - r.nextDouble())) * Math.cos(2 * Math.PI * r.nextDouble());
    }

    static int poisson(SplittableRandom r, double mean) {
        double l = Math.exp(-mean);
        double p = 1;
        int k = 0;
        do {
            k++;
            p *= r.nextDouble();
        } while (p > l);
        return k - 1;
    }
}
