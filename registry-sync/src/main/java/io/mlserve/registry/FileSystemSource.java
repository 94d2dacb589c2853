package io.mlserve.registry;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The file-system repository as a source: the directory itself is the local copy. A pass fingerprints every model
 * directory — config.json and every version directory whose name is a version number (size and modification time
 * of each file in it) — and reports the models whose fingerprint changed. Directories being written
 * ({@code 3.tmp-...}, hidden ones) are not version numbers and are ignored until they are renamed into place.
 */
public final class FileSystemSource implements RegistrySource {
    /** A version directory: a positive decimal without leading zeros. */
    public static final Pattern VERSION_DIR = Pattern.compile("[1-9][0-9]{0,17}");
    private final Path root;
    private final Map<String, String> fingerprints = new HashMap<>();

    public FileSystemSource(Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    @Override
    public synchronized SyncResult sync() {
        Set<String> changed = new HashSet<>();
        List<String> errors = new ArrayList<>();
        Map<String, String> now = new HashMap<>();
        try (Stream<Path> s = Files.list(root)) {
            for (Path dir : (Iterable<Path>) s::iterator) {
                String name = dir.getFileName().toString();
                if (!Files.isDirectory(dir) || name.startsWith(".")) {
                    continue;
                }
                try {
                    now.put(name, fingerprint(dir));
                } catch (IOException e) {
                    // a version removed while we looked: the next pass sees the settled state
                    errors.add(name + ": " + e);
                    String old = fingerprints.get(name);
                    if (old != null) {
                        now.put(name, old);
                    }
                }
            }
        } catch (IOException e) {
            errors.add("cannot list " + root + ": " + e);
            return new SyncResult(Set.of(), Map.of(), errors);
        }
        for (Map.Entry<String, String> e : now.entrySet()) {
            if (!e.getValue().equals(fingerprints.get(e.getKey()))) {
                changed.add(e.getKey());
            }
        }
        for (String gone : fingerprints.keySet()) {
            if (!now.containsKey(gone)) {
                changed.add(gone);
            }
        }
        fingerprints.clear();
        fingerprints.putAll(now);
        return new SyncResult(changed, Map.of(), errors);
    }

    /** config.json and each version directory's files: names, sizes, modification times. */
    static String fingerprint(Path modelDir) throws IOException {
        StringBuilder sb = new StringBuilder();
        Path config = modelDir.resolve("config.json");
        if (Files.isRegularFile(config)) {
            BasicFileAttributes a = Files.readAttributes(config, BasicFileAttributes.class);
            sb.append("config.json:").append(a.size()).append(':').append(a.lastModifiedTime().toMillis()).append(';');
        }
        List<Path> versions = new ArrayList<>();
        try (Stream<Path> s = Files.list(modelDir)) {
            s.filter(p -> Files.isDirectory(p) && VERSION_DIR.matcher(p.getFileName().toString()).matches())
                    .forEach(versions::add);
        }
        versions.sort(null);
        for (Path v : versions) {
            sb.append(v.getFileName()).append('{').append(versionFingerprint(v)).append('}');
        }
        return sb.toString();
    }

    /** One version directory's files: relative names, sizes, modification times. */
    public static String versionFingerprint(Path versionDir) throws IOException {
        StringBuilder sb = new StringBuilder();
        List<Path> files = new ArrayList<>();
        try (Stream<Path> s = Files.walk(versionDir)) {
            s.filter(Files::isRegularFile).forEach(files::add);
        }
        files.sort(null);
        for (Path f : files) {
            BasicFileAttributes a = Files.readAttributes(f, BasicFileAttributes.class);
            sb.append(versionDir.relativize(f)).append(':').append(a.size()).append(':')
                    .append(a.lastModifiedTime().toMillis()).append(';');
        }
        return sb.toString();
    }

    @Override
    public Path localRoot() {
        return root;
    }

    @Override
    public String describe() {
        return "file system " + root;
    }
}
