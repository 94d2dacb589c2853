package io.mlserve.runtime;

import java.util.Arrays;

/** Name, datatype and shape of one model input or output; -1 marks a dimension of any size. */
public record TensorSpec(String name, DataType dataType, long[] shape) {

    public TensorSpec {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    /** Size of dimension {@code i}, -1 when variable. */
    public long dim(int i) {
        return shape[i];
    }

    /** Whether the first dimension is variable, i.e. requests may stack rows along it. */
    public boolean hasBatchDimension() {
        return shape.length > 0 && shape[0] == -1;
    }

    /** Elements in a tensor of {@code shape} (all dimensions fixed); ArithmeticException on overflow. */
    public static long elements(long[] shape) {
        long e = 1;
        for (long d : shape) {
            e = Math.multiplyExact(e, d);
        }
        return e;
    }

    /** Whether {@code candidate} fits this spec: same rank, and equal wherever this spec is fixed. */
    public boolean accepts(long[] candidate) {
        if (candidate.length != shape.length) {
            return false;
        }
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] >= 0 && shape[i] != candidate[i]) {
                return false;
            }
        }
        return true;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorSpec t && t.name.equals(name) && t.dataType == dataType
                && Arrays.equals(t.shape, shape);
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return name + ":" + dataType.oipName() + Arrays.toString(shape);
    }
}
