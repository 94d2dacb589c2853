package io.mlserve.server.examples;

import io.mlserve.datagen.ChurnSchema;
import io.mlserve.featurecache.FeatureSpec;
import io.mlserve.featurecache.FeatureType;
import io.mlserve.runtime.onnx.ExampleModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The churn example shipped in {@code examples/churn}: a feature view {@code customer} (string key
 * {@code customer_id}, the 47 features of {@link ChurnSchema}, as the data generator writes them) in
 * {@code mlserve.yaml}, and a model repository beside it whose
 * {@code churn} model reads those features. {@code ./mlserve example --write-example examples/churn}
 * regenerates it; a test checks the committed copy equals what this writes.
 */
public final class ChurnExample {
    public static final String VIEW = "customer";
    public static final String MODEL = "churn";

    /** The 47 features: 41 numeric (default 0), 6 categorical (vocabulary code; -1 when absent or unknown). */
    public static final List<FeatureSpec> FEATURES = features();

    private ChurnExample() {
    }

    private static List<FeatureSpec> features() {
        List<FeatureSpec> f = new ArrayList<>();
        for (ChurnSchema.Column c : ChurnSchema.COLUMNS) {
            f.add(c.categorical() ? new FeatureSpec(c.name(), FeatureType.CATEGORICAL, c.vocabulary(), 0, -1)
                    : FeatureSpec.numeric(c.name(), 0));
        }
        if (f.size() != ExampleModels.CHURN_FEATURES) {
            throw new IllegalStateException("the churn example needs " + ExampleModels.CHURN_FEATURES + " features");
        }
        return List.copyOf(f);
    }

    /** Writes {@code dir/mlserve.yaml} and {@code dir/models/churn/{config.json,1/model.onnx}}. */
    public static Path writeTo(Path dir) throws IOException {
        Files.createDirectories(dir);
        StringBuilder yaml = new StringBuilder("""
                # mlserve server config for the churn example (written by ./mlserve example --write-example DIR).
                # Paths are relative to this file.
                model_repository: models
                data_dir: data
                feature_views:
                  - name: customer
                    entity_key: customer_id
                    key_type: string
                    ttl: 7d
                    max_entities: 1000000
                    serve_stale: false
                    features:
                """);
        for (FeatureSpec s : FEATURES) {
            if (s.type() == FeatureType.CATEGORICAL) {
                yaml.append("      - {name: ").append(s.name()).append(", type: categorical, vocabulary: [")
                        .append(String.join(", ", s.vocabulary())).append("], default: -1}\n");
            } else {
                yaml.append("      - {name: ").append(s.name()).append(", type: float32, default: 0}\n");
            }
        }
        Files.writeString(dir.resolve("mlserve.yaml"), yaml.toString());
        Path model = dir.resolve("models").resolve(MODEL);
        ExampleModels.churnMlp().writeTo(model.resolve("1").resolve("model.onnx"));
        String names = FEATURES.stream().map(s -> "\"" + s.name() + "\"").collect(Collectors.joining(",\n      "));
        Files.writeString(model.resolve("config.json"), """
                {
                  "name": "churn",
                  "platform": "onnxruntime_onnx",
                  "max_batch_size": 256,
                  "input": [{"name": "features", "data_type": "TYPE_FP32", "dims": [47]}],
                  "output": [{"name": "probability", "data_type": "TYPE_FP32", "dims": [1]}],
                  "dynamic_batching": {"max_queue_delay_microseconds": 0},
                  "version_policy": {"latest": {"num_versions": 1}},
                  "features": {
                    "input": "features",
                    "view": "customer",
                    "names": [
                      %s
                    ]
                  }
                }
                """.formatted(names));
        return dir.resolve("mlserve.yaml");
    }
}
