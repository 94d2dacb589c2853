package io.mlserve.registry;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.stream.Collectors;

/**
 * The calls {@link MlflowSource} and {@link MlflowPublisher} make to an MLflow tracking server: the model registry's
 * alias, download-URI, registration and search endpoints, the tracking API's experiments and runs, and the
 * mlflow-artifacts proxy. Every failure is an IOException whose message names the call and what
 * came back; the bearer token is sent only to the tracking server's own origin and never appears in a message.
 */
final class MlflowClient {
    static final String REGISTRY_API = "/api/2.0/mlflow";
    static final String ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts";
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_SERVER_TEXT = 300;

    private final HttpClient http;
    private final URI base;
    private final String token;
    private final Duration timeout;

    /** @param base the tracking server without a trailing slash; token null for none */
    MlflowClient(URI base, String token, Duration timeout) {
        this.base = base;
        this.token = token;
        this.timeout = timeout;
        // HTTP/1.1: the client would otherwise ask every plain-http server for an h2c upgrade, which the usual
        // Python front ends of MLflow do not all take well. Redirects are not followed, so the token stays home.
        this.http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(timeout)
                .followRedirects(HttpClient.Redirect.NEVER).build();
    }

    /** What an alias points at. */
    record AliasTarget(long version, String status) {
        boolean ready() {
            return "READY".equals(status);
        }
    }

    /** One entry of a listing: {@code path} is relative to the listed directory; size -1 when not given. */
    record ArtifactEntry(String path, boolean dir, long size) {
    }

    /** Where a version's files are: the artifact proxy's root URL and the directory below it. */
    record ArtifactLocation(URI api, String dir) {
    }

    /** An answer outside 2xx; {@code errorCode} is MLflow's {@code error_code} when the body carried one. */
    static final class HttpStatusException extends IOException {
        final int status;
        final String errorCode;

        HttpStatusException(String message, int status, String errorCode) {
            super(message);
            this.status = status;
            this.errorCode = errorCode;
        }
    }

    /**
     * The version {@code alias} of {@code model} points at, or empty when the alias is not set. MLflow's own stores
     * answer an unknown alias with 400 INVALID_PARAMETER_VALUE, others with 404 RESOURCE_DOES_NOT_EXIST; a bare 404
     * without an MLflow error code (a wrong base URL behind a proxy) stays an error.
     */
    Optional<AliasTarget> versionByAlias(String model, String alias) throws IOException {
        URI uri = URI.create(base + REGISTRY_API + "/registered-models/alias" + query("name", model, "alias", alias));
        JsonNode answer;
        try {
            answer = exchange("GET", uri, null);
        } catch (HttpStatusException e) {
            boolean notSet = (e.status == 404 || e.status == 400) && ("RESOURCE_DOES_NOT_EXIST".equals(e.errorCode)
                    || "INVALID_PARAMETER_VALUE".equals(e.errorCode));
            if (notSet) {
                return Optional.empty();
            }
            throw e;
        }
        JsonNode mv = answer.path("model_version");
        String version = mv.path("version").asText("");
        if (!FileSystemSource.VERSION_DIR.matcher(version).matches()) {
            throw new IOException("GET " + shown(uri) + " answered malformed JSON: model_version.version is '"
                    + redact(version) + "', expected a positive integer");
        }
        return Optional.of(new AliasTarget(Long.parseLong(version), mv.path("status").asText("(no status)")));
    }

    /** The {@code artifact_uri} of a model version, as the registry gives it. */
    String downloadUri(String model, long version) throws IOException {
        URI uri = URI.create(base + REGISTRY_API + "/model-versions/get-download-uri"
                + query("name", model, "version", Long.toString(version)));
        String artifactUri = exchange("GET", uri, null).path("artifact_uri").asText("");
        if (artifactUri.isEmpty()) {
            throw new IOException("GET " + shown(uri) + " answered malformed JSON: no artifact_uri");
        }
        return artifactUri;
    }

