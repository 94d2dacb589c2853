package io.mlserve.datagen;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroupFactory;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.MessageTypeParser;

/**
 * Synthetic customer-event records modelled on the paper's churn validation set: {@code rows} events over
 * {@code years} years from 2022-01-01 UTC, the 47 features of {@link ChurnSchema} (customer attributes,
 * behaviour with a trend and yearly seasonality, marketing context; about 2 % missing in a few columns),
 * and {@code churned} (churn within 90 days) drawn from a logistic model calibrated to ~15 % positives.
 * Three drifts are injected at known times and written to a manifest:
 * <ul>
 *   <li><b>sudden</b> at 55 % of the span: charges jump (a price rise) and price increases start to
 *       drive churn much harder — the label relation changes;</li>
 *   <li><b>gradual</b> from 70 % to 85 %: data usage climbs and logins fall steadily; same label relation;</li>
 *   <li><b>seasonal</b> every November–December: holiday campaigns (more marketing e-mails, promotions) —
 *       recurring, not a problem.</li>
 * </ul>
 * Everything is a function of the seed: the same options write the same bytes.
 */
public final class ChurnDataGenerator {
    public static final long START_MS = Instant.parse("2022-01-01T00:00:00Z").toEpochMilli();
    static final double SUDDEN_AT = 0.55;
    static final double GRADUAL_FROM = 0.70;
    static final double GRADUAL_TO = 0.85;
    static final double TARGET_POSITIVE_RATE = 0.15;

    /** What to generate. */
    public record Options(long rows, int years, long seed) {
        public Options {
            if (rows < 1 || years < 1) {
                throw new IllegalArgumentException("rows and years must be >= 1");
            }
        }
    }

    /** One injected drift, as the manifest records it. */
    public record Drift(String kind, long startMs, long endMs, List<String> features, boolean labelRelationChanged,
                        boolean recurring, String description) {
    }

    /** The ground truth written to manifest.json. */
    public record Manifest(long rows, long seed, long startMs, long endMs, double positiveRate, List<String> columns,
                           List<Drift> drifts) {
    }

    private final Options options;
    private final long spanMs;
    private final int customers;

    public ChurnDataGenerator(Options options) {
        this.options = options;
        this.spanMs = (long) (options.years() * 365.25 * 86_400_000L);
        this.customers = (int) Math.max(1, options.rows() / 4);
    }

    /** One generated record: features (NaN = missing), category indexes (-1 = missing), the label. */
    public static final class Row {
        long eventTime;
        int customer;
        final double[] numeric = new double[ChurnSchema.NUMERIC.size()];
        final int[] category = new int[ChurnSchema.COLUMNS.size() - ChurnSchema.NUMERIC.size()];
        double logit;
        int churned;

        public long eventTime() {
            return eventTime;
        }

        public String customerId() {
            return "c-" + customer;
        }

        /** Feature {@code column} of {@link ChurnSchema#COLUMNS}: a number (NaN = missing), or null. */
        public double number(int column) {
            return numeric[column];
        }

        /** Categorical feature {@code column} of {@link ChurnSchema#COLUMNS}, or null when missing. */
        public String category(int column) {
            int k = category[column - ChurnSchema.NUMERIC.size()];
            return k < 0 ? null : ChurnSchema.COLUMNS.get(column).vocabulary().get(k);
        }

        public int churned() {
            return churned;
        }
    }

    /** Receives the records in event-time order; the row object is reused, read it before returning. */
    @FunctionalInterface
    public interface RowSink {
        void accept(Row row) throws Exception;
    }

    /**
     * Generates every record, in event-time order, into {@code sink} (the same records {@link #generate}
     * writes to files).
     *
     * @return the share of positive labels
     */
    public double stream(RowSink sink) throws Exception {
        double bias = calibrateBias();
        SplittableRandom rng = new SplittableRandom(options.seed());
        Row row = new Row();
        long positives = 0;
        for (long i = 0; i < options.rows(); i++) {
            fill(row, i, rng);
            double p = 1 / (1 + Math.exp(-(bias + row.logit)));
            row.churned = rng.nextDouble() < p ? 1 : 0;
            positives += row.churned;
            sink.accept(row);
        }
        return (double) positives / options.rows();
    }

