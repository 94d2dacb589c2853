package io.mlserve.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import io.mlserve.datagen.ChurnDataGenerator;
import io.mlserve.drift.Quality;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import javax.imageio.ImageIO;

/**
 * The numbers of a {@link ClosedLoop} run, computed from what the replay recorded, and its chart. Definitions:
 * <ul>
 *   <li><b>skew incident</b>: a logged row whose served score differs by more than {@value #SKEW_TOLERANCE} from the
 *       score the trainer computes for it with its own encoding of the logged values and the version that served it
 *       (each retraining job checks a sample); beside it, every served score against the same artifact offline (ONNX
 *       Runtime in this JVM, the data set's feature values);</li>
 *   <li><b>accuracy, AUC</b>: of the served scores against the generator's labels, per calendar month of the
 *       replay, then the mean and standard deviation over the months; accuracy at P ≥ 0.5;</li>
 *   <li><b>degraded day</b>: a day whose trailing 7-day AUC is more than {@value #DEGRADED_DROP} below v1's holdout
 *       AUC at training time;</li>
 *   <li><b>drift detection accuracy</b>: share of judged windows whose verdict (drifted or not) matches the truth
 *       (the window ends inside a non-recurring drift of the generator's manifest); <b>time to detect</b>: from a
 *       drift's start to the first alert inside it;</li>
 *   <li><b>retraining cycle</b>: wall time from the job's submission to the version published, and simulated days
 *       from the alert to the version promoted (its canary included).</li>
 * </ul>
 */
final class LoopReport {
    static final double SKEW_TOLERANCE = 1e-4;
    static final double DEGRADED_DROP = 0.05;
    private static final long DAY = ClosedLoop.DAY;

    record Arm(String name, double[] monthlyAuc, double[] monthlyAccuracy, double meanAuc, double sdAuc,
               double meanAccuracy, double sdAccuracy, int degradedDays, long skewRows, long compared,
               double maxSkew, double[] rollingAuc) {
    }

    record Detection(String kind, long startMs, long firstAlertMs) {
        double days() {
            return firstAlertMs < 0 ? Double.NaN : (firstAlertMs - startMs) / (double) DAY;
        }
    }

    final ClosedLoop run;
    final Arm loop;
    final Arm conventional;
    final List<String> months = new ArrayList<>();
    final int days;
    final long dayZero;
    double dayAccuracy = Double.NaN;
    int daysJudged;
    final List<Detection> detections = new ArrayList<>();
    int alertsOutside;
    int alertsRaised;
    final double p95Ms;
    final double p99Ms;
    final double throughput;

    LoopReport(ClosedLoop run) throws Exception {
        this.run = run;
        int m = run.n - run.streamFrom;
        dayZero = run.time[run.streamFrom];
        days = (int) ((run.time[run.n - 1] - dayZero) / DAY) + 1;
        double[] labels = new double[m];
        for (int i = 0; i < m; i++) {
            labels[i] = run.label[run.streamFrom + i];
        }
        int[] one = new int[m];
        java.util.Arrays.fill(one, 1);
        loop = arm("mlserve loop", run.loopScore, labels, run.loopVersion, ClosedLoop.MODEL);
        conventional = arm("conventional (v1 only)", run.staticScore, labels, one, ClosedLoop.STATIC);
        detection();
        p95Ms = run.latencyTotal.getValueAtPercentile(95) / 1000.0;
        p99Ms = run.latencyTotal.getValueAtPercentile(99) / 1000.0;
        double busy = run.replayWallSeconds - run.pausedWallSeconds;
        throughput = busy > 0 ? run.predictCalls / busy : Double.NaN;
    }

