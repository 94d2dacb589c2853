package io.mlserve.server.examples;

import io.mlserve.featurecache.FeatureSpec;
import io.mlserve.featurecache.FeatureType;
import io.mlserve.runtime.onnx.ExampleModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The churn example shipped in {@code examples/churn}: a feature view {@code customer} (string key
 * {@code customer_id}, 47 features) in {@code mlserve.yaml}, and a model repository beside it whose
 * {@code churn} model reads those features. {@code ./mlserve demo --write-example examples/churn}
 * regenerates it; a test checks the committed copy equals what this writes.
 */
public final class ChurnExample {
    public static final String VIEW = "customer";
    public static final String MODEL = "churn";

    private static final List<String> NUMERIC = List.of("tenure_months", "monthly_charges", "total_charges", "age",
            "num_dependents", "num_services", "support_tickets_90d", "avg_call_minutes", "data_usage_gb",
            "data_usage_trend", "late_payments_12m", "days_since_last_login", "logins_30d", "sessions_per_week",
            "avg_session_minutes", "app_crashes_30d", "complaints_90d", "refunds_12m", "discount_pct",
            "price_increase_pct", "satisfaction_score", "nps_score", "outage_minutes_30d", "roaming_days_90d",
            "devices_count", "family_plan_members", "autopay_enabled", "paperless_billing", "senior_citizen",
            "has_partner", "contract_months_remaining", "last_plan_change_days", "upsell_offers_90d",
            "marketing_emails_30d", "email_open_rate", "competitor_offers_seen", "signup_month", "signup_weekday",
            "billing_day", "season_index", "promo_active");

    /** The 47 features: 41 numeric (default 0), 6 categorical (vocabulary code; -1 when absent or unknown). */
    public static final List<FeatureSpec> FEATURES = features();

    private ChurnExample() {
    }

    private static List<FeatureSpec> features() {
        List<FeatureSpec> f = new ArrayList<>();
        for (String n : NUMERIC) {
            f.add(FeatureSpec.numeric(n, 0));
        }
        f.add(categorical("contract_type", "month_to_month", "one_year", "two_year"));
        f.add(categorical("payment_method", "card", "bank_transfer", "electronic_check", "mailed_check"));
        f.add(categorical("internet_service", "none", "dsl", "fiber"));
        f.add(categorical("region", "north", "south", "east", "west"));
        f.add(categorical("plan_tier", "basic", "plus", "pro"));
        f.add(categorical("campaign_channel", "none", "email", "sms", "call"));
        if (f.size() != ExampleModels.CHURN_FEATURES) {
            throw new IllegalStateException("the churn example needs " + ExampleModels.CHURN_FEATURES + " features");
        }
        return List.copyOf(f);
    }

    private static FeatureSpec categorical(String name, String... vocabulary) {
        return new FeatureSpec(name, FeatureType.CATEGORICAL, List.of(vocabulary), 0, -1);
    }

    /** Writes {@code dir/mlserve.yaml} and {@code dir/models/churn/{config.json,1/model.onnx}}. */
    public static Path writeTo(Path dir) throws IOException {
        Files.createDirectories(dir);
        StringBuilder yaml = new StringBuilder("""
                # mlserve server config for the churn example (written by ./mlserve demo --write-example DIR).
                # Paths are relative to this file.
                model_repository: models
                data_dir: data
                feature_views:
                  - name: customer
                    entity_key: customer_id
                    key_type: string
                    ttl: 7d
                    max_entities: 1000000
                    serve_stale: false
                    features:
                """);
        for (FeatureSpec s : FEATURES) {
            if (s.type() == FeatureType.CATEGORICAL) {
                yaml.append("      - {name: ").append(s.name()).append(", type: categorical, vocabulary: [")
                        .append(String.join(", ", s.vocabulary())).append("], default: -1}\n");
            } else {
                yaml.append("      - {name: ").append(s.name()).append(", type: float32, default: 0}\n");
            }
        }
        Files.writeString(dir.resolve("mlserve.yaml"), yaml.toString());
        Path model = dir.resolve("models").resolve(MODEL);
        ExampleModels.churnMlp().writeTo(model.resolve("1").resolve("model.onnx"));
        String names = FEATURES.stream().map(s -> "\"" + s.name() + "\"").collect(Collectors.joining(",\n      "));
        Files.writeString(model.resolve("config.json"), """
                {
                  "name": "churn",
                  "platform": "onnxruntime_onnx",
                  "max_batch_size": 256,
                  "input": [{"name": "features", "data_type": "TYPE_FP32", "dims": [47]}],
                  "output": [{"name": "probability", "data_type": "TYPE_FP32", "dims": [1]}],
                  "dynamic_batching": {"max_queue_delay_microseconds": 0},
                  "version_policy": {"latest": {"num_versions": 1}},
                  "features": {
                    "input": "features",
                    "view": "customer",
                    "names": [
                      %s
                    ]
                  }
                }
                """.formatted(names));
        return dir.resolve("mlserve.yaml");
    }
}
