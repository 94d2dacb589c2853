package io.mlserve.drift;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A drift reference read from {@code profile.json} (format {@code mlserve.profile/1}, written by the trainer and by
 * {@code ./mlserve profile}): per feature the counts in fixed bins (numeric: at the training deciles; categorical:
 * per code), the quantiles at every percentile, the same per season bucket, and the score's distribution.
 */
public final class ReferenceProfile {
    public static final String FORMAT = "mlserve.profile/1";

    /** Counts in one season bucket (or overall): numeric bins / categorical codes, and numeric quantiles. */
    public record Bucket(long count, long missing, long[] counts, double[] quantiles) {
    }

    /** One model input column. */
    public sealed interface Feature permits Numeric, Categorical {
        String name();

        int index();

        Bucket overall();

        Map<String, Bucket> seasons();
    }

    /**
     * @param edges       the k inner bin edges; counts has k + 1 bins: x &lt; e1, e_j ≤ x &lt; e_j+1, x ≥ e_k
     * @param trendPerDay the feature's linear trend ({@link Trend}); when non-zero every distribution here is of the
     *                    values projected to {@link #trendOriginMs()}
     */
    public record Numeric(String name, int index, double[] edges, Bucket overall, Map<String, Bucket> seasons,
                          double trendPerDay) implements Feature {
        public Numeric(String name, int index, double[] edges, Bucket overall, Map<String, Bucket> seasons) {
            this(name, index, edges, overall, seasons, 0);
        }
    }

    /** Codes 0 … vocabulary − 1; missing is code −1 (or NaN). */
    public record Categorical(String name, int index, List<String> vocabulary, Bucket overall,
                              Map<String, Bucket> seasons) implements Feature {
    }

    /** The score's reference: quantiles and a histogram over [0, 1]. */
    public record Score(double[] edges, Bucket overall) {
    }

    private final long rows;
    private final String season;
    private final double[] probabilities;
    private final List<Feature> features;
    private final Score score;
    private final long trendOriginMs;

    public ReferenceProfile(long rows, String season, double[] probabilities, List<Feature> features, Score score) {
        this(rows, season, probabilities, features, score, 0);
    }

    /** @param trendOriginMs the time numeric features with a trend are projected to */
    public ReferenceProfile(long rows, String season, double[] probabilities, List<Feature> features, Score score,
                            long trendOriginMs) {
        this.trendOriginMs = trendOriginMs;
        this.rows = rows;
        this.season = season;
        this.probabilities = probabilities.clone();
        this.features = List.copyOf(features);
        this.score = score;
    }

    public static ReferenceProfile read(Path file) throws IOException {
        return parse(new ObjectMapper().readTree(file.toFile()), file.toString());
    }

    /** Parses a profile; {@code where} names it in errors. */
    public static ReferenceProfile parse(JsonNode root, String where) {
        if (root == null || !FORMAT.equals(root.path("format").asText())) {
            throw new IllegalArgumentException(where + ": not a " + FORMAT + " profile (format: "
                    + (root == null ? "missing" : root.path("format").asText("missing")) + ")");
        }
        double[] probabilities = doubles(root.get("quantile_probabilities"));
        List<Feature> features = new ArrayList<>();
        for (JsonNode f : root.path("features")) {
            String name = f.path("name").asText();
            int index = f.path("index").asInt(-1);
            if (name.isEmpty() || index < 0) {
                throw new IllegalArgumentException(where + ": every feature needs a name and an index >= 0");
            }
            Map<String, Bucket> seasons = new HashMap<>();
            for (Map.Entry<String, JsonNode> s : f.path("seasons").properties()) {
                seasons.put(s.getKey(), bucket(s.getValue()));
            }
            switch (f.path("type").asText()) {
                case "numeric" -> {
                    JsonNode h = f.path("histogram");
                    Bucket overall = new Bucket(f.path("count").asLong(), f.path("missing").asLong(),
                            longs(h.get("counts")), doubles(f.get("quantiles")));
                    double[] edges = doubles(h.get("edges"));
                    if (overall.counts().length != edges.length + 1) {
                        throw new IllegalArgumentException(where + ": " + name + ": histogram needs edges + 1 counts");
                    }
                    double trend = f.path("trend_per_day").asDouble(0);
                    if (trend != 0 && (!Double.isFinite(trend) || !root.has("trend_origin_ms"))) {
                        throw new IllegalArgumentException(where + ": " + name + ": trend_per_day needs a finite "
                                + "value and the profile's trend_origin_ms");
                    }
                    features.add(new Numeric(name, index, edges, overall, seasons, trend));
                }
                case "categorical" -> {
                    List<String> vocabulary = new ArrayList<>();
                    f.path("vocabulary").forEach(v -> vocabulary.add(v.asText()));
                    Bucket overall = new Bucket(f.path("count").asLong(), f.path("missing").asLong(),
                            longs(f.get("counts")), new double[0]);
                    features.add(new Categorical(name, index, vocabulary, overall, seasons));
                }
                default -> throw new IllegalArgumentException(where + ": " + name + ": type must be numeric or "
                        + "categorical");
            }
        }
        JsonNode s = root.path("score");
        Score score = s.isMissingNode() || s.isNull() ? null : new Score(doubles(s.path("histogram").get("edges")),
                new Bucket(s.path("count").asLong(), 0, longs(s.path("histogram").get("counts")),
                        doubles(s.get("quantiles"))));
        return new ReferenceProfile(root.path("rows").asLong(), root.path("season").asText(""), probabilities,
                features, score, root.path("trend_origin_ms").asLong(0));
    }

    private static Bucket bucket(JsonNode b) {
        return new Bucket(b.path("count").asLong(), b.path("missing").asLong(), longs(b.get("counts")),
                doubles(b.get("quantiles")));
    }

    private static double[] doubles(JsonNode a) {
        if (a == null || !a.isArray()) {
            return new double[0];
        }
        double[] d = new double[a.size()];
        for (int i = 0; i < d.length; i++) {
            d[i] = a.get(i).isNull() ? Double.NaN : a.get(i).asDouble();
        }
        return d;
    }

    private static long[] longs(JsonNode a) {
        if (a == null || !a.isArray()) {
            return new long[0];
        }
        long[] l = new long[a.size()];
        for (int i = 0; i < l.length; i++) {
            l[i] = a.get(i).asLong();
        }
        return l;
    }

    public long rows() {
        return rows;
    }

    /** The season bucket scheme ("quarter"), or "" when the profile has none. */
    public String season() {
        return season;
    }

    public double[] probabilities() {
        return probabilities.clone();
    }

    public List<Feature> features() {
        return features;
    }

    /** The time trended numeric features are projected to ({@link Numeric#trendPerDay()}). */
    public long trendOriginMs() {
        return trendOriginMs;
    }

    /** The score reference, or null. */
    public Score score() {
        return score;
    }
}