    private Arm arm(String name, float[] score, double[] labels, int[] version, String model) throws Exception {
        int m = score.length;
        // per calendar month
        TreeMap<String, List<Integer>> byMonth = new TreeMap<>();
        for (int i = 0; i < m; i++) {
            String month = ClosedLoop.date(run.time[run.streamFrom + i]).substring(0, 7);
            byMonth.computeIfAbsent(month, k -> new ArrayList<>()).add(i);
        }
        // the last month may be a few hours of the next calendar month: fold it into the one before
        if (byMonth.size() > 12) {
            String last = byMonth.lastKey();
            List<Integer> tail = byMonth.remove(last);
            byMonth.lastEntry().getValue().addAll(tail);
        }
        if (months.isEmpty()) {
            months.addAll(byMonth.keySet());
        }
        // each answer judged at the threshold its version chose (metadata.json), as the server reports accuracy
        java.util.Map<Integer, Double> thresholds = new java.util.HashMap<>();
        double[] threshold = new double[m];
        for (int i = 0; i < m; i++) {
            threshold[i] = thresholds.computeIfAbsent(Math.max(1, version[i]), v -> run.threshold(model, v));
        }
        double[] auc = new double[byMonth.size()];
        double[] acc = new double[byMonth.size()];
        int k = 0;
        for (List<Integer> rows : byMonth.values()) {
            auc[k] = metrics(score, labels, rows).auc();
            acc[k++] = accuracy(score, labels, threshold, rows);
        }
        // trailing 7-day AUC per day
        double[] rolling = new double[days];
        int[] dayOf = new int[m];
        for (int i = 0; i < m; i++) {
            dayOf[i] = (int) ((run.time[run.streamFrom + i] - dayZero) / DAY);
        }
        int lo = 0;
        int hi = 0;
        int degraded = 0;
        for (int d = 0; d < days; d++) {
            while (hi < m && dayOf[hi] <= d) {
                hi++;
            }
            while (lo < hi && dayOf[lo] < d - 6) {
                lo++;
            }
            List<Integer> rows = new ArrayList<>(hi - lo);
            for (int i = lo; i < hi; i++) {
                rows.add(i);
            }
            rolling[d] = metrics(score, labels, rows).auc();
            if (d >= 6 && rolling[d] < run.v1HoldoutAuc - DEGRADED_DROP) {
                degraded++;
            }
        }
        // served vs offline, per version
        long skew = 0;
        long compared = 0;
        double maxSkew = 0;
        TreeMap<Integer, List<Integer>> byVersion = new TreeMap<>();
        for (int i = 0; i < m; i++) {
            if (!Float.isNaN(score[i]) && version[i] > 0) {
                byVersion.computeIfAbsent(version[i], v -> new ArrayList<>()).add(i);
            }
        }
        for (Map.Entry<Integer, List<Integer>> e : byVersion.entrySet()) {
            float[] offline = offline(run.registry().resolve(model).resolve(Integer.toString(e.getKey()))
                    .resolve("model.onnx"), e.getValue());
            for (int j = 0; j < offline.length; j++) {
                double d = Math.abs(offline[j] - score[e.getValue().get(j)]);
                maxSkew = Math.max(maxSkew, d);
                skew += d > SKEW_TOLERANCE ? 1 : 0;
                compared++;
            }
        }
        return new Arm(name, auc, acc, mean(auc), sd(auc), mean(acc), sd(acc), degraded, skew, compared, maxSkew,
                rolling);
    }

    /** Share of the answered rows whose decision at their threshold matches the label. */
    private static double accuracy(float[] score, double[] labels, double[] threshold, List<Integer> rows) {
        long right = 0;
        long n = 0;
        for (int i : rows) {
            if (!Float.isNaN(score[i])) {
                n++;
                right += (score[i] >= threshold[i] ? 1 : 0) == labels[i] ? 1 : 0;
            }
        }
        return n == 0 ? Double.NaN : (double) right / n;
    }

    private static Quality.Metrics metrics(float[] score, double[] labels, List<Integer> rows) {
        int c = 0;
        for (int i : rows) {
            c += Float.isNaN(score[i]) ? 0 : 1;
        }
        float[] s = new float[c];
        double[] y = new double[c];
        int k = 0;
        for (int i : rows) {
            if (!Float.isNaN(score[i])) {
                s[k] = score[i];
                y[k++] = labels[i];
            }
        }
        return Quality.of(s, y, c, 0.5);
    }

