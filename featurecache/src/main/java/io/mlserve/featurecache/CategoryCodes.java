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

    /** The code of {@code value} for feature {@code feature} of the view. */
    public long code(int feature, String value) {
        FeatureSpec f = view.features().get(feature);
        if (f.hashBuckets() > 0) {
            return Math.floorMod(value.hashCode(), f.hashBuckets());
        }
        Integer i = vocabularies.get(feature).get(value);
        return i == null ? -1 : i;
    }
}
