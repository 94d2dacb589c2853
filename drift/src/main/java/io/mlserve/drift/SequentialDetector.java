package io.mlserve.drift;

import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Sequential change detection on the counts the recorder already takes, beside the windows: a drift is flagged within
 * rows of its start instead of at the end of a window of thousands.
 *
 * <p><b>Statistics.</b> Each recorded value becomes a number whose distribution under the reference is known: a
 * numeric value's place in the reference distribution, u = the midpoint of the reference CDF over its fine bin (about
 * uniform on [0, 1]: it moves when the location moves), and v = |u − ½| (it moves when the spread widens or narrows);
 * a category's surprise t = −ln p(code) under the reference (it moves when rarer or commoner codes come). The score is
 * a numeric value. Each statistic's mean and standard deviation under the reference are computed from the profile —
 * per season bucket (the month or quarter of the rows), so a season that recurs is not a change.
 *
 * <p><b>Detection.</b> A two-sided CUSUM (Page) per statistic over standardised increments, S = max(0, S ± z − k) per
 * row, evaluated on the recorder's totals each time the monitor looks (every 100 ms in the server): a feature is
 * flagged when S exceeds {@code h}; S then restarts at 0 and the flag holds for {@code holdRows} rows. With k = 0.25
 * (changes of a quarter of a standard deviation of the statistic are absorbed) and h = 20, one detector's average run
 * between false flags on unchanged data is above a million rows (Siegmund's approximation for Gaussian increments;
 * measured in bench/RESULTS.md), and a location shift of one standard deviation of a normal feature (0.9 sd of u) is
 * flagged after about 30 rows.
 *
 * <p><b>Alerts</b> weigh what matters: the dataset alert is raised while the score is flagged, or the flagged features
 * carry at least {@code importanceShare} of the model's importance (the mean |contribution| of each feature; uniform
 * when unknown), or at least {@code datasetShare} of the features are flagged — so two features the model leans on
 * moving is an alert, many it ignores is a report. It clears after {@code clearRows} rows without the condition.
 * Severity: the larger of the importance share and the share of features flagged, 1 when the score is flagged.
 *
 * <p>Single-threaded: one monitor thread calls {@link #update}.
 */
public final class SequentialDetector {
    /**
     * @param k               allowance per row, in standard deviations of the statistic
     * @param h               threshold of the cumulative sum
     * @param holdRows        a flag counts for this many rows after its crossing
     * @param importanceShare alert when the flagged features carry this share of the model's importance
     * @param datasetShare    alert when this share of the features is flagged
     * @param clearRows       the alert clears after this many rows without its condition
     */
    public record Config(double k, double h, long holdRows, double importanceShare, double datasetShare,
                         long clearRows) {
        public Config {
            if (!(k > 0) || !(h > 0) || holdRows < 1 || !(importanceShare > 0 && importanceShare <= 1)
                    || !(datasetShare > 0 && datasetShare <= 1) || clearRows < 1) {
                throw new IllegalArgumentException("sequential drift: k and h must be > 0, hold and clear rows >= 1, "
                        + "the shares in (0, 1]");
            }
        }

        public static Config defaults() {
            return new Config(0.25, 20, 5_000, 0.2, 0.5, 10_000);
        }
    }

    /** Per fine bin (numeric, score) or code slot (categorical): the statistics' values; see the class comment. */
    public static final class Tables {
        final double[][] numericU;
        final double[][] numericV;
        final double[][] categoricalT;
        final double[] scoreU;
        final double[] scoreV;
        /** [season + 1][stat] means and deviations; season 0 = overall. */
        final double[][][] numericMean;
        final double[][][] numericSd;
        final double[][] categoricalMean;
        final double[][] categoricalSd;
        final double[] scoreMean;
        final double[] scoreSd;
        final String[] seasons;

        Tables(ReferenceProfile ref, double[][] fineEdges, double[] scoreFineEdges) {
            List<ReferenceProfile.Numeric> nums = new ArrayList<>();
            List<ReferenceProfile.Categorical> cats = new ArrayList<>();
            for (ReferenceProfile.Feature f : ref.features()) {
                if (f instanceof ReferenceProfile.Numeric n) {
                    nums.add(n);
                } else {
                    cats.add((ReferenceProfile.Categorical) f);
                }
            }
            seasons = seasonNames(ref.season());
            double[] p = ref.probabilities();
            int s = seasons.length + 1;
            numericU = new double[nums.size()][];
            numericV = new double[nums.size()][];
            numericMean = new double[s][nums.size()][2];
            numericSd = new double[s][nums.size()][2];
            for (int i = 0; i < nums.size(); i++) {
                ReferenceProfile.Numeric n = nums.get(i);
                double[] cdf = cdf(fineEdges[i], n.overall().quantiles(), p);
                numericU[i] = midpoints(cdf);
                numericV[i] = Arrays.stream(numericU[i]).map(u -> Math.abs(u - 0.5)).toArray();
                for (int season = 0; season < s; season++) {
                    ReferenceProfile.Bucket b = season == 0 ? n.overall() : n.seasons().get(seasons[season - 1]);
                    double[] mass = b == null || b.count() == 0 || b.quantiles().length != p.length
                            ? masses(cdf) : masses(cdf(fineEdges[i], b.quantiles(), p));
                    moments(mass, numericU[i], numericMean[season][i], numericSd[season][i], 0);
                    moments(mass, numericV[i], numericMean[season][i], numericSd[season][i], 1);
                }
            }
            categoricalT = new double[cats.size()][];
            categoricalMean = new double[s][cats.size()];
            categoricalSd = new double[s][cats.size()];
            for (int i = 0; i < cats.size(); i++) {
                ReferenceProfile.Categorical c = cats.get(i);
                int slots = c.vocabulary().size() + 1;
                double[] prob = probabilities(c.overall(), slots);
                categoricalT[i] = Arrays.stream(prob).map(q -> -Math.log(q)).toArray();
                for (int season = 0; season < s; season++) {
                    ReferenceProfile.Bucket b = season == 0 ? c.overall() : c.seasons().get(seasons[season - 1]);
                    double[] mass = b == null || b.count() == 0 ? prob : probabilities(b, slots);
                    double[] m = new double[1];
                    double[] sd = new double[1];
                    moments(mass, categoricalT[i], m, sd, 0);
                    categoricalMean[season][i] = m[0];
                    categoricalSd[season][i] = sd[0];
                }
            }
            if (ref.score() != null && scoreFineEdges.length > 0) {
                double[] cdf = cdf(scoreFineEdges, ref.score().overall().quantiles(), p);
                scoreU = midpoints(cdf);
                scoreV = Arrays.stream(scoreU).map(u -> Math.abs(u - 0.5)).toArray();
                scoreMean = new double[2];
                scoreSd = new double[2];
                double[] mass = masses(cdf);
                moments(mass, scoreU, scoreMean, scoreSd, 0);
                moments(mass, scoreV, scoreMean, scoreSd, 1);
            } else {
                scoreU = new double[0];
                scoreV = new double[0];
                scoreMean = null;
                scoreSd = null;
            }
        }

        private static String[] seasonNames(String season) {
            if ("month".equals(season)) {
                return java.util.stream.IntStream.rangeClosed(1, 12)
                        .mapToObj(m -> String.format(Locale.ROOT, "M%02d", m)).toArray(String[]::new);
            }
            if ("quarter".equals(season)) {
                return new String[] {"Q1", "Q2", "Q3", "Q4"};
            }
            return new String[0];
        }

        /** The season bucket (1 …) of a time, or 0 (overall) when the reference has none. */
        int season(long timeMs) {
            if (seasons.length == 0) {
                return 0;
            }
            int month = Instant.ofEpochMilli(timeMs).atZone(ZoneOffset.UTC).getMonthValue();
            return seasons.length == 12 ? month : (month - 1) / 3 + 1;
        }
    }

    /**
     * The reference CDF just below each fine edge, G[k] = P(X &lt; edges[k]): the midpoint of the bounds the quantiles
     * give (above the probability of the last quantile below the edge, below that of the first one at or above it).
     */
    static double[] cdf(double[] edges, double[] quantiles, double[] p) {
        double[] g = new double[edges.length];
        for (int k = 0; k < edges.length; k++) {
            double lo = 0;
            double hi = 1;
            for (int j = 0; j < quantiles.length; j++) {
                if (quantiles[j] < edges[k]) {
                    lo = Math.max(lo, p[j]);
                } else {
                    hi = Math.min(hi, p[j]);
                }
            }
            g[k] = Math.max(lo, Math.min(hi, (lo + hi) / 2));
            if (k > 0) {
                g[k] = Math.max(g[k], g[k - 1]);
            }
        }
        return g;
    }

    /** Bins 0 … edges.length: the midpoint of the CDF over each. */
    static double[] midpoints(double[] cdf) {
        double[] u = new double[cdf.length + 1];
        for (int b = 0; b <= cdf.length; b++) {
            double below = b == 0 ? 0 : cdf[b - 1];
            double above = b == cdf.length ? 1 : cdf[b];
            u[b] = (below + above) / 2;
        }
        return u;
    }

    /** Bins 0 … edges.length: the probability of each. */
    static double[] masses(double[] cdf) {
        double[] m = new double[cdf.length + 1];
        for (int b = 0; b <= cdf.length; b++) {
            m[b] = (b == cdf.length ? 1 : cdf[b]) - (b == 0 ? 0 : cdf[b - 1]);
        }
        return m;
    }

    /** Code probabilities with half a count added to every slot (no slot is impossible); the last slot: missing. */
    private static double[] probabilities(ReferenceProfile.Bucket b, int slots) {
        double[] p = new double[slots];
        double total = 0;
        for (int c = 0; c < slots; c++) {
            long n = c < slots - 1 ? (c < b.counts().length ? b.counts()[c] : 0) : b.missing();
            p[c] = n + 0.5;
            total += p[c];
        }
        for (int c = 0; c < slots; c++) {
            p[c] /= total;
        }
        return p;
    }

    private static void moments(double[] mass, double[] value, double[] mean, double[] sd, int at) {
        double m = 0;
        double m2 = 0;
        double total = 0;
        for (int b = 0; b < mass.length; b++) {
            m += mass[b] * value[b];
            m2 += mass[b] * value[b] * value[b];
            total += mass[b];
        }
        m /= total;
        m2 /= total;
        mean[at] = m;
        sd[at] = Math.sqrt(Math.max(0, m2 - m * m));
    }

    /**
     * Cumulative totals since the recorder started: per numeric feature rows with a value and the sums of u and v;
     * per categorical feature rows and the sum of t; the score's rows and sums of u and v.
     */
    public record Totals(long[] numericRows, double[] numericU, double[] numericV, long[] categoricalRows,
                         double[] categoricalT, long scoreRows, double scoreU, double scoreV, long rows) {
    }

    /** A feature (or the score) flagged by its statistic: location, spread or category; up or down. */
    public record Flag(String feature, String statistic, boolean up, long atRow, long timeMs) {
    }

    /**
     * What one look found: the features flagged now (holding), whether the score is, the shares, the alert and its
     * transitions, the severity, and the flags raised in this look.
     */
    public record Verdict(long rows, List<String> flagged, boolean scoreFlagged, double importanceShare,
                          double share, boolean alert, boolean raised, boolean cleared, double severity,
                          List<Flag> newFlags) {
    }

    private final Config config;
    private final Tables tables;
    private final String[] numericNames;
    private final String[] categoricalNames;
    private final int features;
    // CUSUM state per statistic: [feature][stat][up/down]
    private final double[][][] numericSum;
    private final double[][] categoricalSum;
    private final double[][] scoreSum = new double[2][2];
    private final long[] numericHold;
    private final long[] categoricalHold;
    private long scoreHold;
    private double[] weights;
    private Totals last;
    private long rows;
    private boolean alert;
    private long quietRows;

    public SequentialDetector(Config config, ReferenceProfile reference, Tables tables) {
        this.config = config;
        this.tables = tables;
        List<String> nums = new ArrayList<>();
        List<String> cats = new ArrayList<>();
        for (ReferenceProfile.Feature f : reference.features()) {
            (f instanceof ReferenceProfile.Numeric ? nums : cats).add(f.name());
        }
        numericNames = nums.toArray(new String[0]);
        categoricalNames = cats.toArray(new String[0]);
        features = numericNames.length + categoricalNames.length;
        numericSum = new double[numericNames.length][2][2];
        categoricalSum = new double[categoricalNames.length][2];
        numericHold = new long[numericNames.length];
        categoricalHold = new long[categoricalNames.length];
        weights = new double[features];
        Arrays.fill(weights, features == 0 ? 0 : 1.0 / features);
    }

    public Config config() {
        return config;
    }

    /**
     * The model's importance per feature, in the profile's order (numeric features, then categorical ones, as
     * {@link ReferenceProfile#features()} lists them); normalised here. Uniform until set.
     */
    public void weights(Map<String, Double> importance) {
        double[] w = new double[features];
        double total = 0;
        for (int i = 0; i < features; i++) {
            String name = i < numericNames.length ? numericNames[i] : categoricalNames[i - numericNames.length];
            w[i] = Math.max(0, importance.getOrDefault(name, 0.0));
            total += w[i];
        }
        if (total > 0) {
            for (int i = 0; i < features; i++) {
                w[i] /= total;
            }
            weights = w;
        }
    }

    /** Looks at the recorder's totals (taken at {@code timeMs}, the rows' season). */
    public Verdict update(Totals t, long timeMs) {
        int season = tables.season(timeMs);
        List<Flag> flags = new ArrayList<>();
        long newRows = t.rows() - (last == null ? 0 : last.rows());
        rows = t.rows();
        for (int i = 0; i < numericNames.length; i++) {
            long n = t.numericRows()[i] - (last == null ? 0 : last.numericRows()[i]);
            numericHold[i] = Math.max(0, numericHold[i] - newRows);
            if (n <= 0) {
                continue;
            }
            double du = t.numericU()[i] - (last == null ? 0 : last.numericU()[i]);
            double dv = t.numericV()[i] - (last == null ? 0 : last.numericV()[i]);
            boolean flagged = step(numericSum[i][0], du, n, tables.numericMean[season][i][0],
                    tables.numericSd[season][i][0], numericNames[i], "location", timeMs, flags);
            flagged |= step(numericSum[i][1], dv, n, tables.numericMean[season][i][1],
                    tables.numericSd[season][i][1], numericNames[i], "spread", timeMs, flags);
            if (flagged) {
                numericHold[i] = config.holdRows();
            }
        }
        for (int i = 0; i < categoricalNames.length; i++) {
            long n = t.categoricalRows()[i] - (last == null ? 0 : last.categoricalRows()[i]);
            categoricalHold[i] = Math.max(0, categoricalHold[i] - newRows);
            if (n <= 0) {
                continue;
            }
            double dt = t.categoricalT()[i] - (last == null ? 0 : last.categoricalT()[i]);
            if (step(categoricalSum[i], dt, n, tables.categoricalMean[season][i], tables.categoricalSd[season][i],
                    categoricalNames[i], "category", timeMs, flags)) {
                categoricalHold[i] = config.holdRows();
            }
        }
        scoreHold = Math.max(0, scoreHold - newRows);
        long ns = t.scoreRows() - (last == null ? 0 : last.scoreRows());
        if (ns > 0 && tables.scoreMean != null) {
            boolean flagged = step(scoreSum[0], t.scoreU() - (last == null ? 0 : last.scoreU()), ns,
                    tables.scoreMean[0], tables.scoreSd[0], "score", "location", timeMs, flags);
            flagged |= step(scoreSum[1], t.scoreV() - (last == null ? 0 : last.scoreV()), ns, tables.scoreMean[1],
                    tables.scoreSd[1], "score", "spread", timeMs, flags);
            if (flagged) {
                scoreHold = config.holdRows();
            }
        }
        last = t;
        List<String> flagged = new ArrayList<>();
        double importance = 0;
        for (int i = 0; i < features; i++) {
            boolean on = i < numericNames.length ? numericHold[i] > 0 : categoricalHold[i - numericNames.length] > 0;
            if (on) {
                flagged.add(i < numericNames.length ? numericNames[i] : categoricalNames[i - numericNames.length]);
                importance += weights[i];
            }
        }
        boolean scoreFlagged = scoreHold > 0;
        double share = features == 0 ? 0 : flagged.size() / (double) features;
        boolean condition = scoreFlagged || (!flagged.isEmpty() && (importance >= config.importanceShare()
                || share >= config.datasetShare()));
        boolean raised = false;
        boolean cleared = false;
        if (condition) {
            quietRows = 0;
            if (!alert) {
                alert = true;
                raised = true;
            }
        } else if (alert) {
            quietRows += newRows;
            if (quietRows >= config.clearRows()) {
                alert = false;
                cleared = true;
            }
        }
        double severity = scoreFlagged ? 1 : Math.max(importance, share);
        return new Verdict(rows, flagged, scoreFlagged, importance, share, alert, raised, cleared, severity, flags);
    }

    /**
     * One CUSUM step for {@code n} rows whose statistic sums to {@code sum}; true (and the sums restarted) when
     * either side crosses h.
     */
    private boolean step(double[] s, double sum, long n, double mean, double sd, String feature, String statistic,
                         long timeMs, List<Flag> flags) {
        if (!(sd > 1e-9)) {
            return false; // a statistic that cannot vary under the reference cannot signal anything
        }
        double z = (sum - n * mean) / sd;
        s[0] = Math.max(0, s[0] + z - config.k() * n);
        s[1] = Math.max(0, s[1] - z - config.k() * n);
        if (s[0] > config.h() || s[1] > config.h()) {
            flags.add(new Flag(feature, statistic, s[0] > config.h(), rows, timeMs));
            s[0] = 0;
            s[1] = 0;
            return true;
        }
        return false;
    }

    /** Whether the alert is raised now. */
    public boolean alert() {
        return alert;
    }
}
