package io.mlserve.trainer;

import static org.apache.spark.sql.functions.array;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.expr;
import static org.apache.spark.sql.functions.isnan;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.nanvl;
import static org.apache.spark.sql.functions.percentile_approx;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.when;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.functions;

/**
 * The drift reference written beside a published model as {@code profile.json} (format
 * {@code mlserve.profile/1}). The drift monitor compares live traffic with it.
 *
 * <pre>
 * {
 *   "format": "mlserve.profile/1",
 *   "rows": N,                                   training rows profiled
 *   "season": "month",                           season bucket: calendar month of event_time (UTC), "M01".."M12"
 *   "quantile_probabilities": [0.01, 0.02, ..., 0.99], the probabilities every "quantiles" array is taken at
 *   "features": [                                one entry per model input column, in input order
 *     { "name", "index", "type": "numeric",
 *       "count", "missing",                      rows, and rows with NaN (missing) among them
 *       "quantiles": [...],                      over non-missing values (relative error 0.001)
 *       "histogram": { "edges": [e1..ek], "counts": [c0..ck] },
 *                                                k strictly increasing inner edges (the distinct deciles);
 *                                                c0 counts x &lt; e1, cj counts ej &lt;= x &lt; ej+1, ck counts x &gt;= ek
 *       "seasons": { "M01": { "count", "missing", "quantiles", "counts" }, ... }   same edges per season },
 *     { "name", "index", "type": "categorical",
 *       "vocabulary": [...], "count", "missing",  missing = code -1
 *       "counts": [...],                          rows per code 0..vocabulary-1
 *       "seasons": { "M01": { "count", "missing", "counts" }, ... } }
 *   ],
 *   "score": { "on": "holdout", "count", "quantiles", "histogram": { "edges": [0.05 .. 0.95], "counts": [20] } }
 * }
 * </pre>
 *
 * Counts rather than fractions, so a consumer can merge buckets and apply its own smoothing.
 */
