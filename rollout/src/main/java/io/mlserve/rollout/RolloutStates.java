package io.mlserve.rollout;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Rollout state per model, kept in memory and persisted as {@code <dir>/<model>.json} (written to a temporary file,
 * forced, renamed), so a restart — or a kill -9 — resumes with the same champion, challenger and refused versions.
 * With no directory the state lives in memory only.
 */
public final class RolloutStates {
    private static final Logger LOG = LoggerFactory.getLogger(RolloutStates.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Path dir;
    private final ConcurrentHashMap<String, RolloutState> states = new ConcurrentHashMap<>();

    public RolloutStates(Path dir) {
        this.dir = dir;
    }

    /** The model's state (read from disk the first time), EMPTY when it has none. */
    public RolloutState get(String model) {
        return states.computeIfAbsent(model, this::read);
    }

    /** Replaces the model's state and persists it before returning. */
    public synchronized void put(String model, RolloutState s) {
        states.put(model, s);
        if (dir == null) {
            return;
        }
        ObjectNode n = JSON.createObjectNode().put("champion", s.champion()).put("challenger", s.challenger())
                .put("challenger_since_ms", s.challengerSinceMs());
        s.rejected().stream().sorted().forEach(n.putArray("rejected")::add);
        try {
            Files.createDirectories(dir);
            Path tmp = dir.resolve("." + model + ".json.tmp");
            Files.write(tmp, JSON.writeValueAsBytes(n));
            try (var ch = java.nio.channels.FileChannel.open(tmp, java.nio.file.StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            Files.move(tmp, dir.resolve(model + ".json"), StandardCopyOption.ATOMIC_MOVE,
                    StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            LOG.error("rollout state of {} not persisted to {}: {}", model, dir, e.toString());
        }
    }

    private RolloutState read(String model) {
        if (dir == null) {
            return RolloutState.EMPTY;
        }
        Path f = dir.resolve(model + ".json");
        if (!Files.isRegularFile(f)) {
            return RolloutState.EMPTY;
        }
        try {
            JsonNode n = JSON.readTree(f.toFile());
            Set<Long> rejected = new HashSet<>();
            n.path("rejected").forEach(v -> rejected.add(v.asLong()));
            return new RolloutState(n.path("champion").asLong(), n.path("challenger").asLong(),
                    n.path("challenger_since_ms").asLong(), rejected);
        } catch (IOException e) {
            LOG.error("rollout state {} unreadable ({}); starting from none", f, e.toString());
            return RolloutState.EMPTY;
        }
    }
}
