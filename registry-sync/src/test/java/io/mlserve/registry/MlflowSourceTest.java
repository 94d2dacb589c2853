package io.mlserve.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The MLflow source against an in-memory MLflow tracking server on loopback: aliases, downloads, failures. */
class MlflowSourceTest {
    private static final String TOKEN = "s3cret-T0ken";
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path cache;

    FakeMlflow mlflow;
    MlflowSource source;

    @BeforeEach
    void start() throws IOException {
        mlflow = new FakeMlflow(TOKEN);
        source = new MlflowSource(new MlflowSource.Options(mlflow.uri(), TOKEN, List.of("m"), cache));
    }

    @AfterEach
    void stop() {
        mlflow.close();
    }

    /** A version like a trained one: ONNX graph with external weights, metadata, config, a nested directory. */
    private static Map<String, byte[]> artifacts(long version, String configJson) {
        Random random = new Random(version);
        Map<String, byte[]> files = new TreeMap<>();
        files.put("model.onnx", bytes(random, 5_000));
        files.put("weights.bin", bytes(random, 70_000));
        files.put("metadata.json", ("{\"version\": " + version + "}").getBytes(StandardCharsets.UTF_8));
        files.put("profile.json", "{\"features\": []}".getBytes(StandardCharsets.UTF_8));
        files.put("config.json", configJson.getBytes(StandardCharsets.UTF_8));
        files.put("extra/tokenizer/vocab.txt", "a\nb\n".getBytes(StandardCharsets.UTF_8));
        files.put("MLmodel", "flavors:\n  onnx:\n    data: model.onnx\n".getBytes(StandardCharsets.UTF_8));
        return files;
    }

    private static byte[] bytes(Random random, int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }

