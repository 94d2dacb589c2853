package io.mlserve.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Checks a version directory against the checksums its {@code metadata.json} records (the trainer writes them):
 * {@code "sha256"} is the model file's, and an optional {@code "files": {"relative/path": "sha256", ...}} covers
 * the rest (external-data weight files). A mismatch or a listed file that is missing rejects the version.
 */
public final class VersionChecksum {
    /** How a version was checked. */
    public enum Result {
        /** Every listed checksum matched. */
        VERIFIED,
        /** No metadata.json, or one without checksums: nothing to check against. */
        UNVERIFIED
    }

    /** A checksum that does not match, or a listed file that is not there. */
    public static final class Mismatch extends IOException {
        public Mismatch(String message) {
            super(message);
        }
    }

    private VersionChecksum() {
    }

    /**
     * @param modelFile the model's file name inside the version directory (model.onnx)
     * @throws Mismatch    when a checksum differs or a listed file is missing
     * @throws IOException when metadata.json is not JSON or a file cannot be read
     */
    public static Result verify(Path versionDir, String modelFile) throws IOException {
        Path meta = versionDir.resolve("metadata.json");
        if (!Files.isRegularFile(meta)) {
            return Result.UNVERIFIED;
        }
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(meta.toFile());
        } catch (IOException e) {
            throw new IOException(meta + ": not valid JSON: " + e.getMessage(), e);
        }
        Map<String, String> expected = new LinkedHashMap<>();
        if (root.hasNonNull("sha256")) {
            expected.put(modelFile, root.get("sha256").asText());
        }
        root.path("files").properties().forEach(e -> expected.put(e.getKey(), e.getValue().asText()));
        if (expected.isEmpty()) {
            return Result.UNVERIFIED;
        }
        Path base = versionDir.toAbsolutePath().normalize();
        for (Map.Entry<String, String> e : expected.entrySet()) {
            Path file = base.resolve(e.getKey()).normalize();
            if (!file.startsWith(base)) {
                throw new Mismatch(meta + ": listed file '" + e.getKey() + "' is outside the version directory");
            }
            if (!Files.isRegularFile(file)) {
                throw new Mismatch(meta + " lists " + e.getKey() + ", which is missing");
            }
            String actual = sha256(file);
            if (!actual.equalsIgnoreCase(e.getValue())) {
                throw new Mismatch("sha256 of " + e.getKey() + " is " + actual + "; " + meta + " says "
                        + e.getValue());
            }
        }
        return Result.VERIFIED;
    }

    /**
     * Writes {@code metadata.json} with the model file's sha256 into a version directory, for versions published
     * without the trainer (which writes a fuller metadata.json itself).
     */
    public static void writeMetadata(Path versionDir, String modelFile) throws IOException {
        Files.writeString(versionDir.resolve("metadata.json"), "{\"sha256\": \""
                + sha256(versionDir.resolve(modelFile)) + "\"}");
    }

    /** Hex sha256 of a file, streamed. */
    public static String sha256(Path file) throws IOException {
        MessageDigest d;
        try {
            d = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        byte[] buf = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(file)) {
            for (int n = in.read(buf); n > 0; n = in.read(buf)) {
                d.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(d.digest());
    }
}
