package io.mlserve.datagen;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The drifts hurt a model trained once, as real drift does, and a model refitted on recent labelled rows recovers:
 * on a small two-year data set, with margins well inside what {@link DriftImpact} measures on it.
 */
class DriftImpactTest {
    private static final ChurnDataGenerator.Options OPTIONS = new ChurnDataGenerator.Options(40_000, 2, 42);
    private static final int USAGE = ChurnSchema.NUMERIC.indexOf("data_usage_gb");
    private static final int CONTRACT = ChurnSchema.indexOf("contract_type") - ChurnSchema.NUMERIC.size();

    static ChurnTable table;
    static List<ChurnDataGenerator.Drift> drifts;

    @BeforeAll
    static void generate() throws Exception {
        table = ChurnTable.generate(OPTIONS);
        drifts = new ChurnDataGenerator(OPTIONS).driftList();
    }

    @Test
    void manifestListsEveryDriftWithItsMechanism() {
        assertThat(drifts).extracting(ChurnDataGenerator.Drift::kind)
                .containsExactly("sudden", "gradual", "concept", "concept", "seasonal", "seasonal");
        ChurnDataGenerator.Drift gradual = drifts.get(1);
        assertThat(gradual.labelRelationChanged()).isFalse();
        assertThat(gradual.features()).contains("data_usage_gb");
        ChurnDataGenerator.Drift contracts = drifts.get(2);
        assertThat(contracts.startMs()).isEqualTo(drifts.get(0).startMs());
        assertThat(contracts.features()).contains("contract_type");
        ChurnDataGenerator.Drift rival = drifts.get(3);
        assertThat(rival.features()).contains("region", "internet_service");
        assertThat(rival.startMs()).isBetween(contracts.startMs(), gradual.startMs());
        for (ChurnDataGenerator.Drift d : drifts) {
            assertThat(d.features()).allMatch(f -> ChurnSchema.indexOf(f) >= 0);
            assertThat(d.endMs()).isGreaterThan(d.startMs());
            assertThat(d.description()).isNotBlank();
            assertThat(d.recurring()).isEqualTo(d.kind().equals("seasonal"));
            assertThat(d.labelRelationChanged()).isEqualTo(d.kind().equals("sudden") || d.kind().equals("concept"));
        }
    }

    @Test
    void usageMovesBeyondAnythingTheFirstYearShowed() {
        int yearTwo = table.rowAt(ChurnDataGenerator.START_MS + DriftImpact.YEAR);
        int gradualFrom = table.rowAt(drifts.get(1).startMs());
        int gradualTo = table.rowAt(drifts.get(1).endMs());
        double firstYearMax = 0;
        for (int i = 0; i < yearTwo; i++) {
            firstYearMax = Math.max(firstYearMax, table.number(i, USAGE));
        }
        double beforeMax = 0;
        for (int i = 0; i < gradualFrom; i++) {
            beforeMax = Math.max(beforeMax, table.number(i, USAGE));
        }
        int beyond = 0;
        for (int i = gradualTo; i < table.n; i++) {
            beyond += table.number(i, USAGE) > ChurnDataGenerator.FAIR_USE_GB ? 1 : 0;
        }
        assertThat(firstYearMax).isLessThan(ChurnDataGenerator.FAIR_USE_GB - 2);
        assertThat(beforeMax).as("the benign usage trend stays under the cap")
                .isLessThan(ChurnDataGenerator.FAIR_USE_GB);
        assertThat((double) beyond / (table.n - gradualTo)).isGreaterThan(0.3);
    }

    private static double churnRate(int contract, int from, int to) {
        long rows = 0;
        long churned = 0;
        for (int i = from; i < to; i++) {
            if (table.category(i, CONTRACT) == contract) {
                rows++;
                churned += table.label[i];
            }
        }
        return (double) churned / rows;
    }

    @Test
    void thePriceRiseReordersWhoChurnsByContract() {
        int sudden = table.rowAt(drifts.get(0).startMs());
        int monthToMonth = 0;
        int twoYear = 2;
        assertThat(churnRate(monthToMonth, 0, sudden)).isGreaterThan(2 * churnRate(twoYear, 0, sudden));
        assertThat(churnRate(twoYear, sudden, table.n)).isGreaterThan(churnRate(monthToMonth, sudden, table.n) + 0.01);
    }

    @Test
    void aStaticModelDegradesAfterTheDriftsWhileARefittedOneRecovers() {
        DriftImpact.Result r = DriftImpact.measure(table, drifts, 0, DriftImpact.LABEL_DELAY, DriftImpact.REFIT_WINDOW);
        int before = 0;
        int last = r.periods().size() - 1;
        assertThat(r.fixed().periodAuc()[before]).as("no harm before the drifts")
                .isGreaterThan(r.holdoutAuc() - 0.03);
        assertThat(r.fixed().periodAuc()[last]).as("static, after the drifts")
                .isLessThan(r.holdoutAuc() - DriftImpact.DEGRADED_DROP);
        assertThat(r.refitted().periodAuc()[last]).as("refitted, after the drifts")
                .isGreaterThan(r.holdoutAuc() - 0.03).isGreaterThan(r.fixed().periodAuc()[last] + 0.07);
        assertThat(r.fixed().degradedDays()).isGreaterThan(100).isGreaterThan(2 * r.refitted().degradedDays());
    }
}
