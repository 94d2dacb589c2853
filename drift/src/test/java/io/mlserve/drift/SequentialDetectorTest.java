package io.mlserve.drift;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Sequential detection on synthetic streams through the real recorder: an i.i.d. stream raises nothing over a long run,
 * a sudden shift of one standard deviation is flagged within rows, a shift in half the features raises the alert at
 * once, two features the model leans on are an alert while two it ignores are only flags, and a season that recurs is
 * not a change. Ten numeric features (one discrete, one with missing values) and one category.
 */
class SequentialDetectorTest {
    private static final int NUMERIC = 10;
    private static final int WIDTH = NUMERIC + 1;
    private static final long YEAR = LocalDate.of(2025, 1, 1).atStartOfDay(ZoneOffset.UTC).toInstant().toEpochMilli();
    private static final long DAY = 86_400_000L;

    private static List<ProfileBuilder.Column> columns() {
        List<ProfileBuilder.Column> c = new ArrayList<>();
        for (int i = 0; i < NUMERIC; i++) {
            c.add(ProfileBuilder.Column.numeric("n" + i));
        }
        c.add(new ProfileBuilder.Column("c", List.of("a", "b", "c")));
        return c;
    }

    /** A row at time t; features in {@code shifted} moved by {@code shift} standard deviations; n0 follows the month. */
    private static void row(SplittableRandom r, float[] into, long t, double seasonal, double shift, int shifted) {
        int month = LocalDate.ofInstant(java.time.Instant.ofEpochMilli(t), ZoneOffset.UTC).getMonthValue();
        for (int i = 0; i < NUMERIC; i++) {
            double v = StatisticsTest.gaussian(r) + (i < shifted ? shift : 0);
            if (i == 0) {
                v += seasonal * Math.sin(month * Math.PI / 6);
            }
            into[i] = (float) v;
        }
        into[1] = (float) Math.floor(into[1] * 2 + 3); // discrete: many rows share a value
        if (r.nextDouble() < 0.05) {
            into[2] = Float.NaN;
        }
        double u = r.nextDouble();
        into[NUMERIC] = u < 0.5 ? 0 : u < 0.8 ? 1 : 2;
    }

    private static ReferenceProfile reference(double seasonal) {
        SplittableRandom r = new SplittableRandom(3);
        int n = 60_000;
        float[] rows = new float[n * WIDTH];
        long[] times = new long[n];
        float[] buf = new float[WIDTH];
        for (int i = 0; i < n; i++) {
            times[i] = YEAR + (long) (r.nextDouble() * 365 * DAY);
            row(r, buf, times[i], seasonal, 0, 0);
            System.arraycopy(buf, 0, rows, i * WIDTH, WIDTH);
        }
        return ReferenceProfile.parse(ProfileBuilder.build(columns(), rows, times, null,
                ProfileBuilder.Seasons.MONTH), "test");
    }

    /** What a stream did: the rows (from the start) of every flag per feature, and of the alert raised. */
    private record Run(Map<String, List<Long>> flags, List<Long> alerts) {
        long firstFlag(String f, long after) {
            return flags.getOrDefault(f, List.of()).stream().filter(x -> x >= after).findFirst().orElse(-1L) - after;
        }

        long firstAlert(long after) {
            return alerts.stream().filter(x -> x >= after).findFirst().orElse(-1L) - after;
        }

        long flagsBefore(long rows) {
            return flags.values().stream().mapToLong(l -> l.stream().filter(x -> x < rows).count()).sum();
        }
    }

    /** Streams {@code rows} rows, looking every 50; {@code shifted} features move by {@code shift} from row {@code at}. */
    private static Run stream(ReferenceProfile ref, int rows, double seasonal, double shift, int shifted, int at,
                              Map<String, Double> importance, long seed) {
        WindowRecorder rec = new WindowRecorder(ref, 1, YEAR);
        SequentialDetector d = new SequentialDetector(SequentialDetector.Config.defaults(), ref, rec.tables());
        if (importance != null) {
            d.weights(importance);
        }
        SplittableRandom r = new SplittableRandom(seed);
        float[] buf = new float[WIDTH];
        WindowRecorder.Rows view = new WindowRecorder.Rows() {
            @Override
            public float value(int row, int column) {
                return buf[column];
            }

            @Override
            public float score(int row) {
                return Float.NaN;
            }
        };
        Map<String, List<Long>> flags = new HashMap<>();
        List<Long> alerts = new ArrayList<>();
        for (int i = 0; i < rows; i++) {
            long t = YEAR + (long) ((double) i / rows * 365 * DAY);
            row(r, buf, t, seasonal, i >= at ? shift : 0, shifted);
            rec.record(view, 1, t);
            if ((i + 1) % 50 == 0) {
                SequentialDetector.Verdict v = d.update(rec.totals(), t);
                for (SequentialDetector.Flag f : v.newFlags()) {
                    flags.computeIfAbsent(f.feature(), k -> new ArrayList<>()).add(v.rows());
                }
                if (v.raised()) {
                    alerts.add(v.rows());
                }
            }
        }
        return new Run(flags, alerts);
    }

    @Test
    void anIidStreamFlagsNothingAndRaisesNoAlert() {
        ReferenceProfile ref = reference(0);
        Run run = stream(ref, 200_000, 0, 0, 0, 0, null, 11);
        // 22 detectors (11 features; location and spread of the numbers): about one false flag per detector per
        // million rows is the design, so a couple over 200,000 rows is the expected worst
        assertThat(run.flagsBefore(200_000)).as("false flags in 200,000 i.i.d. rows").isLessThanOrEqualTo(2);
        assertThat(run.alerts()).isEmpty();
    }

