package io.mlserve.runtime.onnx;

import com.google.protobuf.ByteString;
import io.mlserve.proto.onnx.AttributeProto;
import io.mlserve.proto.onnx.GraphProto;
import io.mlserve.proto.onnx.ModelProto;
import io.mlserve.proto.onnx.NodeProto;
import io.mlserve.proto.onnx.OperatorSetIdProto;
import io.mlserve.proto.onnx.StringStringEntryProto;
import io.mlserve.proto.onnx.TensorProto;
import io.mlserve.proto.onnx.TensorShapeProto;
import io.mlserve.proto.onnx.TypeProto;
import io.mlserve.proto.onnx.ValueInfoProto;
import io.mlserve.runtime.DataType;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Writes ONNX models from Java: declare inputs, constant tensors (initializers), nodes and outputs, then
 * {@link #build()} or {@link #writeTo(Path)}. Shapes use -1 for a dimension of any size (written as a
 * named symbolic dimension, as exporters do). Used for test fixtures, the demo model and the trainer's
 * exporters.
 */
public final class OnnxModelBuilder {
    /** ONNX IR version 8 (ONNX 1.10+), read by every current ONNX Runtime. */
    private static final long IR_VERSION = 8;
    public static final String ML_DOMAIN = "ai.onnx.ml";

    private final GraphProto.Builder graph = GraphProto.newBuilder();
    private final ModelProto.Builder model = ModelProto.newBuilder();
    private long opset = 17;
    private long mlOpset;
    private int symbolicDims;

    public OnnxModelBuilder(String graphName) {
        graph.setName(graphName);
        model.setIrVersion(IR_VERSION).setProducerName("mlserve").setProducerVersion("0.1");
    }

    /** The default-domain operator set version (17 unless set). */
    public OnnxModelBuilder opset(long version) {
        this.opset = version;
        return this;
    }

    /** Imports the {@code ai.onnx.ml} domain (tree ensembles, LabelEncoder, ...) at {@code version}. */
    public OnnxModelBuilder mlOpset(long version) {
        this.mlOpset = version;
        return this;
    }

    public OnnxModelBuilder docString(String doc) {
        model.setDocString(doc);
        return this;
    }

    public OnnxModelBuilder metadata(String key, String value) {
        model.addMetadataProps(StringStringEntryProto.newBuilder().setKey(key).setValue(value));
        return this;
    }

    public OnnxModelBuilder input(String name, DataType type, long... shape) {
        graph.addInput(valueInfo(name, type, shape));
        return this;
    }

    public OnnxModelBuilder output(String name, DataType type, long... shape) {
        graph.addOutput(valueInfo(name, type, shape));
        return this;
    }

    /** A constant FP32 tensor, stored as raw little-endian data. */
    public OnnxModelBuilder initializer(String name, float[] values, long... dims) {
        checkCount(name, values.length, dims);
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        graph.addInitializer(TensorProto.newBuilder().setName(name).setDataType(DataType.FP32.onnxElementType())
                .addAllDims(boxed(dims)).setRawData(ByteString.copyFrom(b.array())));
        return this;
    }

    /** A constant FP64 tensor. */
    public OnnxModelBuilder initializer(String name, double[] values, long... dims) {
        checkCount(name, values.length, dims);
        ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        b.asDoubleBuffer().put(values);
        graph.addInitializer(TensorProto.newBuilder().setName(name).setDataType(DataType.FP64.onnxElementType())
                .addAllDims(boxed(dims)).setRawData(ByteString.copyFrom(b.array())));
        return this;
    }

    /** A constant INT64 tensor. */
    public OnnxModelBuilder initializer(String name, long[] values, long... dims) {
        checkCount(name, values.length, dims);
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(DataType.INT64.onnxElementType())
                .addAllDims(boxed(dims));
        for (long v : values) {
            t.addInt64Data(v);
        }
        graph.addInitializer(t);
        return this;
    }

