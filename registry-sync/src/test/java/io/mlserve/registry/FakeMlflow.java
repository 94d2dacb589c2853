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
        /** model-versions/get calls left before a PENDING_REGISTRATION version settles. */
        volatile int pendingPolls;
    }

    /** A tracking run: its status, tags, logged metrics and parameters. */
    public static final class Run {
        public volatile String id;
        public volatile String status;
        public volatile JsonNode tags;
        public final Map<String, Double> metrics = new ConcurrentHashMap<>();
        public final Map<String, String> params = new ConcurrentHashMap<>();
    }

    /** Experiment name → id. */
    final Map<String, String> experiments = new ConcurrentHashMap<>();
    /** Run id → run. */
    public final Map<String, Run> runs = new ConcurrentHashMap<>();
    /** A new version stays PENDING_REGISTRATION for this many model-versions/get calls. */
    public volatile int registrationPolls;
    /** A pending version then settles as FAILED_REGISTRATION instead of READY. */
    public volatile boolean failRegistration;
    /** False: a model registry alone — experiments, runs and version search answer 404 ENDPOINT_NOT_FOUND. */
    public volatile boolean trackingApi = true;

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

    /** The uploaded or added file at {@code path} below the artifact root, or null. */
    public byte[] artifact(String path) {
        return files.get(path);
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
        if (!trackingApi && (path.startsWith("/api/2.0/mlflow/experiments/") || path.startsWith("/api/2.0/mlflow/runs/")
                || path.equals("/api/2.0/mlflow/model-versions/search"))) {
            error(ex, 404, "ENDPOINT_NOT_FOUND", "no endpoint " + path);
        } else if (path.equals("/api/2.0/mlflow/registered-models/get")) {
            Map<Long, Version> model = versions.get(q.get("name"));
            if (model == null) {
                error(ex, 404, "RESOURCE_DOES_NOT_EXIST", "Registered Model with name=" + q.get("name")
                        + " not found");
            } else {
                ArrayNode latest = JSON.createArrayNode();
                model.keySet().stream().max(Long::compare).ifPresent(n -> latest.add(modelVersion(q.get("name"), n,
                        model.get(n))));
                ObjectNode rm = JSON.createObjectNode().put("name", q.get("name"));
                rm.set("latest_versions", latest);
                json(ex, 200, JSON.createObjectNode().set("registered_model", rm));
            }
        } else if (path.equals("/api/2.0/mlflow/registered-models/alias") && method.equals("GET")) {
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
        } else if (path.equals("/api/2.0/mlflow/registered-models/create")) {
            String name = JSON.readTree(ex.getRequestBody()).path("name").asText();
            if (versions.putIfAbsent(name, new ConcurrentHashMap<>()) != null) {
                error(ex, 400, "RESOURCE_ALREADY_EXISTS", "Registered Model (name=" + name + ") already exists.");
            } else {
                json(ex, 200, JSON.createObjectNode().set("registered_model",
                        JSON.createObjectNode().put("name", name)));
            }
        } else if (path.equals("/api/2.0/mlflow/experiments/get-by-name")) {
            String id = experiments.get(q.get("experiment_name"));
            if (id == null) {
                error(ex, 404, "RESOURCE_DOES_NOT_EXIST", "Could not find experiment with name '"
                        + q.get("experiment_name") + "'");
            } else {
                json(ex, 200, JSON.createObjectNode().set("experiment", JSON.createObjectNode()
                        .put("experiment_id", id).put("name", q.get("experiment_name"))));
            }
        } else if (path.equals("/api/2.0/mlflow/experiments/create")) {
            String name = JSON.readTree(ex.getRequestBody()).path("name").asText();
            String id = experiments.computeIfAbsent(name, k -> Integer.toString(experiments.size() + 1));
            json(ex, 200, JSON.createObjectNode().put("experiment_id", id));
        } else if (path.equals("/api/2.0/mlflow/runs/create")) {
            JsonNode body = JSON.readTree(ex.getRequestBody());
            Run run = new Run();
            run.id = "run" + (runs.size() + 1);
            run.status = "RUNNING";
            run.tags = body.path("tags");
            runs.put(run.id, run);
            String uri = "mlflow-artifacts:/" + body.path("experiment_id").asText() + "/" + run.id + "/artifacts";
            json(ex, 200, JSON.createObjectNode().set("run", JSON.createObjectNode().set("info",
                    JSON.createObjectNode().put("run_id", run.id).put("artifact_uri", uri).put("status", "RUNNING"))));
        } else if (path.equals("/api/2.0/mlflow/runs/log-batch")) {
            JsonNode body = JSON.readTree(ex.getRequestBody());
            Run run = runs.get(body.path("run_id").asText());
            body.path("metrics").forEach(m -> run.metrics.put(m.path("key").asText(), m.path("value").asDouble()));
            body.path("params").forEach(p -> run.params.put(p.path("key").asText(), p.path("value").asText()));
            json(ex, 200, JSON.createObjectNode());
        } else if (path.equals("/api/2.0/mlflow/runs/update")) {
            JsonNode body = JSON.readTree(ex.getRequestBody());
            runs.get(body.path("run_id").asText()).status = body.path("status").asText();
            json(ex, 200, JSON.createObjectNode());
        } else if (path.equals("/api/2.0/mlflow/model-versions/create")) {
            JsonNode body = JSON.readTree(ex.getRequestBody());
            Map<Long, Version> model = versions.get(body.path("name").asText());
            if (model == null) {
                error(ex, 404, "RESOURCE_DOES_NOT_EXIST", "Registered Model with name=" + body.path("name").asText()
                        + " not found");
                return;
            }
            long n;
            Version v = new Version();
            synchronized (model) {
                n = model.keySet().stream().mapToLong(Long::longValue).max().orElse(0) + 1;
                v.status = registrationPolls > 0 ? "PENDING_REGISTRATION" : "READY";
                v.pendingPolls = registrationPolls;
                v.artifactUri = body.path("source").asText();
                model.put(n, v);
            }
            json(ex, 200, JSON.createObjectNode().set("model_version", modelVersion(body.path("name").asText(), n, v)));
        } else if (path.equals("/api/2.0/mlflow/model-versions/get")) {
            Version v = versions.getOrDefault(q.get("name"), Map.of()).get(Long.parseLong(q.get("version")));
            if (v.pendingPolls > 0 && --v.pendingPolls == 0) {
                v.status = failRegistration ? "FAILED_REGISTRATION" : "READY";
            }
            json(ex, 200, JSON.createObjectNode().set("model_version",
                    modelVersion(q.get("name"), Long.parseLong(q.get("version")), v)));
        } else if (path.equals("/api/2.0/mlflow/model-versions/search")) {
            String name = q.getOrDefault("filter", "").replaceAll("^name\\s*=\\s*'(.*)'$", "$1");
            ArrayNode list = JSON.createArrayNode();
            versions.getOrDefault(name, Map.of()).forEach((n, v) -> list.add(modelVersion(name, n, v)));
            json(ex, 200, JSON.createObjectNode().set("model_versions", list));
        } else if (path.startsWith(ARTIFACTS + "/") && method.equals("PUT")) {
            files.put(path.substring(ARTIFACTS.length() + 1), ex.getRequestBody().readAllBytes());
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

    private static ObjectNode modelVersion(String name, long n, Version v) {
        return JSON.createObjectNode().put("name", name).put("version", Long.toString(n)).put("status", v.status)
                .put("source", v.artifactUri);
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
