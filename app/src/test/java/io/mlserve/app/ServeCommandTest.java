package io.mlserve.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.mlserve.server.ServerProcess;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code serve} refuses a config file it cannot use as the other commands refuse bad input: one line, exit 2. */
class ServeCommandTest {
    @TempDir
    Path dir;

    @Test
    void aBadConfigFileIsOneLineAndExitTwo() throws Exception {
        Path yaml = Files.writeString(dir.resolve("broken.yaml"), "model_repository: [unclosed\n  x: : :\n");
        Path unknown = Files.writeString(dir.resolve("unknown.json"), "{\"nonsense_key\": 1}");
        Path missing = dir.resolve("missing.yaml");
        assertRefused(yaml, "mlserve serve: " + yaml + ": not valid YAML/JSON at line 2, column 4: "
                + "while parsing a flow sequence; expected ',' or ']', but got :");
        assertRefused(unknown, "mlserve serve: " + unknown + ": nonsense_key: unknown key; expected one of data_dir, "
                + "feature_views, ");
        assertRefused(missing, "mlserve serve: no such file: " + missing);
    }

    private void assertRefused(Path config, String line) throws Exception {
        Path out = dir.resolve(config.getFileName() + ".log");
        assertThat(ServerProcess.runToExit(out, "--config", config.toString())).isEqualTo(2);
        List<String> lines = Files.readAllLines(out).stream().filter(l -> !l.isBlank()).toList();
        assertThat(lines).hasSize(1);
        assertThat(lines.get(0)).startsWith(line);
    }
}
