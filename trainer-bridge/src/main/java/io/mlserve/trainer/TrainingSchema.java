package io.mlserve.trainer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.mlserve.featurecache.CategoryCodes;
import io.mlserve.featurecache.FeatureSpec;
import io.mlserve.featurecache.FeatureType;
import io.mlserve.featurecache.FeatureView;
import io.mlserve.featurecache.FeatureViewConfig;
import io.mlserve.featurecache.ViewEncoding;
import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * What the trainer trains on, taken from the feature view a model binds, never from one data set's columns: the
 * entity key, the model's inputs in input order (numbers, and categories with their vocabulary or hash buckets), what
 * each input is when its value is missing (the view's default: what the server feeds the model then), and the label.
 *
 * <p>Inside Spark every input is a double column named {@link #column(int)} (so feature names never clash with the
 * trainer's own columns or Spark's syntax): numbers as given, NaN when the view's default is NaN (the exported graph
 * imputes it); categories as their code — vocabulary index or hash bucket, -1 unknown.
 */
public record TrainingSchema(String view, String entityKey, List<FeatureSpec> inputs, String label) {
    private static final Pattern NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_.-]{0,127}");
    /** The label column's name when none is given. */
    public static final String DEFAULT_LABEL = "label";

    public TrainingSchema {
        inputs = List.copyOf(inputs);
        if (inputs.isEmpty()) {
            throw new IllegalArgumentException("view '" + view + "' has no features to train on");
        }
        if (label == null || label.isEmpty()) {
            label = DEFAULT_LABEL;
        }
        for (FeatureSpec f : inputs) {
            if (f.name().equals(label)) {
                throw new IllegalArgumentException("the label '" + label + "' is also a feature of view '" + view
                        + "'; name another label column");
            }
            if (f.name().equals(entityKey)) {
                throw new IllegalArgumentException("feature '" + f.name() + "' has the entity key's name");
            }
        }
        if (!NAME.matcher(label).matches()) {
            throw new IllegalArgumentException("label must be a column name (letters, digits, '_', '.', '-'), got '"
                    + label + "'");
        }
    }

    /**
     * The view {@code viewName} of a server config file ({@code feature_views}), all its features in view order.
     *
     * @param viewName null when the file has exactly one view
     */
    public static TrainingSchema fromConfig(Path configFile, String viewName, String label) throws IOException {
        if (!Files.isRegularFile(configFile)) {
            throw new IllegalArgumentException("--config " + configFile + ": no such file");
        }
        JsonNode root;
        try {
            root = new ObjectMapper(new YAMLFactory()).readTree(Files.readString(configFile));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException(configFile + ": not valid YAML/JSON: " + e.getOriginalMessage());
        }
        FeatureView v = FeatureViewConfig.find(configFile.toString(), root, viewName);
        return new TrainingSchema(v.name(), v.entityKey(), v.features(), label);
    }

    /** The encoding JSON a server hands a job ({@link ViewEncoding#json}). */
    public static TrainingSchema fromEncoding(String json, String label) {
        JsonNode e;
        try {
            e = new ObjectMapper().readTree(json);
        } catch (IOException ex) {
            throw new IllegalArgumentException("train.schema: not JSON: " + ex.getMessage());
        }
        if (e == null || !e.isObject()) {
            throw new IllegalArgumentException("train.schema: expected the encoding JSON object");
        }
        return new TrainingSchema(e.path("view").asText(""), e.path("entity_key").asText(""),
                ViewEncoding.inputs(e), label);
    }

    /** The encoding JSON of these inputs ({@link ViewEncoding}'s form). */
    public ObjectNode encoding() {
        List<String> names = names();
        return ViewEncoding.json(new FeatureView(view.isEmpty() ? "view" : view, entityKey, FeatureView.KeyType.STRING,
                inputs, java.time.Duration.ZERO, 1, false), names);
    }

    /** The fingerprint the training log stores with each row served with this encoding. */
    public String fingerprint() {
        return ViewEncoding.fingerprint(inputs);
    }

    public List<String> names() {
        return inputs.stream().map(FeatureSpec::name).toList();
    }

    public int width() {
        return inputs.size();
    }

    /** Spark's column for input {@code j}. */
    public static String column(int j) {
        return "x" + j;
    }

    public boolean categorical(int j) {
        return inputs.get(j).type() == FeatureType.CATEGORICAL;
    }

    /** Codes of categorical input {@code j}: its vocabulary size or hash buckets. */
    public int levels(int j) {
        FeatureSpec f = inputs.get(j);
        return f.hashBuckets() > 0 ? f.hashBuckets() : f.vocabulary().size();
    }

    /** Indexes of the numeric inputs, in input order. */
    public int[] numeric() {
        return java.util.stream.IntStream.range(0, width()).filter(j -> !categorical(j)).toArray();
    }

    /** Indexes of the categorical inputs, in input order. */
    public int[] categoricalInputs() {
        return java.util.stream.IntStream.range(0, width()).filter(this::categorical).toArray();
    }

    /** What a model trained on this schema is fed when input {@code j} is missing (NaN: imputed by the graph). */
    public double missing(int j) {
        return inputs.get(j).defaultValue();
    }

    /** The per-input encoders (serializable: they travel to Spark's executors). */
    public List<Cell> cells() {
        List<Cell> out = new ArrayList<>();
        for (int j = 0; j < width(); j++) {
            FeatureSpec f = inputs.get(j);
            Map<String, Integer> vocabulary = new HashMap<>();
            for (int k = 0; k < f.vocabulary().size(); k++) {
                vocabulary.put(f.vocabulary().get(k), k);
            }
            out.add(new Cell(f.name(), categorical(j), vocabulary, f.hashBuckets(), (float) f.defaultValue()));
        }
        return out;
    }

    /**
     * How one input's raw value becomes the number the model reads, exactly as the feature store encodes it: a
     * missing value (null, empty text) is the view's default; a category's text is its vocabulary index or hash
     * bucket (-1 unknown), while a category given as a number is taken as its code already (the training log stores
     * codes); a number's text is parsed.
     */
    public record Cell(String name, boolean category, Map<String, Integer> vocabulary, int hashBuckets, float missing)
            implements Serializable {
        public float encode(Object v) {
            if (v == null) {
                return missing;
            }
            if (category) {
                if (v instanceof Number n) {
                    return n.floatValue();
                }
                String s = v.toString();
                if (s.isEmpty()) {
                    return missing;
                }
                if (hashBuckets > 0) {
                    return CategoryCodes.hashed(s, hashBuckets);
                }
                Integer code = vocabulary.get(s);
                return code == null ? -1 : code;
            }
            if (v instanceof Number n) {
                return (float) n.doubleValue();
            }
            String s = v.toString().trim();
            if (s.isEmpty()) {
                return missing;
            }
            try {
                return (float) Double.parseDouble(s);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("feature '" + name + "': '" + s + "' is not a number");
            }
        }
    }
}