    /** The drifts injected, as the manifest lists them. */
    public List<Drift> driftList() {
        return drifts();
    }

    /**
     * Writes {@code out/data.csv}, {@code out/data.parquet} ({@link ChurnFiles}), {@code out/manifest.json} and
     * {@code out/mlserve.yaml} (the churn feature view, for {@code ./mlserve train --config}).
     */
    public Manifest generate(Path out) throws IOException {
        double positiveRate;
        String[] categories = new String[ChurnSchema.COLUMNS.size() - ChurnSchema.NUMERIC.size()];
        try (ChurnFiles files = new ChurnFiles(out)) {
            positiveRate = stream(row -> {
                for (int k = 0; k < categories.length; k++) {
                    categories[k] = row.category(ChurnSchema.NUMERIC.size() + k);
                }
                files.write(row.eventTime, row.customerId(), row.numeric, categories, row.churned);
            });
        } catch (IOException | RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException(e);
        }
        Manifest m = new Manifest(options.rows(), options.seed(), START_MS, START_MS + spanMs, positiveRate,
                ChurnFiles.columns(), drifts());
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(out.resolve("manifest.json").toFile(), m);
        java.nio.file.Files.writeString(out.resolve("mlserve.yaml"), "# The churn feature view of this data set "
                + "(label column: " + ChurnSchema.LABEL + "), for ./mlserve train --config and serve --config.\n"
                + "feature_views:\n" + ChurnSchema.viewYaml("  "));
        return m;
    }

    private List<Drift> drifts() {
        List<Drift> d = new ArrayList<>();
        d.add(new Drift("sudden", at(SUDDEN_AT), START_MS + spanMs, List.of("monthly_charges", "total_charges",
                "price_increase_pct"), true, false,
                "price rise: charges +25 %, price increases ~2 % -> ~12 %, and they now drive churn 4x harder"));
        d.add(new Drift("gradual", at(GRADUAL_FROM), at(GRADUAL_TO), List.of("data_usage_gb", "logins_30d",
                "sessions_per_week"), false, false,
                "usage climbs (+60 % data) and engagement falls (-35 % logins) linearly; same label relation"));
        ZonedDateTime start = Instant.ofEpochMilli(START_MS).atZone(ZoneOffset.UTC);
        ZonedDateTime end = Instant.ofEpochMilli(START_MS + spanMs).atZone(ZoneOffset.UTC);
        for (int y = start.getYear(); y <= end.getYear(); y++) {
            long from = ZonedDateTime.of(y, 11, 1, 0, 0, 0, 0, ZoneOffset.UTC).toInstant().toEpochMilli();
            long to = ZonedDateTime.of(y + 1, 1, 1, 0, 0, 0, 0, ZoneOffset.UTC).toInstant().toEpochMilli();
            if (from < START_MS + spanMs) {
                d.add(new Drift("seasonal", from, Math.min(to, START_MS + spanMs), List.of("marketing_emails_30d",
                        "promo_active", "campaign_channel"), false, true,
                        "holiday campaigns every November-December: recurring, not a problem"));
            }
        }
        return d;
    }

    private long at(double fraction) {
        return START_MS + (long) (fraction * spanMs);
    }

