package io.mlserve.security;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The append-only audit log: one JSON object per line — {@code time}, {@code actor}, {@code action}, {@code model},
 * {@code from_version}, {@code to_version}, {@code evidence} — for every load, rejection, promotion, rollback and
 * manual action. Each record is written with one append and forced to disk before {@link #record} returns, so an
 * acknowledged action survives a crash; a torn last line (power loss mid-write) is skipped when reading.
 */
public final class AuditLog implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(AuditLog.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Path file;
    private final FileChannel channel;

    public AuditLog(Path file) throws IOException {
        this.file = file.toAbsolutePath();
        Files.createDirectories(this.file.getParent());
        boolean torn = false;
        if (Files.exists(this.file) && Files.size(this.file) > 0) {
            try (FileChannel r = FileChannel.open(this.file, StandardOpenOption.READ)) {
                ByteBuffer last = ByteBuffer.allocate(1);
                r.read(last, r.size() - 1);
                torn = last.get(0) != '\n';
            }
        }
        this.channel = FileChannel.open(this.file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.APPEND);
        if (torn) {
            // a line torn by a crash: end it, so the next record is a line of its own
            channel.write(ByteBuffer.wrap(new byte[] {'\n'}));
        }
    }

    public Path file() {
        return file;
    }

    /**
     * Appends one record. An I/O failure is logged, not thrown: the action it describes has happened already.
     *
     * @param fromVersion 0 when there was none
     * @param toVersion   0 when there is none
     * @param evidence    what the decision rested on (may be empty)
     */
    public synchronized void record(String actor, String action, String model, long fromVersion, long toVersion,
                                    ObjectNode evidence) {
        ObjectNode line = JSON.createObjectNode().put("time", Instant.now().toString()).put("actor", actor)
                .put("action", action).put("model", model);
        if (fromVersion > 0) {
            line.put("from_version", fromVersion);
        }
        if (toVersion > 0) {
            line.put("to_version", toVersion);
        }
        line.set("evidence", evidence == null ? JSON.createObjectNode() : evidence);
        try {
            ByteBuffer b = ByteBuffer.wrap((JSON.writeValueAsString(line) + "\n").getBytes(StandardCharsets.UTF_8));
            while (b.hasRemaining()) {
                channel.write(b);
            }
            channel.force(false);
        } catch (IOException e) {
            LOG.error("audit log {}: could not append {} {} of {}: {}", file, actor, action, model, e.toString());
        }
    }

    /**
     * The last {@code limit} records, oldest first, of {@code model} (null: every model) and {@code action} (null:
     * every action).
     */
    public List<JsonNode> read(String model, String action, int limit) throws IOException {
        Deque<JsonNode> last = new ArrayDeque<>();
        try (BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                JsonNode n;
                try {
                    n = JSON.readTree(line);
                } catch (IOException e) {
                    continue; // a torn line from a crash mid-append
                }
                if (n == null || (model != null && !model.equals(n.path("model").asText()))
                        || (action != null && !action.equals(n.path("action").asText()))) {
                    continue;
                }
                last.addLast(n);
                if (last.size() > limit) {
                    last.removeFirst();
                }
            }
        }
        return new ArrayList<>(last);
    }

    @Override
    public synchronized void close() {
        try {
            channel.close();
        } catch (IOException e) {
            LOG.warn("audit log {}: close: {}", file, e.toString());
        }
    }
}