    /**
     * Where {@code artifactUri} is on the artifact proxy: {@code mlflow-artifacts:/path} is below this server (with
     * a host, below that host, as MLflow resolves it), an http(s) URL must be a proxy URL itself. Other schemes
     * (s3, gs, file, runs, a bare path) would need storage credentials or a client of their own: refused.
     */
    ArtifactLocation artifactLocation(String artifactUri) throws IOException {
        URI u;
        try {
            u = new URI(artifactUri);
        } catch (URISyntaxException e) {
            throw new IOException("artifact_uri '" + redact(artifactUri) + "' is not a URI: " + e.getReason());
        }
        String scheme = u.getScheme() == null ? "" : u.getScheme().toLowerCase(Locale.ROOT);
        switch (scheme) {
            case "mlflow-artifacts": {
                String dir = trimSlashes(u.getPath() == null ? "" : u.getPath());
                String authority = u.getRawAuthority();
                URI api = authority == null || authority.isEmpty() ? URI.create(base + ARTIFACTS_API)
                        : URI.create(base.getScheme() + "://" + authority + base.getRawPath() + ARTIFACTS_API);
                return new ArtifactLocation(api, dir);
            }
            case "http":
            case "https": {
                String raw = u.getRawPath() == null ? "" : u.getRawPath();
                int at = raw.indexOf(ARTIFACTS_API + "/");
                if (at < 0 || u.getRawAuthority() == null) {
                    throw new IOException("artifact_uri " + shown(u) + " is not an MLflow artifact proxy URL (its path"
                            + " should contain " + ARTIFACTS_API + "/)");
                }
                String rest = raw.substring(at + ARTIFACTS_API.length() + 1);
                URI api = URI.create(scheme + "://" + u.getRawAuthority() + raw.substring(0, at) + ARTIFACTS_API);
                return new ArtifactLocation(api,
                        trimSlashes(URLDecoder.decode(rest.replace("+", "%2B"), StandardCharsets.UTF_8)));
            }
            default:
                throw new IOException("artifact_uri scheme '" + (scheme.isEmpty() ? "(none: a local path)" : scheme)
                        + "' is not supported: versions are downloaded only through MLflow's artifact proxy"
                        + " (mlflow-artifacts:/... or http(s)://..." + ARTIFACTS_API + "/...)");
        }
    }

    /** The entries of one directory ({@code {}} for an empty one). */
    List<ArtifactEntry> list(ArtifactLocation from, String dir) throws IOException {
        URI uri = URI.create(from.api() + (dir.isEmpty() ? "" : query("path", dir)));
        JsonNode files = exchange("GET", uri, null).path("files");
        List<ArtifactEntry> entries = new ArrayList<>();
        if (files.isMissingNode()) {
            return entries;
        }
        if (!files.isArray()) {
            throw new IOException("GET " + shown(uri) + " answered malformed JSON: files is not a list");
        }
        for (JsonNode f : files) {
            if (!f.path("path").isTextual()) {
                throw new IOException("GET " + shown(uri) + " answered malformed JSON: a file without a path");
            }
            JsonNode size = f.path("file_size");
            entries.add(new ArtifactEntry(f.get("path").asText(), f.path("is_dir").asBoolean(false),
                    size.isMissingNode() || size.isNull() ? -1 : size.asLong(-1)));
        }
        return entries;
    }

    /** Streams one file to {@code target}; a size other than the listed one fails (a cut-off answer). */
    void download(ArtifactLocation from, String path, Path target, long expectedSize) throws IOException {
        URI uri = URI.create(from.api() + "/" + encodePath(path));
        // the whole file within the request timeout plus its size at 256 KiB/s: generous, but bounded
        Duration total = timeout.plusMillis(Math.max(0, expectedSize) / 256);
        HttpResponse<Path> r = send(request(uri).GET().build(), info -> info.statusCode() / 100 == 2
                ? HttpResponse.BodySubscribers.ofFile(target) : HttpResponse.BodySubscribers.<Path>replacing(null),
                total);
        if (r.statusCode() / 100 != 2) {
            throw new HttpStatusException("GET " + shown(uri) + " answered HTTP " + r.statusCode()
                    + reason(r.statusCode()), r.statusCode(), null);
        }
        long size = Files.size(target);
        if (expectedSize >= 0 && size != expectedSize) {
            throw new IOException("GET " + shown(uri) + " gave " + size + " bytes, the listing said " + expectedSize);
        }
    }

    /** Points {@code alias} at {@code version} (the version travels as a string, as in MLflow's protocol). */
    void setAlias(String model, String alias, long version) throws IOException {
        ObjectNode body = JSON.createObjectNode().put("name", model).put("alias", alias)
                .put("version", Long.toString(version));
        exchange("POST", URI.create(base + REGISTRY_API + "/registered-models/alias"), body);
    }

    /**
     * Removes {@code alias}. MLflow's server reads a DELETE's fields from a JSON body, other implementations from the
     * query: both are sent.
     */
    void deleteAlias(String model, String alias) throws IOException {
        ObjectNode body = JSON.createObjectNode().put("name", model).put("alias", alias);
        exchange("DELETE",
                URI.create(base + REGISTRY_API + "/registered-models/alias" + query("name", model, "alias", alias)),
                body);
    }

