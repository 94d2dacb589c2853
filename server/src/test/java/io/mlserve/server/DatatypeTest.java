package io.mlserve.server;

import static io.mlserve.server.Tensors.input;
import static io.mlserve.server.Tensors.request;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.mlserve.proto.inference.InferTensorContents;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.proto.inference.ModelInferResponse;
import io.mlserve.runtime.DataType;
import io.mlserve.runtime.onnx.ExampleModels;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Each datatype through typed and raw contents, multi-input/output models, output selection. */
class DatatypeTest {
    @TempDir
    static Path dir;

    static TestServer t;

    @BeforeAll
    static void start() throws Exception {
        t = new TestServer(dir);
        for (DataType type : DataType.values()) {
            if (type.supportedByRuntime() && type != DataType.BF16) {
                t.model(ExampleModels.identity(type).build().getGraph().getName(), 1, ExampleModels.identity(type));
            }
        }
        t.model("add_mul", 1, ExampleModels.addMul())
                .model("int64_affine", 1, ExampleModels.int64Affine())
                .model("labels", 1, ExampleModels.stringLabels("red", "green", "blue"))
                .model("bool_logic", 1, ExampleModels.boolLogic())
                .start();
    }

    @AfterAll
    static void stop() throws Exception {
        t.close();
    }

    private static String identity(DataType type) {
        return "identity_" + type.oipName().toLowerCase(java.util.Locale.ROOT);
    }

    /** Random little-endian bytes that are valid elements of {@code type}. */
    private static byte[] randomRaw(DataType type, int n, Random r) {
        byte[] b = new byte[n * type.byteSize()];
        r.nextBytes(b);
        if (type == DataType.BOOL) {
            for (int i = 0; i < n; i++) {
                b[i] = (byte) (b[i] & 1);
            }
        }
        if (type == DataType.FP16) {
            for (int i = 1; i < b.length; i += 2) {
                b[i] &= 0x3B; // keep exponents finite, so NaN payloads cannot differ
            }
        }
        return b;
    }

    @ParameterizedTest
    @EnumSource(value = DataType.class, names = {"BOOL", "UINT8", "INT8", "INT16", "INT32", "INT64", "FP16", "FP32", "FP64"})
    void rawContentsRoundTripBitExactly(DataType type) {
        byte[] data = randomRaw(type, 2 * 5, new Random(type.ordinal()));
        ModelInferResponse r = t.stub().modelInfer(request(identity(type), input("x", type.oipName(), 2, 5).build())
                .addRawInputContents(ByteString.copyFrom(data)).build());
        assertThat(r.getOutputs(0).getDatatype()).isEqualTo(type.oipName());
        assertThat(r.getOutputs(0).getShapeList()).containsExactly(2L, 5L);
        assertThat(r.getOutputs(0).hasContents()).isFalse();
        assertThat(r.getRawOutputContents(0).toByteArray()).isEqualTo(data);
    }

    @ParameterizedTest
    @EnumSource(value = DataType.class, names = {"BOOL", "UINT8", "INT8", "INT16", "INT32", "INT64", "FP32", "FP64", "BYTES"})
    void typedContentsRoundTrip(DataType type) {
        InferTensorContents.Builder c = InferTensorContents.newBuilder();
        for (int i = 0; i < 6; i++) {
            switch (type) {
                case BOOL -> c.addBoolContents(i % 2 == 0);
                case UINT8 -> c.addUintContents(250 + i);
                case INT8 -> c.addIntContents(-128 + i * 40);
                case INT16 -> c.addIntContents(-32768 + i * 9000);
                case INT32 -> c.addIntContents(Integer.MIN_VALUE + i);
                case INT64 -> c.addInt64Contents(Long.MAX_VALUE - i);
                case FP32 -> c.addFp32Contents(i * 0.1f - 1e30f);
                case FP64 -> c.addFp64Contents(i * 1e-300);
                case BYTES -> c.addBytesContents(ByteString.copyFromUtf8("élément " + i));
                default -> throw new AssertionError(type);
            }
        }
        InferTensorContents sent = c.build();
        ModelInferResponse r = t.stub().modelInfer(request(identity(type),
                input("x", type.oipName(), 3, 2).setContents(sent).build()).build());
        assertThat(r.getRawOutputContentsCount()).isZero();
        assertThat(r.getOutputs(0).getContents()).isEqualTo(sent);
    }

    @Test
    void rawBytesTensorsUseLengthPrefixes() {
        ModelInferResponse r = t.stub().modelInfer(request("labels", input("text", "BYTES", 4).build())
                .addRawInputContents(Tensors.rawStrings("blue", "", "red", "naïve")).build());
        assertThat(r.getOutputsList()).extracting(o -> o.getName()).containsExactly("echo", "label");
        assertThat(r.getRawOutputContents(0)).isEqualTo(Tensors.rawStrings("blue", "", "red", "naïve"));
        ByteBuffer labels = r.getRawOutputContents(1).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        assertThat(new long[] {labels.getLong(0), labels.getLong(8), labels.getLong(16), labels.getLong(24)})
                .containsExactly(2, -1, 0, -1);
    }

    @Test
    void multiInputMultiOutputWithOutputSelection() {
        ModelInferRequest.Builder req = request("add_mul",
                Tensors.fp32("a", new float[] {1, 2, 3, 4, 5, 6, 7, 8}, 2, 4),
                Tensors.fp32("b", new float[] {2, 2, 2, 2, 3, 3, 3, 3}, 2, 4));
        ModelInferResponse all = t.stub().modelInfer(req.build());
        assertThat(all.getOutputsList()).extracting(o -> o.getName()).containsExactly("sum", "product");
        assertThat(all.getOutputs(1).getContents().getFp32ContentsList())
                .containsExactly(2f, 4f, 6f, 8f, 15f, 18f, 21f, 24f);
        ModelInferResponse onlyProduct = t.stub().modelInfer(req.addOutputs(
                ModelInferRequest.InferRequestedOutputTensor.newBuilder().setName("product")).build());
        assertThat(onlyProduct.getOutputsList()).extracting(o -> o.getName()).containsExactly("product");
        assertThat(onlyProduct.getOutputs(0).getContents()).isEqualTo(all.getOutputs(1).getContents());
    }

    @Test
    void int64AndBoolModelsComputeTheirFunctions() {
        ModelInferResponse y = t.stub().modelInfer(request("int64_affine", input("x", "INT64", 1, 3)
                .setContents(InferTensorContents.newBuilder().addInt64Contents(-5).addInt64Contents(0)
                        .addInt64Contents(1L << 40)).build()).build());
        assertThat(y.getOutputs(0).getContents().getInt64ContentsList()).containsExactly(-9L, 1L, (1L << 41) + 1);
        ModelInferResponse b = t.stub().modelInfer(request("bool_logic",
                input("a", "BOOL", 1, 4).setContents(InferTensorContents.newBuilder().addBoolContents(true)
                        .addBoolContents(true).addBoolContents(false).addBoolContents(false)).build(),
                input("b", "BOOL", 1, 4).setContents(InferTensorContents.newBuilder().addBoolContents(true)
                        .addBoolContents(false).addBoolContents(true).addBoolContents(false)).build()).build());
        assertThat(b.getOutputs(0).getContents().getBoolContentsList()).containsExactly(true, false, false, false);
        assertThat(b.getOutputs(1).getContents().getBoolContentsList()).containsExactly(false, false, true, true);
    }
}