    /** The intercept giving ~15 % positives, found on a pilot sample drawn with its own seed. */
    private double calibrateBias() {
        int n = (int) Math.min(20_000, Math.max(2_000, options.rows()));
        double[] logits = new double[n];
        SplittableRandom rng = new SplittableRandom(options.seed() ^ 0x5DEECE66DL);
        Row row = new Row();
        for (int i = 0; i < n; i++) {
            fill(row, (long) ((double) i / n * options.rows()), rng);
            logits[i] = row.logit;
        }
        double lo = -20;
        double hi = 20;
        for (int it = 0; it < 60; it++) {
            double mid = (lo + hi) / 2;
            double mean = 0;
            for (double z : logits) {
                mean += 1 / (1 + Math.exp(-(mid + z)));
            }
            if (mean / n > TARGET_POSITIVE_RATE) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        return (lo + hi) / 2;
    }

    private static int num(String name) {
        return ChurnSchema.NUMERIC.indexOf(name);
    }

    private static final int TENURE = num("tenure_months");
    private static final int CHARGES = num("monthly_charges");

    /** Fills {@code r} with record {@code i}: a pure function of the generator's seed and {@code rng}'s state. */
    void fill(Row r, long i, SplittableRandom rng) {
        double t = (i + rng.nextDouble()) / options.rows();
        r.eventTime = START_MS + (long) (t * spanMs);
        r.customer = rng.nextInt(customers);
        SplittableRandom c = new SplittableRandom(options.seed() * 1_000_003L + r.customer);
        double[] x = r.numeric;
        ZonedDateTime when = Instant.ofEpochMilli(r.eventTime).atZone(ZoneOffset.UTC);
        double season = Math.sin(2 * Math.PI * when.getDayOfYear() / 365.25);
        boolean holidays = when.getMonthValue() >= 11;
        boolean sudden = t >= SUDDEN_AT;
        double gradual = t <= GRADUAL_FROM ? 0 : t >= GRADUAL_TO ? 1 : (t - GRADUAL_FROM) / (GRADUAL_TO - GRADUAL_FROM);
        // customer attributes (the same on every event of the customer)
        double age = 18 + c.nextInt(63);
        int contract = pick(c, 0.55, 0.25);
        int payment = pick(c, 0.3, 0.25, 0.3);
        int internet = pick(c, 0.15, 0.4);
        int region = c.nextInt(4);
        int plan = pick(c, 0.5, 0.3);
        double joinedAt = c.nextDouble() * 0.8 - 0.3;
        x[num("age")] = age;
        x[num("senior_citizen")] = age >= 65 ? 1 : 0;
        x[num("has_partner")] = c.nextDouble() < 0.5 ? 1 : 0;
        x[num("num_dependents")] = c.nextInt(5);
        x[num("signup_month")] = 1 + c.nextInt(12);
        x[num("signup_weekday")] = c.nextInt(7);
        x[num("billing_day")] = 1 + c.nextInt(28);
        x[num("family_plan_members")] = 1 + c.nextInt(5);
        x[num("devices_count")] = 1 + c.nextInt(6);
        x[num("autopay_enabled")] = payment == 0 || payment == 1 ? 1 : 0;
        x[num("paperless_billing")] = c.nextDouble() < 0.6 ? 1 : 0;
        // behaviour at this event (trend over the span, yearly season, the drifts)
        double tenure = Math.max(0, Math.min(72, (t - joinedAt) * options.years() * 12 + c.nextInt(6)));
        x[TENURE] = Math.round(tenure);
        double charges = 20 + 25 * plan + 15 * internet + rng.nextDouble() * 20 + 8 * t;
        x[CHARGES] = sudden ? charges * 1.25 : charges;
        x[num("total_charges")] = x[CHARGES] * Math.max(1, x[TENURE]);
        x[num("num_services")] = 1 + c.nextInt(8);
        x[num("support_tickets_90d")] = poisson(rng, 0.8 + 0.4 * (internet == 2 ? 1 : 0));
        x[num("avg_call_minutes")] = 5 + rng.nextDouble() * 40;
        x[num("data_usage_gb")] = (5 + 10 * internet + rng.nextDouble() * 10) * (1 + 0.4 * t + 0.1 * season)
                * (1 + 0.6 * gradual);
        x[num("data_usage_trend")] = rng.nextDouble() * 2 - 1;
        x[num("late_payments_12m")] = poisson(rng, payment == 2 ? 1.2 : 0.4);
        x[num("days_since_last_login")] = rng.nextInt(60);
        x[num("logins_30d")] = Math.max(0, (12 + 6 * season + 3 * gaussian(rng)) * (1 - 0.35 * gradual));
        x[num("sessions_per_week")] = Math.max(0, (4 + rng.nextDouble() * 6) * (1 - 0.3 * gradual));
        x[num("avg_session_minutes")] = 3 + rng.nextDouble() * 25;
        x[num("app_crashes_30d")] = poisson(rng, 0.3);
        x[num("complaints_90d")] = poisson(rng, 0.25);
        x[num("refunds_12m")] = poisson(rng, 0.1);
        x[num("discount_pct")] = c.nextInt(4) * 5;
        x[num("price_increase_pct")] = sudden ? 10 + rng.nextDouble() * 4 : rng.nextDouble() * 4;
        x[num("satisfaction_score")] = Math.max(1, Math.min(10, 7 - x[num("support_tickets_90d")] + rng.nextInt(4) - 1));
        x[num("nps_score")] = Math.max(-100, Math.min(100, (x[num("satisfaction_score")] - 6) * 20 + rng.nextInt(21) - 10));
        x[num("outage_minutes_30d")] = rng.nextDouble() < 0.2 ? rng.nextInt(300) : 0;
        x[num("roaming_days_90d")] = rng.nextDouble() < 0.15 ? rng.nextInt(20) : 0;
        x[num("contract_months_remaining")] = contract == 0 ? 0 : Math.max(0, (contract == 1 ? 12 : 24)
                - (x[TENURE] % (contract == 1 ? 12 : 24)));
        x[num("last_plan_change_days")] = rng.nextInt(720);
        x[num("upsell_offers_90d")] = poisson(rng, 0.6);
        x[num("marketing_emails_30d")] = poisson(rng, holidays ? 9 : 3);
        x[num("email_open_rate")] = rng.nextDouble() * 0.6;
        x[num("competitor_offers_seen")] = poisson(rng, 0.5 + 0.3 * t);
        x[num("season_index")] = (when.getMonthValue() - 1) / 3;
        x[num("promo_active")] = rng.nextDouble() < (holidays ? 0.6 : 0.1) ? 1 : 0;
        r.category[0] = contract;
        r.category[1] = payment;
        r.category[2] = internet;
        r.category[3] = region;
        r.category[4] = plan;
        r.category[5] = holidays ? pick(rng, 0.2, 0.5, 0.2) : pick(rng, 0.6, 0.2, 0.1);
        // churn within 90 days, before anything goes missing
        double z = 0.9 * (contract == 0 ? 1 : 0) - 0.5 * (contract == 2 ? 1 : 0) - 0.03 * x[TENURE]
                + 0.015 * (x[CHARGES] - 70) + 0.25 * x[num("support_tickets_90d")]
                + 0.3 * x[num("complaints_90d")] - 0.15 * (x[num("satisfaction_score")] - 6)
                + 0.35 * x[num("late_payments_12m")] + 0.015 * x[num("days_since_last_login")]
                - 0.03 * x[num("logins_30d")] + 0.4 * (payment == 2 ? 1 : 0)
                + 0.1 * x[num("competitor_offers_seen")] + 0.15 * season
                + (sudden ? 0.12 : 0.03) * x[num("price_increase_pct")];
        r.logit = z;
        // about 2 % missing in a few columns (1 % for payment_method)
        for (String m : MISSING) {
            if (rng.nextDouble() < 0.02) {
                x[num(m)] = Double.NaN;
            }
        }
        if (rng.nextDouble() < 0.01) {
            r.category[1] = -1;
        }
    }

    private static final List<String> MISSING = List.of("avg_call_minutes", "satisfaction_score", "nps_score",
            "email_open_rate", "data_usage_trend");

    /** Index i with probability p[i]; the last index takes the rest. */
    private static int pick(SplittableRandom r, double... p) {
        double u = r.nextDouble();
        for (int i = 0; i < p.length; i++) {
            u -= p[i];
            if (u < 0) {
                return i;
            }
        }
        return p.length;
    }

    private static double gaussian(SplittableRandom r) {
        return Math.sqrt(-2 * Math.log(1 - r.nextDouble())) * Math.cos(2 * Math.PI * r.nextDouble());
    }

    private static double poisson(SplittableRandom r, double mean) {
        double l = Math.exp(-mean);
        double p = 1;
        int k = 0;
        do {
            k++;
            p *= r.nextDouble();
        } while (p > l);
        return k - 1;
    }
}
