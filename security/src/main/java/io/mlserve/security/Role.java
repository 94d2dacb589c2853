package io.mlserve.security;

import java.util.Locale;

/** What a principal may do. {@code admin} includes every other role. */
public enum Role {
    /** Inference: ModelInfer, Predict, model metadata; reporting outcomes; reading features. */
    PREDICT,
    /** Writing features (gRPC WriteFeatures, PUT /v1/features). */
    FEATURES_WRITE,
    /** The repository (load, unload, index), rollout overrides, retraining, the audit log. */
    ADMIN,
    /** Operational reads: /metrics, drift and quality reports, rollout status, model listings. */
    METRICS;

    /** The name in the token file: predict, features-write, admin, metrics. */
    public String label() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    static Role parse(String s) {
        for (Role r : values()) {
            if (r.label().equals(s)) {
                return r;
            }
        }
        throw new IllegalArgumentException("unknown role '" + s + "' (predict, features-write, admin, metrics)");
    }
}
