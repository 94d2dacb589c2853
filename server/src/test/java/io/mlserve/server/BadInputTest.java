package io.mlserve.server;

import static io.mlserve.server.Tensors.fp32;
import static io.mlserve.server.Tensors.input;
import static io.mlserve.server.Tensors.request;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.mlserve.proto.inference.InferTensorContents;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.runtime.onnx.ExampleModels;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The bad-input table: each mistake gets its status and a message naming the field; the server keeps serving. */
class BadInputTest {
    private static final int MAX_MESSAGE = 64 * 1024;

    @TempDir
    static Path dir;

    static TestServer t;

    @BeforeAll
    static void start() throws Exception {
        t = new TestServer(dir)
                .model("add_mul", 1, ExampleModels.addMul())
                .config("add_mul", "{\"max_batch_size\": 8}")
                .model("labels", 1, ExampleModels.stringLabels("a", "b"))
                .model("int8", 1, ExampleModels.identity(io.mlserve.runtime.DataType.INT8))
                .model("fp16", 1, ExampleModels.identity(io.mlserve.runtime.DataType.FP16))
                .start(io.mlserve.server.ServerOptions.ephemeral(dir).withMaxMessageBytes(MAX_MESSAGE));
    }

    @AfterAll
    static void stop() throws Exception {
        t.close();
    }

    private static ModelInferRequest.InferInputTensor a(long... shape) {
        return fp32("a", new float[(int) java.util.Arrays.stream(shape).reduce(1, (x, y) -> x * y)], shape);
    }

    private static ModelInferRequest.InferInputTensor b(long... shape) {
        return fp32("b", new float[(int) java.util.Arrays.stream(shape).reduce(1, (x, y) -> x * y)], shape);
    }

    private static ModelInferRequest.Builder good() {
        return request("add_mul", a(1, 4), b(1, 4));
    }

    private static ModelInferRequest.InferInputTensor.Builder rawInput(String name, long... shape) {
        return input(name, "FP32", shape);
    }

