package io.mlserve.drift;

import java.time.Instant;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Judges closed windows against a reference, one model version at a time: per feature the statistics of
 * {@link Statistics} and a decision by the configured method and threshold; dataset drift when the share of
 * drifted features reaches {@code datasetShare}; score drift; and, when the windows raise the alert ({@code alerts};
 * otherwise {@link SequentialDetector} does and the windows only report), an alert with hysteresis — raised after
 * {@code alertAfter} consecutive drifted windows, cleared after {@code clearAfter} consecutive clean ones.
 *
 * <p>Seasonality: with {@code seasonal} on and a profile bucketed by quarter or month, a window is compared with the
 * reference of its own quarter or month (of the middle of its recorded times, UTC), so movement that recurs every year
 * at the same season is not drift.
 */
public final class DriftDetector {
    /** The reference quantiles' own rank error (the trainer's Spark approxQuantile relative error). */
    public static final double REFERENCE_RANK_ERROR = 0.001;

    /** Per numeric feature (reference order) the fine edges the recorder bins at; the score's last. */
    private final double[][] fineEdges;
    private final double[] scoreFineEdges;

    /**
     * @param numericMethod     psi, ks or js for numeric features and the score
     * @param categoricalMethod chi2, js or psi for categorical features
     * @param chi2PValue        chi2: drifted when the p-value is below this
     * @param minRows           windows with fewer rows are reported but not judged
     */
    public record Config(String numericMethod, String categoricalMethod, double psiThreshold, double ksThreshold,
                         double jsThreshold, double chi2PValue, double datasetShare, int alertAfter, int clearAfter,
                         boolean seasonal, long minRows, boolean alerts) {
        /** A detector whose windows raise the alert. */
        public Config(String numericMethod, String categoricalMethod, double psiThreshold, double ksThreshold,
                      double jsThreshold, double chi2PValue, double datasetShare, int alertAfter, int clearAfter,
                      boolean seasonal, long minRows) {
            this(numericMethod, categoricalMethod, psiThreshold, ksThreshold, jsThreshold, chi2PValue, datasetShare,
                    alertAfter, clearAfter, seasonal, minRows, true);
        }

        public Config {
            if (!List.of("psi", "ks", "js").contains(numericMethod)) {
                throw new IllegalArgumentException("numeric method must be psi, ks or js, got '" + numericMethod + "'");
            }
            if (!List.of("chi2", "js", "psi").contains(categoricalMethod)) {
                throw new IllegalArgumentException("categorical method must be chi2, js or psi, got '"
                        + categoricalMethod + "'");
            }
            if (!(datasetShare > 0 && datasetShare <= 1) || alertAfter < 1 || clearAfter < 1 || minRows < 1) {
                throw new IllegalArgumentException("dataset_share must be in (0, 1], alert_after, clear_after and "
                        + "min_rows at least 1");
            }
        }

        /**
         * PSI 0.2 for numbers and the score (between "moderate" and "major"), Jensen–Shannon 0.1 for categories
         * (chi-squared flags negligible differences once windows hold thousands of rows), KS 0.1, chi2 p 0.01,
         * dataset drift at half the features, alert after 2 drifted windows, clear after 3 clean ones, seasonal.
         */
        public static Config defaults() {
            return new Config("psi", "js", 0.2, 0.1, 0.1, 0.01, 0.5, 2, 3, true, 100);
        }
    }

    /**
     * One feature's (or the score's) statistics in one window; {@code trendPerDay} is the reference trend the
     * feature's values were projected along before the comparison (0: none).
     */
    public record FeatureResult(String name, String method, long rows, long missing, double psi, double js, double ks,
                                double ksErrorBound, double chi2, double pValue, boolean drifted, String reference,
                                double trendPerDay) {
    }

    /** One closed window's verdict. */
    public record Report(long rows, long startMs, long endMs, String season, Map<String, FeatureResult> features,
                         FeatureResult score, double driftedShare, boolean datasetDrift, boolean judged,
                         boolean drifted, boolean alert, boolean alertRaised, boolean alertCleared) {
    }

    private final Config config;
    private final ReferenceProfile reference;
    private int driftedRun;
    private int cleanRun;
    private boolean alert;

