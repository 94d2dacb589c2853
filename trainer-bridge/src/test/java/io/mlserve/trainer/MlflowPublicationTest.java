package io.mlserve.trainer;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mlserve.registry.FakeMlflow;
import io.mlserve.registry.VersionChecksum;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * One registry for trainer and servers: {@code ./mlserve train --mlflow-uri} publishes to the MLflow tracking server
 * the servers sync from (an in-memory one on loopback) — numbered by it, files and checksums uploaded, config.json
 * with them, the challenger alias set — and takes the serving champion for its quality gate from there, even into an
 * empty working copy; an unreachable MLflow fails in one line.
 */
class MlflowPublicationTest {
    private static final String TOKEN = "trainer-T0ken";
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private Path config() throws Exception {
        return SensorView.writeConfig(dir);
    }

    /** Readings whose label follows the temperature. */
    private Path data() throws Exception {
        Path d = Files.createDirectories(dir.resolve("data"));
        Random r = new Random(7);
        StringBuilder csv = new StringBuilder("device,event_time,temp,site,label\n");
        for (int i = 0; i < 1_500; i++) {
            double temp = r.nextGaussian();
            int label = temp + 0.7 * r.nextGaussian() > 0.4 ? 1 : 0;
            csv.append(String.format(Locale.ROOT, "d%d,%d,%.4f,%s,%d%n", i, 1_700_000_000_000L + i * 60_000L, temp,
                    "abc".charAt(i % 3), label));
        }
        Files.writeString(d.resolve("data.csv"), csv);
        return d;
    }

    private int train(FakeMlflow mlflow, Path registry, StringWriter err) throws Exception {
        Path token = dir.resolve("mlflow-token");
        Files.writeString(token, TOKEN + "\n");
        PrintWriter out = new PrintWriter(err);
        int code = new CommandLine(new TrainMain()).setErr(out).execute("--data", data().toString(), "--config",
                config().toString(), "--model", "sensor-m", "--registry", registry.toString(), "--spark-master",
                "local[1]", "--mlflow-uri", mlflow.uri().toString(), "--mlflow-token-file", token.toString());
        out.flush();
        return code;
    }

    @Test
    void publishesWhereTheServersLookAndGatesAgainstTheirChampion() throws Exception {
        try (FakeMlflow mlflow = new FakeMlflow(TOKEN)) {
            StringWriter err = new StringWriter();
            assertThat(train(mlflow, dir.resolve("work-1"), err)).as(err.toString()).isZero();
            assertThat(mlflow.aliases.get("sensor-m")).containsEntry("challenger", 1L);
            assertThat(mlflow.runs).hasSize(1);
            FakeMlflow.Run run = mlflow.runs.values().iterator().next();
            assertThat(run.status).isEqualTo("FINISHED");
            assertThat(run.metrics).containsKey("holdout_auc").containsKey("log_loss");
            String prefix = "1/" + run.id + "/artifacts/model/";
            assertThat(mlflow.artifact(prefix + "model.onnx")).isNotNull();
            assertThat(mlflow.artifact(prefix + "config.json")).as("the model's config goes with it").isNotNull();
            JsonNode meta = JSON.readTree(mlflow.artifact(prefix + "metadata.json"));
            assertThat(meta.path("version").asLong()).isEqualTo(1);
            assertThat(meta.path("sha256").asText()).isEqualTo(VersionChecksum.sha256(
                    dir.resolve("work-1/sensor-m/1/model.onnx")));

            // version 1 now serves as the champion; a trainer with an empty working copy gates against it
            mlflow.setAlias("sensor-m", "champion", 1);
            assertThat(train(mlflow, dir.resolve("work-2"), err)).as(err.toString()).isZero();
            assertThat(dir.resolve("work-2/sensor-m/1/model.onnx")).as("the champion, from MLflow").exists();
            assertThat(mlflow.aliases.get("sensor-m")).containsEntry("champion", 1L).containsEntry("challenger", 2L);
            JsonNode second = JSON.readTree(dir.resolve("work-2/sensor-m/2/metadata.json").toFile());
            assertThat(second.path("version").asLong()).isEqualTo(2);
            assertThat(second.path("quality_gate").path("champion").asText()).isEqualTo("1");
        }
    }

    @Test
    void anUnreachableMlflowFailsInOneLine() throws Exception {
        FakeMlflow gone = new FakeMlflow(TOKEN);
        gone.close();
        StringWriter err = new StringWriter();
        assertThat(train(gone, dir.resolve("work"), err)).isEqualTo(1);
        assertThat(err.toString()).startsWith("mlserve train: ").contains("MLflow at " + gone.uri());
        assertThat(err.toString().lines().filter(l -> l.startsWith("\tat ")).count()).as("no stack trace").isZero();
    }
}
