package io.mlserve.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mlserve.runtime.onnx.ExampleModels;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelSessionTest {
    @TempDir
    Path dir;

    private int openBefore = ModelSession.openSessions();

    @AfterEach
    void noSessionLeaks() {
        assertThat(ModelSession.openSessions()).isEqualTo(openBefore);
    }

    @Test
    void derivesSignatureWithDynamicDimensions() throws Exception {
        Path file = ExampleModels.addMul().writeTo(dir.resolve("m.onnx"));
        try (ModelSession s = ModelSession.open("add_mul:1", file, SessionConfig.DEFAULT)) {
            ModelSignature sig = s.signature();
            assertThat(sig.inputs()).extracting(TensorSpec::name).containsExactly("a", "b");
            assertThat(sig.outputs()).extracting(TensorSpec::name).containsExactly("sum", "product");
            assertThat(sig.inputs().get(0).dataType()).isEqualTo(DataType.FP32);
            assertThat(sig.inputs().get(0).shape()).containsExactly(-1, 4);
            assertThat(sig.inputs().get(0).hasBatchDimension()).isTrue();
        }
    }

    @Test
    void runsMlpFromDirectBuffersAndMatchesHandComputedSigmoidRange() throws Exception {
        Path file = ExampleModels.churnMlp().writeTo(dir.resolve("m.onnx"));
        try (ModelSession s = ModelSession.open("churn:1", file, SessionConfig.DEFAULT)) {
            TensorBatch batch = new TensorBatch(s.signature());
            long[] shape = batch.shape(0, 2);
            shape[0] = 3;
            shape[1] = 47;
            ByteBuffer b = batch.buffer(0, 3 * 47 * 4);
            for (int i = 0; i < 3 * 47; i++) {
                b.putFloat(i * 4, (i % 47) / 47f);
            }
            try (RunOutputs out = s.run(batch, null)) {
                assertThat(out.shape(0)).containsExactly(3, 1);
                ByteBuffer p = out.bytes(0);
                float p0 = p.getFloat(0);
                assertThat(p0).isBetween(0f, 1f);
                // identical rows give identical probabilities
                assertThat(p.getFloat(4)).isEqualTo(p0);
                assertThat(p.getFloat(8)).isEqualTo(p0);
            }
        }
    }

    @Test
    void writesFixedShapeOutputsIntoReusedBuffersAndAllocatesTheRest() throws Exception {
        Path file = ExampleModels.addMul().writeTo(dir.resolve("m.onnx"));
        try (ModelSession s = ModelSession.open("add_mul:1", file, SessionConfig.DEFAULT)) {
            TensorBatch batch = new TensorBatch(s.signature());
            for (int rows : new int[] {3, 1, 3}) {
                for (int in = 0; in < 2; in++) {
                    long[] shape = batch.shape(in, 2);
                    shape[0] = rows;
                    shape[1] = 4;
                    ByteBuffer b = batch.buffer(in, rows * 16);
                    for (int k = 0; k < rows * 4; k++) {
                        b.putFloat(k * 4, k + in + rows);
                    }
                }
                try (RunOutputs pinned = s.run(batch, null, rows); RunOutputs fresh = s.run(batch, null)) {
                    for (int out = 0; out < 2; out++) {
                        assertThat(pinned.shape(out)).containsExactly(rows, 4);
                        ByteBuffer p = pinned.bytes(out);
                        ByteBuffer f = fresh.bytes(out);
                        assertThat(p.remaining()).isEqualTo(rows * 16);
                        for (int k = 0; k < rows * 4; k++) {
                            assertThat(p.getFloat(k * 4)).isEqualTo(f.getFloat(k * 4));
                        }
                    }
                }
            }
        }
        Path strings = ExampleModels.stringLabels("a").writeTo(dir.resolve("s.onnx"));
        try (ModelSession s = ModelSession.open("labels:1", strings, SessionConfig.DEFAULT)) {
            TensorBatch batch = new TensorBatch(s.signature());
            batch.shape(0, 1)[0] = 2;
            String[] t = batch.strings(0, 2);
            t[0] = "a";
            t[1] = "b";
            try (RunOutputs out = s.run(batch, null, 2)) {
                assertThat(out.strings(0)).containsExactly("a", "b");
                assertThat(out.bytes(1).getLong(8)).isEqualTo(-1);
            }
        }
    }

    @Test
    void runsStringAndInt64Outputs() throws Exception {
        Path file = ExampleModels.stringLabels("red", "green", "blue").writeTo(dir.resolve("m.onnx"));
        try (ModelSession s = ModelSession.open("labels:1", file, SessionConfig.DEFAULT)) {
            TensorBatch batch = new TensorBatch(s.signature());
            batch.shape(0, 1)[0] = 3;
            String[] text = batch.strings(0, 3);
            text[0] = "blue";
            text[1] = "nope";
            text[2] = "red";
            try (RunOutputs out = s.run(batch, Set.of("echo", "label"))) {
                assertThat(out.strings(0)).containsExactly("blue", "nope", "red");
                ByteBuffer labels = out.bytes(1);
                assertThat(labels.getLong(0)).isEqualTo(2);
                assertThat(labels.getLong(8)).isEqualTo(-1);
                assertThat(labels.getLong(16)).isEqualTo(0);
            }
        }
    }

    @Test
    void sessionStaysOpenUntilLastUserReleases() throws Exception {
        Path file = ExampleModels.int64Affine().writeTo(dir.resolve("m.onnx"));
        ModelSession s = ModelSession.open("affine:1", file, SessionConfig.DEFAULT);
        assertThat(ModelSession.openSessions()).isEqualTo(openBefore + 1);
        assertThat(s.acquire()).isTrue();
        s.close();
        s.close(); // the owner's reference is dropped once only
        assertThat(ModelSession.openSessions()).isEqualTo(openBefore + 1);
        Warmup.run(s, WarmupSample.zeros(4));
        s.release();
        assertThat(ModelSession.openSessions()).isEqualTo(openBefore);
        assertThat(s.acquire()).isFalse();
    }

    @Test
    void cudaRunsWhereItCanAndFallsBackToTheCpuCountedWhereItCannot() throws Exception {
        Path file = ExampleModels.addMul().writeTo(dir.resolve("m.onnx"));
        long fallbacks = ModelSession.cudaFallbacks();
        boolean gpuBuild = ai.onnxruntime.OrtEnvironment.getAvailableProviders()
                .contains(ai.onnxruntime.OrtProvider.CUDA);
        try (ModelSession s = ModelSession.open("add_mul:1", file, SessionConfig.DEFAULT.withDevice(Device.cuda(0)))) {
            if (!gpuBuild) {
                assertThat(s.device()).as("the CPU build of ONNX Runtime has no CUDA provider").isEqualTo(Device.CPU);
            }
            // on the GPU build it runs on the device if a usable GPU and CUDA libraries are here, else on the CPU;
            // either way the answer is right and a fallback is counted exactly when it happened
            assertThat(ModelSession.cudaFallbacks() - fallbacks).isEqualTo(s.device().equals(Device.CPU) ? 1 : 0);
            Warmup.run(s, WarmupSample.zeros(2));
        }
    }

    @Test
    void warmsUpEveryDatatypeTheRuntimeFeeds() throws Exception {
        for (DataType t : DataType.values()) {
            if (!t.supportedByRuntime() || t == DataType.BF16) {
                continue;
            }
            Path file = ExampleModels.identity(t).writeTo(dir.resolve(t + ".onnx"));
            try (ModelSession s = ModelSession.open(t.oipName(), file, SessionConfig.DEFAULT)) {
                assertThat(s.signature().inputs().get(0).dataType()).isEqualTo(t);
                Warmup.run(s, new WarmupSample("r", 3, 2, java.util.Map.of("x", new long[] {5}), true));
            }
        }
    }

    @Test
    void rejectsMissingAndCorruptFilesWithTheFileNamed() throws Exception {
        assertThatThrownBy(() -> ModelSession.open("m:1", dir.resolve("none.onnx"), SessionConfig.DEFAULT))
                .isInstanceOf(ModelLoadException.class).hasMessageContaining("none.onnx");
        Path bad = Files.write(dir.resolve("bad.onnx"), new byte[] {1, 2, 3, 4, 5});
        assertThatThrownBy(() -> ModelSession.open("m:1", bad, SessionConfig.DEFAULT))
                .isInstanceOf(ModelLoadException.class).hasMessageContaining("bad.onnx");
    }

    @Test
    void parsesDevices() {
        assertThat(Device.parse("cpu")).isEqualTo(Device.CPU);
        assertThat(Device.parse("cuda:1")).isEqualTo(Device.cuda(1));
        assertThatThrownBy(() -> Device.parse("tpu")).hasMessageContaining("'cpu' or 'cuda:N'");
    }
}
