package io.mlserve.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.mlserve.registry.MlflowClient.AliasTarget;
import io.mlserve.registry.MlflowClient.ArtifactEntry;
import io.mlserve.registry.MlflowClient.ArtifactLocation;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An MLflow model registry as a source. For each tracked model the versions its aliases point at ("champion",
 * "challenger") are downloaded through the tracking server's artifact proxy into a cache laid out like the
 * file-system repository, and the aliases become the roles of the result.
 *
 * <p>A pass over a model: look every alias up; download each READY version not cached yet, whole, into a hidden
 * directory that is checked against its metadata.json checksums and then renamed into place; put the config.json
 * of the first alias's version at model level; only then take out cached versions no role points at (all of them
 * when no alias is set any more). An alias whose version is not READY, or did not download, keeps the version it
 * had, so what is served stays served. When MLflow cannot be reached or answers 5xx or nonsense, the model's cache
 * is left alone and its roles are the last known ones: from memory, or after a restart from
 * {@code <model>/.roles.json}.
 *
 * <p>Threads: {@link #sync} is synchronized and the only writer of the cache and of this object's state (one source
 * per cache directory); {@link #setRole} only talks to MLflow. The HTTP client's threads are daemons that end when
 * it is dropped, so there is nothing to close.
 */
public final class MlflowSource implements RegistrySource {
    private static final Logger LOG = LoggerFactory.getLogger(MlflowSource.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CONFIG_FILE = "config.json";
    /** The file metadata.json's top-level sha256 is of. */
    private static final String MODEL_FILE = "model.onnx";
    /** The roles of the last successful pass, for serving across a restart while MLflow is away. */
    private static final String ROLES_FILE = ".roles.json";
    /** Hidden names this source writes and renames; what is left of them after a crash is removed. */
    private static final String TMP = ".tmp-";
    private static final String DELETING = ".deleting-";
    /** A model version is a handful of files; a deeper tree means a listing that loops. */
    private static final int MAX_DEPTH = 32;

    /**
     * How to reach MLflow and what to follow.
     *
     * @param baseUri   the tracking server, e.g. {@code http://mlflow:5000}; a path prefix is kept
     * @param token     sent as {@code Authorization: Bearer <token>} to that server only; null (or blank) for none
     * @param models    registered model names to follow; each is a directory of the cache
     * @param aliases   the aliases that are roles, in order of precedence for the model-level config.json
     * @param cacheRoot the local repository the server loads from
     * @param timeout   per call, for connecting and for the answer to start
     */
    public record Options(URI baseUri, String token, List<String> models, List<String> aliases, Path cacheRoot,
                          Duration timeout) {
        public static final List<String> DEFAULT_ALIASES = List.of("champion", "challenger");
        public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);

        public Options {
            baseUri = checkBase(baseUri);
            token = token == null || token.isBlank() ? null : token.strip();
            if (token != null && !token.chars().allMatch(c -> c > 0x20 && c < 0x7f)) {
                throw new IllegalArgumentException("MLflow token: only visible ASCII characters can go in a header");
            }
            if (models == null || models.isEmpty()) {
                throw new IllegalArgumentException("MLflow source: no model to follow; list the registered models");
            }
            for (String m : models) {
                if (m == null || m.isBlank() || m.startsWith(".") || m.contains("/") || m.contains("\\")
                        || m.indexOf('\0') >= 0) {
                    throw new IllegalArgumentException("MLflow model name '" + m + "' cannot be a directory of the"
                            + " cache (empty, starts with '.', or holds a slash)");
                }
            }
            models = List.copyOf(new LinkedHashSet<>(models));
            if (aliases == null || aliases.isEmpty() || aliases.stream().anyMatch(a -> a == null || a.isBlank())) {
                throw new IllegalArgumentException("MLflow aliases: give at least one, none blank (default "
                        + DEFAULT_ALIASES + ")");
            }
            aliases = List.copyOf(new LinkedHashSet<>(aliases));
            if (cacheRoot == null) {
                throw new IllegalArgumentException("MLflow source: no cache directory");
            }
            cacheRoot = cacheRoot.toAbsolutePath().normalize();
            if (timeout == null || timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("MLflow timeout must be positive, got " + timeout);
            }
        }

        /** With the default aliases (champion, challenger) and timeout (10 s). */
        public Options(URI baseUri, String token, List<String> models, Path cacheRoot) {
            this(baseUri, token, models, DEFAULT_ALIASES, cacheRoot, DEFAULT_TIMEOUT);
        }

        private static URI checkBase(URI uri) {
            if (uri == null) {
                throw new IllegalArgumentException("MLflow base URI is missing, e.g. http://mlflow:5000");
            }
            if (uri.getRawUserInfo() != null) {
                // not echoed: it holds a credential
                throw new IllegalArgumentException("MLflow base URI must not carry user:password; pass the token");
            }
            String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
            if (!scheme.equals("http") && !scheme.equals("https") || uri.getHost() == null) {
                throw new IllegalArgumentException("MLflow base URI must be http(s)://host[:port][/prefix], got '"
                        + uri + "'");
            }
            if (uri.getRawQuery() != null || uri.getRawFragment() != null) {
                throw new IllegalArgumentException("MLflow base URI must have no query or fragment, got '" + uri + "'");
            }
            String path = uri.getRawPath() == null ? "" : uri.getRawPath().replaceAll("/+$", "");
            return URI.create(scheme + "://" + uri.getRawAuthority() + path);
        }

        @Override
        public String toString() {
            return "Options[baseUri=" + baseUri + ", token=" + (token == null ? "none" : "***") + ", models=" + models
                    + ", aliases=" + aliases + ", cacheRoot=" + cacheRoot + ", timeout=" + timeout + "]";
        }
    }

    private final Options options;
    private final MlflowClient registry;
    /** Per model, the roles of its last successful pass. Owned by {@link #sync}. */
    private final Map<String, Map<String, Long>> knownRoles = new HashMap<>();
    /** Per model, {@link FileSystemSource#fingerprint} of its cache directory after the previous pass. */
    private final Map<String, String> fingerprints = new HashMap<>();

    /** Creates the cache directory if needed; fails here, not at the first pass, when it cannot. */
    public MlflowSource(Options options) {
        this.options = options;
        this.registry = new MlflowClient(options.baseUri(), options.token(), options.timeout());
        try {
            Files.createDirectories(options.cacheRoot());
        } catch (IOException e) {
            throw new UncheckedIOException("MLflow cache directory " + options.cacheRoot() + " cannot be created: "
                    + e, e);
        }
    }

    @Override
    public synchronized SyncResult sync() {
        Set<String> changed = new HashSet<>();
        Map<String, Map<String, Long>> roles = new HashMap<>();
        List<String> errors = new ArrayList<>();
        for (String model : options.models()) {
            Path dir = options.cacheRoot().resolve(model);
            try {
                roles.put(model, syncModel(model, dir, errors));
            } catch (RuntimeException e) {
                LOG.warn("model {}: pass failed", model, e);
                errors.add("model " + model + ": pass failed: " + registry.describe(e));
                roles.put(model, lastKnownRoles(model, dir));
            }
            try {
                String now = Files.isDirectory(dir) ? FileSystemSource.fingerprint(dir) : "";
                if (!now.equals(fingerprints.getOrDefault(model, ""))) {
                    changed.add(model);
                }
                fingerprints.put(model, now);
            } catch (IOException | java.io.UncheckedIOException e) {
                errors.add("model " + model + ": cannot read the cache " + dir + ": " + e.getMessage());
            }
        }
        Map<String, Map<String, Long>> byRole = new HashMap<>();
        roles.forEach((model, byAlias) -> {
            Map<String, Long> r = new LinkedHashMap<>();
            byAlias.forEach((alias, version) -> r.put(role(alias), version));
            byRole.put(model, r);
        });
        return new SyncResult(changed, byRole, errors);
    }

    /** The role an alias stands for: the first alias is the champion, the second the challenger. */
    private String role(String alias) {
        int i = options.aliases().indexOf(alias);
        return i == 0 ? "champion" : i == 1 ? "challenger" : alias;
    }

    /** The alias that stands for a role. */
    private String alias(String role) {
        List<String> a = options.aliases();
        return role.equals("champion") && !a.isEmpty() ? a.get(0)
                : role.equals("challenger") && a.size() > 1 ? a.get(1) : role;
    }

    /** One model's pass; returns its roles. */
    private Map<String, Long> syncModel(String model, Path dir, List<String> errors) {
        Map<String, Long> served = lastKnownRoles(model, dir);
        Map<String, AliasTarget> targets = new LinkedHashMap<>();
        try {
            for (String alias : options.aliases()) {
                registry.versionByAlias(model, alias).ifPresent(t -> targets.put(alias, t));
            }
        } catch (IOException e) {
            errors.add("model " + model + ": " + registry.describe(e) + "; cache unchanged, roles stay " + served);
            return served;
        }
        String championAlias = options.aliases().get(0);
        if (!targets.containsKey(championAlias) && served.containsKey(championAlias)) {
            // an MLflow with an emptied backend, a renamed model or a mistyped alias all look like "no champion":
            // never let that take the serving version away; moving the alias does, removing it does not
            errors.add("model " + model + ": MLflow names no " + championAlias + " (alias not set, or the model is "
                    + "gone); keeping version " + served.get(championAlias) + " and the cache as they are");
            return served;
        }
        removeLeftovers(model, dir, errors);

        Map<String, Long> roles = new LinkedHashMap<>();
        Set<Long> failed = new HashSet<>();
        for (Map.Entry<String, AliasTarget> e : targets.entrySet()) {
            String alias = e.getKey();
            long version = e.getValue().version();
            boolean usable = false;
            if (!e.getValue().ready()) {
                errors.add("model " + model + " version " + version + " is " + e.getValue().status()
                        + ", not READY" + keeping(alias, served));
            } else if (Files.isDirectory(versionDir(dir, version))) {
                usable = true;
            } else if (!failed.contains(version)) {
                try {
                    download(model, version, dir);
                    usable = true;
                } catch (IOException ex) {
                    failed.add(version);
                    errors.add("model " + model + " version " + version + ": download failed: " + registry.describe(ex)
                            + keeping(alias, served));
                }
            }
            if (usable) {
                roles.put(alias, version);
            } else if (served.containsKey(alias)) {
                roles.put(alias, served.get(alias));
            }
        }
        if (!roles.isEmpty()) {
            updateConfig(model, dir, roles, errors);
        }
        // the champion served until now stays cached one more pass, so that it is still there if its successor fails
        // to load (and a rollback to it needs no download)
        Set<Long> keep = new HashSet<>(roles.values());
        if (served.containsKey(championAlias)) {
            keep.add(served.get(championAlias));
        }
        removeUnused(model, dir, keep, errors);
        knownRoles.put(model, roles);
        saveRoles(model, dir, roles, served, errors);
        return roles;
    }

    private static String keeping(String alias, Map<String, Long> served) {
        Long old = served.get(alias);
        return old == null ? "; " + alias + " not served yet" : "; " + alias + " stays on version " + old;
    }

    /**
     * Downloads every file below the version's artifact directory into {@code <model>/.<version>.tmp-*}, checks the
     * checksums its metadata.json lists, and renames it to {@code <model>/<version>}; on any failure the temporary
     * directory goes and nothing appears.
     */
    private void download(String model, long version, Path modelDir) throws IOException {
        ArtifactLocation from = registry.artifactLocation(registry.downloadUri(model, version));
        Files.createDirectories(modelDir);
        Path tmp = Files.createDirectory(modelDir.resolve("." + version + TMP + suffix()));
        try {
            int files = copyTree(from, from.dir(), tmp, tmp, 0);
            if (files == 0) {
                throw new IOException("the artifact directory '" + from.dir() + "' holds no file");
            }
            // before the rename: a corrupt version must not replace the one being served, which would then go
            VersionChecksum.verify(tmp, MODEL_FILE);
            Files.move(tmp, versionDir(modelDir, version), StandardCopyOption.ATOMIC_MOVE);
            LOG.info("model {} version {}: downloaded {} files from {}", model, version, files, from.dir());
        } catch (IOException | RuntimeException e) {
            try {
                deleteTree(tmp);
            } catch (IOException d) {
                e.addSuppressed(d);
            }
            throw e;
        }
    }

    /** Copies {@code remoteDir} into {@code localDir}, which lies in {@code root}; returns the number of files. */
    private int copyTree(ArtifactLocation from, String remoteDir, Path localDir, Path root, int depth)
            throws IOException {
        if (depth > MAX_DEPTH) {
            throw new IOException("the artifact tree '" + from.dir() + "' is deeper than " + MAX_DEPTH + " levels");
        }
        int files = 0;
        for (ArtifactEntry entry : registry.list(from, remoteDir)) {
            Path local = inside(root, localDir, entry.path());
            String remote = remoteDir.isEmpty() ? entry.path() : remoteDir + "/" + entry.path();
            if (entry.dir()) {
                Files.createDirectories(local);
                files += copyTree(from, remote, local, root, depth + 1);
            } else {
                Files.createDirectories(local.getParent());
                registry.download(from, remote, local, entry.size());
                files++;
            }
        }
        return files;
    }

    /** {@code dir/name}, refused unless it is a relative path that stays inside {@code root}. */
    static Path inside(Path root, Path dir, String name) throws IOException {
        boolean plain = !name.isEmpty() && !name.startsWith("/") && !name.contains("\\") && name.indexOf('\0') < 0
                && Arrays.stream(name.split("/", -1)).noneMatch(s -> s.isEmpty() || s.equals(".") || s.equals(".."));
        Path p = null;
        if (plain) {
            try {
                p = dir.resolve(name).normalize();
            } catch (InvalidPathException e) {
                p = null;
            }
        }
        if (p == null || !p.startsWith(root) || p.equals(root)) {
            throw new IOException("artifact path '" + name + "' would leave the version directory; refused");
        }
        return p;
    }

    /**
     * config.json of the first alias (in the configured order) whose version has one goes to model level, written
     * aside and renamed over the old one; a model served without any gets {@code {"name": <model>}}.
     */
    private void updateConfig(String model, Path dir, Map<String, Long> roles, List<String> errors) {
        Path target = dir.resolve(CONFIG_FILE);
        try {
            byte[] wanted = null;
            for (String alias : options.aliases()) {
                Long v = roles.get(alias);
                Path candidate = v == null ? null : versionDir(dir, v).resolve(CONFIG_FILE);
                if (candidate != null && Files.isRegularFile(candidate)) {
                    wanted = Files.readAllBytes(candidate);
                    break;
                }
            }
            boolean exists = Files.isRegularFile(target);
            if (wanted == null) {
                if (exists) {
                    return;
                }
                wanted = JSON.writeValueAsBytes(JSON.createObjectNode().put("name", model));
            }
            if (!exists || !Arrays.equals(wanted, Files.readAllBytes(target))) {
                writeAtomically(target, wanted);
                LOG.info("model {}: config.json updated", model);
            }
        } catch (IOException e) {
            errors.add("model " + model + ": cannot write " + target + ": " + registry.describe(e));
        }
    }

    /**
     * Versions no role points at leave the cache: renamed to a hidden name first, so the loader never sees a
     * half-deleted version, then deleted.
     */
    private void removeUnused(String model, Path dir, Set<Long> keep, List<String> errors) {
        if (!Files.isDirectory(dir)) {
            return;
        }
        for (long version : cachedVersions(model, dir, errors)) {
            if (keep.contains(version)) {
                continue;
            }
            Path doomed = dir.resolve("." + version + DELETING + suffix());
            try {
                Files.move(versionDir(dir, version), doomed, StandardCopyOption.ATOMIC_MOVE);
                deleteTree(doomed);
                LOG.info("model {} version {}: removed from the cache, no alias points at it", model, version);
            } catch (IOException e) {
                errors.add("model " + model + " version " + version + ": cannot remove it from the cache: "
                        + registry.describe(e));
            }
        }
    }

    private List<Long> cachedVersions(String model, Path dir, List<String> errors) {
        List<Long> versions = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            s.filter(p -> Files.isDirectory(p)
                            && FileSystemSource.VERSION_DIR.matcher(p.getFileName().toString()).matches())
                    .forEach(p -> versions.add(Long.parseLong(p.getFileName().toString())));
        } catch (IOException e) {
            errors.add("model " + model + ": cannot list " + dir + ": " + registry.describe(e));
        }
        return versions;
    }

    /** Temporary and half-deleted entries an interrupted earlier pass left behind. */
    private void removeLeftovers(String model, Path dir, List<String> errors) {
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (Stream<Path> s = Files.list(dir)) {
            for (Iterator<Path> it = s.iterator(); it.hasNext(); ) {
                Path p = it.next();
                String n = p.getFileName().toString();
                if (n.startsWith(".") && (n.contains(TMP) || n.contains(DELETING))) {
                    deleteTree(p);
                }
            }
        } catch (IOException e) {
            errors.add("model " + model + ": cannot clean " + dir + ": " + registry.describe(e));
        }
    }

    /** The roles to keep serving when MLflow gives none: this run's last, or the ones saved on disk. */
    private Map<String, Long> lastKnownRoles(String model, Path dir) {
        Map<String, Long> known = knownRoles.get(model);
        if (known == null) {
            known = new LinkedHashMap<>();
            Path file = dir.resolve(ROLES_FILE);
            if (Files.isRegularFile(file)) {
                try {
                    JsonNode saved = JSON.readTree(file.toFile());
                    for (Map.Entry<String, JsonNode> e : saved.properties()) {
                        if (e.getValue().canConvertToLong() && e.getValue().asLong() > 0) {
                            known.put(e.getKey(), e.getValue().asLong());
                        }
                    }
                } catch (IOException e) {
                    LOG.warn("model {}: {} unreadable, no roles until MLflow answers: {}", model, file, e.toString());
                }
            }
        }
        Map<String, Long> cached = new LinkedHashMap<>();
        known.forEach((alias, version) -> {
            if (Files.isDirectory(versionDir(dir, version))) {
                cached.put(alias, version);
            }
        });
        return cached;
    }

    private void saveRoles(String model, Path dir, Map<String, Long> roles, Map<String, Long> before,
                           List<String> errors) {
        Path file = dir.resolve(ROLES_FILE);
        boolean saved = Files.isRegularFile(file);
        if (!Files.isDirectory(dir) || saved && roles.equals(before) || !saved && roles.isEmpty()) {
            return;
        }
        ObjectNode json = JSON.createObjectNode();
        roles.forEach(json::put);
        try {
            writeAtomically(file, JSON.writeValueAsBytes(json));
        } catch (IOException e) {
            errors.add("model " + model + ": cannot save its roles to " + file + ": " + registry.describe(e));
        }
    }

    private static void writeAtomically(Path target, byte[] content) throws IOException {
        Path tmp = target.resolveSibling("." + target.getFileName() + TMP + suffix());
        try {
            Files.write(tmp, content);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            for (Iterator<Path> it = s.sorted(Comparator.reverseOrder()).iterator(); it.hasNext(); ) {
                Files.deleteIfExists(it.next());
            }
        }
    }

    private static Path versionDir(Path modelDir, long version) {
        return modelDir.resolve(Long.toString(version));
    }

    private static String suffix() {
        return Long.toUnsignedString(ThreadLocalRandom.current().nextLong(), 36);
    }

    /**
     * Points alias {@code role} of {@code model} at {@code version} in MLflow, or removes the alias when version is
     * 0. The cache follows at the next {@link #sync}.
     *
     * @throws IOException with MLflow's answer when it refuses, or when it cannot be reached
     */
    @Override
    public void setRole(String model, String roleName, long version) throws IOException {
        String role = alias(roleName);
        if (version < 0) {
            throw new IllegalArgumentException("version must be positive, or 0 to remove the role; got " + version);
        }
        try {
            if (version == 0) {
                registry.deleteAlias(model, role);
            } else {
                registry.setAlias(model, role, version);
            }
        } catch (IOException e) {
            String what = version == 0 ? "remove alias " + role + " of model " + model
                    : "point alias " + role + " of model " + model + " at version " + version;
            throw new IOException("MLflow: cannot " + what + ": " + registry.describe(e), e);
        }
        LOG.info("model {}: alias {} {} in MLflow", model, role,
                version == 0 ? "removed" : "now on version " + version);
    }

    @Override
    public Path localRoot() {
        return options.cacheRoot();
    }

    @Override
    public String describe() {
        return "MLflow " + options.baseUri() + " (models " + String.join(", ", options.models()) + "; aliases "
                + String.join(", ", options.aliases()) + ")";
    }
}
