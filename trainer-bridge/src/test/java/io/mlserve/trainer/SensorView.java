package io.mlserve.trainer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** A small non-churn feature view for the trainer's tests: devices keyed by {@code device}, a reading and a site. */
final class SensorView {
    private SensorView() {
    }

    /** Writes {@code dir/mlserve.yaml} with the view {@code sensor}; returns the file. */
    static Path writeConfig(Path dir) throws IOException {
        Path f = dir.resolve("mlserve.yaml");
        Files.writeString(f, """
                feature_views:
                  - name: sensor
                    entity_key: device
                    features:
                      - {name: temp, type: float32, default: nan}
                      - {name: site, type: categorical, hash_buckets: 8, default: -1}
                """);
        return f;
    }
}
