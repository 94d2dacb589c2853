package io.mlserve.explain;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Global importance over recent traffic: per feature, the mean absolute contribution (how much it moves
 * predictions) and the mean contribution (in which direction), over rows explained one by one.
 */
public record Importance(int rows, double base, String method, List<Feature> features) {
    /** One feature's share; {@code drifted} from the version's last drift window (null: no report). */
    public record Feature(String name, double meanAbs, double mean, Boolean drifted) {
    }

    /**
     * @param rows    [n × width] model input rows
     * @param drifted per feature name, whether the last drift window flagged it (null: no report)
     */
    public static Importance of(Explainer explainer, float[] rows, List<String> names,
                                java.util.function.Function<String, Boolean> drifted) {
        int width = names.size();
        int n = rows.length / width;
        double[] abs = new double[width];
        double[] sum = new double[width];
        for (int r = 0; r < n; r++) {
            double[] c = explainer.contributions(rows, r * width);
            for (int j = 0; j < width; j++) {
                abs[j] += Math.abs(c[j]);
                sum[j] += c[j];
            }
        }
        List<Feature> features = new ArrayList<>();
        for (int j = 0; j < width; j++) {
            features.add(new Feature(names.get(j), n == 0 ? 0 : abs[j] / n, n == 0 ? 0 : sum[j] / n,
                    drifted.apply(names.get(j))));
        }
        features.sort(Comparator.comparingDouble(Feature::meanAbs).reversed());
        return new Importance(n, explainer.base(), explainer.method(), features);
    }
}