final class TrainingProfile {
    /**
     * Every percentile, 0.01 … 0.99: between two of them the reference CDF rises by 0.01, which bounds how far a
     * KS distance evaluated at these points can be from the exact one (the drift monitor states it).
     */
    static final double[] PROBABILITIES = java.util.stream.IntStream.rangeClosed(1, 99).mapToDouble(i -> i / 100.0)
            .toArray();
    private static final double[] DECILES = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};
    /**
     * Months, not quarters: a pattern shorter than a quarter (a two-month holiday campaign) only cancels against the
     * reference of the same month (bench/RESULTS.md §11).
     */
    private static final String[] SEASONS = java.util.stream.IntStream.rangeClosed(1, 12)
            .mapToObj(m -> String.format(java.util.Locale.ROOT, "M%02d", m)).toArray(String[]::new);

    private TrainingProfile() {
    }

    /**
     * @param train  encoded training rows (the schema's input columns as doubles, NaN / -1 = missing, event_time in
     *               ms)
     * @param scored holdout rows with Spark's {@code probability} vector
     */
    static ObjectNode build(TrainingSchema schema, Dataset<Row> train, Dataset<Row> scored) {
        ObjectMapper json = new ObjectMapper();
        ObjectNode profile = json.createObjectNode();
        Dataset<Row> seasoned = train.withColumn("season", expr("month(timestamp_millis(event_time))"));
        int[] numeric = schema.numeric();
        String[] numericNames = Arrays.stream(numeric).mapToObj(TrainingSchema::column).toArray(String[]::new);

        // overall quantiles (their deciles are the histogram edges) in one pass; then every count and the
        // per-season quantiles in one grouped pass
        double[][] quantiles = numericNames.length == 0 ? new double[0][]
                : seasoned.stat().approxQuantile(numericNames, PROBABILITIES, 0.001);
        double[][] edges = new double[numeric.length][];
        List<Column> aggs = new ArrayList<>();
        aggs.add(count(lit(1)));
        // per input, in input order: its missing count, then its bins (numeric) or codes (categorical)
        for (int j = 0, f = 0; j < schema.width(); j++) {
            Column x = col(TrainingSchema.column(j));
            if (schema.categorical(j)) {
                aggs.add(ones(x.equalTo(-1.0)));
                for (int k = 0; k < schema.levels(j); k++) {
                    aggs.add(ones(x.equalTo((double) k)));
                }
                continue;
            }
            edges[f] = deciles(quantiles[f]);
            aggs.add(ones(isnan(x)));
            for (int b = 0; b <= edges[f].length; b++) {
                Column in = isnan(x).equalTo(false);
                if (b > 0) {
                    in = in.and(x.geq(edges[f][b - 1]));
                }
                if (b < edges[f].length) {
                    in = in.and(x.lt(edges[f][b]));
                }
                aggs.add(ones(in));
            }
            f++;
        }
        Column probabilities = array(Arrays.stream(PROBABILITIES).mapToObj(functions::lit).toArray(Column[]::new));
        List<Column> grouped = new ArrayList<>(aggs.subList(1, aggs.size()));
        for (String name : numericNames) {
            // percentile_approx skips nulls, not NaN: missing values become null first
            grouped.add(percentile_approx(nanvl(col(name), lit(null).cast("double")), probabilities, lit(1000)));
        }
        List<Row> bySeason = seasoned.groupBy("season").agg(aggs.get(0), grouped.toArray(new Column[0]))
                .collectAsList();
        long[][] counts = new long[SEASONS.length][aggs.size()];
        double[][][] seasonQuantiles = new double[SEASONS.length][numeric.length][0];
        for (Row r : bySeason) {
            int q = r.getInt(0) - 1;
            for (int a = 0; a < aggs.size(); a++) {
                counts[q][a] = r.getLong(a + 1);
            }
            for (int n = 0; n < numeric.length; n++) {
                int at = 1 + aggs.size() + n;
                if (!r.isNullAt(at)) {
                    List<Object> values = r.getList(at);
                    seasonQuantiles[q][n] = values.stream().mapToDouble(v -> ((Number) v).doubleValue()).toArray();
                }
            }
        }
        long[] total = new long[aggs.size()];
        for (long[] season : counts) {
            for (int a = 0; a < total.length; a++) {
                total[a] += season[a];
            }
        }

        profile.put("format", "mlserve.profile/1").put("rows", total[0]).put("season", "month");
        ArrayNode probs = profile.putArray("quantile_probabilities");
        Arrays.stream(PROBABILITIES).forEach(probs::add);
        ArrayNode features = profile.putArray("features");
        int a = 1;
        int n = 0;
        for (int j = 0; j < schema.width(); j++) {
            boolean categorical = schema.categorical(j);
            ObjectNode node = json.createObjectNode();
            node.put("name", schema.names().get(j)).put("index", j);
            node.put("type", categorical ? "categorical" : "numeric");
            if (categorical) {
                // the codes' names: the vocabulary, or one per hash bucket
                List<String> names = schema.inputs().get(j).vocabulary();
                ArrayNode vocabulary = node.putArray("vocabulary");
                for (int k = 0; k < schema.levels(j); k++) {
                    vocabulary.add(names.isEmpty() ? "bucket_" + k : names.get(k));
                }
            }
            node.put("count", total[0]).put("missing", total[a]);
            ObjectNode seasons = json.createObjectNode();
            for (int q = 0; q < SEASONS.length; q++) {
                seasons.putObject(SEASONS[q]).put("count", counts[q][0]).put("missing", counts[q][a]);
            }
            int bins = categorical ? schema.levels(j) : edges[n].length + 1;
            if (!categorical) {
                addAll(node.putArray("quantiles"), quantiles[n]);
                ObjectNode histogram = node.putObject("histogram");
                addAll(histogram.putArray("edges"), edges[n]);
                addAll(histogram.putArray("counts"), total, a + 1, bins);
                for (int q = 0; q < SEASONS.length; q++) {
                    addAll(((ObjectNode) seasons.get(SEASONS[q])).putArray("quantiles"), seasonQuantiles[q][n]);
                }
                n++;
            } else {
                addAll(node.putArray("counts"), total, a + 1, bins);
            }
            for (int q = 0; q < SEASONS.length; q++) {
                addAll(((ObjectNode) seasons.get(SEASONS[q])).putArray("counts"), counts[q], a + 1, bins);
            }
            node.set("seasons", seasons);
            features.add(node);
            a += 1 + bins;
        }
        if (n != numeric.length || a != aggs.size()) {
            throw new IllegalStateException("profile columns out of step: " + n + "/" + numeric.length + ", " + a
                    + "/" + aggs.size());
        }
        profile.set("score", scoreProfile(json, scored));
        return profile;
    }

    private static ObjectNode scoreProfile(ObjectMapper json, Dataset<Row> scored) {
        Dataset<Row> p = scored.select(
                org.apache.spark.ml.functions.vector_to_array(col("probability"), "float64").getItem(1).alias("p"));
        double[] quantiles = p.stat().approxQuantile("p", PROBABILITIES, 0.001);
        List<Column> aggs = new ArrayList<>();
        for (int b = 0; b < 20; b++) {
            Column in = b == 19 ? col("p").geq(b / 20.0) : col("p").geq(b / 20.0).and(col("p").lt((b + 1) / 20.0));
            aggs.add(ones(b == 0 ? col("p").lt(0.05) : in));
        }
        Row r = p.agg(count(lit(1)), aggs.toArray(new Column[0])).head();
        ObjectNode score = json.createObjectNode();
        score.put("on", "holdout").put("count", r.getLong(0));
        addAll(score.putArray("quantiles"), quantiles);
        ObjectNode histogram = score.putObject("histogram");
        ArrayNode edges = histogram.putArray("edges");
        ArrayNode counts = histogram.putArray("counts");
        for (int b = 0; b < 20; b++) {
            if (b > 0) {
                edges.add(b / 20.0);
            }
            counts.add(r.getLong(b + 1));
        }
        return score;
    }

    /** The distinct values at 0.1 .. 0.9 among {@link #PROBABILITIES}' quantiles. */
    private static double[] deciles(double[] quantiles) {
        double[] d = new double[DECILES.length];
        for (int i = 0; i < DECILES.length; i++) {
            d[i] = quantiles.length == 0 ? Double.NaN : quantiles[Arrays.binarySearch(PROBABILITIES, DECILES[i])];
        }
        return Arrays.stream(d).filter(v -> !Double.isNaN(v)).distinct().sorted().toArray();
    }

    private static Column ones(Column condition) {
        return sum(when(condition, lit(1L)).otherwise(lit(0L)));
    }

    private static void addAll(ArrayNode into, double[] values) {
        Arrays.stream(values).forEach(into::add);
    }

    private static void addAll(ArrayNode into, long[] values, int from, int n) {
        for (int i = from; i < from + n; i++) {
            into.add(values[i]);
        }
    }
}