    public DriftDetector(Config config, ReferenceProfile reference) {
        this.config = config;
        this.reference = reference;
        this.fineEdges = reference.features().stream().filter(f -> f instanceof ReferenceProfile.Numeric)
                .map(f -> WindowRecorder.fineEdges(f.overall().quantiles(), ((ReferenceProfile.Numeric) f).edges()))
                .toArray(double[][]::new);
        this.scoreFineEdges = reference.score() == null ? new double[0]
                : WindowRecorder.fineEdges(reference.score().overall().quantiles(), reference.score().edges());
    }

    public Config config() {
        return config;
    }

    /** Judges a window (call in window order). */
    public Report evaluate(WindowRecorder.Window w) {
        String season = seasonOf(w);
        Map<String, FeatureResult> results = new LinkedHashMap<>();
        int numeric = 0;
        int categorical = 0;
        int drifted = 0;
        double[] p = reference.probabilities();
        for (ReferenceProfile.Feature f : reference.features()) {
            ReferenceProfile.Bucket ref = bucket(f, season);
            String refName = ref == f.overall() ? "overall" : season;
            FeatureResult r;
            if (f instanceof ReferenceProfile.Numeric num) {
                int i = numeric++;
                long[] fine = w.bins()[i];
                r = numeric(f.name(), ref, refName, coarse(fine, fineEdges[i], num.edges()), fine, fineEdges[i],
                        w.numericMissing()[i], p, w.trended() ? num.trendPerDay() : 0);
            } else {
                int i = categorical++;
                long[] window = w.codes()[i];
                long[] refCounts = java.util.Arrays.copyOf(ref.counts(), window.length);
                refCounts[window.length - 1] = ref.missing();
                r = categorical(f.name(), refCounts, window, refName);
            }
            results.put(f.name(), r);
            drifted += r.drifted() ? 1 : 0;
        }
        FeatureResult score = null;
        if (reference.score() != null) {
            score = numeric("score", reference.score().overall(), "overall", w.scoreBins(), w.scoreFine(),
                    scoreFineEdges, 0, p, 0);
        }
        double share = results.isEmpty() ? 0 : drifted / (double) results.size();
        boolean judged = w.rows() >= config.minRows();
        boolean datasetDrift = judged && share >= config.datasetShare();
        boolean windowDrifted = judged && (datasetDrift || (score != null && score.drifted()));
        boolean raised = false;
        boolean cleared = false;
        if (judged && config.alerts()) {
            if (windowDrifted) {
                driftedRun++;
                cleanRun = 0;
                if (!alert && driftedRun >= config.alertAfter()) {
                    alert = true;
                    raised = true;
                }
            } else {
                cleanRun++;
                driftedRun = 0;
                if (alert && cleanRun >= config.clearAfter()) {
                    alert = false;
                    cleared = true;
                }
            }
        }
        return new Report(w.rows(), w.startMs(), w.endMs(), season, results, score, share, datasetDrift, judged,
                windowDrifted, alert, raised, cleared);
    }

    private ReferenceProfile.Bucket bucket(ReferenceProfile.Feature f, String season) {
        if (config.seasonal() && season != null) {
            ReferenceProfile.Bucket b = f.seasons().get(season);
            if (b != null && b.count() > 0) {
                return b;
            }
        }
        return f.overall();
    }

    /** The window's season bucket: the quarter (Q1..) or month (M01..) of the middle of its recorded times, or null. */
    String seasonOf(WindowRecorder.Window w) {
        boolean quarter = "quarter".equals(reference.season());
        if (!(quarter || "month".equals(reference.season())) || w.rows() == 0) {
            return null;
        }
        long mid = w.firstTimeMs() / 2 + w.lastTimeMs() / 2;
        int month = Instant.ofEpochMilli(mid).atZone(ZoneOffset.UTC).getMonthValue();
        return quarter ? "Q" + ((month - 1) / 3 + 1) : String.format(java.util.Locale.ROOT, "M%02d", month);
    }

