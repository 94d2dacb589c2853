package io.mlserve.server.metrics;

import io.mlserve.featurecache.FeatureRow;
import io.mlserve.featurecache.FeatureStatus;
import io.mlserve.featurecache.FeatureStoreListener;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Histogram;
import java.util.Locale;

/** Feature store metrics: writes by outcome, read statuses per feature, and feature age at read per view. */
final class FeatureMetrics implements FeatureStoreListener {
    private final Counter writes;
    private final Counter statuses;
    private final Histogram age;
    private static final String[] STATUS = new String[FeatureStatus.values().length];

    static {
        for (FeatureStatus s : FeatureStatus.values()) {
            STATUS[s.ordinal()] = s.name().toLowerCase(Locale.ROOT);
        }
    }

    FeatureMetrics(Counter writes, Counter statuses, Histogram age) {
        this.writes = writes;
        this.statuses = statuses;
        this.age = age;
    }

    @Override
    public void written(String view, boolean applied, long eventTimeMs) {
        writes.labelValues(view, applied ? "applied" : "ignored_older").inc();
    }

    @Override
    public void read(String view, FeatureRow row, long nowMs) {
        int present = 0;
        int defaulted = 0;
        int stale = 0;
        int missing = 0;
        for (int i = 0, n = rowSize(row); i < n; i++) {
            switch (row.status(i)) {
                case PRESENT -> present++;
                case DEFAULTED -> defaulted++;
                case STALE -> stale++;
                case MISSING -> missing++;
            }
        }
        count(view, FeatureStatus.PRESENT, present);
        count(view, FeatureStatus.DEFAULTED, defaulted);
        count(view, FeatureStatus.STALE, stale);
        count(view, FeatureStatus.MISSING, missing);
        if (row.found()) {
            age.labelValues(view).observe(Math.max(0, nowMs - row.eventTimeMs()) / 1000.0);
        }
    }

    private static int rowSize(FeatureRow row) {
        return row.size();
    }

    private void count(String view, FeatureStatus s, int n) {
        if (n > 0) {
            statuses.labelValues(view, STATUS[s.ordinal()]).inc(n);
        }
    }
}
