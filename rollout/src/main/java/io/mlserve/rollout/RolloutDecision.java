package io.mlserve.rollout;

import io.mlserve.drift.Statistics;
import io.mlserve.proto.v1.RolloutVerdict;
import java.util.ArrayList;
import java.util.List;

/**
 * Judges a challenger against the champion over one window: too few challenger requests → wait; otherwise it fails
 * on any of error rate above the limit, p99 latency above the champion's times the allowed ratio plus a slack (a
 * ratio alone would fail 0.3 ms against 0.1 ms), a score
 * distribution that diverges from the champion's (PSI over {@link ArmRecorder#SCORE_BINS} bins), or — when both
 * versions have outcomes joined in the window — an AUC lower than the champion's by more than the allowed drop
 * with 95 % confidence (the two windows' AUC standard errors by Hanley and McNeil, so two equivalent versions judged
 * on a thousand outcomes each do not fail on noise); and passes when none fails.
 */
public final class RolloutDecision {
    private static final String VERDICT_PREFIX = "ROLLOUT_VERDICT_";

    /** The verdict as the API, the audit log and the metrics write it: {@code wait}, {@code promote}, {@code rollback}. */
    public static String label(RolloutVerdict verdict) {
        return verdict.name().substring(VERDICT_PREFIX.length()).toLowerCase(java.util.Locale.ROOT);
    }

    /** The limits (a rollout block of config.json with its defaults filled in). */
    public record Criteria(long minRequests, double maxErrorRate, double maxP99Ratio, double p99SlackMs,
                           double maxScorePsi, double maxAucDrop) {
        public Criteria {
            if (minRequests < 1 || maxErrorRate < 0 || maxP99Ratio <= 0 || p99SlackMs < 0 || maxScorePsi <= 0
                    || maxAucDrop < 0) {
                throw new IllegalArgumentException("rollout criteria: min_requests >= 1, max_error_rate >= 0, "
                        + "max_p99_ratio > 0, p99_slack_ms >= 0, max_score_psi > 0, max_auc_drop >= 0");
            }
        }
    }

    /** The verdict, each failed criterion in words, and the numbers it rests on. */
    public record Result(RolloutVerdict verdict, List<String> reasons, double championP99Ms, double challengerP99Ms,
                         double scorePsi) {
    }

    /** One arm's AUC on the outcomes joined in the window, with the class counts its standard error needs. */
    public record Auc(double value, long positives, long negatives) {
        /** Unknown: no outcomes joined. */
        public static final Auc NONE = new Auc(Double.NaN, 0, 0);

        /** Hanley and McNeil's standard error of an AUC from its class counts (0 when the counts are unknown). */
        public double standardError() {
            if (positives <= 0 || negatives <= 0 || Double.isNaN(value)) {
                return 0;
            }
            double a = value;
            double q1 = a / (2 - a);
            double q2 = 2 * a * a / (1 + a);
            double v = (a * (1 - a) + (positives - 1) * (q1 - a * a) + (negatives - 1) * (q2 - a * a))
                    / ((double) positives * negatives);
            return Math.sqrt(Math.max(0, v));
        }
    }

    private RolloutDecision() {
    }

    /** As {@link #judge(Criteria, ArmRecorder.Window, ArmRecorder.Window, Auc, Auc)} with AUCs of no known error. */
    public static Result judge(Criteria c, ArmRecorder.Window champion, ArmRecorder.Window challenger,
                               double championAuc, double challengerAuc) {
        return judge(c, champion, challenger, new Auc(championAuc, 0, 0), new Auc(challengerAuc, 0, 0));
    }

    /**
     * @param championAuc   the champion's AUC on outcomes joined in the window ({@link Auc#NONE} without)
     * @param challengerAuc the challenger's
     */
    public static Result judge(Criteria c, ArmRecorder.Window champion, ArmRecorder.Window challenger,
                               Auc championAuc, Auc challengerAuc) {
        double p99Champion = champion.latencyMs(0.99);
        double p99Challenger = challenger.latencyMs(0.99);
        double psi = champion.scored() > 0 && challenger.scored() > 0
                ? Statistics.psi(champion.scores(), challenger.scores()) : Double.NaN;
        if (challenger.requests() < c.minRequests()) {
            return new Result(RolloutVerdict.ROLLOUT_VERDICT_WAIT, List.of("challenger has " + challenger.requests() + " of "
                    + c.minRequests() + " requests"), p99Champion, p99Challenger, psi);
        }
        List<String> fails = new ArrayList<>();
        if (challenger.errorRate() > c.maxErrorRate()) {
            fails.add(String.format(java.util.Locale.ROOT, "error rate %.4f > %.4f", challenger.errorRate(),
                    c.maxErrorRate()));
        }
        if (!Double.isNaN(p99Champion) && p99Challenger > c.maxP99Ratio() * p99Champion + c.p99SlackMs()) {
            fails.add(String.format(java.util.Locale.ROOT, "p99 %.2f ms > %.2f × champion's %.2f ms + %.1f ms",
                    p99Challenger, c.maxP99Ratio(), p99Champion, c.p99SlackMs()));
        }
        if (psi > c.maxScorePsi()) {
            fails.add(String.format(java.util.Locale.ROOT, "score PSI vs champion %.3f > %.3f", psi, c.maxScorePsi()));
        }
        if (!Double.isNaN(championAuc.value()) && !Double.isNaN(challengerAuc.value())) {
            // the drop, less 1.96 standard errors of the difference of two independent AUCs, beyond the allowance
            double se = Math.hypot(championAuc.standardError(), challengerAuc.standardError());
            double drop = championAuc.value() - challengerAuc.value();
            if (drop - 1.96 * se > c.maxAucDrop()) {
                fails.add(String.format(java.util.Locale.ROOT, "AUC %.4f < champion's %.4f − %.3f (drop %.4f ± %.4f "
                        + "at 95 %%)", challengerAuc.value(), championAuc.value(), c.maxAucDrop(), drop, 1.96 * se));
            }
        }
        return new Result(fails.isEmpty() ? RolloutVerdict.ROLLOUT_VERDICT_PROMOTE : RolloutVerdict.ROLLOUT_VERDICT_ROLLBACK, List.copyOf(fails), p99Champion,
                p99Challenger, psi);
    }
}
