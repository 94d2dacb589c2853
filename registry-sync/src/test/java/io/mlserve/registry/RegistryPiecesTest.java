package io.mlserve.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The registry's pieces: checksums of a version's files, and what the file-system source reports as changed. */
class RegistryPiecesTest {
    @TempDir
    Path dir;

    @Test
    void checksumsVerifyTheModelAndListedFiles() throws Exception {
        Path v = Files.createDirectories(dir.resolve("7"));
        Files.writeString(v.resolve("model.onnx"), "model bytes");
        Files.writeString(v.resolve("weights.bin"), "weights");
        assertThat(VersionChecksum.verify(v, "model.onnx")).isEqualTo(VersionChecksum.Result.UNVERIFIED);
        String m = VersionChecksum.sha256(v.resolve("model.onnx"));
        String w = VersionChecksum.sha256(v.resolve("weights.bin"));
        assertThat(m).hasSize(64).matches("[0-9a-f]+");
        Files.writeString(v.resolve("metadata.json"), "{\"sha256\": \"" + m + "\", \"files\": {\"weights.bin\": \""
                + w + "\"}}");
        assertThat(VersionChecksum.verify(v, "model.onnx")).isEqualTo(VersionChecksum.Result.VERIFIED);
        Files.writeString(v.resolve("weights.bin"), "weightz");
        assertThatThrownBy(() -> VersionChecksum.verify(v, "model.onnx")).isInstanceOf(VersionChecksum.Mismatch.class)
                .hasMessageContaining("sha256 of weights.bin is");
        Files.delete(v.resolve("weights.bin"));
        assertThatThrownBy(() -> VersionChecksum.verify(v, "model.onnx")).hasMessageContaining("which is missing");
        Files.writeString(v.resolve("metadata.json"), "{\"files\": {\"../../etc/passwd\": \"00\"}}");
        assertThatThrownBy(() -> VersionChecksum.verify(v, "model.onnx")).hasMessageContaining("outside");
        Files.writeString(v.resolve("metadata.json"), "{not json");
        assertThatThrownBy(() -> VersionChecksum.verify(v, "model.onnx")).hasMessageContaining("not valid JSON");
    }

    @Test
    void theFileSystemSourceReportsWhatChangedAndIgnoresVersionsBeingWritten() throws Exception {
        Path root = Files.createDirectories(dir.resolve("repo"));
        Files.createDirectories(root.resolve("a/1"));
        Files.writeString(root.resolve("a/1/model.onnx"), "x");
        FileSystemSource s = new FileSystemSource(root);
        assertThat(s.sync().changed()).containsExactly("a");
        assertThat(s.sync().changed()).isEmpty();
        Files.createDirectories(root.resolve("a/2.tmp-123"));
        Files.writeString(root.resolve("a/2.tmp-123/model.onnx"), "y");
        Files.createDirectories(root.resolve(".hidden/1"));
        assertThat(s.sync().changed()).isEmpty();
        Files.move(root.resolve("a/2.tmp-123"), root.resolve("a/2"));
        Files.createDirectories(root.resolve("b/1"));
        assertThat(s.sync().changed()).containsExactlyInAnyOrder("a", "b");
        Files.writeString(root.resolve("b/config.json"), "{}");
        assertThat(s.sync().changed()).containsExactly("b");
        Files.delete(root.resolve("b/config.json"));
        Files.delete(root.resolve("b/1"));
        Files.delete(root.resolve("b"));
        assertThat(s.sync().changed()).containsExactly("b");
    }
}
