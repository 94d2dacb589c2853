package io.mlserve.explain;

import ai.onnxruntime.OrtException;
import io.mlserve.drift.ReferenceProfile;
import io.mlserve.runtime.ModelSession;
import io.mlserve.runtime.RunOutputs;
import io.mlserve.runtime.TensorBatch;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Locale;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.BooleanSupplier;

/**
 * Shapley values by sampling, for any graph with one FP32 [batch, width] input whose first output is a probability:
 * Štrumbelj and Kononenko's permutation estimate of the interventional Shapley values of the output's log-odds,
 * against background rows drawn from the version's drift profile (each feature from its reference distribution,
 * missing as often as there). Each of the {@value #PERMUTATIONS} permutations pairs one background row with the row
 * and walks from the background to the row one feature at a time, in the permutation's order; a feature's
 * contribution is the mean of its steps. Per permutation the steps add up to f(row) − f(background), so the
 * contributions plus the base (the mean log-odds over the background rows) equal the row's log-odds exactly; what is
 * estimated is how that total is shared, and the answer states the largest standard error over the features.
 */
public final class SamplingExplainer implements Explainer {
    static final int PERMUTATIONS = 64;

    private final ModelSession session;
    private final BooleanSupplier acquire;
    private final Runnable release;
    private final int width;
    private final float[] background;
    private final double base;
    private final String output;

    /**
     * @param acquire takes a reference on the session for one evaluation (false: the version is leaving service)
     */
    public SamplingExplainer(ModelSession session, BooleanSupplier acquire, Runnable release, ReferenceProfile profile,
                             int width) throws OrtException {
        this.session = session;
        this.acquire = acquire;
        this.release = release;
        this.width = width;
        this.output = session.signature().outputs().get(0).name();
        this.background = draw(profile, width, new SplittableRandom(20261128L));
        double[] f = logOdds(background, PERMUTATIONS);
        double b = 0;
        for (double v : f) {
            b += v;
        }
        this.base = b / PERMUTATIONS;
    }

    /** {@value #PERMUTATIONS} rows, each feature drawn independently from its reference distribution. */
    private static float[] draw(ReferenceProfile profile, int width, SplittableRandom r) {
        return draw(profile, width, PERMUTATIONS, r);
    }

    /** {@code n} rows of the model's input width, each feature drawn independently from its reference distribution. */
    public static float[] draw(ReferenceProfile profile, int width, int n, SplittableRandom r) {
        float[] rows = new float[n * width];
        java.util.Arrays.fill(rows, Float.NaN);
        for (ReferenceProfile.Feature f : profile.features()) {
            for (int p = 0; p < n; p++) {
                float v;
                ReferenceProfile.Bucket b = f.overall();
                boolean missing = b.count() > 0 && r.nextLong(b.count()) < b.missing();
                if (f instanceof ReferenceProfile.Categorical c) {
                    v = missing ? -1 : pick(b.counts(), r);
                } else {
                    double[] q = b.quantiles();
                    v = missing || q.length == 0 ? Float.NaN : (float) q[r.nextInt(q.length)];
                }
                rows[p * width + f.index()] = v;
            }
        }
        return rows;
    }

    private static int pick(long[] counts, SplittableRandom r) {
        long total = 0;
        for (long c : counts) {
            total += c;
        }
        if (total == 0) {
            return -1;
        }
        long at = r.nextLong(total);
        for (int k = 0; k < counts.length; k++) {
            at -= counts[k];
            if (at < 0) {
                return k;
            }
        }
        return counts.length - 1;
    }

    @Override
    public double base() {
        return base;
    }

    @Override
    public double[] contributions(float[] row, int offset) {
        return explain(row, offset).contributions();
    }

    @Override
    public String method() {
        return "sampling: permutation Shapley values of the log-odds against " + PERMUTATIONS + " rows drawn from "
                + "the drift profile";
    }

    @Override
    public Explanation explain(float[] row, int offset) {
        int steps = width + 1;
        float[] batch = new float[PERMUTATIONS * steps * width];
        int[][] order = new int[PERMUTATIONS][];
        SplittableRandom r = new SplittableRandom(java.util.Arrays.hashCode(
                java.util.Arrays.copyOfRange(row, offset, offset + width)));
        for (int p = 0; p < PERMUTATIONS; p++) {
            int[] perm = new int[width];
            for (int i = 0; i < width; i++) {
                perm[i] = i;
            }
            for (int i = width - 1; i > 0; i--) {
                int j = r.nextInt(i + 1);
                int t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
            }
            order[p] = perm;
            int at = p * steps * width;
            System.arraycopy(background, p * width, batch, at, width);
            for (int s = 1; s < steps; s++) {
                System.arraycopy(batch, at + (s - 1) * width, batch, at + s * width, width);
                int f = perm[s - 1];
                batch[at + s * width + f] = row[offset + f];
            }
        }
        double[] f;
        try {
            f = logOdds(batch, PERMUTATIONS * steps);
        } catch (OrtException e) {
            throw new IllegalStateException("the model failed on the explanation's rows: " + e.getMessage(), e);
        }
        double[] sum = new double[width];
        double[] squares = new double[width];
        for (int p = 0; p < PERMUTATIONS; p++) {
            for (int s = 1; s < steps; s++) {
                int feature = order[p][s - 1];
                double step = f[p * steps + s] - f[p * steps + s - 1];
                sum[feature] += step;
                squares[feature] += step * step;
            }
        }
        double[] phi = new double[width];
        double worst = 0;
        for (int j = 0; j < width; j++) {
            phi[j] = sum[j] / PERMUTATIONS;
            double variance = Math.max(0, squares[j] / PERMUTATIONS - phi[j] * phi[j]) * PERMUTATIONS
                    / (PERMUTATIONS - 1);
            worst = Math.max(worst, Math.sqrt(variance / PERMUTATIONS));
        }
        return new Explanation(phi, String.format(Locale.ROOT, "%s; %d permutations; contributions + base = the "
                + "log-odds exactly, their split estimated with standard error up to %.3g", method(), PERMUTATIONS,
                worst));
    }

    /** The first output's log-odds for each of {@code n} rows (probabilities clipped to [1e-7, 1 − 1e-7]). */
    private double[] logOdds(float[] rows, int n) throws OrtException {
        if (!acquire.getAsBoolean()) {
            throw new IllegalStateException("the version is leaving service");
        }
        try {
            TensorBatch tb = new TensorBatch(session.signature());
            ByteBuffer in = tb.buffer(0, n * width * 4);
            for (int i = 0; i < n * width; i++) {
                in.putFloat(i * 4, rows[i]);
            }
            long[] shape = tb.shape(0, 2);
            shape[0] = n;
            shape[1] = width;
            double[] out = new double[n];
            try (RunOutputs o = session.run(tb, Set.of(output), n)) {
                ByteBuffer b = o.bytes(0).order(ByteOrder.nativeOrder());
                int per = b.remaining() / 4 / n;
                for (int i = 0; i < n; i++) {
                    double p = Math.min(Math.max(b.getFloat(i * per * 4), 1e-7), 1 - 1e-7);
                    out[i] = Math.log(p / (1 - p));
                }
            }
            return out;
        } finally {
            release.run();
        }
    }
}
