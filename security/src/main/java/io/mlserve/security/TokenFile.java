package io.mlserve.security;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bearer tokens the server accepts ({@code --auth-tokens FILE}): one entry per line,
 * {@code <sha256 hex of the token> <principal> <role>[,<role>...] [models=<m>[,<m>...]]}; {@code #} starts a comment.
 * Only hashes are stored, so the file does not hold usable secrets; a presented token is hashed and looked up. The
 * file is re-read when it changes (checked every second, off the request path); a file with a bad line is refused
 * whole, with the line named, and the previous tokens stay in force. Tokens are never logged.
 */
public final class TokenFile implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TokenFile.class);
    private static final ThreadLocal<MessageDigest> SHA256 = ThreadLocal.withInitial(() -> {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    });
    private final Path file;
    /**
     * The file's tokens by hash, and those already accepted by value so a known caller costs a map lookup rather than a
     * hash per request. Replaced whole on reload: an acceptance cached against the old file dies with it. Only tokens
     * the file lists are cached, so the cache is bounded by the file.
     */
    private record Tokens(Map<String, Principal> byHash,
                          java.util.concurrent.ConcurrentHashMap<String, Principal> accepted) {
        Tokens(Map<String, Principal> byHash) {
            this(byHash, new java.util.concurrent.ConcurrentHashMap<>());
        }
    }

    private volatile Tokens tokens;
    private volatile String stamp = "";
    private final ScheduledExecutorService watcher;

    public TokenFile(Path file, long checkMillis) throws IOException {
        this.file = file;
        tokens = new Tokens(parse(file));
        stamp = stamp();
        watcher = Watchers.daemon("mlserve-auth-reload");
        watcher.scheduleWithFixedDelay(this::reloadIfChanged, checkMillis, checkMillis, TimeUnit.MILLISECONDS);
    }

    /** The file's content hash: a rotated token has the same size and may keep the modification time. */
    private String stamp() throws IOException {
        return HexFormat.of().formatHex(SHA256.get().digest(Files.readAllBytes(file)));
    }

    private void reloadIfChanged() {
        try {
            String now = stamp();
            if (!now.equals(stamp)) {
                tokens = new Tokens(parse(file));
                stamp = now;
                LOG.info("auth: {} reloaded ({} tokens)", file, tokens.byHash().size());
            }
        } catch (IOException | IllegalArgumentException e) {
            LOG.error("auth: {} not reloaded, the previous tokens stay in force: {}", file, e.getMessage());
        }
    }

    /** Parses a token file; every mistake names its line. */
    static Map<String, Principal> parse(Path file) throws IOException {
        Map<String, Principal> out = new HashMap<>();
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        for (int n = 0; n < lines.size(); n++) {
            String line = lines.get(n);
            int hash = line.indexOf('#');
            String text = (hash >= 0 ? line.substring(0, hash) : line).strip();
            if (text.isEmpty()) {
                continue;
            }
            String[] f = text.split("\\s+");
            String where = file + ":" + (n + 1) + ": ";
            if (f.length < 3 || f.length > 4) {
                throw new IllegalArgumentException(where + "expected <sha256 hex> <principal> <role>[,<role>...] "
                        + "[models=<m>,...], got " + f.length + " fields");
            }
            if (!f[0].matches("[0-9a-fA-F]{64}")) {
                throw new IllegalArgumentException(where + "the first field must be the 64 hex digits of the token's "
                        + "sha256 (e.g. printf %s \"$TOKEN\" | sha256sum)");
            }
            Set<Role> roles = new HashSet<>();
            for (String r : f[2].split(",")) {
                try {
                    roles.add(Role.parse(r));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException(where + e.getMessage());
                }
            }
            Set<String> models = new HashSet<>();
            if (f.length == 4) {
                if (!f[3].startsWith("models=") || f[3].length() == "models=".length()) {
                    throw new IllegalArgumentException(where + "the fourth field must be models=<m>[,<m>...]");
                }
                models.addAll(Arrays.asList(f[3].substring("models=".length()).split(",")));
            }
            if (out.put(f[0].toLowerCase(java.util.Locale.ROOT), new Principal(f[1], roles, models)) != null) {
                throw new IllegalArgumentException(where + "the same token hash appears twice");
            }
        }
        return Map.copyOf(out);
    }

    /** The principal whose token this is, or null. */
    public Principal principal(String token) {
        Tokens t = tokens;
        Principal known = t.accepted().get(token);
        if (known != null) {
            return known;
        }
        Principal p = t.byHash().get(hash(token));
        if (p != null) {
            t.accepted().put(token, p);
        }
        return p;
    }

    /** The sha256 hex of a token, as the file wants it. */
    public static String hash(String token) {
        return HexFormat.of().formatHex(SHA256.get().digest(token.getBytes(StandardCharsets.UTF_8)));
    }

    @Override
    public void close() {
        watcher.shutdownNow();
    }
}