    private FeatureResult numeric(String name, ReferenceProfile.Bucket ref, String refName, long[] bins, long[] fine,
                                  double[] edges, long missing, double[] p, double trendPerDay) {
        long rows = sum(bins);
        double psi = Statistics.psi(ref.counts(), bins);
        double js = Statistics.jensenShannon(ref.counts(), bins);
        double ks = Double.NaN;
        double bound = Double.NaN;
        if (rows > 0 && ref.quantiles().length == p.length && edges.length > 0) {
            double[] ksRange = ksRange(fine, edges, p, ref.quantiles());
            ks = ksRange[0];
            bound = ksRange[1] - ksRange[0];
        }
        boolean drifted = switch (config.numericMethod()) {
            case "ks" -> ks > config.ksThreshold();
            case "js" -> js > config.jsThreshold();
            default -> psi > config.psiThreshold();
        };
        return new FeatureResult(name, config.numericMethod(), rows + missing, missing, psi, js, ks, bound, Double.NaN,
                Double.NaN, rows > 0 && drifted, refName, trendPerDay);
    }

    /**
     * The KS distance between the window (exact counts in bins at {@code edges}) and the reference (quantile
     * {@code q[j]} at probability {@code p[j]}), as the range [lower, upper] it must lie in. At each edge f the
     * window's P(X &lt; f) is exact and the reference's lies between the probabilities of the quantiles around f
     * (± the reference's own rank error); between edges both CDFs are monotone, which bounds the difference there.
     */
    static double[] ksRange(long[] fine, double[] edges, double[] p, double[] q) {
        double n = 0;
        for (long c : fine) {
            n += c;
        }
        double eps = REFERENCE_RANK_ERROR;
        int m = edges.length;
        double[] g = new double[m];   // window P(X < edge k)
        double[] lo = new double[m];  // reference P(X < edge k) is within [lo, hi]
        double[] hi = new double[m];
        double below = 0;
        for (int k = 0; k < m; k++) {
            below += fine[k];
            g[k] = below / n;
            double l = 0;
            double h = 1;
            for (int j = 0; j < p.length; j++) {
                if (q[j] < edges[k]) {
                    l = Math.max(l, p[j]);
                } else {
                    h = Math.min(h, p[j]);
                }
            }
            lo[k] = Math.max(0, l - eps);
            hi[k] = Math.min(1, h + eps);
        }
        double lower = 0;
        double upper = Math.max(g[0], hi[0]); // below the first edge both CDFs lie in [0, their value there]
        for (int k = 0; k < m; k++) {
            lower = Math.max(lower, Math.max(lo[k] - g[k], g[k] - hi[k]));
            double gNext = k + 1 < m ? g[k + 1] : 1;
            double hiNext = k + 1 < m ? hi[k + 1] : 1;
            upper = Math.max(upper, Math.max(gNext - lo[k], hiNext - g[k]));
        }
        return new double[] {lower, Math.max(lower, upper)};
    }

    /** Fine-bin counts summed into the coarse bins (exact when the coarse edges are among the fine ones). */
    static long[] coarse(long[] fine, double[] fineEdges, double[] coarseEdges) {
        long[] c = new long[coarseEdges.length + 1];
        for (int k = 0; k < fine.length; k++) {
            int bin = k == 0 ? 0 : WindowRecorder.bin(coarseEdges, fineEdges[k - 1]);
            c[bin] += fine[k];
        }
        return c;
    }

    private FeatureResult categorical(String name, long[] ref, long[] window, String refName) {
        long rows = sum(window);
        double psi = Statistics.psi(ref, window);
        double js = Statistics.jensenShannon(ref, window);
        Statistics.ChiSquared chi = Statistics.chiSquared(ref, window);
        boolean drifted = switch (config.categoricalMethod()) {
            case "chi2" -> chi.pValue() < config.chi2PValue();
            case "psi" -> psi > config.psiThreshold();
            default -> js > config.jsThreshold();
        };
        return new FeatureResult(name, config.categoricalMethod(), rows, window[window.length - 1], psi, js,
                Double.NaN, Double.NaN, chi.statistic(), chi.pValue(), rows > 0 && drifted, refName, 0);
    }

    private static long sum(long[] v) {
        long s = 0;
        for (long x : v) {
            s += x;
        }
        return s;
    }
}