    /** The artifact's scores for streamed rows, computed here with ONNX Runtime from the data set's values. */
    private float[] offline(Path onnx, List<Integer> rows) throws Exception {
        float[] out = new float[rows.size()];
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions so = new OrtSession.SessionOptions();
             OrtSession session = env.createSession(onnx.toString(), so)) {
            String input = session.getInputNames().iterator().next();
            int w = ClosedLoop.WIDTH;
            for (int from = 0; from < rows.size(); from += 4096) {
                int k = Math.min(4096, rows.size() - from);
                FloatBuffer fb = FloatBuffer.allocate(k * w);
                for (int j = 0; j < k; j++) {
                    fb.put(run.x, (run.streamFrom + rows.get(from + j)) * w, w);
                }
                fb.flip();
                try (OnnxTensor t = OnnxTensor.createTensor(env, fb, new long[] {k, w});
                     OrtSession.Result r = session.run(Map.of(input, t))) {
                    FloatBuffer o = ((OnnxTensor) r.get(0)).getFloatBuffer();
                    int width = o.remaining() / k;
                    for (int j = 0; j < k; j++) {
                        out[from + j] = o.get(j * width);
                    }
                }
            }
        }
        return out;
    }

    /**
     * Detection, per simulated day: the loop is judged to see drift on a day when a sequential flag of any feature (or
     * the score) was on during it or an alert was raised; the truth is that the day lies in a non-recurring drift the
     * serving version has not been trained on (its training data ended before the drift's end — for a drift that
     * lasts to the end of the stream, before its start plus 14 days, when the new regime is in its data). Time to
     * detect: from a drift's start to the first flag of one of its features (or of the score), or the first alert,
     * within 60 days. False alarms: alerts raised away from every non-recurring drift (more than 30 days after its
     * end or before its start).
     */
    private void detection() {
        List<ChurnDataGenerator.Drift> real = run.realDrifts();
        long last = run.time[run.n - 1];
        int[] servingVersion = new int[days];
        int[][] perDay = new int[days][];
        java.util.Map<Integer, Integer> counts = new java.util.HashMap<>();
        int day = -1;
        for (int i = 0; i < run.loopVersion.length; i++) {
            int d = (int) ((run.time[run.streamFrom + i] - dayZero) / DAY);
            if (d != day) {
                if (day >= 0) {
                    servingVersion[day] = counts.entrySet().stream().max(java.util.Map.Entry.comparingByValue())
                            .map(java.util.Map.Entry::getKey).orElse(1);
                }
                counts.clear();
                day = d;
            }
            counts.merge(Math.max(1, run.loopVersion[i]), 1, Integer::sum);
        }
        if (day >= 0) {
            servingVersion[day] = counts.entrySet().stream().max(java.util.Map.Entry.comparingByValue())
                    .map(java.util.Map.Entry::getKey).orElse(1);
        }
        java.util.Map<Integer, Long> trained = new java.util.HashMap<>();
        boolean[] seen = new boolean[days];
        // a feature's flag holds from its "on" to its "off" (or the end)
        java.util.Map<String, Long> onSince = new java.util.HashMap<>();
        List<long[]> spans = new ArrayList<>();
        for (ClosedLoop.FlagMark f : run.flags) {
            String key = f.version() + "/" + f.feature();
            if (f.on()) {
                onSince.putIfAbsent(key, f.timeMs());
            } else if (onSince.containsKey(key)) {
                spans.add(new long[] {onSince.remove(key), f.timeMs()});
            }
        }
        onSince.values().forEach(t -> spans.add(new long[] {t, last}));
        for (long[] sp : spans) {
            for (int d = dayOf(sp[0]); d <= dayOf(sp[1]) && d < days; d++) {
                if (d >= 0) {
                    seen[d] = true;
                }
            }
        }
        for (ClosedLoop.Alert al : run.alerts) {
            int d = dayOf(al.detectedMs());
            if (d >= 0 && d < days) {
                seen[d] = true;
            }
        }
        int correct = 0;
        for (int d = 0; d < days; d++) {
            long t = dayZero + d * DAY + DAY / 2;
            long until = trained.computeIfAbsent(servingVersion[d], v -> run.trainedUntil(ClosedLoop.MODEL, v));
            boolean truth = false;
            for (ChurnDataGenerator.Drift dr : real) {
                boolean persistent = dr.endMs() >= last - DAY;
                boolean learned = persistent ? until >= dr.startMs() + 14 * DAY : until >= dr.endMs();
                truth |= t >= dr.startMs() && t <= dr.endMs() && !learned;
            }
            correct += seen[d] == truth ? 1 : 0;
        }
        daysJudged = days;
        dayAccuracy = days == 0 ? Double.NaN : (double) correct / days;
        for (ChurnDataGenerator.Drift dr : real) {
            java.util.Set<String> signals = new java.util.HashSet<>(dr.features());
            signals.add("score");
            long first = -1;
            for (ClosedLoop.FlagMark f : run.flags) {
                if (f.on() && signals.contains(f.feature()) && f.timeMs() >= dr.startMs()
                        && f.timeMs() <= dr.startMs() + 60 * DAY && (first < 0 || f.timeMs() < first)) {
                    first = f.timeMs();
                }
            }
            for (ClosedLoop.Alert al : run.alerts) {
                if (al.detectedMs() >= dr.startMs() && al.detectedMs() <= dr.startMs() + 60 * DAY
                        && (first < 0 || al.detectedMs() < first)) {
                    first = al.detectedMs();
                }
            }
            detections.add(new Detection(dr.kind(), dr.startMs(), first));
        }
        for (ClosedLoop.Alert al : run.alerts) {
            if (al.again()) {
                continue;
            }
            alertsRaised++;
            boolean near = real.stream().anyMatch(dr -> al.detectedMs() >= dr.startMs()
                    && al.detectedMs() <= dr.endMs() + 30 * DAY);
            alertsOutside += near ? 0 : 1;
        }
    }

    private int dayOf(long ms) {
        return (int) Math.floorDiv(ms - dayZero, DAY);
    }

    /** False alarms per simulated year. */
    double falseAlarmsPerYear() {
        return days == 0 ? Double.NaN : alertsOutside * 365.0 / days;
    }

    /** Mean time to detect, in days, of the drifts of {@code kind} (sudden: sudden and concept; gradual). */
    double meanDetectDays(boolean sudden) {
        return detections.stream().filter(d -> d.firstAlertMs() >= 0 && ("gradual".equals(d.kind()) != sudden))
                .mapToDouble(Detection::days).average().orElse(Double.NaN);
    }

    double meanDetectDays() {
        return detections.stream().filter(d -> d.firstAlertMs() >= 0).mapToDouble(Detection::days).average()
                .orElse(Double.NaN);
    }

    /** The side-by-side table (Markdown). */
    String table() {
        StringBuilder b = new StringBuilder();
        b.append("| measure | conventional (v1 trained once, no monitoring) | mlserve closed loop | paper |\n");
        b.append("|---|---|---|---|\n");
        long[] trainer = trainerSkew();
        row(b, "training–serving skew incidents (the trainer re-scoring logged rows with its own encoding, > 1e-4)",
                "— (never retrained)", trainer[1] == 0 ? "— (no retraining)" : String.format(Locale.ROOT,
                        "%,d of %,d logged rows (%d jobs)", trainer[0], trainer[1], trainer[2]),
                "not in our references");
        row(b, "served vs the artifact's offline score (every record, > 1e-4)",
                String.format(Locale.ROOT, "%,d of %,d (max \\|Δ\\| %.1e)", conventional.skewRows(),
                        conventional.compared(), conventional.maxSkew()),
                String.format(Locale.ROOT, "%,d of %,d (max \\|Δ\\| %.1e)", loop.skewRows(), loop.compared(),
                        loop.maxSkew()), "not in our references");
        row(b, "accuracy at each version's own threshold, mean ± sd over the months", pm(conventional.meanAccuracy(),
                conventional.sdAccuracy()), pm(loop.meanAccuracy(), loop.sdAccuracy()), "84.2 % ± 5.8 / 89.7 % ± 2.1");
        row(b, "AUC, mean ± sd over the " + months.size() + " months", pm(conventional.meanAuc(), conventional.sdAuc()),
                pm(loop.meanAuc(), loop.sdAuc()), "not in our references");
        row(b, String.format(Locale.ROOT, "days with a degraded model (7-day AUC < v1's %.3f − %.2f)", run.v1HoldoutAuc,
                DEGRADED_DROP), conventional.degradedDays() + " of " + days, loop.degradedDays() + " of " + days,
                "47 / 6");
        row(b, "drift detection accuracy (days: flagged or alerted vs a drift the serving version has not learnt)",
                "— (no monitoring)", String.format(Locale.ROOT, "%.1f %% of %d days", 100 * dayAccuracy, daysJudged),
                "91.8 %");
        StringBuilder detect = new StringBuilder();
        for (Detection d : detections) {
            detect.append(detect.length() == 0 ? "" : "; ").append(d.kind()).append(' ')
                    .append(d.firstAlertMs() < 0 ? "not detected" : String.format(Locale.ROOT, "%.2f d", d.days()));
        }
        row(b, "mean time to detect, sudden (and concept) / gradual", "— (never)", String.format(Locale.ROOT,
                "%.2f d / %.2f d (%s)", meanDetectDays(true), meanDetectDays(false), detect), "0.3 days");
        row(b, "false alarms (alerts away from any drift)", "—", String.format(Locale.ROOT, "%.1f per simulated year "
                + "(%d of %d alerts)", falseAlarmsPerYear(), alertsOutside, alertsRaised), "not in our references");
        row(b, "retraining cycle (alert → published; alert → promoted)", "— (never retrained)", cycles(), "1.4 days");
        row(b, "P95 / P99 latency of Predict under the replay", "same server, same calls", String.format(Locale.ROOT,
                "%.2f ms / %.2f ms", p95Ms, p99Ms), "47 ms / 126 ms");
        row(b, "throughput (Predict calls/s, both models, 2 cores)", "(shared)", String.format(Locale.ROOT, "%.0f/s",
                throughput), "2,840 req/s");
        return b.toString();
    }

    /** {rows differing, rows checked, jobs} over the retraining jobs' own skew checks. */
    long[] trainerSkew() {
        long differing = 0;
        long checked = 0;
        long jobs = 0;
        for (ClosedLoop.Retrain r : run.retrains) {
            if (r.job().hasResult() && r.job().getResult().getSkewChecked() > 0) {
                differing += r.job().getResult().getSkewRows();
                checked += r.job().getResult().getSkewChecked();
                jobs++;
            }
        }
        return new long[] {differing, checked, jobs};
    }

    private String cycles() {
        List<String> parts = new ArrayList<>();
        for (ClosedLoop.Retrain r : run.retrains) {
            io.mlserve.proto.v1.Job j = r.job();
            double wall = j.getFinishedMs() > 0 ? (j.getFinishedMs() - j.getSubmittedMs()) / 1e3 : Double.NaN;
            String promoted = r.promotedSimMs() > 0 ? String.format(Locale.ROOT, ", promoted %.1f d after the alert",
                    (r.promotedSimMs() - r.eventSimMs()) / (double) DAY) : ", " + r.rolloutOutcome();
            parts.add(String.format(Locale.ROOT, "%s: %.0f s%s", r.eventKind(), wall, promoted));
        }
        return parts.isEmpty() ? "no retraining" : String.join("; ", parts);
    }

    private static void row(StringBuilder b, String... cells) {
        b.append("| ").append(String.join(" | ", cells)).append(" |\n");
    }

    private static String pm(double mean, double sd) {
        return String.format(Locale.ROOT, "%.4f ± %.4f", mean, sd);
    }

    /** Month by month (Markdown). */
    String monthly() {
        StringBuilder b = new StringBuilder("| month | conventional AUC | loop AUC | conventional accuracy | loop accuracy |\n"
                + "|---|---|---|---|---|\n");
        for (int i = 0; i < months.size(); i++) {
            b.append(String.format(Locale.ROOT, "| %s | %.4f | %.4f | %.4f | %.4f |%n", months.get(i),
                    conventional.monthlyAuc()[i], loop.monthlyAuc()[i], conventional.monthlyAccuracy()[i],
                    loop.monthlyAccuracy()[i]));
        }
        return b.toString();
    }

    /** The loop's served scores by the version that gave them: each version's own AUC on its own rows. */
    String perVersion() {
        int m = run.loopScore.length;
        TreeMap<Integer, List<Integer>> byVersion = new TreeMap<>();
        for (int i = 0; i < m; i++) {
            if (run.loopVersion[i] > 0) {
                byVersion.computeIfAbsent(run.loopVersion[i], v -> new ArrayList<>()).add(i);
            }
        }
        double[] labels = new double[m];
        for (int i = 0; i < m; i++) {
            labels[i] = run.label[run.streamFrom + i];
        }
        StringBuilder b = new StringBuilder("| version | records served | first | last | its AUC | conventional v1's AUC on "
                + "the same records |\n|---|---|---|---|---|---|\n");
        for (Map.Entry<Integer, List<Integer>> e : byVersion.entrySet()) {
            List<Integer> rows = e.getValue();
            b.append(String.format(Locale.ROOT, "| v%d | %,d | %s | %s | %.4f | %.4f |%n", e.getKey(), rows.size(),
                    ClosedLoop.date(run.time[run.streamFrom + rows.get(0)]),
                    ClosedLoop.date(run.time[run.streamFrom + rows.get(rows.size() - 1)]),
                    metrics(run.loopScore, labels, rows).auc(), metrics(run.staticScore, labels, rows).auc()));
        }
        return b.toString();
    }

    String timeline() {
        StringBuilder b = new StringBuilder();
        synchronized (run.timeline) {
            for (ClosedLoop.Mark mk : run.timeline) {
                b.append(ClosedLoop.date(mk.simMs())).append("  ").append(mk.text()).append('\n');
            }
        }
        return b.toString();
    }

    String json() {
        return String.format(Locale.ROOT, "{\"bench\":\"scenario\",\"machine\":%s,\"rows\":%d,\"seed\":%d,"
                        + "\"label_delay_days\":%d,\"train_days\":%d,\"window_rows\":%d,\"algorithm\":\"%s\","
                        + "\"v1_holdout_auc\":%.4f,\"v1_train_s\":%.1f,\"replay_s\":%.1f,\"paused_s\":%.1f,"
                        + "\"loop\":%s,\"conventional\":%s,\"day_accuracy\":%.4f,\"days\":%d,"
                        + "\"mean_detect_days\":%.3f,\"detect_sudden_days\":%.3f,\"detect_gradual_days\":%.3f,"
                        + "\"alerts_outside\":%d,\"false_alarms_per_year\":%.2f,\"trainer_skew_rows\":%d,"
                        + "\"trainer_skew_checked\":%d,\"p95_ms\":%.3f,\"p99_ms\":%.3f,"
                        + "\"predict_per_s\":%.1f,\"errors\":%d,\"retrains\":%d}%n", Machine.json(),
                run.options.rows(), run.options.seed(), run.options.labelDelayDays(), run.options.trainDays(),
                run.options.windowRows(), run.options.algorithm(), run.v1HoldoutAuc, run.v1TrainSeconds,
                run.replayWallSeconds, run.pausedWallSeconds, armJson(loop), armJson(conventional), dayAccuracy,
                daysJudged, meanDetectDays(), meanDetectDays(true), meanDetectDays(false), alertsOutside,
                falseAlarmsPerYear(), trainerSkew()[0], trainerSkew()[1], p95Ms, p99Ms, throughput, run.errors.get(),
                run.retrains.size());
    }

    private static String armJson(Arm a) {
        return String.format(Locale.ROOT, "{\"mean_auc\":%.4f,\"sd_auc\":%.4f,\"mean_accuracy\":%.4f,"
                + "\"sd_accuracy\":%.4f,\"degraded_days\":%d,\"skew_rows\":%d,\"compared\":%d,\"max_skew\":%.3e}",
                a.meanAuc(), a.sdAuc(), a.meanAccuracy(), a.sdAccuracy(), a.degradedDays(), a.skewRows(), a.compared(),
                a.maxSkew());
    }

    /** Trailing 7-day AUC of both arms over the replay, with the drifts, alerts, publications and promotions. */
    void chart(Path png) throws Exception {
        int w = 1400;
        int h = 620;
        int left = 70;
        int right = 30;
        int top = 60;
        int bottom = 120;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        double lo = 1;
        double hi = 0;
        for (double[] series : new double[][] {loop.rollingAuc(), conventional.rollingAuc()}) {
            for (int d = 6; d < series.length; d++) {
                if (Double.isFinite(series[d])) {
                    lo = Math.min(lo, series[d]);
                    hi = Math.max(hi, series[d]);
                }
            }
        }
        lo = Math.min(lo, run.v1HoldoutAuc - DEGRADED_DROP) - 0.01;
        hi = Math.max(hi, run.v1HoldoutAuc) + 0.01;
        int plotW = w - left - right;
        int plotH = h - top - bottom;
        double ylo = lo;
        double yhi = hi;
        java.util.function.DoubleUnaryOperator ypx = v -> top + plotH * (1 - (v - ylo) / (yhi - ylo));
        java.util.function.LongToIntFunction xpx = ms -> left + (int) Math.round(plotW * (double) (ms - dayZero)
                / ((double) days * DAY));
        // drifts
        for (ChurnDataGenerator.Drift d : run.drifts) {
            long a = Math.max(d.startMs(), dayZero);
            long z = Math.min(d.endMs(), dayZero + (long) days * DAY);
            if (z <= a && !"sudden".equals(d.kind())) {
                continue;
            }
            Color c = d.recurring() ? new Color(220, 240, 220) : "sudden".equals(d.kind()) ? new Color(250, 215, 215)
                    : new Color(252, 232, 200);
            g.setColor(c);
            int x0 = xpx.applyAsInt(a);
            int x1 = Math.max(x0 + 3, xpx.applyAsInt(z));
            g.fillRect(x0, top, x1 - x0, plotH);
        }
        for (ChurnDataGenerator.Drift d : run.drifts) {
            if (!d.recurring() && d.startMs() >= dayZero) {
                int x0 = xpx.applyAsInt(d.startMs());
                g.setColor(new Color(200, 60, 60));
                g.fillRect(x0 - 1, top, 3, plotH);
                g.drawString(d.kind() + " drift starts", x0 + 4, top + plotH - 8);
            }
        }
        // grid and axes
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        g.setColor(new Color(225, 225, 225));
        for (double v = Math.ceil(lo * 50) / 50; v <= hi; v += 0.02) {
            int y = (int) ypx.applyAsDouble(v);
            g.drawLine(left, y, left + plotW, y);
            g.setColor(Color.DARK_GRAY);
            g.drawString(String.format(Locale.ROOT, "%.2f", v), left - 40, y + 4);
            g.setColor(new Color(225, 225, 225));
        }
        g.setColor(Color.DARK_GRAY);
        LocalDate first = LocalDate.ofInstant(Instant.ofEpochMilli(dayZero), ZoneOffset.UTC).withDayOfMonth(1);
        for (LocalDate m = first; m.atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli() < dayZero
                + (long) days * DAY; m = m.plusMonths(1)) {
            long ms = m.atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli();
            if (ms < dayZero) {
                continue;
            }
            int x = xpx.applyAsInt(ms);
            g.drawLine(x, top + plotH, x, top + plotH + 5);
            g.drawString(m.toString().substring(0, 7), x - 20, top + plotH + 20);
        }
        g.drawRect(left, top, plotW, plotH);
        // the degraded line
        g.setStroke(new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {6f, 4f}, 0f));
        g.setColor(new Color(160, 0, 0));
        int yd = (int) ypx.applyAsDouble(run.v1HoldoutAuc - DEGRADED_DROP);
        g.drawLine(left, yd, left + plotW, yd);
        g.drawString("degraded below", left + plotW - 95, yd - 4);
        // series
        g.setStroke(new BasicStroke(2f));
        series(g, conventional.rollingAuc(), new Color(120, 120, 120), xpx, ypx);
        series(g, loop.rollingAuc(), new Color(20, 90, 200), xpx, ypx);
        // events
        synchronized (run.timeline) {
            for (ClosedLoop.Mark mk : run.timeline) {
                int x = xpx.applyAsInt(mk.simMs());
                switch (mk.kind()) {
                    case "alert" -> {
                        g.setColor(new Color(200, 0, 0));
                        g.fillPolygon(new int[] {x - 5, x + 5, x}, new int[] {top - 14, top - 14, top - 4}, 3);
                    }
                    case "published" -> {
                        g.setColor(new Color(0, 140, 0));
                        g.setStroke(new BasicStroke(1f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f,
                                new float[] {3f, 3f}, 0f));
                        g.drawLine(x, top, x, top + plotH);
                    }
                    case "promote" -> {
                        g.setColor(new Color(0, 140, 0));
                        g.setStroke(new BasicStroke(2.5f));
                        g.drawLine(x, top, x, top + plotH);
                        g.drawString(mk.text().split(" ")[0] + " promoted", x + 3, top + 14);
                    }
                    case "rollback" -> {
                        g.setColor(Color.BLACK);
                        g.setStroke(new BasicStroke(2.5f));
                        g.drawLine(x, top, x, top + plotH);
                        g.drawString(mk.text().split(" ")[0] + " rolled back", x + 3, top + 28);
                    }
                    default -> {
                    }
                }
            }
        }
        // title and legend
        g.setColor(Color.BLACK);
        g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 15));
        g.drawString(String.format(Locale.ROOT, "Trailing 7-day AUC of served predictions, %s to %s (%,d records "
                        + "replayed; labels %d days late)", ClosedLoop.date(dayZero),
                ClosedLoop.date(dayZero + (long) (days - 1) * DAY), run.n - run.streamFrom,
                run.options.labelDelayDays()), left, 24);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        int ly = h - 60;
        legend(g, left, ly, new Color(20, 90, 200), "mlserve closed loop", false);
        legend(g, left + 200, ly, new Color(120, 120, 120), "conventional: v1 trained once, no monitoring", false);
        legend(g, left + 520, ly, new Color(250, 215, 215), "sudden drift (label relation changes)", true);
        legend(g, left + 780, ly, new Color(252, 232, 200), "gradual drift", true);
        legend(g, left + 920, ly, new Color(220, 240, 220), "holiday season (recurring)", true);
        ly += 24;
        g.setColor(new Color(200, 0, 0));
        g.fillPolygon(new int[] {left, left + 10, left + 5}, new int[] {ly - 9, ly - 9, ly + 1}, 3);
        g.setColor(Color.BLACK);
        g.drawString("drift or quality alert", left + 16, ly);
        g.setColor(new Color(0, 140, 0));
        g.drawLine(left + 200, ly - 10, left + 200, ly + 2);
        g.setColor(Color.BLACK);
        g.drawString("new version published (dashed), promoted (solid); black: rolled back", left + 208, ly);
        g.dispose();
        Files.createDirectories(png.toAbsolutePath().getParent());
        ImageIO.write(img, "png", png.toFile());
    }

    private void series(Graphics2D g, double[] v, Color c, java.util.function.LongToIntFunction xpx,
                        java.util.function.DoubleUnaryOperator ypx) {
        g.setColor(c);
        int px = -1;
        int py = -1;
        for (int d = 6; d < v.length; d++) {
            if (!Double.isFinite(v[d])) {
                px = -1;
                continue;
            }
            int x = xpx.applyAsInt(dayZero + d * DAY + DAY / 2);
            int y = (int) ypx.applyAsDouble(v[d]);
            if (px >= 0) {
                g.drawLine(px, py, x, y);
            }
            px = x;
            py = y;
        }
    }

    private static void legend(Graphics2D g, int x, int y, Color c, String text, boolean box) {
        g.setColor(c);
        if (box) {
            g.fillRect(x, y - 10, 14, 12);
        } else {
            g.setStroke(new BasicStroke(3f));
            g.drawLine(x, y - 4, x + 14, y - 4);
        }
        g.setColor(Color.BLACK);
        g.drawString(text, x + 20, y);
    }

    private static double mean(double[] v) {
        double s = 0;
        int k = 0;
        for (double d : v) {
            if (Double.isFinite(d)) {
                s += d;
                k++;
            }
        }
        return k == 0 ? Double.NaN : s / k;
    }

    private static double sd(double[] v) {
        double m = mean(v);
        double s = 0;
        int k = 0;
        for (double d : v) {
            if (Double.isFinite(d)) {
                s += (d - m) * (d - m);
                k++;
            }
        }
        return k < 2 ? Double.NaN : Math.sqrt(s / k);
    }
}
