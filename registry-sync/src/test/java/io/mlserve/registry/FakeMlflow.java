package io.mlserve.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * An MLflow tracking server for tests: the Model Registry 2.0 endpoints and the mlflow-artifacts proxy that
 * {@link MlflowSource} uses, answered from memory (models, versions with status, aliases, artifact trees), with a
 * bearer token checked on every call. Used by this module's tests and the server's.
 */
public final class FakeMlflow implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    static final String ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts";

    static {
        // The JDK server writes headers and body separately; with Nagle on, each answer waits ~40 ms for the
        // client's delayed ACK. Read once, when the first server is created.
        System.setProperty("sun.net.httpserver.nodelay", "true");
    }

    static final class Version {
        volatile String status;
        volatile String artifactUri;
    }

    final String token;
    final HttpServer server;
    final Map<String, Map<Long, Version>> versions = new ConcurrentHashMap<>();
    public final Map<String, Map<String, Long>> aliases = new ConcurrentHashMap<>();
    /** Artifact path (below the proxy root) → content. */
    final Map<String, byte[]> files = new ConcurrentHashMap<>();
    /** Directory → the listing to answer instead of the real one. */
    final Map<String, String> listings = new ConcurrentHashMap<>();
    /** Artifact paths whose download answers 500. */
    final Set<String> failing = ConcurrentHashMap.newKeySet();
    final AtomicInteger fileDownloads = new AtomicInteger();
    public final List<String> aliasWrites = new CopyOnWriteArrayList<>();
    volatile boolean broken;
    volatile boolean garbled;

    public FakeMlflow(String token) throws IOException {
        this.token = token;
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.start();
    }

    public URI uri() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    public void addVersion(String model, long version, String status, Map<String, byte[]> artifacts) {
        Version v = new Version();
        v.status = status;
        v.artifactUri = "mlflow-artifacts:/models/" + model + "/" + version;
        versions.computeIfAbsent(model, k -> new ConcurrentHashMap<>()).put(version, v);
        artifacts.forEach((path, content) -> files.put("models/" + model + "/" + version + "/" + path, content));
    }

    public void setAlias(String model, String alias, long version) {
        aliases.computeIfAbsent(model, k -> new ConcurrentHashMap<>()).put(alias, version);
    }

    @Override
    public void close() {
        server.stop(0);
    }

    private void handle(HttpExchange ex) throws IOException {
        try {
            if (!("Bearer " + token).equals(ex.getRequestHeaders().getFirst("Authorization"))) {
                error(ex, 401, "UNAUTHENTICATED", "bad or missing credentials");
            } else if (broken) {
                error(ex, 500, "INTERNAL_ERROR", "database unavailable");
            } else if (garbled) {
                answer(ex, 200, "<html>maintenance</html>".getBytes(StandardCharsets.UTF_8));
            } else {
                route(ex);
            }
        } finally {
            ex.close();
        }
    }

    private void route(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath();
        Map<String, String> q = query(ex.getRequestURI().getRawQuery());
        String method = ex.getRequestMethod();
        if (path.equals("/api/2.0/mlflow/registered-models/alias") && method.equals("GET")) {
            Map<Long, Version> model = versions.get(q.get("name"));
            Long v = aliases.getOrDefault(q.get("name"), Map.of()).get(q.get("alias"));
            if (model == null) {
                error(ex, 404, "RESOURCE_DOES_NOT_EXIST", "Registered Model with name=" + q.get("name")
                        + " not found");
            } else if (v == null) {
                error(ex, 400, "INVALID_PARAMETER_VALUE", "Registered model alias " + q.get("alias")
                        + " not found.");
            } else {
                ObjectNode mv = JSON.createObjectNode().put("name", q.get("name")).put("version", v.toString())
                        .put("status", model.get(v).status).put("source", model.get(v).artifactUri)
                        .put("run_id", "r" + v);
                json(ex, 200, JSON.createObjectNode().set("model_version", mv));
            }
        } else if (path.equals("/api/2.0/mlflow/registered-models/alias")) {
            JsonNode body = JSON.readTree(ex.getRequestBody());
            aliasWrites.add(method + " " + body);
            String name = body.path("name").asText();
            if (!versions.containsKey(name)) {
                error(ex, 404, "RESOURCE_DOES_NOT_EXIST", "Registered Model with name=" + name + " not found");
                return;
            }
            Map<String, Long> a = aliases.computeIfAbsent(name, k -> new ConcurrentHashMap<>());
            if (method.equals("POST")) {
                a.put(body.path("alias").asText(), Long.parseLong(body.path("version").asText()));
            } else {
                a.remove(body.path("alias").asText());
            }
            json(ex, 200, JSON.createObjectNode());
        } else if (path.equals("/api/2.0/mlflow/model-versions/get-download-uri")) {
            Version v = versions.getOrDefault(q.get("name"), Map.of()).get(Long.parseLong(q.get("version")));
            json(ex, 200, JSON.createObjectNode().put("artifact_uri", v.artifactUri));
        } else if (path.equals(ARTIFACTS)) {
            list(ex, q.getOrDefault("path", ""));
        } else if (path.startsWith(ARTIFACTS + "/")) {
            String file = path.substring(ARTIFACTS.length() + 1);
            fileDownloads.incrementAndGet();
            if (failing.contains(file)) {
                error(ex, 500, "INTERNAL_ERROR", "storage read failed");
            } else if (!files.containsKey(file)) {
                error(ex, 404, "RESOURCE_DOES_NOT_EXIST", "no such artifact");
            } else {
                answer(ex, 200, files.get(file));
            }
        } else {
            error(ex, 404, "ENDPOINT_NOT_FOUND", "no endpoint " + path);
        }
    }

    /** Immediate children of {@code dir}, by name relative to it, as MLflow's proxy lists them. */
    private void list(HttpExchange ex, String dir) throws IOException {
        if (listings.containsKey(dir)) {
            answer(ex, 200, listings.get(dir).getBytes(StandardCharsets.UTF_8));
            return;
        }
        Map<String, JsonNode> children = new TreeMap<>();
        files.forEach((path, content) -> {
            if (path.startsWith(dir + "/")) {
                String rest = path.substring(dir.length() + 1);
                int slash = rest.indexOf('/');
                ObjectNode f = JSON.createObjectNode().put("path", slash < 0 ? rest : rest.substring(0, slash))
                        .put("is_dir", slash >= 0);
                if (slash < 0) {
                    f.put("file_size", content.length);
                }
                children.put(f.get("path").asText(), f);
            }
        });
        ObjectNode listing = JSON.createObjectNode();
        if (!children.isEmpty()) {
            ArrayNode array = listing.putArray("files");
            children.values().forEach(array::add);
        }
        json(ex, 200, listing);
    }

    private static Map<String, String> query(String raw) {
        Map<String, String> q = new HashMap<>();
        if (raw != null) {
            for (String pair : raw.split("&")) {
                int eq = pair.indexOf('=');
                q.put(URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8),
                        URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8));
            }
        }
        return q;
    }

    private static void error(HttpExchange ex, int status, String code, String message) throws IOException {
        json(ex, status, JSON.createObjectNode().put("error_code", code).put("message", message));
    }

    private static void json(HttpExchange ex, int status, JsonNode body) throws IOException {
        ex.getResponseHeaders().set("Content-Type", "application/json");
        answer(ex, status, JSON.writeValueAsBytes(body));
    }

    private static void answer(HttpExchange ex, int status, byte[] body) throws IOException {
        ex.sendResponseHeaders(status, body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
    }
}
