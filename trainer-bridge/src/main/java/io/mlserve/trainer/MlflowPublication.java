package io.mlserve.trainer;

import io.mlserve.registry.MlflowPublisher;
import io.mlserve.registry.MlflowSource;
import io.mlserve.registry.SyncResult;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One registry for trainer and servers: versions are numbered and published by the MLflow tracking server the servers
 * sync from ({@link MlflowPublisher}: a run with the version's metrics and files, a registered model version, the
 * challenger alias on it), and before each job the serving champion and challenger are brought from it into the
 * trainer's registry directory ({@link MlflowSource}, checksums verified) so the quality gate scores the version that
 * serves. The directory is a working copy: a version in it that MLflow does not have (a publication that failed) is
 * replaced by the next one.
 */
public final class MlflowPublication implements Publication {
    private static final Logger LOG = LoggerFactory.getLogger(MlflowPublication.class);
    /** Below the trainer's registry directory: the MLflow source's own cache. */
    static final String CACHE = ".mlflow-cache";

    private final URI uri;
    private final String token;
    private final MlflowPublisher publisher;
    private final List<String> aliases;

    /**
     * @param aliases the servers' aliases: the first is the champion, the second the challenger a new version gets
     */
    public MlflowPublication(URI uri, String token, String experiment, List<String> aliases) {
        if (aliases.size() != 2) {
            throw new IllegalArgumentException("--mlflow-aliases: two aliases, the champion's and the challenger's; "
                    + "got " + aliases);
        }
        this.uri = uri;
        this.token = token;
        this.aliases = List.copyOf(aliases);
        this.publisher = new MlflowPublisher(new MlflowPublisher.Options(uri, token, experiment, aliases.get(1),
                MlflowSource.Options.DEFAULT_TIMEOUT));
    }

    @Override
    public long prepare(String model, Path registry) throws IOException {
        Path cache = registry.resolve(CACHE);
        MlflowSource source = new MlflowSource(new MlflowSource.Options(uri, token, List.of(model), aliases, cache,
                MlflowSource.Options.DEFAULT_TIMEOUT));
        SyncResult r = source.sync();
        if (!r.errors().isEmpty()) {
            throw new IOException("MLflow at " + uri + ": " + String.join("; ", r.errors()));
        }
        Map<String, Long> roles = r.roles().getOrDefault(model, Map.of());
        for (long v : roles.values()) {
            Path target = registry.resolve(model).resolve(Long.toString(v));
            if (!Files.isDirectory(target)) {
                copy(cache.resolve(model).resolve(Long.toString(v)), target);
            }
        }
        Long champion = roles.get("champion");
        LOG.info("model {}: MLflow roles {} (in {})", model, roles, registry.resolve(model));
        return champion == null ? 0 : champion;
    }

    @Override
    public long nextVersion(String model, long localNext) throws IOException {
        return publisher.nextVersion(model);
    }

    @Override
    public void published(String model, long version, Path versionDir, Path modelConfig) throws IOException {
        MlflowPublisher.Published p = publisher.publish(model, version, versionDir, modelConfig);
        LOG.info("model {}: version {} published to MLflow {} (run {}), alias {}", model, version, uri, p.runId(),
                aliases.get(1));
    }

    @Override
    public boolean remote() {
        return true;
    }

    private static void copy(Path from, Path to) throws IOException {
        Path tmp = to.resolveSibling(to.getFileName() + ".copy");
        Files.createDirectories(tmp);
        try (Stream<Path> files = Files.walk(from)) {
            for (Path f : files.toList()) {
                Path t = tmp.resolve(from.relativize(f).toString());
                if (Files.isDirectory(f)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(f, t, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
        Files.move(tmp, to, StandardCopyOption.ATOMIC_MOVE);
    }

    /** The token in {@code file} (trimmed), or null for none. */
    static String token(Path file) throws IOException {
        return file == null ? null : Files.readString(file).trim();
    }

    /** For messages: where versions go. */
    @Override
    public String toString() {
        return "MLflow " + uri + " (aliases " + aliases + ")";
    }
}
