package io.mlserve.server.config;

import static org.assertj.core.api.Assertions.assertThat;

import io.mlserve.examples.ChurnExample;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** examples/churn in the repository is exactly what {@code ./mlserve example --write-example} writes. */
class ChurnExampleTest {
    private static final Path COMMITTED = Path.of("..", "examples", "churn");

    @TempDir
    Path dir;

    @Test
    void committedExampleEqualsTheGeneratedOne() throws Exception {
        ChurnExample.writeTo(dir);
        List<Path> generated;
        try (Stream<Path> s = Files.walk(dir)) {
            generated = s.filter(Files::isRegularFile).map(dir::relativize).sorted().toList();
        }
        assertThat(generated).containsExactly(Path.of("mlserve.yaml"), Path.of("models/churn/1/metadata.json"),
                Path.of("models/churn/1/model.onnx"), Path.of("models/churn/config.json"));
        for (Path p : generated) {
            assertThat(Files.readAllBytes(COMMITTED.resolve(p))).as(p + " (regenerate with ./mlserve example "
                    + "--write-example examples/churn)").isEqualTo(Files.readAllBytes(dir.resolve(p)));
        }
        ServerConfigFile config = ServerConfigFile.read(COMMITTED.resolve("mlserve.yaml"));
        assertThat(config.featureViews()).hasSize(1);
        assertThat(config.featureViews().get(0).size()).isEqualTo(47);
        assertThat(config.modelRepository().normalize()).isEqualTo(COMMITTED.toAbsolutePath().resolve("models").normalize());
    }
}