    // --- publishing: what the trainer calls to register a new version ---

    /** The id of experiment {@code name}, created when it does not exist. */
    String experimentId(String name) throws IOException {
        URI get = URI.create(base + REGISTRY_API + "/experiments/get-by-name" + query("experiment_name", name));
        try {
            String id = exchange("GET", get, null).path("experiment").path("experiment_id").asText("");
            if (!id.isEmpty()) {
                return id;
            }
        } catch (HttpStatusException e) {
            if (!"RESOURCE_DOES_NOT_EXIST".equals(e.errorCode)) {
                throw e;
            }
        }
        String id = exchange("POST", URI.create(base + REGISTRY_API + "/experiments/create"),
                JSON.createObjectNode().put("name", name)).path("experiment_id").asText("");
        if (id.isEmpty()) {
            throw new IOException("POST experiments/create answered malformed JSON: no experiment_id");
        }
        return id;
    }

    /** A run of the tracking server: its id and where its artifacts go. */
    record Run(String id, String artifactUri) {
    }

    /** Starts a run in {@code experimentId} named {@code name}, tagged with {@code tags}. */
    Run createRun(String experimentId, String name, java.util.Map<String, String> tags) throws IOException {
        ObjectNode body = JSON.createObjectNode().put("experiment_id", experimentId).put("run_name", name)
                .put("start_time", System.currentTimeMillis());
        var t = body.putArray("tags");
        tags.forEach((k, v) -> t.addObject().put("key", k).put("value", v));
        JsonNode info = exchange("POST", URI.create(base + REGISTRY_API + "/runs/create"), body).path("run")
                .path("info");
        String id = info.path("run_id").asText(info.path("run_uuid").asText(""));
        String artifacts = info.path("artifact_uri").asText("");
        if (id.isEmpty() || artifacts.isEmpty()) {
            throw new IOException("POST runs/create answered malformed JSON: no run_id or artifact_uri");
        }
        return new Run(id, artifacts);
    }

    /** Logs numeric {@code metrics} and string {@code params} on a run. */
    void logBatch(String runId, java.util.Map<String, Double> metrics, java.util.Map<String, String> params)
            throws IOException {
        ObjectNode body = JSON.createObjectNode().put("run_id", runId);
        long now = System.currentTimeMillis();
        var m = body.putArray("metrics");
        metrics.forEach((k, v) -> m.addObject().put("key", k).put("value", v).put("timestamp", now).put("step", 0));
        var p = body.putArray("params");
        params.forEach((k, v) -> p.addObject().put("key", k).put("value", v));
        exchange("POST", URI.create(base + REGISTRY_API + "/runs/log-batch"), body);
    }

    /** Ends a run with {@code status} (FINISHED or FAILED). */
    void endRun(String runId, String status) throws IOException {
        exchange("POST", URI.create(base + REGISTRY_API + "/runs/update"), JSON.createObjectNode()
                .put("run_id", runId).put("status", status).put("end_time", System.currentTimeMillis()));
    }

    /** Uploads {@code file} to {@code path} below the artifact proxy location {@code to}. */
    void upload(ArtifactLocation to, String path, Path file) throws IOException {
        URI uri = URI.create(to.api() + "/" + encodePath(to.dir().isEmpty() ? path : to.dir() + "/" + path));
        Duration total = timeout.plusMillis(Files.size(file) / 256);
        HttpResponse<byte[]> r = send(request(uri).header("Content-Type", "application/octet-stream")
                .PUT(HttpRequest.BodyPublishers.ofFile(file)).build(), HttpResponse.BodyHandlers.ofByteArray(), total);
        if (r.statusCode() / 100 != 2) {
            throw failure("PUT " + shown(uri), r.statusCode(), r.body());
        }
    }

    /** Registers {@code model} (nothing when it exists). */
    void createRegisteredModel(String model) throws IOException {
        try {
            exchange("POST", URI.create(base + REGISTRY_API + "/registered-models/create"),
                    JSON.createObjectNode().put("name", model));
        } catch (HttpStatusException e) {
            if (!"RESOURCE_ALREADY_EXISTS".equals(e.errorCode)) {
                throw e;
            }
        }
    }

