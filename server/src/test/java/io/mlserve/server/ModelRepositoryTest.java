package io.mlserve.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mlserve.proto.inference.InferTensorContents;
import io.mlserve.proto.inference.ModelInferResponse;
import io.mlserve.runtime.ModelSession;
import io.mlserve.runtime.onnx.ExampleModels;
import io.mlserve.server.metrics.ServerMetrics;
import io.mlserve.server.repository.ModelEntry;
import io.mlserve.server.repository.ModelRepository;
import io.mlserve.server.repository.ModelState;
import io.mlserve.server.repository.ServedVersion;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The file-system repository: layout, version policies, config.json checks, reloads. */
class ModelRepositoryTest {
    @TempDir
    Path dir;

    ModelRepository repo;
    int sessionsBefore;

    @BeforeEach
    void create() {
        sessionsBefore = ModelSession.openSessions();
        repo = new ModelRepository(dir, io.mlserve.runtime.SessionConfig.DEFAULT, 1, new ServerMetrics(),
                io.mlserve.server.inference.BatchRunner::start);
    }

    @AfterEach
    void close() {
        repo.close();
        assertThat(ModelSession.openSessions()).isEqualTo(sessionsBefore);
    }

    private void version(String model, String version) throws Exception {
        ExampleModels.addMul().writeTo(dir.resolve(model).resolve(version).resolve("model.onnx"));
    }

    private void config(String model, String json) throws Exception {
        Files.createDirectories(dir.resolve(model));
        Files.writeString(dir.resolve(model).resolve("config.json"), json);
    }

    private static long[] versions(ModelEntry e) {
        return Arrays.stream(e.versions()).mapToLong(ServedVersion::version).toArray();
    }

    @Test
    void servesLatestVersionByDefaultAndIgnoresNonVersionDirectories() throws Exception {
        version("m", "1");
        version("m", "3");
        version("m", "10");
        version("m", "07");
        version("m", "0");
        version("m", "11.tmp-upload");
        Files.createDirectories(dir.resolve("m").resolve("12")); // no model file yet
        repo.loadAll();
        ModelEntry e = repo.model("m");
        assertThat(e.state()).isEqualTo(ModelState.READY);
        assertThat(versions(e)).containsExactly(10);
    }

    @Test
    void honoursLatestNAllAndSpecificPolicies() throws Exception {
        for (String v : new String[] {"1", "2", "3"}) {
            version("latest2", v);
            version("all", v);
            version("specific", v);
        }
        config("latest2", "{\"version_policy\": {\"latest\": {\"num_versions\": 2}}}");
        config("all", "{\"version_policy\": {\"all\": {}}}");
        config("specific", "{\"version_policy\": {\"specific\": {\"versions\": [1, 3, 9]}}}");
        repo.loadAll();
        assertThat(versions(repo.model("latest2"))).containsExactly(2, 3);
        assertThat(versions(repo.model("all"))).containsExactly(1, 2, 3);
        assertThat(versions(repo.model("specific"))).containsExactly(1, 3);
    }

    @Test
    void reportsConfigMistakesWithFileAndKey() throws Exception {
        version("typo", "1");
        config("typo", "{\"max_batch_sise\": 8}");
        version("dtype", "1");
        config("dtype", "{\"input\": [{\"name\": \"a\", \"data_type\": \"TYPE_INT64\"}]}");
        version("dims", "1");
        config("dims", "{\"max_batch_size\": 4, \"input\": [{\"name\": \"a\", \"dims\": [5]}]}");
        version("renamed", "1");
        config("renamed", "{\"name\": \"other\"}");
        version("noinput", "1");
        config("noinput", "{\"input\": [{\"name\": \"zzz\"}]}");
        version("badwarmup", "1");
        config("badwarmup", "{\"model_warmup\": [{\"name\": \"w\", \"batch_size\": 2, \"inputs\": {"
                + "\"a\": {\"data_type\": \"TYPE_FP32\", \"dims\": [3], \"zero_data\": true}}}]}");
        version("good", "1");
        repo.loadAll();
        assertThat(repo.model("typo").state()).isEqualTo(ModelState.UNAVAILABLE);
        assertThat(repo.model("typo").reason()).contains("typo/config.json").contains("max_batch_sise");
        assertThat(repo.model("dtype").reason()).contains("input[0].data_type TYPE_INT64").contains("TYPE_FP32");
        assertThat(repo.model("dims").reason()).contains("input[0].dims [5]").contains("leave out the batch dimension");
        assertThat(repo.model("renamed").reason()).contains("name 'other' differs");
        assertThat(repo.model("noinput").reason()).contains("'zzz' is not an input");
        assertThat(repo.model("badwarmup").reason()).contains("warm-up 'w'");
        assertThat(repo.model("good").ready()).isTrue();
        assertThat(repo.allReady()).isFalse();
    }

    @Test
    void reloadAddsNewVersionsKeepsOldOnFailureAndRetiresDroppedOnes() throws Exception {
        version("m", "1");
        repo.loadAll();
        ServedVersion v1 = repo.model("m").latest();
        assertThat(v1.acquire()).isTrue(); // a request in flight on version 1

        version("m", "2");
        ModelEntry e = repo.load("m");
        assertThat(versions(e)).containsExactly(2);
        // version 1 left service but its in-flight request still runs on an open session
        assertThat(ModelSession.openSessions()).isEqualTo(sessionsBefore + 2);
        v1.release();
        assertThat(ModelSession.openSessions()).isEqualTo(sessionsBefore + 1);

        Files.createDirectories(dir.resolve("m/3"));
        Files.write(dir.resolve("m/3/model.onnx"), new byte[] {1, 2, 3}); // corrupt: the new version is refused
        e = repo.load("m");
        assertThat(e.ready()).isTrue();
        assertThat(versions(e)).containsExactly(2);
        assertThat(e.failures()).extracting(ModelEntry.VersionFailure::version).containsExactly(3L);
    }

    @Test
    void aModelWrittenByTheOnnxProjectsOwnToolsServesTheSameAnswersAsNumpy() throws Exception {
        Path target = dir.resolve("helper/1/model.onnx");
        Files.createDirectories(target.getParent());
        try (InputStream in = getClass().getResourceAsStream("/fixtures/onnx_helper_classifier.onnx")) {
            Files.copy(in, target);
        }
        JsonNode expected;
        try (InputStream in = getClass().getResourceAsStream("/fixtures/onnx_helper_classifier.expected.json")) {
            expected = new ObjectMapper().readTree(in);
        }
        repo.close();
        try (TestServer t = new TestServer(dir).start()) {
            InferTensorContents.Builder c = InferTensorContents.newBuilder();
            for (JsonNode row : expected.get("input")) {
                for (JsonNode v : row) {
                    c.addFp32Contents(v.floatValue());
                }
            }
            int rows = expected.get("input").size();
            ModelInferResponse r = t.stub().modelInfer(Tensors.request("helper",
                    Tensors.input("float_input", "FP32", rows, 4).setContents(c).build()).build());
            assertThat(r.getOutputs(0).getName()).isEqualTo("probabilities");
            int k = 0;
            for (JsonNode row : expected.get("probabilities")) {
                for (JsonNode p : row) {
                    assertThat(r.getOutputs(0).getContents().getFp32Contents(k++))
                            .isCloseTo(p.floatValue(), org.assertj.core.data.Offset.offset(1e-6f));
                }
            }
            for (int i = 0; i < rows; i++) {
                assertThat(r.getOutputs(1).getContents().getInt64Contents(i)).isEqualTo(expected.get("label").get(i).asLong());
            }
        }
    }
}
