package io.mlserve.runtime;

import ai.onnxruntime.OrtException;
import java.nio.ByteBuffer;
import java.util.SplittableRandom;

/** Runs warm-up samples on a session so the first real request does not pay for lazy initialisation. */
public final class Warmup {
    private Warmup() {
    }

    /** Runs {@code sample} on {@code session}; any failure is a {@link ModelLoadException} naming the sample. */
    public static void run(ModelSession session, WarmupSample sample) throws ModelLoadException {
        ModelSignature sig = session.signature();
        TensorBatch batch = new TensorBatch(sig);
        SplittableRandom random = new SplittableRandom(sample.name().hashCode());
        for (int i = 0; i < sig.inputs().size(); i++) {
            TensorSpec spec = sig.inputs().get(i);
            long[] shape = shapeFor(spec, sample);
            long[] target = batch.shape(i, shape.length);
            System.arraycopy(shape, 0, target, 0, shape.length);
            int elements = Math.toIntExact(TensorSpec.elements(shape));
            if (spec.dataType() == DataType.BYTES) {
                String[] s = batch.strings(i, elements);
                for (int e = 0; e < elements; e++) {
                    s[e] = sample.random() ? Integer.toString(random.nextInt(1000)) : "";
                }
            } else {
                ByteBuffer b = batch.buffer(i, elements * spec.dataType().byteSize());
                fill(b, spec.dataType(), sample.random() ? random : null);
            }
        }
        try {
            for (int n = 0; n < sample.count(); n++) {
                session.run(batch, null).close();
            }
        } catch (OrtException | RuntimeException e) {
            throw new ModelLoadException(session.label() + ": warm-up '" + sample.name() + "' failed: "
                    + e.getMessage(), e);
        }
    }

    private static long[] shapeFor(TensorSpec spec, WarmupSample sample) throws ModelLoadException {
        long[] model = spec.shape();
        long[] given = sample.dims().get(spec.name());
        boolean batched = sample.batchSize() > 0 && spec.hasBatchDimension();
        long[] shape = model.clone();
        if (given != null) {
            int offset = batched ? 1 : 0;
            if (given.length + offset != model.length) {
                throw new ModelLoadException("warm-up '" + sample.name() + "': dims for input '" + spec.name()
                        + "' have rank " + given.length + ", the model expects " + (model.length - offset)
                        + (batched ? " besides the batch dimension" : ""));
            }
            System.arraycopy(given, 0, shape, offset, given.length);
        }
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] < 0) {
                shape[d] = d == 0 && batched ? sample.batchSize() : 1;
            }
        }
        if (!spec.accepts(shape)) {
            throw new ModelLoadException("warm-up '" + sample.name() + "': shape "
                    + java.util.Arrays.toString(shape) + " does not fit input " + spec);
        }
        return shape;
    }

    private static void fill(ByteBuffer b, DataType type, SplittableRandom random) {
        int bytes = b.limit();
        if (random == null) {
            for (int i = 0; i < bytes; i++) {
                b.put(i, (byte) 0);
            }
            return;
        }
        switch (type) {
            case FP32 -> {
                for (int i = 0; i < bytes; i += 4) {
                    b.putFloat(i, (float) random.nextDouble());
                }
            }
            case FP64 -> {
                for (int i = 0; i < bytes; i += 8) {
                    b.putDouble(i, random.nextDouble());
                }
            }
            case FP16, BF16 -> {
                // 1.0 in each half-width format
                for (int i = 0; i < bytes; i += 2) {
                    b.putShort(i, (short) (type == DataType.FP16 ? 0x3C00 : 0x3F80));
                }
            }
            case BOOL -> {
                for (int i = 0; i < bytes; i++) {
                    b.put(i, (byte) (random.nextBoolean() ? 1 : 0));
                }
            }
            default -> {
                for (int i = 0; i < bytes; i++) {
                    b.put(i, (byte) random.nextInt(8));
                }
            }
        }
    }
}
