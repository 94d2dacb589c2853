package io.mlserve.drift;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Decisions on synthetic streams: i.i.d. is quiet, shifts are caught, seasonal movement is not drift. */
class DriftDetectorTest {
    private static final int WIDTH = 5; // four numbers and one category of three codes
    private static final List<ProfileBuilder.Column> COLUMNS = List.of(ProfileBuilder.Column.numeric("n0"),
            ProfileBuilder.Column.numeric("n1"), ProfileBuilder.Column.numeric("n2"), ProfileBuilder.Column.numeric("n3"),
            new ProfileBuilder.Column("c", List.of("a", "b", "c")));

    /** A row at time t: season (quarter) shifts n0 by {@code seasonal} × quarter index; n1 shifted by {@code shift}. */
    private static void row(SplittableRandom r, float[] into, int at, long t, double seasonal, double shift) {
        int quarter = (LocalDate.ofInstant(java.time.Instant.ofEpochMilli(t), ZoneOffset.UTC).getMonthValue() - 1) / 3;
        into[at] = (float) (StatisticsTest.gaussian(r) + seasonal * quarter);
        into[at + 1] = (float) (StatisticsTest.gaussian(r) + shift);
        into[at + 2] = (float) (r.nextDouble() * 10);
        into[at + 3] = r.nextDouble() < 0.05 ? Float.NaN : (float) StatisticsTest.gaussian(r);
        double u = r.nextDouble();
        into[at + 4] = u < 0.5 ? 0 : u < 0.8 ? 1 : 2;
    }

    /** A view of one row held in {@code buf}, without a score. */
    private static WindowRecorder.Rows oneRow(float[] buf) {
        return new WindowRecorder.Rows() {
            @Override
            public float value(int row, int column) {
                return buf[column];
            }

            @Override
            public float score(int row) {
                return Float.NaN;
            }
        };
    }

    private static final long YEAR_START = LocalDate.of(2025, 1, 1).atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli();
    private static final long DAY = 86_400_000L;

    private static ReferenceProfile reference(double seasonal) {
        SplittableRandom r = new SplittableRandom(3);
        int n = 40_000;
        float[] rows = new float[n * WIDTH];
        long[] times = new long[n];
        for (int i = 0; i < n; i++) {
            times[i] = YEAR_START + (long) (r.nextDouble() * 365 * DAY);
            row(r, rows, i * WIDTH, times[i], seasonal, 0);
        }
        return ReferenceProfile.parse(ProfileBuilder.build(COLUMNS, rows, times, null), "test");
    }

    /** Streams {@code windows} windows of {@code rows} rows, each window one day later; shift starts at {@code from}. */
    private static List<DriftDetector.Report> stream(ReferenceProfile ref, DriftDetector.Config config, int windows,
                                                     int rows, double seasonal, double shift, int from, int daysPerWindow) {
        DriftDetector detector = new DriftDetector(config, ref);
        WindowRecorder rec = new WindowRecorder(ref, 1, 0);
        SplittableRandom r = new SplittableRandom(11);
        float[] buf = new float[WIDTH];
        WindowRecorder.Rows view = oneRow(buf);
        List<DriftDetector.Report> reports = new java.util.ArrayList<>();
        for (int w = 0; w < windows; w++) {
            long t = YEAR_START + (long) w * daysPerWindow * DAY;
            for (int i = 0; i < rows; i++) {
                row(r, buf, 0, t, seasonal, w >= from ? shift : 0);
                rec.record(view, 1, t);
            }
            reports.add(detector.evaluate(rec.close(t)));
        }
        return reports;
    }

    @Test
    void anIidStreamRaisesNoAlertOverManyWindows() {
        ReferenceProfile ref = reference(0);
        List<DriftDetector.Report> reports = stream(ref, DriftDetector.Config.defaults(), 100, 2_000, 0, 0, 0, 3);
        assertThat(reports).noneMatch(DriftDetector.Report::alert);
        assertThat(reports).allMatch(r -> r.features().values().stream().noneMatch(DriftDetector.FeatureResult::drifted));
    }

    @Test
    void aSuddenShiftInOneFeatureIsCaughtInTheFirstWindowAfterIt() {
        ReferenceProfile ref = reference(0);
        List<DriftDetector.Report> reports = stream(ref, DriftDetector.Config.defaults(), 20, 2_000, 0, 1.0, 10, 3);
        for (int w = 0; w < 10; w++) {
            assertThat(reports.get(w).features().get("n1").drifted()).isFalse();
        }
        for (int w = 10; w < 20; w++) {
            DriftDetector.FeatureResult n1 = reports.get(w).features().get("n1");
            assertThat(n1.drifted()).as("window %d", w).isTrue();
            assertThat(n1.psi()).isGreaterThan(0.2);
            assertThat(n1.ks()).isGreaterThan(0.3);
            // one feature of five is not dataset drift
            assertThat(reports.get(w).datasetDrift()).isFalse();
        }
    }

