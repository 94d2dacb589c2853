package io.mlserve.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Publishes a version the trainer built to the MLflow tracking server the servers sync from ({@link MlflowSource}):
 * one run per version in an experiment (its metrics and parameters from metadata.json, its files as the run's
 * artifacts under {@code model/}, uploaded through the mlflow-artifacts proxy), a model version registered from those
 * artifacts, and an alias — {@code challenger} by default — pointing at it, so every replica loads it as the
 * challenger on its next poll. metadata.json carries the files' SHA-256 checksums, which the servers check after
 * downloading.
 *
 * <p>The number in metadata.json must be the one MLflow assigns: the trainer takes it from {@link #nextVersion}
 * before writing the files, and {@link #publish} fails, leaving the version without an alias, when MLflow numbered
 * it otherwise (another publisher registered a version meanwhile).
 */
public final class MlflowPublisher {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(MlflowPublisher.class);
    /** The run's artifact directory the version's files go to. */
    static final String ARTIFACT_DIR = "model";
    /** Below the artifact proxy's root: where a version goes when the server keeps no runs. */
    static final String ARTIFACT_ROOT = "mlserve-models";

    /**
     * @param experiment the experiment the runs go to (created when missing)
     * @param alias      the alias set on a published version (the servers' second alias is the challenger)
     */
    public record Options(URI trackingUri, String token, String experiment, String alias, Duration timeout) {
        public static final String DEFAULT_EXPERIMENT = "mlserve";
        public static final String DEFAULT_ALIAS = "challenger";

        public Options {
            String s = trackingUri.toString();
            if (s.endsWith("/")) {
                trackingUri = URI.create(s.substring(0, s.length() - 1));
            }
        }

        /** The default experiment, alias and timeout. */
        public Options(URI trackingUri, String token) {
            this(trackingUri, token, DEFAULT_EXPERIMENT, DEFAULT_ALIAS, MlflowSource.Options.DEFAULT_TIMEOUT);
        }
    }

    /** A published version: its number, the run that holds its files, and the source it was registered from. */
    public record Published(long version, String runId, String source) {
    }

    private final Options options;
    private final MlflowClient client;

    public MlflowPublisher(Options options) {
        this.options = options;
        this.client = new MlflowClient(options.trackingUri(), options.token(), options.timeout());
    }

    /** The number the next version of {@code model} gets: one above the highest the registry has. */
    public long nextVersion(String model) throws IOException {
        return client.highestVersion(model) + 1;
    }

    /** As {@link #publish(String, long, Path, Path)} with the version's own config.json, if any. */
    public Published publish(String model, long version, Path versionDir) throws IOException {
        return publish(model, version, versionDir, null);
    }

    /**
     * Publishes the files of {@code versionDir} (model.onnx, metadata.json and what else the trainer wrote) as version
     * {@code version} of {@code model} and points the alias at it once MLflow reports it READY. {@code modelConfig}
     * (the model's config.json in the trainer's registry; null for none) goes with the files when the version has no
     * config.json of its own: the servers take a model's configuration from its serving versions.
     *
     * @throws IOException naming the call that failed; a version MLflow numbered otherwise is left unaliased
     */
    public Published publish(String model, long version, Path versionDir, Path modelConfig) throws IOException {
        List<Path> files;
        try (Stream<Path> list = Files.list(versionDir)) {
            files = new java.util.ArrayList<>(list.filter(Files::isRegularFile).sorted().toList());
        }
        if (modelConfig != null && Files.isRegularFile(modelConfig)
                && files.stream().noneMatch(f -> f.getFileName().toString().equals("config.json"))) {
            files.add(modelConfig);
        }
        if (files.stream().noneMatch(f -> f.getFileName().toString().equals("model.onnx"))) {
            throw new IOException(versionDir + " has no model.onnx: nothing to publish");
        }
        JsonNode meta = readMetadata(versionDir.resolve("metadata.json"));
        client.createRegisteredModel(model);
        MlflowClient.Run run = startRun(model, version);
        boolean done = false;
        try {
            MlflowClient.ArtifactLocation at;
            String artifactUri;
            if (run != null) {
                logQuietly(run.id(), meta);
                artifactUri = run.artifactUri();
            } else {
                // a registry without the tracking API: the files under the proxy root, by model and version
                artifactUri = "mlflow-artifacts:/" + ARTIFACT_ROOT + "/" + model + "/" + version;
            }
            at = client.artifactLocation(artifactUri);
            for (Path f : files) {
                client.upload(at, ARTIFACT_DIR + "/" + f.getFileName(), f);
            }
            String source = artifactUri + "/" + ARTIFACT_DIR;
            MlflowClient.VersionState v = client.createModelVersion(model, source, run == null ? null : run.id(),
                    "mlserve trainer: " + meta.path("algorithm").asText("model")
                            + (run == null ? "" : ", run " + run.id()));
            if (v.version() != version) {
                throw new IOException("MLflow registered the files of " + model + " version " + version + " as version "
                        + v.version() + " (another publisher registered one meanwhile); its metadata.json says "
                        + version + ", so no alias was set: train again");
            }
            awaitReady(model, v);
            client.setAlias(model, options.alias(), version);
            done = true;
            return new Published(version, run == null ? null : run.id(), source);
        } finally {
            if (run != null) {
                try {
                    client.endRun(run.id(), done ? "FINISHED" : "FAILED");
                } catch (IOException e) {
                    // the version's fate is decided; a run left RUNNING is cosmetic
                }
            }
        }
    }

    /**
     * A run for the version in the experiment, or null when the server has no tracking API (a model registry alone:
     * its experiments endpoints answer 404 with no MLflow error, or ENDPOINT_NOT_FOUND).
     */
    private MlflowClient.Run startRun(String model, long version) throws IOException {
        try {
            String experiment = client.experimentId(options.experiment());
            return client.createRun(experiment, model + " v" + version,
                    Map.of("mlserve.model", model, "mlserve.version", Long.toString(version)));
        } catch (MlflowClient.HttpStatusException e) {
            if (e.status == 404 && (e.errorCode == null || "ENDPOINT_NOT_FOUND".equals(e.errorCode))) {
                LOG.warn("MLflow at {} has no tracking API ({}): {} version {} is published without a run",
                        options.trackingUri(), e.getMessage(), model, version);
                return null;
            }
            throw e;
        }
    }

    /** The run's metrics and parameters; a failure only loses them (the version does not depend on them). */
    private void logQuietly(String runId, JsonNode meta) {
        try {
            client.logBatch(runId, metrics(meta), params(meta));
        } catch (IOException e) {
            LOG.warn("MLflow run {}: metrics not logged: {}", runId, e.getMessage());
        }
    }

    /** Waits (bounded) until MLflow has finished registering a version. */
    private MlflowClient.VersionState awaitReady(String model, MlflowClient.VersionState v) throws IOException {
        long until = System.nanoTime() + options.timeout().multipliedBy(3).toNanos();
        while (!"READY".equals(v.status())) {
            if ("FAILED_REGISTRATION".equals(v.status())) {
                throw new IOException("MLflow failed to register " + model + " version " + v.version() + ": "
                        + v.message());
            }
            if (System.nanoTime() > until) {
                throw new IOException("MLflow did not finish registering " + model + " version " + v.version()
                        + " within " + options.timeout().multipliedBy(3).toSeconds() + " s (status " + v.status() + ")");
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("waiting for MLflow to register " + model);
            }
            v = client.modelVersion(model, v.version());
        }
        return v;
    }

    private static JsonNode readMetadata(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            return JSON.createObjectNode();
        }
        return JSON.readTree(file.toFile());
    }

    /** metadata.json's numeric metrics (holdout AUC, log loss, ...), as the run's metrics. */
    private static Map<String, Double> metrics(JsonNode meta) {
        Map<String, Double> out = new LinkedHashMap<>();
        meta.path("metrics").fields().forEachRemaining(e -> {
            if (e.getValue().isNumber() && Double.isFinite(e.getValue().asDouble())) {
                out.put(e.getKey(), e.getValue().asDouble());
            }
        });
        return out;
    }

    /** What the version is: algorithm, framework, its training data's rows, the view and label it reads. */
    private static Map<String, String> params(JsonNode meta) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String k : List.of("algorithm", "framework", "sha256")) {
            if (meta.path(k).isValueNode()) {
                out.put(k, meta.get(k).asText());
            }
        }
        JsonNode data = meta.path("data");
        for (String k : List.of("source", "rows", "train_rows", "holdout_rows")) {
            if (data.path(k).isValueNode()) {
                out.put("data." + k, data.get(k).asText());
            }
        }
        JsonNode inputs = meta.path("inputs");
        for (String k : List.of("view", "label")) {
            if (inputs.path(k).isValueNode()) {
                out.put("inputs." + k, inputs.get(k).asText());
            }
        }
        return out;
    }
}
