package io.mlserve.drift;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Quality metrics against hand counts; the outcome join with late, missing and repeated outcomes. */
class QualityTest {
    @Test
    void aucCountsOrderedPairsAndHalvesTies() {
        double[] label = {0, 1, 0, 1};
        assertThat(Quality.auc(new float[] {0.1f, 0.9f, 0.2f, 0.8f}, label)).isEqualTo(1.0);
        assertThat(Quality.auc(new float[] {0.9f, 0.1f, 0.8f, 0.2f}, label)).isEqualTo(0.0);
        // pairs (pos, neg): (0.5,0.5) tie, (0.5,0.3) win, (0.2,0.5) loss, (0.2,0.3) loss → 1.5 / 4
        assertThat(Quality.auc(new float[] {0.5f, 0.5f, 0.3f, 0.2f}, label)).isCloseTo(0.375, within(1e-12));
        assertThat(Quality.auc(new float[] {0.5f, 0.5f}, new double[] {1, 1})).isNaN();
        Quality.Metrics m = Quality.of(new float[] {0.9f, 0.2f}, new double[] {1, 0}, 2, 0.5);
        assertThat(m.logLoss()).isCloseTo(-(Math.log(0.9f) + Math.log(0.8f)) / 2, within(1e-6));
        assertThat(m.accuracy()).isEqualTo(1.0);
    }

    @Test
    void joinsByRequestIdOrByEntityAndTimeWithLateAndMissingOutcomes() {
        QualityJoin j = new QualityJoin(3, 1_000, 2, 0.5, 0.6, 1, 1);
        j.prediction(new QualityJoin.Pending("m", "1", "a", "r1", 10_000, 0.9f));
        j.prediction(new QualityJoin.Pending("m", "1", "a", "", 20_000, 0.2f));
        j.prediction(new QualityJoin.Pending("m", "1", "b", "", 30_000, 0.7f));
        // by request id: the 10 s prediction of entity a, whatever the time says
        assertThat(j.outcome("r1", "a", 0, 1)).isNull();
        // by entity and time: nearest within the tolerance (20 s); a second outcome for it finds nothing left
        QualityJoin.Report r = j.outcome("", "a", 20_400, 0);
        assertThat(r).as("two pairs close a window").isNotNull();
        assertThat(r.metrics().auc()).isEqualTo(1.0);
        assertThat(j.outcome("", "a", 20_400, 0)).isNull();
        assertThat(j.unmatched()).isEqualTo(1);
        // outside the tolerance: unmatched; the prediction stays for a timely outcome
        assertThat(j.outcome("", "b", 35_000, 1)).isNull();
        assertThat(j.unmatched()).isEqualTo(2);
        // the buffer holds 3: older predictions leave unanswered (their outcomes come too late, or never)
        for (int i = 0; i < 5; i++) {
            j.prediction(new QualityJoin.Pending("m", "1", "c" + i, "", 40_000 + i, 0.5f));
        }
        assertThat(j.buffered()).isEqualTo(3);
        assertThat(j.expired()).isEqualTo(3); // b and c0, c1
        assertThat(j.outcome("", "b", 30_000, 1)).as("b expired").isNull();
        assertThat(j.matched()).isEqualTo(2);
    }

