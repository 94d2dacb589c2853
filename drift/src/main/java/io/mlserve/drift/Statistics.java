package io.mlserve.drift;

/**
 * The drift statistics, on counts (so windows and references of any size compare):
 *
 * <ul>
 *   <li>PSI = Σ (q − p) · ln(q / p) over bins, with p the reference share and q the window share, each floored at
 *       {@link #PSI_FLOOR} so an empty bin does not make it infinite (&lt; 0.1 stable, 0.1–0.25 moderate, &gt; 0.25
 *       major, by convention);</li>
 *   <li>Jensen–Shannon distance = √JSD with base-2 logarithms, in [0, 1];</li>
 *   <li>Pearson's chi-squared of the window's counts against the reference shares, with its p-value from the
 *       chi-squared distribution (k − 1 degrees of freedom, k = bins with a non-zero expected count);</li>
 *   <li>(the KS distance, with its bound, is computed from the window's bins: {@link DriftDetector#ksRange}).</li>
 * </ul>
 */
public final class Statistics {
    /** Smallest share a bin counts with in PSI. */
    public static final double PSI_FLOOR = 1e-4;

    private Statistics() {
    }

    public static double psi(long[] reference, long[] window) {
        check(reference, window);
        double r = sum(reference);
        double w = sum(window);
        if (r == 0 || w == 0) {
            return Double.NaN;
        }
        double psi = 0;
        for (int i = 0; i < reference.length; i++) {
            double p = Math.max(reference[i] / r, PSI_FLOOR);
            double q = Math.max(window[i] / w, PSI_FLOOR);
            psi += (q - p) * Math.log(q / p);
        }
        return psi;
    }

    public static double jensenShannon(long[] reference, long[] window) {
        check(reference, window);
        double r = sum(reference);
        double w = sum(window);
        if (r == 0 || w == 0) {
            return Double.NaN;
        }
        double js = 0;
        for (int i = 0; i < reference.length; i++) {
            double p = reference[i] / r;
            double q = window[i] / w;
            double m = (p + q) / 2;
            js += (p > 0 ? p * log2(p / m) : 0) + (q > 0 ? q * log2(q / m) : 0);
        }
        return Math.sqrt(Math.max(0, js / 2));
    }

    /** Chi-squared statistic, degrees of freedom and p-value of a window against a reference. */
    public record ChiSquared(double statistic, int degreesOfFreedom, double pValue) {
    }

    public static ChiSquared chiSquared(long[] reference, long[] window) {
        check(reference, window);
        double r = sum(reference);
        double w = sum(window);
        if (r == 0 || w == 0) {
            return new ChiSquared(Double.NaN, 0, Double.NaN);
        }
        double x2 = 0;
        int bins = 0;
        long unexpected = 0;
        for (int i = 0; i < reference.length; i++) {
            double expected = reference[i] / r * w;
            if (expected > 0) {
                x2 += (window[i] - expected) * (window[i] - expected) / expected;
                bins++;
            } else {
                unexpected += window[i];
            }
        }
        if (unexpected > 0) {
            // values the reference never had: certain drift under this test
            return new ChiSquared(Double.POSITIVE_INFINITY, Math.max(1, bins - 1), 0);
        }
        int dof = Math.max(1, bins - 1);
        return new ChiSquared(x2, dof, bins < 2 ? 1 : upperRegularizedGamma(dof / 2.0, x2 / 2));
    }

    /** Q(a, x) = Γ(a, x) / Γ(a): series for x &lt; a + 1, continued fraction (Lentz) otherwise. */
    static double upperRegularizedGamma(double a, double x) {
        if (x <= 0) {
            return 1;
        }
        if (Double.isInfinite(x)) {
            return 0;
        }
        double lnPrefix = -x + a * Math.log(x) - logGamma(a);
        if (x < a + 1) {
            double term = 1 / a;
            double sum = term;
            for (int n = 1; n < 10_000; n++) {
                term *= x / (a + n);
                sum += term;
                if (Math.abs(term) < Math.abs(sum) * 1e-15) {
                    break;
                }
            }
            return Math.max(0, 1 - sum * Math.exp(lnPrefix));
        }
        double tiny = 1e-300;
        double b = x + 1 - a;
        double c = 1 / tiny;
        double d = 1 / b;
        double h = d;
        for (int i = 1; i < 10_000; i++) {
            double an = -i * (i - a);
            b += 2;
            d = an * d + b;
            d = Math.abs(d) < tiny ? tiny : d;
            c = b + an / c;
            c = Math.abs(c) < tiny ? tiny : c;
            d = 1 / d;
            double delta = d * c;
            h *= delta;
            if (Math.abs(delta - 1) < 1e-15) {
                break;
            }
        }
        return Math.min(1, Math.exp(lnPrefix) * h);
    }

    /** ln Γ(x) for x &gt; 0 (Lanczos, g = 7, n = 9). */
    static double logGamma(double x) {
        double[] c = {0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
            1.5056327351493116e-7};
        if (x < 0.5) {
            return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
        }
        x -= 1;
        double a = c[0];
        double t = x + 7.5;
        for (int i = 1; i < 9; i++) {
            a += c[i] / (x + i);
        }
        return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
    }

    private static double log2(double v) {
        return Math.log(v) / Math.log(2);
    }

    private static double sum(long[] v) {
        double s = 0;
        for (long x : v) {
            s += x;
        }
        return s;
    }

    private static void check(long[] a, long[] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException("reference has " + a.length + " bins, window " + b.length);
        }
    }
}
