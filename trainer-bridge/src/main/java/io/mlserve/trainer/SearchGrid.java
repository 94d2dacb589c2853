package io.mlserve.trainer;

import static org.apache.spark.sql.functions.col;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.evaluation.BinaryClassificationEvaluator;
import org.apache.spark.ml.param.DoubleParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.param.Params;
import org.apache.spark.ml.tuning.ParamGridBuilder;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * A small hyperparameter search with a time-ordered validation split: every grid point is fitted on the
 * earlier part of the training range and scored (AUC) on the later part, the best point is refitted on
 * the whole training split. Random splits would let the model peek at later behaviour than it is judged on.
 *
 * <p>Grid syntax: {@code name=v1,v2;name2=v3,...} with the estimator's Spark parameter names, e.g.
 * {@code regParam=0.0001,0.01;elasticNetParam=0,0.5} for logistic regression or {@code maxDepth=3,5;stepSize=0.1,0.2}
 * for gradient-boosted trees. Integer and double parameters are supported.
 */
final class SearchGrid {
    /** The outcome: the refitted pipeline and one record per grid point. */
    record Outcome(PipelineModel model, ObjectNode record) {
    }

    private final Map<String, List<String>> axes;

    private SearchGrid(Map<String, List<String>> axes) {
        this.axes = axes;
    }

    static SearchGrid parse(String spec) {
        Map<String, List<String>> axes = new LinkedHashMap<>();
        if (spec == null || spec.isBlank()) {
            return new SearchGrid(axes);
        }
        for (String axis : spec.split(";")) {
            int eq = axis.indexOf('=');
            if (eq <= 0 || eq == axis.length() - 1) {
                throw new IllegalArgumentException("grid axis must be name=v1,v2,..., got '" + axis.trim() + "'");
            }
            List<String> values = new ArrayList<>();
            for (String v : axis.substring(eq + 1).split(",")) {
                values.add(v.trim());
            }
            if (axes.put(axis.substring(0, eq).trim(), values) != null) {
                throw new IllegalArgumentException("grid names '" + axis.substring(0, eq).trim() + "' twice");
            }
        }
        return new SearchGrid(axes);
    }

    /** The grid in its own syntax ("" when empty). */
    @Override
    public String toString() {
        StringBuilder b = new StringBuilder();
        for (Map.Entry<String, List<String>> axis : axes.entrySet()) {
            b.append(b.length() == 0 ? "" : ";").append(axis.getKey()).append('=').append(String.join(",", axis.getValue()));
        }
        return b.toString();
    }

    boolean isEmpty() {
        return axes.isEmpty();
    }

    /** The grid's parameter maps for {@code estimator}; unknown names and unparsable values are errors. */
    ParamMap[] paramMaps(Params estimator) {
        ParamGridBuilder builder = new ParamGridBuilder();
        for (Map.Entry<String, List<String>> axis : axes.entrySet()) {
            if (!estimator.hasParam(axis.getKey())) {
                throw new IllegalArgumentException(estimator.getClass().getSimpleName() + " has no parameter '"
                        + axis.getKey() + "'");
            }
            Param<?> p = estimator.getParam(axis.getKey());
            try {
                if (p instanceof IntParam ip) {
                    builder.addGrid(ip, axis.getValue().stream().mapToInt(Integer::parseInt).toArray());
                } else if (p instanceof DoubleParam dp) {
                    builder.addGrid(dp, axis.getValue().stream().mapToDouble(Double::parseDouble).toArray());
                } else {
                    throw new IllegalArgumentException("grid parameter '" + axis.getKey()
                            + "' is neither integer nor double");
                }
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("grid parameter '" + axis.getKey() + "': " + e.getMessage(), e);
            }
        }
        return builder.build();
    }

    /**
     * Fits {@code pipeline} (whose last stage is {@code estimator}) on {@code train}; with a grid, searches it
     * first on a time-ordered split that keeps the last {@code validationFraction} of the training range out.
     */
    Outcome fit(Pipeline pipeline, Params estimator, Dataset<Row> train, double validationFraction) {
        ObjectNode record = new ObjectMapper().createObjectNode();
        if (isEmpty()) {
            return new Outcome(pipeline.fit(train), record.put("grid", "none"));
        }
        ParamMap[] maps = paramMaps(estimator);
        double cut = train.stat().approxQuantile("event_time", new double[] {1 - validationFraction}, 0.001)[0];
        Dataset<Row> early = train.filter(col("event_time").lt(cut)).cache();
        Dataset<Row> late = train.filter(col("event_time").geq(cut)).cache();
        BinaryClassificationEvaluator auc = new BinaryClassificationEvaluator().setLabelCol("label")
                .setRawPredictionCol("rawPrediction");
        ArrayNode points = record.putArray("points");
        int best = -1;
        double bestAuc = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < maps.length; i++) {
            double a = auc.evaluate(pipeline.fit(early, maps[i]).transform(late));
            ObjectNode point = points.addObject();
            ObjectNode params = point.putObject("params");
            for (String name : axes.keySet()) {
                params.put(name, String.valueOf(maps[i].apply(estimator.getParam(name))));
            }
            point.put("validation_auc", a);
            if (a > bestAuc) {
                bestAuc = a;
                best = i;
            }
        }
        early.unpersist();
        late.unpersist();
        record.put("validation", "last " + validationFraction + " of the training time range")
                .put("chosen", best).set("chosen_params", points.get(best).get("params"));
        return new Outcome(pipeline.fit(train, maps[best]), record);
    }
}