    /**
     * The highest version number {@code model} has (0: none), over every page of the registry's search; a registry
     * without the search endpoint is asked for the model's latest versions instead.
     */
    long highestVersion(String model) throws IOException {
        try {
            return searchHighest(model);
        } catch (HttpStatusException e) {
            if (e.status != 404 || (e.errorCode != null && !"ENDPOINT_NOT_FOUND".equals(e.errorCode))) {
                throw e;
            }
        }
        URI uri = URI.create(base + REGISTRY_API + "/registered-models/get" + query("name", model));
        JsonNode answer;
        try {
            answer = exchange("GET", uri, null);
        } catch (HttpStatusException e) {
            if ("RESOURCE_DOES_NOT_EXIST".equals(e.errorCode)) {
                return 0;
            }
            throw e;
        }
        long highest = 0;
        for (JsonNode v : answer.path("registered_model").path("latest_versions")) {
            String n = v.path("version").asText("");
            if (FileSystemSource.VERSION_DIR.matcher(n).matches()) {
                highest = Math.max(highest, Long.parseLong(n));
            }
        }
        return highest;
    }

    private long searchHighest(String model) throws IOException {
        long highest = 0;
        String page = "";
        do {
            URI uri = URI.create(base + REGISTRY_API + "/model-versions/search" + (page.isEmpty()
                    ? query("filter", "name='" + model.replace("'", "\\'") + "'", "max_results", "200")
                    : query("filter", "name='" + model.replace("'", "\\'") + "'", "max_results", "200",
                    "page_token", page)));
            JsonNode answer = exchange("GET", uri, null);
            for (JsonNode v : answer.path("model_versions")) {
                String n = v.path("version").asText("");
                if (FileSystemSource.VERSION_DIR.matcher(n).matches()) {
                    highest = Math.max(highest, Long.parseLong(n));
                }
            }
            page = answer.path("next_page_token").asText("");
        } while (!page.isEmpty());
        return highest;
    }

    /** A registered version: its number and status (READY, PENDING_REGISTRATION or FAILED_REGISTRATION). */
    record VersionState(long version, String status, String message) {
    }

    /** Creates a version of {@code model} from the files at {@code source}, generated by run {@code runId} (or none). */
    VersionState createModelVersion(String model, String source, String runId, String description)
            throws IOException {
        ObjectNode body = JSON.createObjectNode().put("name", model).put("source", source)
                .put("description", description);
        if (runId != null) {
            body.put("run_id", runId);
        }
        JsonNode mv = exchange("POST", URI.create(base + REGISTRY_API + "/model-versions/create"), body)
                .path("model_version");
        return versionState(mv, "POST model-versions/create");
    }

    /** The state of version {@code version} of {@code model}. */
    VersionState modelVersion(String model, long version) throws IOException {
        URI uri = URI.create(base + REGISTRY_API + "/model-versions/get"
                + query("name", model, "version", Long.toString(version)));
        return versionState(exchange("GET", uri, null).path("model_version"), "GET " + shown(uri));
    }

    private VersionState versionState(JsonNode mv, String call) throws IOException {
        String n = mv.path("version").asText("");
        if (!FileSystemSource.VERSION_DIR.matcher(n).matches()) {
            throw new IOException(call + " answered malformed JSON: model_version.version is '" + redact(n) + "'");
        }
        return new VersionState(Long.parseLong(n), mv.path("status").asText("READY"),
                mv.path("status_message").asText(""));
    }

