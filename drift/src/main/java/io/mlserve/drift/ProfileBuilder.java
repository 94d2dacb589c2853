package io.mlserve.drift;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.List;

/**
 * Builds a {@code mlserve.profile/1} reference from rows in memory, with exact quantiles (the value at rank
 * ⌈p·n⌉ of the sorted present values): what {@code ./mlserve profile} writes for any dataset, in the same format as
 * the trainer's.
 */
public final class ProfileBuilder {
    /** The quantile probabilities: every percentile. */
    public static final double[] PROBABILITIES = java.util.stream.IntStream.rangeClosed(1, 99)
            .mapToDouble(i -> i / 100.0).toArray();
    private static final double[] DECILES = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};
    /** Season buckets: calendar quarters (Q1..Q4) or months (M01..M12) of the event time, UTC. */
    public enum Seasons {
        QUARTER("quarter", 4), MONTH("month", 12);

        final String name;
        final int buckets;

        Seasons(String name, int buckets) {
            this.name = name;
            this.buckets = buckets;
        }

        int of(long timeMs) {
            int month = Instant.ofEpochMilli(timeMs).atZone(ZoneOffset.UTC).getMonthValue();
            return this == QUARTER ? (month - 1) / 3 : month - 1;
        }

        String label(int bucket) {
            return this == QUARTER ? "Q" + (bucket + 1) : String.format(java.util.Locale.ROOT, "M%02d", bucket + 1);
        }
    }

    /** A column: numeric when {@code vocabulary} is null, else categorical codes 0 … size − 1 (−1/NaN missing). */
    public record Column(String name, List<String> vocabulary) {
        public static Column numeric(String name) {
            return new Column(name, null);
        }
    }

    private ProfileBuilder() {
    }

    /**
     * @param rows   n × columns.size(), row-major
     * @param timesMs the rows' event times (for the season buckets), or null for none
     * @param scores the model's score per row, or null
     */
    public static ObjectNode build(List<Column> columns, float[] rows, long[] timesMs, float[] scores) {
        return build(columns, rows, timesMs, scores, Seasons.QUARTER);
    }

    /** As {@link #build(List, float[], long[], float[])}, with the season buckets chosen and trends fitted. */
    public static ObjectNode build(List<Column> columns, float[] rows, long[] timesMs, float[] scores,
                                   Seasons seasons) {
        return build(columns, rows, timesMs, scores, seasons, true);
    }

    /**
     * As {@link #build(List, float[], long[], float[], Seasons)}; with {@code trends} (and times) each numeric
     * feature's material linear trend ({@link Trend}) is fitted and its distribution stored projected to the end of
     * the reference ({@code "trend_origin_ms"}), with {@code "trend_per_day"} on the feature.
     */
    public static ObjectNode build(List<Column> columns, float[] rows, long[] timesMs, float[] scores,
                                   Seasons seasons, boolean trends) {
        int width = columns.size();
        int n = rows.length / width;
        ObjectMapper json = new ObjectMapper();
        ObjectNode profile = json.createObjectNode().put("format", ReferenceProfile.FORMAT).put("rows", n);
        int[] season = new int[n];
        long origin = 0;
        double spanDays = 0;
        if (timesMs != null) {
            profile.put("season", seasons.name);
            long first = Long.MAX_VALUE;
            long last = Long.MIN_VALUE;
            for (int i = 0; i < n; i++) {
                season[i] = seasons.of(timesMs[i]);
                first = Math.min(first, timesMs[i]);
                last = Math.max(last, timesMs[i]);
            }
            if (trends && n > 0) {
                origin = last;
                spanDays = Trend.days(last, first);
                profile.put("trend_origin_ms", origin);
            }
        }
        ArrayNode probs = profile.putArray("quantile_probabilities");
        Arrays.stream(PROBABILITIES).forEach(probs::add);
        ArrayNode features = profile.putArray("features");
        for (int j = 0; j < width; j++) {
            Column c = columns.get(j);
            ObjectNode f = features.addObject().put("name", c.name()).put("index", j);
            float[] values = new float[n];
            for (int i = 0; i < n; i++) {
                values[i] = rows[i * width + j];
            }
            if (c.vocabulary() == null) {
                f.put("type", "numeric");
                double[] q = quantiles(values, null, -1);
                if (spanDays > 0) {
                    double slope = Trend.material(Trend.slope(values, timesMs, origin, season, seasons.buckets),
                            spanDays, q);
                    if (slope != 0) {
                        f.put("trend_per_day", slope);
                        for (int i = 0; i < n; i++) {
                            values[i] -= (float) (slope * Trend.days(timesMs[i], origin));
                        }
                        q = quantiles(values, null, -1);
                    }
                }
                double[] edges = DECILES.length == 0 ? new double[0] : deciles(q);
                numericBucket(f, values, null, -1, edges, q);
                ArrayNode e = f.putObject("histogram").putArray("edges");
                Arrays.stream(edges).forEach(e::add);
                ArrayNode counts = ((ObjectNode) f.get("histogram")).putArray("counts");
                Arrays.stream(binCounts(values, null, -1, edges)).forEach(counts::add);
                f.remove("counts");
                if (timesMs != null) {
                    ObjectNode buckets = f.putObject("seasons");
                    for (int s = 0; s < seasons.buckets; s++) {
                        numericBucket(buckets.putObject(seasons.label(s)), values, season, s, edges,
                                quantiles(values, season, s));
                    }
                }
            } else {
                f.put("type", "categorical");
                ArrayNode vocab = f.putArray("vocabulary");
                c.vocabulary().forEach(vocab::add);
                categoricalBucket(f, values, null, -1, c.vocabulary().size());
                if (timesMs != null) {
                    ObjectNode buckets = f.putObject("seasons");
                    for (int s = 0; s < seasons.buckets; s++) {
                        categoricalBucket(buckets.putObject(seasons.label(s)), values, season, s,
                                c.vocabulary().size());
                    }
                }
            }
        }
        if (scores != null) {
            double[] edges = new double[19];
            for (int i = 0; i < edges.length; i++) {
                edges[i] = (i + 1) / 20.0;
            }
            ObjectNode s = profile.putObject("score").put("on", "given").put("count", scores.length);
            ArrayNode q = s.putArray("quantiles");
            Arrays.stream(quantiles(scores, null, -1)).forEach(q::add);
            ObjectNode h = s.putObject("histogram");
            ArrayNode e = h.putArray("edges");
            Arrays.stream(edges).forEach(e::add);
            ArrayNode counts = h.putArray("counts");
            Arrays.stream(binCounts(scores, null, -1, edges)).forEach(counts::add);
        }
        return profile;
    }

    private static void numericBucket(ObjectNode into, float[] values, int[] season, int s, double[] edges,
                                      double[] quantiles) {
        long count = 0;
        long missing = 0;
        for (int i = 0; i < values.length; i++) {
            if (season == null || season[i] == s) {
                count++;
                missing += Float.isNaN(values[i]) ? 1 : 0;
            }
        }
        into.put("count", count).put("missing", missing);
        ArrayNode q = into.putArray("quantiles");
        Arrays.stream(quantiles).forEach(q::add);
        ArrayNode c = into.putArray("counts");
        Arrays.stream(binCounts(values, season, s, edges)).forEach(c::add);
    }

    private static void categoricalBucket(ObjectNode into, float[] values, int[] season, int s, int categories) {
        long[] counts = new long[categories];
        long count = 0;
        long missing = 0;
        for (int i = 0; i < values.length; i++) {
            if (season != null && season[i] != s) {
                continue;
            }
            count++;
            float v = values[i];
            if (v >= 0 && v < categories && v == (int) v) {
                counts[(int) v]++;
            } else {
                missing++;
            }
        }
        into.put("count", count).put("missing", missing);
        ArrayNode c = into.putArray("counts");
        Arrays.stream(counts).forEach(c::add);
    }

    private static long[] binCounts(float[] values, int[] season, int s, double[] edges) {
        long[] counts = new long[edges.length + 1];
        for (int i = 0; i < values.length; i++) {
            if ((season == null || season[i] == s) && !Float.isNaN(values[i])) {
                counts[WindowRecorder.bin(edges, values[i])]++;
            }
        }
        return counts;
    }

    /** Exact quantiles at {@link #PROBABILITIES} of the present values (in season s when given); empty if none. */
    static double[] quantiles(float[] values, int[] season, int s) {
        float[] v = new float[values.length];
        int n = 0;
        for (int i = 0; i < values.length; i++) {
            if ((season == null || season[i] == s) && !Float.isNaN(values[i])) {
                v[n++] = values[i];
            }
        }
        if (n == 0) {
            return new double[0];
        }
        Arrays.sort(v, 0, n);
        double[] q = new double[PROBABILITIES.length];
        for (int j = 0; j < q.length; j++) {
            int rank = (int) Math.ceil(PROBABILITIES[j] * n);
            q[j] = v[Math.max(0, Math.min(n - 1, rank - 1))];
        }
        return q;
    }

    private static double[] deciles(double[] q) {
        if (q.length == 0) {
            return new double[0];
        }
        return Arrays.stream(DECILES).map(d -> q[(int) Math.round(d * 100) - 1]).distinct().sorted().toArray();
    }
}