    @Test
    void listenerHearsEveryJoinAndEveryExpiryByCapacityAgeOrShutdown() {
        java.util.List<String> heard = new java.util.ArrayList<>();
        QualityJoin j = new QualityJoin(2, 1_000, 100, 0.5, 0.6, 1, 1).withOutcomeWait(60_000)
                .withListener(new QualityJoin.Listener() {
                    @Override
                    public void waiting(QualityJoin.Pending p) {
                        heard.add("waiting " + p.entity());
                    }

                    @Override
                    public void joined(QualityJoin.Pending p, double label, long outcomeEventTimeMs) {
                        heard.add("joined " + p.entity() + " " + p.row() + " " + label + " @" + outcomeEventTimeMs);
                    }

                    @Override
                    public void expired(QualityJoin.Pending p) {
                        heard.add("expired " + p.entity() + " " + p.row());
                    }
                });
        j.prediction(new QualityJoin.Pending("m", "1", "a", "", 10_000, 0.9f, "row-a"), 10_000);
        j.outcome("", "a", 0, 1, 50_000);
        j.prediction(new QualityJoin.Pending("m", "1", "b", "", 20_000, 0.1f, "row-b"), 20_000);
        j.prediction(new QualityJoin.Pending("m", "1", "c", "", 30_000, 0.2f, "row-c"), 30_000);
        // capacity 2: b leaves when d comes; the joined a left the order queue silently
        j.prediction(new QualityJoin.Pending("m", "1", "d", "", 40_000, 0.3f, "row-d"), 40_000);
        // 60 s later (the caller's clock) c is older than the wait; d (40 s) is not yet
        j.prediction(new QualityJoin.Pending("m", "1", "e", "", 95_000, 0.4f, "row-e"), 95_000);
        assertThat(j.outcome("", "c", 0, 1)).isNull();
        j.expireAll();
        assertThat(heard).containsExactly("waiting a", "joined a row-a 1.0 @50000", "waiting b", "waiting c",
                "waiting d", "expired b row-b", "waiting e", "expired c row-c", "expired d row-d", "expired e row-e");
        assertThat(j.expired()).isEqualTo(4);
        assertThat(j.buffered()).isZero();
        assertThat(j.unmatched()).isEqualTo(1);
    }

    @Test
    void lowQualityRaisesAndGoodQualityClearsTheAlert() {
        QualityJoin j = new QualityJoin(10_000, 0, 500, 0.5, 0.7, 2, 2);
        SplittableRandom r = new SplittableRandom(4);
        boolean[] informative = {true, false, false, false, true, true};
        boolean[] expectAlert = {false, false, true, true, true, false};
        int id = 0;
        for (int w = 0; w < informative.length; w++) {
            QualityJoin.Report last = null;
            for (int i = 0; i < 500; i++) {
                int label = r.nextDouble() < 0.3 ? 1 : 0;
                float score = informative[w] ? (float) (0.5 * label + 0.5 * r.nextDouble()) : (float) r.nextDouble();
                String e = "e" + id++;
                j.prediction(new QualityJoin.Pending("m", "1", e, "", 0, score));
                last = j.outcome("", e, 0, label);
            }
            assertThat(last).isNotNull();
            assertThat(last.low()).as("window %d auc %s", w, last.metrics().auc()).isEqualTo(!informative[w]);
            assertThat(last.alert()).as("window %d", w).isEqualTo(expectAlert[w]);
        }
    }

    @Test
    void aRaisedAlertIsReportedAgainEveryRenotifyWindowsWhileItStays() {
        // windows of 4 pairs whose scores rank the labels backwards (AUC 0), judged with this version's own settings
        QualityJoin j = new QualityJoin(100, 0, 1, 1, (model, version) -> new QualityJoin.Settings(4, 0.65, "test",
                version.equals("2") ? 0.3 : 0.5, "test", 2));
        List<String> seen = new ArrayList<>();
        int id = 0;
        for (int w = 0; w < 6; w++) {
            QualityJoin.Report last = null;
            for (int i = 0; i < 4; i++) {
                String e = "e" + id++;
                j.prediction(new QualityJoin.Pending("m", "1", e, "", 0, i * 0.25f));
                last = j.outcome("", e, 0, i < 2 ? 1 : 0);
            }
            seen.add((last.alertRaised() ? "raised" : "") + (last.alertRenotified() ? "again" : "")
                    + (!last.alertRaised() && !last.alertRenotified() ? "-" : ""));
            assertThat(last.alert()).isTrue();
            assertThat(last.settings().thresholdFrom()).isEqualTo("test");
        }
        assertThat(seen).containsExactly("raised", "-", "again", "-", "again", "-");
        // another version of the model has its own settings: scores 0, 0.25, 0.5, 0.75 at 0.3 with labels 0, 0, 1, 1
        QualityJoin.Report v2 = null;
        for (int i = 0; i < 4; i++) {
            String e = "v2-" + i;
            j.prediction(new QualityJoin.Pending("m", "2", e, "", 0, i * 0.25f));
            v2 = j.outcome("", e, 0, i < 2 ? 0 : 1);
        }
        assertThat(v2.metrics().threshold()).isEqualTo(0.3);
        assertThat(v2.metrics().accuracy()).isEqualTo(1.0);
        assertThat(v2.alert()).isFalse();
    }
}
