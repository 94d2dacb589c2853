package io.mlserve.trainer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mlserve.featurecache.FeatureSpec;
import io.mlserve.featurecache.FeatureType;
import io.mlserve.proto.v1.PredictionRecord;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Reading a training log (the format a server writes) by a schema: the window, NULL cells as the view's default,
 * codes taken as codes, rows served with another encoding left out and counted — and every way it can be unusable
 * refused with one line: no rows in the window, no outcomes, only rows of another encoding, no log at all.
 */
class TrainingLogDataTest {
    @TempDir
    static Path dir;
    private static SparkSession spark;
    private static final long DAY = 86_400_000L;
    private static final long T0 = 1_700_000_000_000L;

    private static final TrainingSchema SCHEMA = new TrainingSchema("acct", "account_id", List.of(
            FeatureSpec.numeric("balance", Double.NaN), FeatureSpec.numeric("visits", 0),
            new FeatureSpec("plan", FeatureType.CATEGORICAL, List.of("a", "b"), 0, -1)), "label");

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[1]").appName("test").config("spark.ui.enabled", "false")
                .config("spark.sql.session.timeZone", "UTC").config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1").getOrCreate();
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    /** 20 days × 10 rows; every other row has an outcome; a few cells served as the default. */
    private static Path log(String name, TrainingSchema schema, boolean outcomes) throws Exception {
        Path out = dir.resolve(name);
        try (TrainingLogFiles files = new TrainingLogFiles(out, schema)) {
            for (int i = 0; i < 200; i++) {
                PredictionRecord.Builder p = PredictionRecord.newBuilder().setEntityId("e" + i).setRequestId("r" + i)
                        .setModelName("m").setModelVersion("1").setTimeMs(T0 + (i / 10) * DAY + i)
                        .addAllFeatureNames(schema.names()).setScore(0.5)
                        .addFeatures(i).addFeatures(i % 7).addFeatures(i % 2);
                if (i % 5 == 0) {
                    p.addDefaulted(0).addDefaulted(1);
                }
                files.write(p.build(), outcomes && i % 2 == 0 ? (double) (i % 4 == 0 ? 1 : 0) : null);
            }
        }
        return out;
    }

    @Test
    void readsTheWindowWithDefaultsForWhatWasServedAsDefault() throws Exception {
        Path log = log("good", SCHEMA, true);
        TrainingData.Loaded l = TrainingData.load(spark, SCHEMA, new TrainingData.Log(log, T0 + 5 * DAY,
                T0 + 15 * DAY));
        assertThat(l.logged()).isEqualTo(100);
        assertThat(l.labelled()).isEqualTo(50);
        assertThat(l.unlabelled()).isEqualTo(50);
        assertThat(l.otherEncoding()).isZero();
        assertThat(l.describe()).contains("50 labelled rows").contains("50 without an outcome");
        for (Row r : l.rows().collectAsList()) {
            double balance = r.getDouble(r.fieldIndex("x0"));
            double visits = r.getDouble(r.fieldIndex("x1"));
            double plan = r.getDouble(r.fieldIndex("x2"));
            long t = r.getLong(r.fieldIndex("event_time"));
            int i = (int) ((t - T0) % DAY);
            assertThat(Double.valueOf(balance)).isEqualTo(Double.valueOf(i % 5 == 0 ? Double.NaN : i));
            assertThat(visits).as("the view's default 0 where it was served").isEqualTo(i % 5 == 0 ? 0 : i % 7);
            assertThat(plan).isEqualTo(i % 2);
            assertThat(t).isBetween(T0 + 5 * DAY, T0 + 15 * DAY - 1);
        }
    }

    @Test
    void unusableLogsAreRefusedInOneLine() throws Exception {
        Path good = log("window", SCHEMA, true);
        assertThatThrownBy(() -> TrainingData.load(spark, SCHEMA, new TrainingData.Log(good, T0 + 30 * DAY, 0)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no rows logged in that time range");
        Path silent = log("silent", SCHEMA, false);
        assertThatThrownBy(() -> TrainingData.load(spark, SCHEMA, new TrainingData.Log(silent, 0, 0)))
                .hasMessageContaining("200 rows logged, none with an outcome").hasMessageContaining("/v1/outcomes");
        // the view changed since the rows were logged (visits now defaults to nan): none can be trained on
        TrainingSchema changed = new TrainingSchema("acct", "account_id", List.of(
                FeatureSpec.numeric("balance", Double.NaN), FeatureSpec.numeric("visits", Double.NaN),
                new FeatureSpec("plan", FeatureType.CATEGORICAL, List.of("a", "b"), 0, -1)), "label");
        assertThatThrownBy(() -> TrainingData.load(spark, changed, new TrainingData.Log(good, 0, 0)))
                .hasMessageContaining("none served with the feature encoding of view 'acct' as it is now");
        assertThatThrownBy(() -> TrainingData.load(spark, SCHEMA, new TrainingData.Log(dir.resolve("nothing"), 0,
                0))).hasMessageContaining("holds no rows yet");
        assertThat(TrainingData.source(good, 0, 0)).isInstanceOf(TrainingData.Log.class);
        assertThat(TrainingData.newestLogged(good)).isEqualTo(
                java.time.LocalDate.parse(TrainingData.date(T0 + 19 * DAY)).plusDays(1)
                        .atStartOfDay(java.time.ZoneOffset.UTC).toInstant().toEpochMilli());
    }
}
