package io.mlserve.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The trainer's side of one registry: a version published to an in-memory MLflow tracking server on loopback is what
 * the servers' MLflow source then downloads — same files, checksums verified, the challenger alias on it — with a run
 * that holds its metrics; a numbering race and a failed registration leave no alias.
 */
class MlflowPublisherTest {
    private static final String TOKEN = "publish-T0ken";

    @TempDir
    Path dir;

    FakeMlflow mlflow;
    MlflowPublisher publisher;

    @BeforeEach
    void start() throws IOException {
        mlflow = new FakeMlflow(TOKEN);
        publisher = new MlflowPublisher(new MlflowPublisher.Options(mlflow.uri(), TOKEN));
    }

    @AfterEach
    void stop() {
        mlflow.close();
    }

    /** A version directory as the trainer writes one: the graph, metadata.json with its checksum and metrics. */
    private Path trained(long version, int seed) throws IOException {
        Path v = dir.resolve("staging").resolve(Long.toString(version));
        Files.createDirectories(v);
        byte[] onnx = new byte[20_000];
        new Random(seed).nextBytes(onnx);
        Files.write(v.resolve("model.onnx"), onnx);
        Files.writeString(v.resolve("profile.json"), "{\"features\": []}");
        Files.writeString(v.resolve("metadata.json"), "{\"model\": \"churn\", \"version\": " + version
                + ", \"algorithm\": \"lr\", \"sha256\": \"" + VersionChecksum.sha256(v.resolve("model.onnx"))
                + "\", \"metrics\": {\"auc\": 0.83, \"log_loss\": 0.41, \"threshold\": 0.37}, "
                + "\"data\": {\"source\": \"training_log\", \"rows\": 5000}}");
        return v;
    }

    @Test
    void aPublishedVersionIsWhatTheServersDownloadAsTheChallenger() throws Exception {
        assertThat(publisher.nextVersion("churn")).isEqualTo(1);
        Path v1 = trained(1, 1);
        MlflowPublisher.Published p = publisher.publish("churn", 1, v1);
        assertThat(p.version()).isEqualTo(1);
        assertThat(mlflow.aliases.get("churn")).containsEntry("challenger", 1L);
        FakeMlflow.Run run = mlflow.runs.get(p.runId());
        assertThat(run.status).isEqualTo("FINISHED");
        assertThat(run.metrics).containsEntry("auc", 0.83).containsKey("log_loss");
        assertThat(run.params).containsEntry("algorithm", "lr").containsEntry("data.rows", "5000");

        // the servers' side: champion and challenger aliases, downloaded into their cache and checked
        mlflow.setAlias("churn", "champion", 1);
        Path cache = dir.resolve("cache");
        MlflowSource source = new MlflowSource(new MlflowSource.Options(mlflow.uri(), TOKEN, List.of("churn"), cache));
        SyncResult r = source.sync();
        assertThat(r.errors()).isEmpty();
        assertThat(r.roles().get("churn")).containsEntry("champion", 1L).containsEntry("challenger", 1L);
        Path served = cache.resolve("churn").resolve("1");
        assertThat(Files.readAllBytes(served.resolve("model.onnx"))).isEqualTo(Files.readAllBytes(v1.resolve("model.onnx")));
        assertThat(VersionChecksum.verify(served, "model.onnx")).isEqualTo(VersionChecksum.Result.VERIFIED);

        // the next one is numbered after it and becomes the challenger, the champion stays
        assertThat(publisher.nextVersion("churn")).isEqualTo(2);
        publisher.publish("churn", 2, trained(2, 2));
        assertThat(mlflow.aliases.get("churn")).containsEntry("champion", 1L).containsEntry("challenger", 2L);
        r = source.sync();
        assertThat(r.errors()).isEmpty();
        assertThat(r.roles().get("churn")).containsEntry("challenger", 2L);
        assertThat(Files.readString(cache.resolve("churn/2/metadata.json"), StandardCharsets.UTF_8))
                .contains("\"version\": 2");
    }

    @Test
    void aVersionMlflowNumberedOtherwiseGetsNoAlias() throws Exception {
        long next = publisher.nextVersion("churn");
        // another publisher registers a version between our question and our registration
        mlflow.addVersion("churn", 1, "READY", Map.of("model.onnx", new byte[] {1, 2, 3}));
        assertThatThrownBy(() -> publisher.publish("churn", next, trained(next, 3)))
                .isInstanceOf(IOException.class).hasMessageContaining("as version 2")
                .hasMessageContaining("no alias was set");
        assertThat(mlflow.aliases.getOrDefault("churn", Map.of())).doesNotContainKey("challenger");
        assertThat(mlflow.runs.values()).extracting(run -> run.status).containsExactly("FAILED");
    }

    @Test
    void registrationIsAwaitedAndAFailedOneGetsNoAlias() throws Exception {
        mlflow.registrationPolls = 3;
        publisher.publish("churn", 1, trained(1, 4));
        assertThat(mlflow.aliases.get("churn")).containsEntry("challenger", 1L);

        mlflow.failRegistration = true;
        assertThatThrownBy(() -> publisher.publish("churn", 2, trained(2, 5))).isInstanceOf(IOException.class)
                .hasMessageContaining("failed to register churn version 2");
        assertThat(mlflow.aliases.get("churn")).containsEntry("challenger", 1L);
    }

    @Test
    void aRegistryWithoutTheTrackingApiGetsTheVersionWithoutARun() throws Exception {
        mlflow.trackingApi = false;
        assertThat(publisher.nextVersion("churn")).isEqualTo(1);
        MlflowPublisher.Published p = publisher.publish("churn", 1, trained(1, 6));
        assertThat(p.runId()).isNull();
        assertThat(mlflow.runs).isEmpty();
        assertThat(mlflow.aliases.get("churn")).containsEntry("challenger", 1L);
        assertThat(publisher.nextVersion("churn")).as("from the model's latest versions").isEqualTo(2);
        MlflowSource source = new MlflowSource(new MlflowSource.Options(mlflow.uri(), TOKEN, List.of("churn"),
                dir.resolve("cache")));
        assertThat(source.sync().errors()).isEmpty();
        assertThat(VersionChecksum.verify(dir.resolve("cache/churn/1"), "model.onnx"))
                .isEqualTo(VersionChecksum.Result.VERIFIED);
    }

    @Test
    void aDirectoryWithoutAModelIsRefusedBeforeAnythingIsRegistered() throws Exception {
        Path empty = Files.createDirectories(dir.resolve("empty"));
        assertThatThrownBy(() -> publisher.publish("churn", 1, empty)).hasMessageContaining("no model.onnx");
        assertThat(mlflow.runs).isEmpty();
    }
}