    @Test
    void aSuddenShiftOfOneStandardDeviationIsFlaggedWithinRows() {
        ReferenceProfile ref = reference(0);
        Run two = stream(ref, 40_000, 0, 1.0, 2, 30_000, null, 12);
        assertThat(two.flagsBefore(30_000)).isZero();
        assertThat(two.firstFlag("n0", 30_000)).as("n0 flagged after the shift").isBetween(0L, 300L);
        assertThat(two.firstFlag("n1", 30_000)).as("n1 (discrete) flagged after the shift").isBetween(0L, 300L);
        assertThat(two.alerts()).as("2 of 11 features, uniform importance below the share").isEmpty();

        Run half = stream(ref, 40_000, 0, 1.0, 6, 30_000, null, 13);
        assertThat(half.alerts()).hasSize(1);
        assertThat(half.firstAlert(30_000)).as("half the features: the alert within rows").isBetween(0L, 500L);
    }

    @Test
    void twoImportantFeaturesAreAnAlertAndTwoIgnoredOnesAReport() {
        ReferenceProfile ref = reference(0);
        Map<String, Double> importance = new HashMap<>();
        for (int i = 0; i < NUMERIC; i++) {
            importance.put("n" + i, i < 2 ? 5.0 : 0.1); // the model leans on n0 and n1
        }
        Run important = stream(ref, 40_000, 0, 1.0, 2, 30_000, importance, 14);
        assertThat(important.firstAlert(30_000)).isBetween(0L, 300L);
        Map<String, Double> elsewhere = new HashMap<>(importance);
        elsewhere.put("n0", 0.1);
        elsewhere.put("n1", 0.1);
        elsewhere.put("n5", 5.0);
        elsewhere.put("n6", 5.0);
        Run ignored = stream(ref, 40_000, 0, 1.0, 2, 30_000, elsewhere, 14);
        assertThat(ignored.firstFlag("n0", 30_000)).isBetween(0L, 300L);
        assertThat(ignored.alerts()).as("flags only").isEmpty();
    }

    @Test
    void aTrendTheReferenceKnowsIsNotAChangeButAStepOnTopIs() {
        // n0 grows by 3 sd over the reference year and keeps growing at the same pace for three months more (the slope
        // is fitted within months, to about 10 %: months beyond the reference's span its error shows, and a version
        // that serves that long is flagged — as the loop retrains, its next version fits the slope anew)
        double perDay = 3.0 / 365;
        SplittableRandom r = new SplittableRandom(21);
        int n = 60_000;
        float[] rows = new float[n * WIDTH];
        long[] times = new long[n];
        float[] buf = new float[WIDTH];
        for (int i = 0; i < n; i++) {
            times[i] = YEAR + (long) ((double) i / n * 365 * DAY);
            row(r, buf, times[i], 0, 0, 0);
            buf[0] += (float) (perDay * (times[i] - YEAR) / DAY);
            System.arraycopy(buf, 0, rows, i * WIDTH, WIDTH);
        }
        ReferenceProfile trended = ReferenceProfile.parse(ProfileBuilder.build(columns(), rows, times, null,
                ProfileBuilder.Seasons.MONTH, true), "trend");
        ReferenceProfile flat = ReferenceProfile.parse(ProfileBuilder.build(columns(), rows, times, null,
                ProfileBuilder.Seasons.MONTH, false), "flat");
        for (double step : new double[] {0, 1.0}) {
            for (ReferenceProfile ref : new ReferenceProfile[] {trended, flat}) {
                WindowRecorder rec = new WindowRecorder(ref, 1, YEAR);
                SequentialDetector d = new SequentialDetector(SequentialDetector.Config.defaults(), ref, rec.tables());
                long firstFlag = -1;
                WindowRecorder.Rows view = new WindowRecorder.Rows() {
                    @Override
                    public float value(int row, int column) {
                        return buf[column];
                    }

                    @Override
                    public float score(int row) {
                        return Float.NaN;
                    }
                };
                SplittableRandom s2 = new SplittableRandom(22);
                for (int i = 0; i < 60_000; i++) {
                    long t = YEAR + 365 * DAY + (long) ((double) i / 60_000 * 91 * DAY);
                    row(s2, buf, t, 0, 0, 0);
                    buf[0] += (float) (perDay * (t - YEAR) / DAY + (i >= 50_000 ? step : 0));
                    rec.record(view, 1, t);
                    if ((i + 1) % 50 == 0) {
                        for (SequentialDetector.Flag f : d.update(rec.totals(), t).newFlags()) {
                            if (f.feature().equals("n0") && firstFlag < 0) {
                                firstFlag = i + 1;
                            }
                        }
                    }
                }
                if (ref == flat) {
                    assertThat(firstFlag).as("against a flat reference the trend itself is flagged").isPositive()
                            .isLessThan(50_000);
                } else if (step == 0) {
                    assertThat(firstFlag).as("three months more of the known trend: nothing").isEqualTo(-1);
                } else {
                    assertThat(firstFlag - 50_000).as("a step on top of the trend").isBetween(0L, 300L);
                }
            }
        }
    }

    @Test
    void aRecurringSeasonIsNotAChangeButAStepOnTopIs() {
        ReferenceProfile ref = reference(1.5);
        Run seasons = stream(ref, 120_000, 1.5, 0, 0, 0, null, 15);
        assertThat(seasons.flags()).as("the month's own reference: n0 never flagged").doesNotContainKey("n0");
        assertThat(seasons.flagsBefore(120_000)).isLessThanOrEqualTo(1);
        assertThat(seasons.alerts()).isEmpty();
        Run step = stream(ref, 120_000, 1.5, 1.0, 1, 90_000, null, 16);
        assertThat(step.firstFlag("n0", 90_000)).isBetween(0L, 300L);
    }
}
