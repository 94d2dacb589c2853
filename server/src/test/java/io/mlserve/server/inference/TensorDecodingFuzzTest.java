package io.mlserve.server.inference;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.Status;
import io.mlserve.proto.inference.InferTensorContents;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.runtime.DataType;
import io.mlserve.runtime.ModelSignature;
import io.mlserve.runtime.TensorBatch;
import io.mlserve.runtime.TensorSpec;
import java.util.List;

/**
 * Fuzzing the tensor decoder: any ModelInferRequest — from arbitrary bytes, or built field by field with typed and raw
 * contents, BYTES framing, shapes and datatypes chosen by the fuzzer — is either refused with INVALID_ARGUMENT or
 * checked and copied into a batch; nothing else may happen (no other exception, no crash). {@code mvn verify} replays
 * the seeds and every crash kept under src/test/resources; with JAZZER_FUZZ=1 it fuzzes for maxDuration.
 */
class TensorDecodingFuzzTest {
    static final ModelSignature SIG = new ModelSignature(List.of(
            new TensorSpec("a", DataType.FP32, new long[] {-1, 4}),
            new TensorSpec("s", DataType.BYTES, new long[] {-1, -1}),
            new TensorSpec("i", DataType.INT64, new long[] {-1, 3}),
            new TensorSpec("b", DataType.BOOL, new long[] {-1, 2})),
            List.of(new TensorSpec("y", DataType.FP32, new long[] {-1, 1})));
    static final RequestLimits LIMITS = new RequestLimits(64, 256, 1 << 16);
    private static final String[] NAMES = {"a", "s", "i", "b", "zz", ""};
    private static final String[] TYPES = {"FP32", "BYTES", "INT64", "BOOL", "FP16", "UINT8", "INT32", "nope"};

    static void decodeOrRefuse(ModelInferRequest r) {
        int rows;
        try {
            rows = RequestDecoder.check(r, "m", SIG, 64, LIMITS);
        } catch (InferenceError e) {
            assertThat(e.code()).isEqualTo(Status.Code.INVALID_ARGUMENT);
            assertThat(e.getMessage()).isNotBlank();
            return;
        }
        TensorBatch batch = new TensorBatch(SIG);
        RequestDecoder.prepare(r, SIG, batch, rows, true);
        RequestDecoder.copy(r, SIG, batch, 0);
    }

    @FuzzTest(maxDuration = "20s")
    void anyBytes(byte[] input) {
        ModelInferRequest r;
        try {
            r = ModelInferRequest.parseFrom(input);
        } catch (InvalidProtocolBufferException e) {
            return;
        }
        decodeOrRefuse(r.toBuilder().setModelName("m").build());
    }

    @FuzzTest(maxDuration = "20s")
    void structured(FuzzedDataProvider d) {
        ModelInferRequest.Builder b = ModelInferRequest.newBuilder().setModelName("m");
        boolean raw = d.consumeBoolean();
        int inputs = d.consumeInt(0, 5);
        for (int k = 0; k < inputs; k++) {
            ModelInferRequest.InferInputTensor.Builder t = ModelInferRequest.InferInputTensor.newBuilder()
                    .setName(d.pickValue(NAMES)).setDatatype(d.pickValue(TYPES));
            int rank = d.consumeInt(0, 3);
            for (int r = 0; r < rank; r++) {
                t.addShape(d.consumeLong(-2, 70));
            }
            if (raw) {
                b.addRawInputContents(ByteString.copyFrom(d.consumeBytes(d.consumeInt(0, 600))));
            } else {
                InferTensorContents.Builder c = InferTensorContents.newBuilder();
                switch (d.consumeInt(0, 4)) {
                    case 0 -> {
                        for (int n = d.consumeInt(0, 300); n > 0; n--) {
                            c.addFp32Contents(d.consumeFloat());
                        }
                    }
                    case 1 -> {
                        for (int n = d.consumeInt(0, 100); n > 0; n--) {
                            c.addInt64Contents(d.consumeLong());
                        }
                    }
                    case 2 -> {
                        for (int n = d.consumeInt(0, 100); n > 0; n--) {
                            c.addBytesContents(ByteString.copyFrom(d.consumeBytes(d.consumeInt(0, 300))));
                        }
                    }
                    case 3 -> {
                        for (int n = d.consumeInt(0, 100); n > 0; n--) {
                            c.addBoolContents(d.consumeBoolean());
                        }
                    }
                    default -> {
                        for (int n = d.consumeInt(0, 50); n > 0; n--) {
                            c.addIntContents(d.consumeInt());
                        }
                    }
                }
                t.setContents(c);
            }
            b.addInputs(t);
        }
        decodeOrRefuse(b.build());
    }
}