    /** Adds a node of the default domain. */
    public OnnxModelBuilder node(String opType, String[] inputs, String[] outputs, AttributeProto... attributes) {
        return node("", opType, inputs, outputs, attributes);
    }

    /** Adds a node of operator domain {@code domain} ("" for the default, {@link #ML_DOMAIN}, ...). */
    public OnnxModelBuilder node(String domain, String opType, String[] inputs, String[] outputs,
                                 AttributeProto... attributes) {
        NodeProto.Builder n = NodeProto.newBuilder().setOpType(opType).setName(opType + "_" + graph.getNodeCount());
        if (!domain.isEmpty()) {
            n.setDomain(domain);
        }
        for (String i : inputs) {
            n.addInput(i);
        }
        for (String o : outputs) {
            n.addOutput(o);
        }
        for (AttributeProto a : attributes) {
            n.addAttribute(a);
        }
        graph.addNode(n);
        return this;
    }

    public ModelProto build() {
        model.clearOpsetImport().addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset));
        if (mlOpset > 0) {
            model.addOpsetImport(OperatorSetIdProto.newBuilder().setDomain(ML_DOMAIN).setVersion(mlOpset));
        }
        return model.setGraph(graph).build();
    }

    public byte[] toByteArray() {
        return build().toByteArray();
    }

    /** Writes the model to {@code file} via a temporary file and a rename, so readers never see half a model. */
    public Path writeTo(Path file) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, ".model-", ".tmp");
        try {
            Files.write(tmp, toByteArray());
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
        return file;
    }

    public static AttributeProto attr(String name, long value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(value).build();
    }

    public static AttributeProto attr(String name, float value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOAT).setF(value).build();
    }

    public static AttributeProto attr(String name, String value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.STRING)
                .setS(ByteString.copyFromUtf8(value)).build();
    }

    public static AttributeProto ints(String name, long... values) {
        AttributeProto.Builder a = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
        for (long v : values) {
            a.addInts(v);
        }
        return a.build();
    }

    public static AttributeProto floats(String name, float... values) {
        AttributeProto.Builder a = AttributeProto.newBuilder().setName(name)
                .setType(AttributeProto.AttributeType.FLOATS);
        for (float v : values) {
            a.addFloats(v);
        }
        return a.build();
    }

    public static AttributeProto strings(String name, String... values) {
        AttributeProto.Builder a = AttributeProto.newBuilder().setName(name)
                .setType(AttributeProto.AttributeType.STRINGS);
        for (String v : values) {
            a.addStrings(ByteString.copyFrom(v, StandardCharsets.UTF_8));
        }
        return a.build();
    }

    /** Node input/output name lists, so call sites read {@code node("Add", names("a", "b"), names("c"))}. */
    public static String[] names(String... names) {
        return names;
    }

    private ValueInfoProto valueInfo(String name, DataType type, long[] shape) {
        TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
        for (long d : shape) {
            TensorShapeProto.Dimension.Builder dim = TensorShapeProto.Dimension.newBuilder();
            if (d < 0) {
                dim.setDimParam("d" + symbolicDims++);
            } else {
                dim.setDimValue(d);
            }
            s.addDim(dim);
        }
        TypeProto t = TypeProto.newBuilder().setTensorType(
                TypeProto.Tensor.newBuilder().setElemType(type.onnxElementType()).setShape(s)).build();
        return ValueInfoProto.newBuilder().setName(name).setType(t).build();
    }

    private static void checkCount(String name, int count, long[] dims) {
        long expected = 1;
        for (long d : dims) {
            expected *= d;
        }
        if (expected != count) {
            throw new IllegalArgumentException("initializer " + name + ": " + count + " values for dims "
                    + java.util.Arrays.toString(dims));
        }
    }

    private static Iterable<Long> boxed(long[] dims) {
        java.util.List<Long> l = new java.util.ArrayList<>(dims.length);
        for (long d : dims) {
            l.add(d);
        }
        return l;
    }
}