    /** One JSON call; the answer must be a JSON object (an empty body counts as {}). */
    private JsonNode exchange(String method, URI uri, JsonNode body) throws IOException {
        HttpRequest.Builder b = request(uri).header("Accept", "application/json");
        if (body == null) {
            b.method(method, HttpRequest.BodyPublishers.noBody());
        } else {
            b.header("Content-Type", "application/json")
                    .method(method, HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body)));
        }
        HttpResponse<byte[]> r = send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
        String call = method + " " + shown(uri);
        if (r.statusCode() / 100 != 2) {
            throw failure(call, r.statusCode(), r.body());
        }
        if (r.body().length == 0) {
            return JSON.createObjectNode();
        }
        JsonNode answer;
        try {
            answer = JSON.readTree(r.body());
        } catch (JsonProcessingException e) {
            throw new IOException(call + " answered malformed JSON: " + redact(e.getOriginalMessage()));
        }
        if (answer == null || !answer.isObject()) {
            throw new IOException(call + " answered malformed JSON: not an object");
        }
        return answer;
    }

    private HttpStatusException failure(String call, int status, byte[] body) {
        String code = null;
        String message = null;
        try {
            JsonNode error = JSON.readTree(body);
            if (error != null && error.isObject()) {
                code = error.path("error_code").isTextual() ? error.get("error_code").asText() : null;
                message = error.path("message").isTextual() ? error.get("message").asText() : null;
            }
        } catch (IOException notJson) {
            // a proxy's HTML page or plain text: the status says enough
        }
        String text = call + " answered HTTP " + status + reason(status) + (code == null ? "" : " " + code)
                + (message == null ? "" : ": " + shorten(message));
        return new HttpStatusException(redact(text), status, code);
    }

    private static String reason(int status) {
        switch (status) {
            case 401:
                return " Unauthorized (check the token)";
            case 403:
                return " Forbidden (the token may not do this)";
            default:
                return "";
        }
    }

    private HttpRequest.Builder request(URI uri) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(timeout);
        if (token != null && sameOrigin(uri)) {
            b.header("Authorization", "Bearer " + token);
        }
        return b;
    }

    private boolean sameOrigin(URI uri) {
        return base.getScheme().equalsIgnoreCase(uri.getScheme()) && base.getHost().equalsIgnoreCase(uri.getHost())
                && port(base) == port(uri);
    }

    private static int port(URI u) {
        return u.getPort() >= 0 ? u.getPort() : "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
    }

    private <T> HttpResponse<T> send(HttpRequest request, HttpResponse.BodyHandler<T> handler) throws IOException {
        return send(request, handler, timeout.multipliedBy(3));
    }

    /**
     * Sends and waits at most {@code total} for the whole answer, body included: the request timeout alone stops
     * counting once the headers have arrived, and a download stalled after that would hang the pass for good.
     */
    private <T> HttpResponse<T> send(HttpRequest request, HttpResponse.BodyHandler<T> handler, Duration total)
            throws IOException {
        java.util.concurrent.CompletableFuture<HttpResponse<T>> f = http.sendAsync(request, handler);
        try {
            return f.get(total.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            f.cancel(true);
            Thread.currentThread().interrupt();
            throw new InterruptedIOException(request.method() + " " + shown(request.uri()) + " interrupted");
        } catch (java.util.concurrent.TimeoutException e) {
            f.cancel(true);
            throw new IOException(request.method() + " " + shown(request.uri()) + " did not complete within "
                    + total.toSeconds() + " s");
        } catch (java.util.concurrent.ExecutionException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            IOException io = cause instanceof IOException x ? x : new IOException(cause);
            throw new IOException(request.method() + " " + shown(request.uri()) + " failed: " + describe(io), io);
        }
    }

    /**
     * An exception as one line, the token blanked out: the message alone where it says what happened (this class's
     * own), with the exception's name where it does not (a file system error's message is only the path).
     */
    String describe(Throwable e) {
        String m = e.getMessage();
        boolean bare = m == null || m.isEmpty() || e instanceof FileSystemException || e instanceof RuntimeException
                || e.getClass().getName().startsWith("java.net.");
        return redact(!bare ? m : e.getClass().getSimpleName() + (m == null || m.isEmpty() ? "" : ": " + m));
    }

    private String redact(String text) {
        return token == null || text == null ? text : text.replace(token, "***");
    }

    private static String shorten(String text) {
        return text.length() <= MAX_SERVER_TEXT ? text : text.substring(0, MAX_SERVER_TEXT) + "...";
    }

    /** Host, path and query, decoded, for messages. */
    private static String shown(URI uri) {
        return uri.getScheme() + "://" + uri.getHost() + (uri.getPort() >= 0 ? ":" + uri.getPort() : "")
                + uri.getPath() + (uri.getQuery() == null ? "" : "?" + uri.getQuery());
    }

    private static String trimSlashes(String path) {
        int from = 0;
        int to = path.length();
        while (from < to && path.charAt(from) == '/') {
            from++;
        }
        while (to > from && path.charAt(to - 1) == '/') {
            to--;
        }
        return path.substring(from, to);
    }

    private static String query(String... keysAndValues) {
        StringBuilder q = new StringBuilder();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            q.append(i == 0 ? '?' : '&').append(keysAndValues[i]).append('=')
                    .append(URLEncoder.encode(keysAndValues[i + 1], StandardCharsets.UTF_8));
        }
        return q.toString();
    }

    private static String encodePath(String path) {
        return Arrays.stream(path.split("/", -1))
                .map(segment -> URLEncoder.encode(segment, StandardCharsets.UTF_8).replace("+", "%20"))
                .collect(Collectors.joining("/"));
    }
}