    @Test
    void aGradualDriftIsCaughtBeforeItIsComplete() {
        ReferenceProfile ref = reference(0);
        DriftDetector detector = new DriftDetector(DriftDetector.Config.defaults(), ref);
        WindowRecorder rec = new WindowRecorder(ref, 1, 0);
        SplittableRandom r = new SplittableRandom(9);
        float[] buf = new float[WIDTH];
        WindowRecorder.Rows view = oneRow(buf);
        // n1's mean moves from 0 to 1.5 standard deviations linearly over 30 windows
        int caught = -1;
        for (int w = 0; w < 30 && caught < 0; w++) {
            for (int i = 0; i < 2_000; i++) {
                row(r, buf, 0, YEAR_START, 0, 1.5 * w / 29.0);
                rec.record(view, 1, YEAR_START);
            }
            if (detector.evaluate(rec.close(w)).features().get("n1").drifted()) {
                caught = w;
            }
        }
        // PSI 0.2 is reached near a 0.45σ shift for a normal feature: about window 9 of 30
        assertThat(caught).as("first drifted window").isBetween(5, 15);
    }

    @Test
    void datasetDriftRaisesTheAlertAfterKWindowsAndClearsAfterMCleanOnes() {
        ReferenceProfile ref = reference(0);
        // half the features drifting is dataset drift: lower the share so n1 alone counts
        DriftDetector.Config c = new DriftDetector.Config("psi", "js", 0.2, 0.1, 0.1, 0.01, 0.2, 2, 3, true, 100);
        DriftDetector detector = new DriftDetector(c, ref);
        List<DriftDetector.Report> drifting = stream(ref, c, 6, 2_000, 0, 1.0, 0, 3);
        assertThat(drifting.get(0).alert()).isFalse();
        assertThat(drifting.get(1).alertRaised()).isTrue();
        assertThat(drifting.get(5).alert()).isTrue();
        // a fresh detector fed drifted windows then clean ones (same order of evaluate calls)
        WindowRecorder rec = new WindowRecorder(ref, 1, 0);
        SplittableRandom r = new SplittableRandom(5);
        float[] buf = new float[WIDTH];
        WindowRecorder.Rows view = oneRow(buf);
        // raised by the 2nd drifted window; the 3rd clean one clears it
        boolean[] expectedAlert = {false, true, true, true, false, false};
        double[] shifts = {1, 1, 0, 0, 0, 0};
        for (int w = 0; w < shifts.length; w++) {
            for (int i = 0; i < 2_000; i++) {
                row(r, buf, 0, YEAR_START, 0, shifts[w]);
                rec.record(view, 1, YEAR_START);
            }
            assertThat(detector.evaluate(rec.close(w)).alert()).as("window %d", w).isEqualTo(expectedAlert[w]);
        }
    }

    @Test
    void seasonalMovementIsNotDriftAgainstTheSameSeasonsReference() {
        ReferenceProfile ref = reference(1.5);
        // two simulated years, a window every 7 days: n0 moves by 1.5 per quarter, as in the reference
        List<DriftDetector.Report> seasonal = stream(ref, DriftDetector.Config.defaults(), 104, 1_000, 1.5, 0, 0, 7);
        assertThat(seasonal).noneMatch(r -> r.features().get("n0").drifted());
        assertThat(seasonal.get(30).features().get("n0").reference()).startsWith("Q");
        // the same stream judged against the whole-year reference does drift: the season bucket is what helps
        DriftDetector.Config yearly = new DriftDetector.Config("psi", "js", 0.2, 0.1, 0.1, 0.01, 0.5, 2, 3, false, 100);
        List<DriftDetector.Report> flat = stream(ref, yearly, 104, 1_000, 1.5, 0, 0, 7);
        assertThat(flat).anyMatch(r -> r.features().get("n0").drifted());
    }

