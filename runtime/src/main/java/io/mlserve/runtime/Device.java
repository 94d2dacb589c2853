package io.mlserve.runtime;

/** Where a session runs: the CPU, or CUDA device {@code id}. */
public record Device(Kind kind, int id) {

    public enum Kind { CPU, CUDA }

    public static final Device CPU = new Device(Kind.CPU, 0);

    public Device {
        if (id < 0) {
            throw new IllegalArgumentException("device id must be >= 0, got " + id);
        }
    }

    public static Device cuda(int id) {
        return new Device(Kind.CUDA, id);
    }

    /** Parses {@code cpu}, {@code cuda} or {@code cuda:N}. */
    public static Device parse(String text) {
        String t = text.trim().toLowerCase(java.util.Locale.ROOT);
        if (t.equals("cpu")) {
            return CPU;
        }
        if (t.equals("cuda") || t.equals("gpu")) {
            return cuda(0);
        }
        if (t.startsWith("cuda:")) {
            try {
                return cuda(Integer.parseInt(t.substring(5)));
            } catch (NumberFormatException e) {
                // fall through to the message below
            }
        }
        throw new IllegalArgumentException("device must be 'cpu' or 'cuda:N', got '" + text + "'");
    }

    @Override
    public String toString() {
        return kind == Kind.CPU ? "cpu" : "cuda:" + id;
    }
}
