package io.mlserve.trainer;

import static org.apache.spark.sql.functions.col;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mlserve.drift.ProfileBuilder;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * The drift reference written beside a published model as {@code profile.json} (format {@code mlserve.profile/1}),
 * built by the drift module's {@link ProfileBuilder} — the code {@code ./mlserve profile} runs — over the training
 * rows: exact quantiles at every percentile, the deciles' histogram, counts per code, month season buckets, and each
 * numeric feature's material linear trend (fitted within the months), its distribution stored projected to the end
 * of the training data, so a version does not report as drift the growth it was trained on. The score's reference is
 * the model's probabilities on the holdout. Up to {@value #SAMPLE} rows of each are profiled (a deterministic sample
 * when there are more): quantiles to well within the 0.01 steps the profile keeps.
 */
final class TrainingProfile {
    /** Rows of the training split (and of the holdout's scores) the profile is computed from, at most. */
    static final int SAMPLE = 300_000;

    private TrainingProfile() {
    }

    /**
     * @param train  encoded training rows (the schema's input columns as doubles, NaN / -1 = missing, event_time in
     *               ms)
     * @param scored holdout rows with Spark's {@code probability} vector
     */
    static ObjectNode build(TrainingSchema schema, Dataset<Row> train, Dataset<Row> scored) {
        int width = schema.width();
        List<Column> cols = new ArrayList<>();
        for (int j = 0; j < width; j++) {
            cols.add(col(TrainingSchema.column(j)));
        }
        cols.add(col("event_time"));
        Dataset<Row> rows = sample(train.select(cols.toArray(new Column[0])));
        List<Row> taken = rows.collectAsList();
        float[] x = new float[taken.size() * width];
        long[] times = new long[taken.size()];
        for (int i = 0; i < taken.size(); i++) {
            Row r = taken.get(i);
            for (int j = 0; j < width; j++) {
                x[i * width + j] = (float) r.getDouble(j);
            }
            times[i] = r.getLong(width);
        }
        List<ProfileBuilder.Column> columns = new ArrayList<>();
        for (int j = 0; j < width; j++) {
            if (schema.categorical(j)) {
                // the codes' names: the vocabulary, or one per hash bucket
                List<String> vocabulary = schema.inputs().get(j).vocabulary();
                List<String> names = new ArrayList<>();
                for (int k = 0; k < schema.levels(j); k++) {
                    names.add(vocabulary.isEmpty() ? "bucket_" + k : vocabulary.get(k));
                }
                columns.add(new ProfileBuilder.Column(schema.names().get(j), names));
            } else {
                columns.add(ProfileBuilder.Column.numeric(schema.names().get(j)));
            }
        }
        ObjectNode profile = ProfileBuilder.build(columns, x, times, null, ProfileBuilder.Seasons.MONTH, true);
        profile.put("rows", train.count()).put("profiled_rows", taken.size());
        profile.set("score", scoreProfile(scored));
        return profile;
    }

    private static Dataset<Row> sample(Dataset<Row> d) {
        long n = d.count();
        return n <= SAMPLE ? d : d.sample(false, Math.min(1.0, 1.05 * SAMPLE / n), 17).limit(SAMPLE);
    }

    /** The score section: the holdout's probabilities, as the drift monitor compares live scores with them. */
    private static ObjectNode scoreProfile(Dataset<Row> scored) {
        Dataset<Row> p = sample(scored.select(org.apache.spark.ml.functions.vector_to_array(col("probability"),
                "float64").getItem(1).alias("p")));
        List<Float> scores = new ArrayList<>();
        for (Iterator<Row> it = p.toLocalIterator(); it.hasNext(); ) {
            scores.add((float) it.next().getDouble(0));
        }
        float[] s = new float[scores.size()];
        for (int i = 0; i < s.length; i++) {
            s[i] = scores.get(i);
        }
        ObjectNode score = (ObjectNode) ProfileBuilder.build(List.of(ProfileBuilder.Column.numeric("_")),
                new float[s.length], null, s).get("score");
        return score.put("on", "holdout");
    }
}
