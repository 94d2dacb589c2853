package io.mlserve.examples;

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

    /**
     * The 47 features: 41 numeric (default NaN: missing, which the model reads as 0), 6 categorical (vocabulary code;
     * -1 when absent or unknown) — the view the data generator writes beside its data, so what the trainer trains on
     * and what the example serves encode a missing value the same way.
     */
    public static final List<FeatureSpec> FEATURES = features();

    private ChurnExample() {
    }

    private static List<FeatureSpec> features() {
        List<FeatureSpec> f = new ArrayList<>();
        for (ChurnSchema.Column c : ChurnSchema.COLUMNS) {
            f.add(c.categorical() ? new FeatureSpec(c.name(), FeatureType.CATEGORICAL, c.vocabulary(), 0, -1)
                    : FeatureSpec.numeric(c.name(), Double.NaN));
        }
        if (f.size() != ExampleModels.CHURN_FEATURES) {
            throw new IllegalStateException("the churn example needs " + ExampleModels.CHURN_FEATURES + " features");
        }
        return List.copyOf(f);
    }

    private static String sha256(Path file) throws IOException {
        try {
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256")
                    .digest(Files.readAllBytes(file)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Writes {@code dir/mlserve.yaml} and {@code dir/models/churn/{config.json,1/model.onnx,1/metadata.json}} (the
     * metadata says how the model reads a missing input, which the server checks against the view).
     */
    public static Path writeTo(Path dir) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("mlserve.yaml"), """
                # mlserve server config for the churn example (written by ./mlserve example --write-example DIR).
                # Paths are relative to this file.
                model_repository: models
                data_dir: data
                feature_views:
                """ + ChurnSchema.viewYaml("  "));
        Path model = dir.resolve("models").resolve(MODEL);
        Path onnx = model.resolve("1").resolve("model.onnx");
        ExampleModels.churnMlp().writeTo(onnx);
        StringBuilder missing = new StringBuilder();
        for (int j = 0; j < FEATURES.size(); j++) {
            missing.append(j == 0 ? "" : ",\n").append("      \"").append(FEATURES.get(j).name()).append("\": ")
                    .append(Double.isNaN(FEATURES.get(j).defaultValue()) ? "null"
                            : Double.toString(FEATURES.get(j).defaultValue()));
        }
        Files.writeString(model.resolve("1").resolve("metadata.json"), """
                {
                  "model": "churn",
                  "version": 1,
                  "algorithm": "example (random weights)",
                  "sha256": "%s",
                  "inputs": {
                    "view": "customer",
                    "missing": {
                %s
                    }
                  }
                }
                """.formatted(sha256(onnx), missing));
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
