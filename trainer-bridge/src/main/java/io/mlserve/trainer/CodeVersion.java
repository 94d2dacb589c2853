package io.mlserve.trainer;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Properties;

/**
 * The code that trained a version, for its lineage: mlserve's version (from the build), the commit HEAD points at
 * in the git checkout the trainer's code sits in (read from .git when the run starts; null outside a checkout;
 * uncommitted changes are not detected), and the sha256 of the trainer jar that ran (which does identify them).
 */
final class CodeVersion {
    private CodeVersion() {
    }

    static ObjectNode into(ObjectNode node) {
        node.put("mlserve", buildVersion());
        Path code = codeLocation();
        node.put("git_commit", code == null ? null : gitCommit(code));
        node.put("trainer_jar_sha256", code != null && Files.isRegularFile(code) ? sha256(code) : null);
        return node;
    }

    private static String buildVersion() {
        try (InputStream in = CodeVersion.class.getResourceAsStream("build.properties")) {
            Properties p = new Properties();
            if (in != null) {
                p.load(in);
            }
            return p.getProperty("version", "unknown");
        } catch (IOException e) {
            return "unknown";
        }
    }

    private static Path codeLocation() {
        try {
            return Path.of(CodeVersion.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        } catch (Exception e) {
            return null;
        }
    }

    /** The commit HEAD points at in the nearest enclosing git checkout, or null. */
    static String gitCommit(Path from) {
        for (Path dir = from.toAbsolutePath(); dir != null; dir = dir.getParent()) {
            Path git = dir.resolve(".git");
            if (!Files.exists(git)) {
                continue;
            }
            try {
                if (Files.isRegularFile(git)) {
                    // a worktree or submodule: ".git" names the real git directory
                    String pointer = Files.readString(git).trim();
                    if (!pointer.startsWith("gitdir: ")) {
                        return null;
                    }
                    git = dir.resolve(pointer.substring(8)).normalize();
                }
                String head = Files.readString(git.resolve("HEAD")).trim();
                if (!head.startsWith("ref: ")) {
                    return head;
                }
                String ref = head.substring(5);
                Path loose = git.resolve(ref);
                if (Files.isRegularFile(loose)) {
                    return Files.readString(loose).trim();
                }
                for (String line : Files.readAllLines(git.resolve("packed-refs"))) {
                    if (line.endsWith(" " + ref)) {
                        return line.substring(0, line.indexOf(' '));
                    }
                }
            } catch (IOException e) {
                return null;
            }
            return null;
        }
        return null;
    }

    private static String sha256(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (IOException | java.security.NoSuchAlgorithmException e) {
            return null;
        }
    }
}