    private static Map<String, String> tree(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return Map.of();
        }
        try (Stream<Path> s = Files.walk(dir)) {
            Map<String, String> files = new TreeMap<>();
            for (Path p : (Iterable<Path>) s.filter(Files::isRegularFile)::iterator) {
                files.put(dir.relativize(p).toString(), new String(Files.readAllBytes(p), StandardCharsets.ISO_8859_1));
            }
            return files;
        }
    }

    private static Map<String, String> asTree(Map<String, byte[]> files) {
        Map<String, String> t = new TreeMap<>();
        files.forEach((k, v) -> t.put(k, new String(v, StandardCharsets.ISO_8859_1)));
        return t;
    }

    private Set<String> namesIn(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).collect(Collectors.toSet());
        }
    }

    private Map<String, byte[]> championOnVersion1() {
        Map<String, byte[]> v1 = artifacts(1, "{\"name\": \"m\", \"max_batch_size\": 8}");
        mlflow.addVersion("m", 1, "READY", v1);
        mlflow.setAlias("m", "champion", 1);
        return v1;
    }

    @Test
    void downloadsTheChampionWholeAndPutsItsConfigAtModelLevel() throws IOException {
        Map<String, byte[]> v1 = championOnVersion1();

        SyncResult result = source.sync();

        assertThat(result.errors()).isEmpty();
        assertThat(tree(cache.resolve("m/1"))).isEqualTo(asTree(v1));
        assertThat(cache.resolve("m/config.json")).hasBinaryContent(v1.get("config.json"));
        assertThat(result.roles()).isEqualTo(Map.of("m", Map.of("champion", 1L)));
        assertThat(result.changed()).containsExactly("m");
        assertThat(namesIn(cache.resolve("m"))).containsExactlyInAnyOrder("1", "config.json", ".roles.json");
        assertThat(mlflow.fileDownloads.get()).isEqualTo(v1.size());
    }

    @Test
    void secondPassWithNothingMovedDownloadsNothingAndReportsNoChange() {
        championOnVersion1();
        source.sync();
        int downloads = mlflow.fileDownloads.get();

        SyncResult again = source.sync();

        assertThat(again.errors()).isEmpty();
        assertThat(again.changed()).isEmpty();
        assertThat(again.roles()).isEqualTo(Map.of("m", Map.of("champion", 1L)));
        assertThat(mlflow.fileDownloads.get()).isEqualTo(downloads);
    }

    @Test
    void versionThatIsNotReadyWaitsUntilItIs() throws IOException {
        Map<String, byte[]> v1 = championOnVersion1();
        source.sync();
        mlflow.addVersion("m", 2, "PENDING_REGISTRATION", artifacts(2, "{\"name\": \"m\", \"max_batch_size\": 64}"));
        mlflow.setAlias("m", "challenger", 2);

        SyncResult pending = source.sync();

        assertThat(pending.errors()).singleElement().asString()
                .contains("model m version 2 is PENDING_REGISTRATION, not READY");
        assertThat(cache.resolve("m/2")).doesNotExist();
        assertThat(pending.roles()).isEqualTo(Map.of("m", Map.of("champion", 1L)));
        assertThat(pending.changed()).isEmpty();

        mlflow.versions.get("m").get(2L).status = "READY";
        SyncResult ready = source.sync();

        assertThat(ready.errors()).isEmpty();
        assertThat(tree(cache.resolve("m/2"))).hasSize(v1.size());
        assertThat(ready.roles()).isEqualTo(Map.of("m", Map.of("champion", 1L, "challenger", 2L)));
        assertThat(ready.changed()).containsExactly("m");
        // the champion's config stays at model level while the challenger has its own
        assertThat(cache.resolve("m/config.json")).hasBinaryContent(v1.get("config.json"));
    }

    @Test
    void movedAliasesLeaveOnlyTheVersionsTheyPointAt() throws IOException {
        championOnVersion1();
        Map<String, byte[]> v2 = artifacts(2, "{\"name\": \"m\", \"max_batch_size\": 64}");
        mlflow.addVersion("m", 2, "READY", v2);
        mlflow.setAlias("m", "challenger", 2);
        source.sync();

        mlflow.setAlias("m", "champion", 2);
        mlflow.aliases.get("m").remove("challenger");
        SyncResult promoted = source.sync();

        assertThat(promoted.errors()).isEmpty();
        assertThat(promoted.roles()).isEqualTo(Map.of("m", Map.of("champion", 2L)));
        assertThat(promoted.changed()).containsExactly("m");
        // the champion served until now stays one more pass (still there if version 2 fails to load), then goes
        assertThat(namesIn(cache.resolve("m"))).containsExactlyInAnyOrder("1", "2", "config.json", ".roles.json");
        assertThat(cache.resolve("m/config.json")).hasBinaryContent(v2.get("config.json"));
        source.sync();
        assertThat(namesIn(cache.resolve("m"))).containsExactlyInAnyOrder("2", "config.json", ".roles.json");
    }

    @Test
    void aChampionAliasThatVanishesDoesNotTakeTheServingVersionAway() throws IOException {
        championOnVersion1();
        source.sync();
        // an MLflow restarted on an empty store answers every alias "not found"
        mlflow.aliases.get("m").clear();
        SyncResult r = source.sync();
        assertThat(r.roles()).isEqualTo(Map.of("m", Map.of("champion", 1L)));
        assertThat(r.errors()).singleElement().asString().contains("names no champion");
        assertThat(namesIn(cache.resolve("m"))).contains("1");
    }

    @Test
    void unreachableFailingOrGarbledRegistryLeavesTheCacheAndTheLastKnownRoles() throws IOException {
        championOnVersion1();
        source.sync();
        Map<String, String> before = tree(cache);

        mlflow.broken = true;
        SyncResult serverError = source.sync();

        assertThat(serverError.errors()).singleElement().asString().contains("model m").contains("HTTP 500");
        assertThat(serverError.roles()).isEqualTo(Map.of("m", Map.of("champion", 1L)));
        assertThat(serverError.changed()).isEmpty();
        assertThat(tree(cache)).isEqualTo(before);

        mlflow.broken = false;
        mlflow.garbled = true;
        SyncResult garbled = source.sync();

        assertThat(garbled.errors()).singleElement().asString().contains("model m").contains("malformed JSON");
        assertThat(garbled.roles()).isEqualTo(Map.of("m", Map.of("champion", 1L)));
        assertThat(tree(cache)).isEqualTo(before);

        mlflow.close();
        SyncResult unreachable = source.sync();

        assertThat(unreachable.errors()).singleElement().asString().contains("model m").contains("failed");
        assertThat(unreachable.roles()).isEqualTo(Map.of("m", Map.of("champion", 1L)));
        assertThat(tree(cache)).isEqualTo(before);
    }

    @Test
    void afterARestartWhileMlflowIsDownTheSavedRolesAreServed() {
        championOnVersion1();
        source.sync();
        mlflow.close();

        MlflowSource restarted = new MlflowSource(new MlflowSource.Options(mlflow.uri(), TOKEN, List.of("m"), cache));
        SyncResult first = restarted.sync();

        assertThat(first.errors()).hasSize(1);
        assertThat(first.roles()).isEqualTo(Map.of("m", Map.of("champion", 1L)));
        assertThat(first.changed()).containsExactly("m");
        assertThat(cache.resolve("m/1/model.onnx")).exists();
    }

    @Test
    void downloadFailingHalfWayLeavesNoPartialVersion() throws IOException {
        championOnVersion1();
        source.sync();
        mlflow.addVersion("m", 2, "READY", artifacts(2, "{}"));
        mlflow.failing.add("models/m/2/weights.bin");
        mlflow.setAlias("m", "champion", 2);

        SyncResult result = source.sync();

        assertThat(result.errors()).singleElement().asString()
                .contains("model m version 2: download failed").contains("weights.bin").contains("HTTP 500")
                .contains("champion stays on version 1");
        assertThat(namesIn(cache.resolve("m"))).containsExactlyInAnyOrder("1", "config.json", ".roles.json");
        assertThat(result.roles()).isEqualTo(Map.of("m", Map.of("champion", 1L)));
        assertThat(mlflow.fileDownloads.get()).as("files before weights.bin were fetched, then thrown away")
                .isGreaterThan(artifacts(1, "{}").size());
    }

    @Test
    void versionFailingItsChecksumIsNotPlaced() throws IOException {
        championOnVersion1();
        source.sync();
        Map<String, byte[]> v2 = new HashMap<>(artifacts(2, "{}"));
        v2.put("metadata.json", ("{\"sha256\": \"" + "0".repeat(64) + "\"}").getBytes(StandardCharsets.UTF_8));
        mlflow.addVersion("m", 2, "READY", v2);
        mlflow.setAlias("m", "champion", 2);

        SyncResult result = source.sync();

        assertThat(result.errors()).singleElement().asString().contains("model m version 2: download failed")
                .contains("sha256 of model.onnx").contains("champion stays on version 1");
        assertThat(namesIn(cache.resolve("m"))).containsExactlyInAnyOrder("1", "config.json", ".roles.json");
        assertThat(result.roles()).isEqualTo(Map.of("m", Map.of("champion", 1L)));
    }

    @Test
    void artifactPathsLeavingTheVersionDirectoryAreRefused() throws IOException {
        mlflow.addVersion("m", 1, "READY", Map.of("model.onnx", new byte[] {1}));
        mlflow.listings.put("models/m/1", "{\"files\": [{\"path\": \"model.onnx\", \"is_dir\": false,"
                + " \"file_size\": 1}, {\"path\": \"../escape.bin\", \"is_dir\": false, \"file_size\": 1}]}");
        mlflow.addVersion("m", 2, "READY", Map.of("model.onnx", new byte[] {2}));
        mlflow.listings.put("models/m/2", "{\"files\": [{\"path\": \"/etc/escape.bin\", \"is_dir\": false}]}");
        mlflow.setAlias("m", "champion", 1);
        mlflow.setAlias("m", "challenger", 2);

        SyncResult result = source.sync();

        assertThat(result.errors()).hasSize(2);
        assertThat(result.errors().get(0)).contains("'../escape.bin'").contains("refused");
        assertThat(result.errors().get(1)).contains("'/etc/escape.bin'").contains("refused");
        assertThat(result.roles()).isEqualTo(Map.of("m", Map.of()));
        assertThat(tree(cache)).isEmpty();
        assertThat(namesIn(cache.resolve("m"))).isEmpty();
    }

    @Test
    void wrongTokenIsReportedWithoutShowingTheToken() throws IOException {
        championOnVersion1();
        MlflowSource wrong = new MlflowSource(
                new MlflowSource.Options(mlflow.uri(), "wr0ng-T0ken", List.of("m"), cache));

        SyncResult result = wrong.sync();

        assertThat(result.errors()).singleElement().asString().contains("401").containsIgnoringCase("unauthorized")
                .doesNotContain("wr0ng-T0ken").doesNotContain(TOKEN);
        assertThat(tree(cache)).isEmpty();
    }

    @Test
    void unsupportedArtifactSchemeIsNamed() throws IOException {
        mlflow.addVersion("m", 1, "READY", artifacts(1, "{}"));
        mlflow.versions.get("m").get(1L).artifactUri = "s3://bucket/models/m/1";
        mlflow.setAlias("m", "champion", 1);

        SyncResult result = source.sync();

        assertThat(result.errors()).singleElement().asString().contains("scheme 's3'").contains("not supported");
        assertThat(tree(cache)).isEmpty();
    }

    @Test
    void followsArtifactUrisGivenAsProxyUrls() throws IOException {
        Map<String, byte[]> v1 = championOnVersion1();
        mlflow.versions.get("m").get(1L).artifactUri = mlflow.uri() + "/api/2.0/mlflow-artifacts/artifacts/models/m/1";

        SyncResult result = source.sync();

        assertThat(result.errors()).isEmpty();
        assertThat(tree(cache.resolve("m/1"))).isEqualTo(asTree(v1));
    }

    @Test
    void modelWithoutConfigGetsAMinimalOne() throws IOException {
        Map<String, byte[]> files = new HashMap<>(artifacts(1, "{}"));
        files.remove("config.json");
        mlflow.addVersion("m", 1, "READY", files);
        mlflow.setAlias("m", "champion", 1);

        source.sync();

        assertThat(JSON.readTree(cache.resolve("m/config.json").toFile()))
                .isEqualTo(JSON.readTree("{\"name\": \"m\"}"));
    }

    @Test
    void setRoleSetsAndRemovesAliasesInMlflow() throws IOException {
        championOnVersion1();
        mlflow.addVersion("m", 2, "READY", artifacts(2, "{}"));

        source.setRole("m", "challenger", 2);
        source.setRole("m", "champion", 0);

        assertThat(mlflow.aliasWrites).containsExactly(
                "POST " + JSON.readTree("{\"name\": \"m\", \"alias\": \"challenger\", \"version\": \"2\"}"),
                "DELETE " + JSON.readTree("{\"name\": \"m\", \"alias\": \"champion\"}"));
        assertThat(mlflow.aliases.get("m")).isEqualTo(Map.of("challenger", 2L));
        assertThat(source.sync().roles()).isEqualTo(Map.of("m", Map.of("challenger", 2L)));
    }

    @Test
    void setRoleRefusedByMlflowThrowsItsMessage() {
        assertThatThrownBy(() -> source.setRole("unknown", "champion", 3))
                .isInstanceOf(IOException.class)
                .hasMessageContaining("HTTP 404").hasMessageContaining("RESOURCE_DOES_NOT_EXIST")
                .hasMessageContaining("Registered Model with name=unknown not found");
    }

    @Test
    void optionsAreCheckedAndNeverShowTheToken() {
        MlflowSource.Options options = new MlflowSource.Options(URI.create("http://mlflow:5000/"), TOKEN,
                List.of("a", "b"), cache);

        assertThat(options.toString()).doesNotContain(TOKEN);
        assertThat(options.timeout()).isEqualTo(Duration.ofSeconds(10));
        assertThat(new MlflowSource(options).describe())
                .isEqualTo("MLflow http://mlflow:5000 (models a, b; aliases champion, challenger)");
        assertThat(new MlflowSource(options).localRoot()).isEqualTo(cache.toAbsolutePath().normalize());
        assertThatThrownBy(() -> new MlflowSource.Options(URI.create("s3://x"), null, List.of("a"), cache))
                .hasMessageContaining("http(s)");
        assertThatThrownBy(() -> new MlflowSource.Options(URI.create("http://u:pw@x"), null, List.of("a"), cache))
                .hasMessageNotContaining("pw");
        assertThatThrownBy(() -> new MlflowSource.Options(URI.create("http://x"), null, List.of("../a"), cache))
                .hasMessageContaining("'../a'");
    }

    /**
     * An in-memory MLflow tracking server: the registry's alias and download-URI endpoints and the artifact proxy,
     * answering errors the way MLflow does ({@code {"error_code", "message"}}), behind a bearer token.
     */
}