    @Test
    void aTwoMonthCampaignNeedsMonthBuckets() {
        // n0 moves by 2σ in November and December only (a holiday campaign), every year
        SplittableRandom r = new SplittableRandom(8);
        int n = 60_000;
        float[] rows = new float[n * WIDTH];
        long[] times = new long[n];
        for (int i = 0; i < n; i++) {
            times[i] = YEAR_START + (long) (r.nextDouble() * 365 * DAY);
            campaignRow(r, rows, i * WIDTH, times[i]);
        }
        for (ProfileBuilder.Seasons seasons : ProfileBuilder.Seasons.values()) {
            ReferenceProfile ref = ReferenceProfile.parse(ProfileBuilder.build(COLUMNS, rows, times, null, seasons), "t");
            assertThat(ref.season()).isEqualTo(seasons == ProfileBuilder.Seasons.MONTH ? "month" : "quarter");
            DriftDetector detector = new DriftDetector(DriftDetector.Config.defaults(), ref);
            WindowRecorder rec = new WindowRecorder(ref, 1, 0);
            float[] buf = new float[WIDTH];
            WindowRecorder.Rows view = oneRow(buf);
            int flagged = 0;
            for (int w = 0; w < 52; w++) { // a year, weekly windows
                long t = YEAR_START + 365 * DAY + w * 7 * DAY;
                for (int i = 0; i < 1_000; i++) {
                    campaignRow(r, buf, 0, t);
                    rec.record(view, 1, t);
                }
                flagged += detector.evaluate(rec.close(t)).features().get("n0").drifted() ? 1 : 0;
            }
            if (seasons == ProfileBuilder.Seasons.MONTH) {
                assertThat(flagged).as("against the same month").isZero();
            } else {
                assertThat(flagged).as("against a quarter that mixes October in").isGreaterThan(4);
            }
        }
    }

    private static void campaignRow(SplittableRandom r, float[] into, int at, long t) {
        int month = LocalDate.ofInstant(java.time.Instant.ofEpochMilli(t), ZoneOffset.UTC).getMonthValue();
        row(r, into, at, t, 0, 0);
        into[at] += month >= 11 ? 2 : 0;
    }

    /**
     * n0 grows by 0.01 standard deviations a day through the reference year and on; n1 is noise. The fitted trend is
     * the true one within 10 %, noise gets none, and projected along it a second year of the same growth is quiet,
     * while compared as it comes it drifts; a step on top of the trend is still caught.
     */
    @Test
    void aLinearTrendSeenInTheReferenceIsProjectedNotReported() {
        SplittableRandom r = new SplittableRandom(5);
        int n = 40_000;
        double perDay = 0.01;
        float[] rows = new float[n * WIDTH];
        long[] times = new long[n];
        for (int i = 0; i < n; i++) {
            times[i] = YEAR_START + (long) (r.nextDouble() * 365 * DAY);
            row(r, rows, i * WIDTH, times[i], 0, 0);
            rows[i * WIDTH] += (float) (perDay * (times[i] - YEAR_START) / DAY);
        }
        ReferenceProfile ref = ReferenceProfile.parse(ProfileBuilder.build(COLUMNS, rows, times, null,
                ProfileBuilder.Seasons.MONTH), "trend");
        ReferenceProfile.Numeric n0 = (ReferenceProfile.Numeric) ref.features().get(0);
        assertThat(n0.trendPerDay()).isCloseTo(perDay, org.assertj.core.data.Offset.offset(perDay / 10));
        for (int f = 1; f < 4; f++) {
            assertThat(((ReferenceProfile.Numeric) ref.features().get(f)).trendPerDay()).as("feature %d", f).isZero();
        }
        for (boolean detrend : new boolean[] {true, false}) {
            DriftDetector detector = new DriftDetector(DriftDetector.Config.defaults(), ref);
            WindowRecorder rec = new WindowRecorder(ref, 1, 0, detrend);
            float[] buf = new float[WIDTH];
            WindowRecorder.Rows view = oneRow(buf);
            List<DriftDetector.Report> reports = new java.util.ArrayList<>();
            for (int w = 0; w < 60; w++) {
                long t = YEAR_START + 365 * DAY + w * 6 * DAY;
                for (int i = 0; i < 2_000; i++) {
                    row(r, buf, 0, t, 0, 0);
                    buf[0] += (float) (perDay * (t - YEAR_START) / DAY + (w >= 50 ? 1.0 : 0));
                    rec.record(view, 1, t);
                }
                reports.add(detector.evaluate(rec.close(t)));
            }
            long flagged = reports.subList(0, 50).stream().filter(x -> x.features().get("n0").drifted()).count();
            if (detrend) {
                assertThat(flagged).as("trend-projected windows flagging n0").isZero();
                assertThat(reports.get(0).features().get("n0").trendPerDay()).isEqualTo(n0.trendPerDay());
                assertThat(reports.subList(50, 60)).allMatch(x -> x.features().get("n0").drifted());
            } else {
                assertThat(flagged).as("windows flagging n0 as it comes").isGreaterThan(40);
                assertThat(reports.get(0).features().get("n0").trendPerDay()).isZero();
            }
        }
    }
}
