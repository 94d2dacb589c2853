package io.mlserve.server;

import io.mlserve.featurecache.FeatureView;
import io.mlserve.featurecache.kafka.IngestConfig;
import io.mlserve.runtime.SessionConfig;
import io.mlserve.server.config.ServerConfigFile;
import io.mlserve.server.drift.PredictionLog;
import io.mlserve.server.retrain.RetrainOptions;
import io.mlserve.server.traininglog.TrainingLog;
import java.nio.file.Path;
import java.util.List;

/**
 * Everything the server needs to start, validated here so a bad value fails at start-up with one line.
 *
 * @param host             address to bind (0.0.0.0 = all interfaces)
 * @param httpPort         REST v2 + health; 0 = any free port
 * @param grpcPort         Open Inference Protocol gRPC; 0 = any free port
 * @param metricsPort      Prometheus /metrics; 0 = any free port
 * @param modelRepository  root of {@code <model>/<version>/model.onnx}
 * @param sessionDefaults  ONNX Runtime settings a model's config.json may override
 * @param maxMessageBytes  largest gRPC message or HTTP body accepted
 * @param defaultInstances executions per model that may run at once when its config has no instance_group
 *                         (0 = one per core)
 * @param eventLoopThreads Netty worker threads shared by gRPC and HTTP (0 = one per core)
 * @param shutdownGraceSeconds how long in-flight calls may take to finish on shutdown
 * @param dataDir          where feature tables are persisted
 * @param featureViews     the feature views to serve (empty: no feature store)
 * @param kafka            Kafka ingestion into the feature store, or null
 * @param snapshots        CSV snapshots to load into their views before serving
 * @param retrain          retraining through the trainer service on drift, or null for none
 * @param driftKafka       Kafka bootstrap servers for drift events (alerts published; read too with a trainer), or null
 * @param driftTopic       the drift events' topic
 * @param predictionLog    where and how much of each Predict to log to mlserve.predictions, or null
 * @param outcomesKafka    Kafka bootstrap servers to read outcomes (labels) from, for live quality, or null
 * @param outcomesTopic    the outcomes' topic
 * @param instanceName     this server's name among replicas (its consumer groups)
 * @param registry         registry polling, MLflow, audit log and rollout state
 * @param security         TLS, authentication, rate limits and request limits
 * @param replayClock      the server's time follows the largest event time it sees (feature writes, Predict's
 *                         event_time_ms, outcomes) instead of the wall clock: for replaying recorded traffic
 * @param trainingLog      the training log (Predict rows joined with outcomes, as Parquet under
 *                         {@code <dataDir>/training-log}); kept when enabled and the server has feature views
 */
