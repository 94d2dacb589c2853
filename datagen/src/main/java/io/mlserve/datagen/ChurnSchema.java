package io.mlserve.datagen;

import java.util.ArrayList;
import java.util.List;

/**
 * The 47 churn features, in the order every part of mlserve uses (data files, the feature view, the
 * model's input columns): 41 numeric, then 6 categorical with their vocabularies.
 */
public final class ChurnSchema {
    /** A feature: its name, and its vocabulary when categorical (empty when numeric). */
    public record Column(String name, List<String> vocabulary) {
        public boolean categorical() {
            return !vocabulary.isEmpty();
        }
    }

    public static final List<String> NUMERIC = List.of("tenure_months", "monthly_charges", "total_charges", "age",
            "num_dependents", "num_services", "support_tickets_90d", "avg_call_minutes", "data_usage_gb",
            "data_usage_trend", "late_payments_12m", "days_since_last_login", "logins_30d", "sessions_per_week",
            "avg_session_minutes", "app_crashes_30d", "complaints_90d", "refunds_12m", "discount_pct",
            "price_increase_pct", "satisfaction_score", "nps_score", "outage_minutes_30d", "roaming_days_90d",
            "devices_count", "family_plan_members", "autopay_enabled", "paperless_billing", "senior_citizen",
            "has_partner", "contract_months_remaining", "last_plan_change_days", "upsell_offers_90d",
            "marketing_emails_30d", "email_open_rate", "competitor_offers_seen", "signup_month", "signup_weekday",
            "billing_day", "season_index", "promo_active");

    public static final List<Column> COLUMNS = columns();

    private ChurnSchema() {
    }

    private static List<Column> columns() {
        List<Column> c = new ArrayList<>();
        for (String n : NUMERIC) {
            c.add(new Column(n, List.of()));
        }
        c.add(new Column("contract_type", List.of("month_to_month", "one_year", "two_year")));
        c.add(new Column("payment_method", List.of("card", "bank_transfer", "electronic_check", "mailed_check")));
        c.add(new Column("internet_service", List.of("none", "dsl", "fiber")));
        c.add(new Column("region", List.of("north", "south", "east", "west")));
        c.add(new Column("plan_tier", List.of("basic", "plus", "pro")));
        c.add(new Column("campaign_channel", List.of("none", "email", "sms", "call")));
        return List.copyOf(c);
    }

    /** The label column of the generated data: 1 when the customer churned within 90 days. */
    public static final String LABEL = "churned";

    /**
     * The churn feature view as a server config file's {@code feature_views} entry (YAML, each line indented by
     * {@code indent}): key {@code customer_id}; numbers default to {@code nan} — a missing value stays missing, as in
     * the generated data, and the trainer's models impute it — and categories to -1 (unknown).
     */
    public static String viewYaml(String indent) {
        StringBuilder b = new StringBuilder();
        b.append(indent).append("- name: customer\n").append(indent).append("  entity_key: customer_id\n")
                .append(indent).append("  key_type: string\n").append(indent).append("  ttl: 7d\n")
                .append(indent).append("  max_entities: 1000000\n").append(indent).append("  serve_stale: false\n")
                .append(indent).append("  features:\n");
        for (Column c : COLUMNS) {
            b.append(indent).append("    - {name: ").append(c.name());
            if (c.categorical()) {
                b.append(", type: categorical, vocabulary: [").append(String.join(", ", c.vocabulary()))
                        .append("], default: -1}\n");
            } else {
                b.append(", type: float32, default: nan}\n");
            }
        }
        return b.toString();
    }

    /** Index of {@code name} in {@link #COLUMNS}, or -1. */
    public static int indexOf(String name) {
        for (int i = 0; i < COLUMNS.size(); i++) {
            if (COLUMNS.get(i).name().equals(name)) {
                return i;
            }
        }
        return -1;
    }
}
