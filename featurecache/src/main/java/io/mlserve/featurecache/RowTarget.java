package io.mlserve.featurecache;

/**
 * Where rows of a view read from a CSV or Parquet file go, encoded as the feature store encodes them (numbers as
 * given, categories as their codes): a {@link FeatureTable} (snapshot loads), or anything else that must see
 * exactly the values online serving sees (batch scoring).
 */
public interface RowTarget {
    FeatureView view();

    /** The code a category value is stored as: vocabulary index, hash bucket, or -1 when unknown. */
    long categoryCode(int feature, String value);

    /**
     * One row: {@code values[i]} where {@code present[i]}; the other features are absent (a feature table's
     * REPLACE mode resets them to the default, MERGE mode keeps their stored values). A present NaN is a feature
     * the row names as missing (an empty cell or a null in a column of the view): it reads back DEFAULTED in both
     * modes, so a file's row is served exactly as it is written.
     */
    FeatureTable.WriteOutcome write(CharSequence entity, long eventTimeMs, double[] values, boolean[] present);
}