public record ServerOptions(String host, int httpPort, int grpcPort, int metricsPort, Path modelRepository,
                            SessionConfig sessionDefaults, int maxMessageBytes, int defaultInstances,
                            int eventLoopThreads, int shutdownGraceSeconds, Path dataDir,
                            List<FeatureView> featureViews, IngestConfig kafka,
                            List<ServerConfigFile.Snapshot> snapshots, RetrainOptions retrain, String driftKafka,
                            String driftTopic, PredictionLog.Options predictionLog, String outcomesKafka,
                            String outcomesTopic, String instanceName, RegistryOptions registry,
                            SecurityOptions security, boolean replayClock, TrainingLog.Options trainingLog) {

    public static final int DEFAULT_HTTP_PORT = 8000;
    public static final int DEFAULT_GRPC_PORT = 8001;
    public static final int DEFAULT_METRICS_PORT = 8002;
    public static final int DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

    public ServerOptions {
        checkPort("--http-port", httpPort);
        checkPort("--grpc-port", grpcPort);
        checkPort("--metrics-port", metricsPort);
        if (maxMessageBytes < 1024) {
            throw new IllegalArgumentException("--max-message-bytes must be at least 1024, got " + maxMessageBytes);
        }
        if (defaultInstances < 0) {
            throw new IllegalArgumentException("--default-instance-count must be >= 0, got " + defaultInstances);
        }
        if (eventLoopThreads < 0) {
            throw new IllegalArgumentException("--event-loop-threads must be >= 0, got " + eventLoopThreads);
        }
        featureViews = List.copyOf(featureViews);
        snapshots = List.copyOf(snapshots);
        if (registry == null) {
            registry = RegistryOptions.defaults();
        }
        if (security == null) {
            security = SecurityOptions.defaults();
        }
        if (trainingLog == null) {
            trainingLog = TrainingLog.Options.defaults();
        }
        if (shutdownGraceSeconds < 0) {
            throw new IllegalArgumentException("--shutdown-grace-secs must be >= 0, got " + shutdownGraceSeconds);
        }
    }

    /** Defaults for a repository, with every port set to 0 (tests and embedded use). */
    public static ServerOptions ephemeral(Path repository) {
        return new ServerOptions("127.0.0.1", 0, 0, 0, repository, SessionConfig.DEFAULT.withIntraOpThreads(0),
                DEFAULT_MAX_MESSAGE_BYTES, 0, 0, 30, repository.resolveSibling("data"), List.of(), null, List.of(), null, null, "mlserve.drift", null, null, "mlserve.outcomes", "mlserve",
                RegistryOptions.defaults(), SecurityOptions.defaults(), false, TrainingLog.Options.defaults());
    }

    public ServerOptions withMaxMessageBytes(int bytes) {
        return new ServerOptions(host, httpPort, grpcPort, metricsPort, modelRepository, sessionDefaults, bytes,
                defaultInstances, eventLoopThreads, shutdownGraceSeconds, dataDir, featureViews, kafka, snapshots, retrain, driftKafka, driftTopic, predictionLog, outcomesKafka, outcomesTopic, instanceName, registry, security, replayClock, trainingLog);
    }

    public ServerOptions withDefaultInstances(int n) {
        return new ServerOptions(host, httpPort, grpcPort, metricsPort, modelRepository, sessionDefaults,
                maxMessageBytes, n, eventLoopThreads, shutdownGraceSeconds, dataDir, featureViews, kafka, snapshots, retrain, driftKafka, driftTopic, predictionLog, outcomesKafka, outcomesTopic, instanceName, registry, security, replayClock, trainingLog);
    }

    public ServerOptions withEventLoopThreads(int n) {
        return new ServerOptions(host, httpPort, grpcPort, metricsPort, modelRepository, sessionDefaults,
                maxMessageBytes, defaultInstances, n, shutdownGraceSeconds, dataDir, featureViews, kafka, snapshots, retrain, driftKafka, driftTopic, predictionLog, outcomesKafka, outcomesTopic, instanceName, registry, security, replayClock, trainingLog);
    }

    public ServerOptions withFeatureViews(Path dir, List<FeatureView> views) {
        return new ServerOptions(host, httpPort, grpcPort, metricsPort, modelRepository, sessionDefaults,
                maxMessageBytes, defaultInstances, eventLoopThreads, shutdownGraceSeconds, dir, views, kafka, snapshots, retrain, driftKafka, driftTopic, predictionLog, outcomesKafka, outcomesTopic, instanceName, registry, security, replayClock, trainingLog);
    }

    public ServerOptions withKafka(IngestConfig ingest) {
        return new ServerOptions(host, httpPort, grpcPort, metricsPort, modelRepository, sessionDefaults,
                maxMessageBytes, defaultInstances, eventLoopThreads, shutdownGraceSeconds, dataDir, featureViews, ingest,
                snapshots, retrain, driftKafka, driftTopic, predictionLog, outcomesKafka, outcomesTopic, instanceName, registry, security, replayClock, trainingLog);
    }

    public ServerOptions withSnapshots(List<ServerConfigFile.Snapshot> load) {
        return new ServerOptions(host, httpPort, grpcPort, metricsPort, modelRepository, sessionDefaults,
                maxMessageBytes, defaultInstances, eventLoopThreads, shutdownGraceSeconds, dataDir, featureViews, kafka,
                load, retrain, driftKafka, driftTopic, predictionLog, outcomesKafka, outcomesTopic, instanceName, registry, security, replayClock, trainingLog);
    }

    public ServerOptions withRetrain(RetrainOptions r) {
        return new ServerOptions(host, httpPort, grpcPort, metricsPort, modelRepository, sessionDefaults,
                maxMessageBytes, defaultInstances, eventLoopThreads, shutdownGraceSeconds, dataDir, featureViews, kafka,
                snapshots, r, driftKafka, driftTopic, predictionLog, outcomesKafka, outcomesTopic, instanceName, registry, security, replayClock, trainingLog);
    }

    /** Publish drift alerts to {@code topic} on {@code bootstrap} (and, with a trainer, read other servers' events). */
    public ServerOptions withDriftKafka(String bootstrap, String topic) {
        return new ServerOptions(host, httpPort, grpcPort, metricsPort, modelRepository, sessionDefaults,
                maxMessageBytes, defaultInstances, eventLoopThreads, shutdownGraceSeconds, dataDir, featureViews, kafka,
                snapshots, retrain, bootstrap, topic, predictionLog, outcomesKafka, outcomesTopic, instanceName, registry, security, replayClock, trainingLog);
    }

    /** Log Predict's predictions to Kafka. */
    public ServerOptions withPredictionLog(PredictionLog.Options log) {
        return new ServerOptions(host, httpPort, grpcPort, metricsPort, modelRepository, sessionDefaults,
                maxMessageBytes, defaultInstances, eventLoopThreads, shutdownGraceSeconds, dataDir, featureViews, kafka,
                snapshots, retrain, driftKafka, driftTopic, log, outcomesKafka, outcomesTopic, instanceName, registry, security, replayClock, trainingLog);
    }

    /** Read outcomes for live quality from {@code topic} on {@code bootstrap}. */
    public ServerOptions withOutcomesKafka(String bootstrap, String topic) {
        return new ServerOptions(host, httpPort, grpcPort, metricsPort, modelRepository, sessionDefaults,
                maxMessageBytes, defaultInstances, eventLoopThreads, shutdownGraceSeconds, dataDir, featureViews, kafka,
                snapshots, retrain, driftKafka, driftTopic, predictionLog, bootstrap, topic, instanceName, registry,
                security, replayClock, trainingLog);
    }

    /** Registry polling, MLflow, audit log and rollout state. */
    public ServerOptions withRegistry(RegistryOptions r) {
        return new ServerOptions(host, httpPort, grpcPort, metricsPort, modelRepository, sessionDefaults,
                maxMessageBytes, defaultInstances, eventLoopThreads, shutdownGraceSeconds, dataDir, featureViews, kafka,
                snapshots, retrain, driftKafka, driftTopic, predictionLog, outcomesKafka, outcomesTopic, instanceName, r, security, replayClock, trainingLog);
    }

    /** TLS, authentication, rate and request limits. */
    public ServerOptions withSecurity(SecurityOptions s) {
        return new ServerOptions(host, httpPort, grpcPort, metricsPort, modelRepository, sessionDefaults,
                maxMessageBytes, defaultInstances, eventLoopThreads, shutdownGraceSeconds, dataDir, featureViews, kafka,
                snapshots, retrain, driftKafka, driftTopic, predictionLog, outcomesKafka, outcomesTopic, instanceName,
                registry, s, replayClock, trainingLog);
    }

    /** With {@code on}, the server's clock follows the event times it sees (--replay-clock). */
    public ServerOptions withReplayClock(boolean on) {
        return new ServerOptions(host, httpPort, grpcPort, metricsPort, modelRepository, sessionDefaults,
                maxMessageBytes, defaultInstances, eventLoopThreads, shutdownGraceSeconds, dataDir, featureViews, kafka,
                snapshots, retrain, driftKafka, driftTopic, predictionLog, outcomesKafka, outcomesTopic, instanceName,
                registry, security, on, trainingLog);
    }

    /** The training log's settings. */
    public ServerOptions withTrainingLog(TrainingLog.Options log) {
        return new ServerOptions(host, httpPort, grpcPort, metricsPort, modelRepository, sessionDefaults,
                maxMessageBytes, defaultInstances, eventLoopThreads, shutdownGraceSeconds, dataDir, featureViews, kafka,
                snapshots, retrain, driftKafka, driftTopic, predictionLog, outcomesKafka, outcomesTopic, instanceName,
                registry, security, replayClock, log);
    }

    /** Whether the server keeps a training log: enabled, with a data directory and feature views. */
    public boolean trainingLogOn() {
        return trainingLog.enabled() && dataDir != null && !featureViews.isEmpty();
    }

    /** Instances per model without an instance_group: the option, or one per core. */
    public int resolvedDefaultInstances() {
        return defaultInstances > 0 ? defaultInstances : Runtime.getRuntime().availableProcessors();
    }

    private static void checkPort(String flag, int port) {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException(flag + " must be 0..65535 (0 = any free port), got " + port);
        }
    }
}
