package io.mlserve.featurecache;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** How a view stores category values: vocabulary index, hash bucket, or -1 when unknown. */
public final class CategoryCodes {
    private final FeatureView view;
    private final List<Map<String, Integer>> vocabularies;

    public CategoryCodes(FeatureView view) {
        this.view = view;
        this.vocabularies = view.features().stream().map(f -> {
            Map<String, Integer> m = new HashMap<>();
            for (int i = 0; i < f.vocabulary().size(); i++) {
                m.put(f.vocabulary().get(i), i);
            }
            return m;
        }).toList();
    }

    /** The bucket of {@code value} among {@code buckets}: the one hash every reader and writer of codes uses. */
    public static int hashed(String value, int buckets) {
        return Math.floorMod(value.hashCode(), buckets);
    }

    /** The code of {@code value} for feature {@code feature} of the view. */
    public long code(int feature, String value) {
        FeatureSpec f = view.features().get(feature);
        if (f.hashBuckets() > 0) {
            return hashed(value, f.hashBuckets());
        }
        Integer i = vocabularies.get(feature).get(value);
        return i == null ? -1 : i;
    }
}
