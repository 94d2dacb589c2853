package io.mlserve.security;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The audit log: appended records, filtered reads, a torn last line skipped. */
class AuditLogTest {
    @TempDir
    Path dir;

    @Test
    void theAuditLogAppendsFiltersAndSkipsATornLine() throws Exception {
        Path file = dir.resolve("audit/audit.log");
        try (AuditLog log = new AuditLog(file)) {
            log.record("rollout", "promote", "m", 1, 2, JsonNodeFactory.instance.objectNode().put("score_psi", 0.01));
            log.record("admin", "unload", "n", 3, 0, null);
        }
        Files.writeString(file, "{\"time\": \"torn", java.nio.file.StandardOpenOption.APPEND);
        try (AuditLog log = new AuditLog(file)) {
            log.record("registry", "load", "m", 0, 3, null);
            List<JsonNode> all = log.read(null, null, 10);
            // the torn line is skipped; the record appended after it starts a line of its own
            assertThat(all).extracting(n -> n.get("action").asText()).containsExactly("promote", "unload", "load");
            assertThat(log.read("m", "promote", 10)).singleElement().satisfies(n -> {
                assertThat(n.get("from_version").asLong()).isEqualTo(1);
                assertThat(n.get("to_version").asLong()).isEqualTo(2);
                assertThat(n.get("evidence").get("score_psi").asDouble()).isEqualTo(0.01);
            });
            assertThat(log.read("n", null, 10).get(0).has("to_version")).isFalse();
            assertThat(log.read(null, null, 1)).extracting(n -> n.get("action").asText()).containsExactly("load");
        }
    }
}