    static Stream<Arguments> badRequests() {
        return Stream.of(
                Arguments.of("unknown model", request("nope", a(1, 4)), Status.Code.NOT_FOUND, "'nope'"),
                Arguments.of("unknown version", good().setModelVersion("7"), Status.Code.NOT_FOUND, "version 7"),
                Arguments.of("malformed version", good().setModelVersion("latest"), Status.Code.INVALID_ARGUMENT,
                        "model_version"),
                Arguments.of("missing model name", good().setModelName(""), Status.Code.INVALID_ARGUMENT, "model_name"),
                Arguments.of("empty request", request("add_mul"), Status.Code.INVALID_ARGUMENT,
                        "inputs: the request has no inputs"),
                Arguments.of("unknown input", request("add_mul", a(1, 4), fp32("c", new float[4], 1, 4)),
                        Status.Code.INVALID_ARGUMENT, "inputs[1].name: model 'add_mul' has no input 'c'"),
                Arguments.of("missing input", request("add_mul", a(1, 4)), Status.Code.INVALID_ARGUMENT,
                        "needs input 'b'"),
                Arguments.of("duplicate input", request("add_mul", a(1, 4), b(1, 4), a(1, 4)),
                        Status.Code.INVALID_ARGUMENT, "inputs[2].name: input 'a' appears more than once"),
                Arguments.of("wrong datatype", request("add_mul", a(1, 4), input("b", "FP64", 1, 4)
                                .setContents(InferTensorContents.newBuilder().addAllFp64Contents(
                                        java.util.List.of(1d, 2d, 3d, 4d))).build()),
                        Status.Code.INVALID_ARGUMENT, "inputs[1].datatype: input 'b' expects FP32, got 'FP64'"),
                Arguments.of("unknown datatype", request("add_mul", a(1, 4), input("b", "FLOAT", 1, 4).build()),
                        Status.Code.INVALID_ARGUMENT, "got unknown datatype 'FLOAT'"),
                Arguments.of("wrong rank", request("add_mul", a(4), b(1, 4)), Status.Code.INVALID_ARGUMENT,
                        "inputs[0].shape: input 'a' expects rank 2"),
                Arguments.of("wrong dims", request("add_mul", a(1, 5), b(1, 5)), Status.Code.INVALID_ARGUMENT,
                        "inputs[0].shape: input 'a' expects [-1, 4]"),
                Arguments.of("negative dim", request("add_mul", a(1, 4), input("b", "FP32", -1, 4).build()),
                        Status.Code.INVALID_ARGUMENT, "inputs[1].shape"),
                Arguments.of("rows differ between inputs", request("add_mul", a(2, 4), b(1, 4)),
                        Status.Code.INVALID_ARGUMENT, "inputs[1].shape[0]"),
                Arguments.of("batch above max_batch_size", request("add_mul", a(9, 4), b(9, 4)),
                        Status.Code.INVALID_ARGUMENT, "max_batch_size 8"),
                Arguments.of("typed count mismatch", request("add_mul", a(1, 4), fp32("b", new float[3], 1, 4)),
                        Status.Code.INVALID_ARGUMENT, "inputs[1].contents.fp32_contents: the shape calls for 4 elements, got 3"),
                Arguments.of("typed contents in the wrong field", request("add_mul", a(1, 4), input("b", "FP32", 1, 4)
                                .setContents(InferTensorContents.newBuilder().addAllIntContents(
                                        java.util.List.of(1, 2, 3, 4))).build()),
                        Status.Code.INVALID_ARGUMENT, "inputs[1].contents: datatype FP32 is sent in fp32_contents"),
                Arguments.of("raw size mismatch", request("add_mul", rawInput("a", 1, 4).build(),
                                rawInput("b", 1, 4).build())
                                .addRawInputContents(Tensors.rawFp32(new float[4]))
                                .addRawInputContents(Tensors.rawFp32(new float[3])),
                        Status.Code.INVALID_ARGUMENT, "raw_input_contents[1]: input 'b' of shape [1, 4] and datatype FP32 needs 16 bytes, got 12"),
                Arguments.of("raw and typed mixed", request("add_mul", rawInput("a", 1, 4).build(), b(1, 4))
                                .addRawInputContents(Tensors.rawFp32(new float[4]))
                                .addRawInputContents(Tensors.rawFp32(new float[4])),
                        Status.Code.INVALID_ARGUMENT, "inputs[1].contents: the request uses raw_input_contents"),
                Arguments.of("raw entries fewer than inputs", request("add_mul", rawInput("a", 1, 4).build(),
                                rawInput("b", 1, 4).build()).addRawInputContents(Tensors.rawFp32(new float[4])),
                        Status.Code.INVALID_ARGUMENT, "raw_input_contents: 1 entries for 2 inputs"),
                Arguments.of("BYTES length prefix past the end", request("labels", input("text", "BYTES", 2).build())
                                .addRawInputContents(Tensors.rawStrings("a").concat(ByteString.copyFrom(new byte[] {100, 0, 0, 0, 'x'}))),
                        Status.Code.INVALID_ARGUMENT, "BYTES element 1 of input 'text' has length prefix 100 but only 1 bytes follow"),
                Arguments.of("BYTES truncated prefix", request("labels", input("text", "BYTES", 2).build())
                                .addRawInputContents(Tensors.rawStrings("a").concat(ByteString.copyFrom(new byte[] {1, 0}))),
                        Status.Code.INVALID_ARGUMENT, "4-byte length prefix"),
                Arguments.of("BYTES trailing bytes", request("labels", input("text", "BYTES", 1).build())
                                .addRawInputContents(Tensors.rawStrings("a", "b")),
                        Status.Code.INVALID_ARGUMENT, "bytes left after the 1 BYTES elements"),
                Arguments.of("BYTES not UTF-8", request("labels", input("text", "BYTES", 1).setContents(
                                InferTensorContents.newBuilder().addBytesContents(ByteString.copyFrom(new byte[] {(byte) 0xC3}))).build()),
                        Status.Code.INVALID_ARGUMENT, "not valid UTF-8"),
                Arguments.of("INT8 out of range", request("int8", input("x", "INT8", 1, 2).setContents(
                                InferTensorContents.newBuilder().addIntContents(1).addIntContents(300)).build()),
                        Status.Code.INVALID_ARGUMENT, "element 1 = 300 is out of range for INT8"),
                Arguments.of("FP16 in typed contents", request("fp16", input("x", "FP16", 1, 1).setContents(
                                InferTensorContents.newBuilder().addFp32Contents(1f)).build()),
                        Status.Code.INVALID_ARGUMENT, "send it in raw_input_contents"),
                Arguments.of("unknown output", good().addOutputs(ModelInferRequest.InferRequestedOutputTensor.newBuilder()
                                .setName("ratio")),
                        Status.Code.INVALID_ARGUMENT, "outputs[0].name: model 'add_mul' has no output 'ratio'"),
                Arguments.of("duplicate output", good()
                                .addOutputs(ModelInferRequest.InferRequestedOutputTensor.newBuilder().setName("sum"))
                                .addOutputs(ModelInferRequest.InferRequestedOutputTensor.newBuilder().setName("sum")),
                        Status.Code.INVALID_ARGUMENT, "outputs[1].name: output 'sum' is requested twice"),
                Arguments.of("oversized message", request("add_mul", a(1, 4), b(1, 4))
                                .setId("x".repeat(MAX_MESSAGE + 1)),
                        Status.Code.RESOURCE_EXHAUSTED, String.valueOf(MAX_MESSAGE)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badRequests")
    void rejectsWithStatusAndFieldNamedThenKeepsServing(String what, ModelInferRequest.Builder req,
                                                        Status.Code code, String message) {
        assertThatThrownBy(() -> t.stub().modelInfer(req.build()))
                .satisfies(e -> {
                    Status s = Status.fromThrowable(e);
                    assertThat(s.getCode()).as(what).isEqualTo(code);
                    assertThat(s.getDescription()).as(what).contains(message);
                });
        assertThat(t.stub().modelInfer(good().build()).getOutputsCount()).isEqualTo(2);
    }

    @Test
    void failuresAreCountedByReason() throws Exception {
        assertThatThrownBy(() -> t.stub().modelInfer(request("add_mul", a(1, 4)).build()));
        String metrics = t.get(t.server.metricsPort(), "/metrics").body();
        assertThat(metrics).containsPattern(
                "mlserve_request_failure_total\\{model=\"add_mul\",reason=\"invalid_argument\",version=\"1\"} [1-9]");
    }
}
