package io.mlserve.app;

import io.mlserve.runtime.Device;
import io.mlserve.runtime.SessionConfig;
import io.mlserve.server.ServerOptions;
import io.mlserve.server.config.ServerConfigFile;
import io.mlserve.server.drift.PredictionLog;
import io.mlserve.server.retrain.RetrainOptions;
import java.nio.file.Path;
import java.time.Duration;
import picocli.CommandLine.Option;

/** Flags shared by every command that runs a server (serve, demo). */
final class ServerFlags {
    @Option(names = "--host", defaultValue = "0.0.0.0", description = "Address to bind (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--http-port", defaultValue = "8000",
            description = "REST v2 and health port; 0 = any free port (default: ${DEFAULT-VALUE}).")
    int httpPort;

    @Option(names = "--grpc-port", defaultValue = "8001",
            description = "Open Inference Protocol gRPC port; 0 = any free port (default: ${DEFAULT-VALUE}).")
    int grpcPort;

    @Option(names = "--metrics-port", defaultValue = "8002",
            description = "Prometheus /metrics port; 0 = any free port (default: ${DEFAULT-VALUE}).")
    int metricsPort;

    @Option(names = "--device", defaultValue = "cpu",
            description = "Default device for models: cpu or cuda:N; CUDA falls back to CPU with a log line "
                    + "(default: ${DEFAULT-VALUE}).")
    String device;

    @Option(names = "--intra-op-threads", defaultValue = "0",
            description = "ONNX Runtime intra-op threads per session unless config.json sets "
                    + "intra_op_thread_count; 0 = cores / the model's instance count (default: ${DEFAULT-VALUE}).")
    int intraOpThreads;

    @Option(names = "--max-message-bytes", defaultValue = "67108864",
            description = "Largest gRPC message or HTTP body accepted (default: ${DEFAULT-VALUE}).")
    int maxMessageBytes;

    @Option(names = "--default-instance-count", defaultValue = "0",
            description = "Executions per model that may run at once when its config.json has no instance_group; "
                    + "0 = one per core (default: ${DEFAULT-VALUE}).")
    int defaultInstances;

    @Option(names = "--event-loop-threads", defaultValue = "0",
            description = "Network threads shared by gRPC and HTTP; 0 = one per core (default: ${DEFAULT-VALUE}).")
    int eventLoopThreads;

    @Option(names = "--shutdown-grace-secs", defaultValue = "30",
            description = "On SIGTERM, how long calls in flight may take to finish (default: ${DEFAULT-VALUE}).")
    int shutdownGraceSeconds;

    @Option(names = "--config", description = "Server config file (YAML or JSON): model_repository, data_dir, "
            + "feature_views, training_log. Flags given on the command line win.")
    Path config;

    @Option(names = "--data-dir", description = "Where feature tables are persisted (default: the config's data_dir, "
            + "else ./data).")
    Path dataDir;

    @Option(names = "--replay-clock", description = "The server's time is the largest event time seen in feature "
            + "writes, Predict requests (event_time_ms) and outcomes, never going back: TTL, drift windows, quality "
            + "windows, rollout judging and retrain cooldowns follow it — for replaying recorded traffic. Before the "
            + "first event it is the wall clock.")
    boolean replayClock;

    @Option(names = "--trainer", description = "The trainer service (./mlserve trainer) as host:port: drift events "
            + "on models whose config.json enables retrain start jobs there.")
    String trainer;

    @Option(names = "--retrain-cooldown-secs", defaultValue = "3600", description = "After a retraining job ends, "
            + "drift events start no new one for this long, unless config.json retrain.cooldown_seconds says "
            + "otherwise (default: ${DEFAULT-VALUE}).")
    long retrainCooldown;

    @Option(names = "--retrain-max-backoff-secs", defaultValue = "60", description = "Longest wait between attempts "
            + "to reach an unreachable trainer; waits start at 1 s and double (default: ${DEFAULT-VALUE}).")
    long retrainMaxBackoff;

    @Option(names = "--drift-kafka", description = "Kafka bootstrap servers for drift events (--drift-topic): this "
            + "server's raised alerts are published there, and with --trainer other servers' events are read.")
    String driftKafka;

    @Option(names = "--instance-name", description = "This server's name, unique among replicas: in the retraining "
            + "jobs it submits and as its Kafka consumer group for drift events, so every replica reads every event "
            + "(default: the host name).")
    String instanceName;

    @Option(names = "--drift-topic", defaultValue = "mlserve.drift", description = "Topic of DriftEvent records "
            + "(default: ${DEFAULT-VALUE}).")
    String driftTopic;

    private String instanceName() {
        if (instanceName != null && !instanceName.isBlank()) {
            return instanceName;
        }
        try {
            return java.net.InetAddress.getLocalHost().getHostName();
        } catch (java.io.IOException e) {
            return "mlserve";
        }
    }

    @Option(names = "--prediction-log-kafka", description = "Kafka bootstrap servers: log Predict's predictions "
            + "(features as served, score, version) to --prediction-log-topic.")
    String predictionLogKafka;

    @Option(names = "--prediction-log-topic", defaultValue = "mlserve.predictions", description = "Default: "
            + "${DEFAULT-VALUE}.")
    String predictionLogTopic;

    @Option(names = "--prediction-log-sample", defaultValue = "1.0", description = "Share of predictions logged, "
            + "(0, 1] (default: ${DEFAULT-VALUE}).")
    double predictionLogSample;

    @Option(names = "--prediction-log-buffer", defaultValue = "65536", description = "Records held for the log's "
            + "thread; beyond it records are dropped and counted, never waited for (default: ${DEFAULT-VALUE}).")
    int predictionLogBuffer;

    @Option(names = "--outcomes-kafka", description = "Kafka bootstrap servers to read outcomes (mlserve.v1.Outcome "
            + "labels) from, for live quality.")
    String outcomesKafka;

    @Option(names = "--outcomes-topic", defaultValue = "mlserve.outcomes", description = "Default: ${DEFAULT-VALUE}.")
    String outcomesTopic;

    @Option(names = "--repository-poll-secs", description = "Seconds between passes over the model registry: new "
            + "versions (published by rename) are loaded, verified and warmed up, removed ones unloaded; 0 = no "
            + "polling (default: the config's repository_poll_secs, else 0; 30 with --mlflow-uri).")
    Integer pollSecs;

    @Option(names = "--mlflow-uri", description = "Take model versions from this MLflow tracking server's model "
            + "registry (aliases name the champion and challenger); --model-repository is then its local cache.")
    String mlflowUri;

    @Option(names = "--mlflow-models", split = ",", description = "The registered models to serve from MLflow.")
    java.util.List<String> mlflowModels;

    @Option(names = "--mlflow-aliases", split = ",", defaultValue = "champion,challenger", description = "The "
            + "aliases of the champion and the challenger (default: ${DEFAULT-VALUE}).")
    java.util.List<String> mlflowAliases;

    @Option(names = "--rollout-kafka", description = "Kafka bootstrap servers for one rollout decision across "
            + "replicas: every replica sends its windows of a canary or shadow to --rollout-topic, the replica holding "
            + "the judge's lease (the topic's consumer group) pools them and moves MLflow's aliases, every replica "
            + "follows the aliases. Needs --mlflow-uri. Default: each server judges its own traffic.")
    String rolloutKafka;

    @Option(names = "--rollout-topic", defaultValue = "mlserve.rollout", description = "Topic of the pooled "
            + "rollout windows (default: ${DEFAULT-VALUE}).")
    String rolloutTopic;

    @Option(names = "--mlflow-token-file", description = "File holding the bearer token for MLflow (read once; "
            + "the token is never logged).")
    Path mlflowTokenFile;

    @Option(names = "--audit-log", description = "Append-only audit log (JSON lines) of loads, refusals, "
            + "promotions, rollbacks and manual actions (default: <data-dir>/audit.log).")
    Path auditLog;

    @Option(names = "--tls-cert", description = "PEM certificate chain: every port (gRPC, HTTP, metrics) speaks TLS. "
            + "Reloaded when the file changes.")
    Path tlsCert;

    @Option(names = "--tls-key", description = "The certificate's private key, PKCS#8 PEM (BEGIN PRIVATE KEY).")
    Path tlsKey;

    @Option(names = "--tls-client-ca", description = "Mutual TLS: clients must present a certificate signed by this "
            + "PEM CA (checked in the handshake).")
    Path tlsClientCa;

    @Option(names = "--auth-tokens", description = "Bearer tokens: lines of '<sha256 hex of token> <principal> "
            + "<role>[,<role>...] [models=<m>,...]', roles predict, features-write, admin, metrics; re-read on change.")
    Path authTokens;

    @Option(names = "--metrics-open", description = "With --auth-tokens, serve /metrics without a token.")
    boolean metricsOpen;

    @Option(names = "--rate-limit", defaultValue = "0", description = "Requests per second per principal "
            + "(token bucket); over it: RESOURCE_EXHAUSTED / 429 with the wait; 0 = none (default).")
    double rateLimit;

    @Option(names = "--rate-burst", defaultValue = "100", description = "Requests a principal may send at once "
            + "(default: ${DEFAULT-VALUE}).")
    int rateBurst;

    @Option(names = "--max-rows-per-request", defaultValue = "100000", description = "Largest batch dimension a "
            + "request may carry (default: ${DEFAULT-VALUE}).")
    long maxRows;

    @Option(names = "--max-bytes-element", defaultValue = "1048576", description = "Longest BYTES element, in bytes "
            + "(default: ${DEFAULT-VALUE}).")
    int maxBytesElement;

    @Option(names = "--max-decoded-bytes", defaultValue = "268435456", description = "Most bytes a request's tensors "
            + "may decode to (default: ${DEFAULT-VALUE}).")
    long maxDecodedBytes;

    @Option(names = "--max-concurrent-calls-per-connection", defaultValue = "1000", description = "gRPC calls one "
            + "connection may have open at once (default: ${DEFAULT-VALUE}).")
    int maxCallsPerConnection;

    @Option(names = "--keepalive-permit-secs", defaultValue = "10", description = "Clients may ping at most this "
            + "often; faster pings close the connection (default: ${DEFAULT-VALUE}).")
    int keepalivePermitSecs;

    /** Options from the flags, the config file filling what the flags leave open. */
    ServerOptions toOptions(Path repository) throws java.io.IOException {
        ServerConfigFile file = config == null ? null : ServerConfigFile.read(config);
        Path repo = repository != null ? repository : file == null ? null : file.modelRepository();
        if (repo == null) {
            throw new picocli.CommandLine.ParameterException(new picocli.CommandLine(this),
                    "a model repository is needed: --model-repository DIR, or model_repository in --config");
        }
        Path data = dataDir != null ? dataDir : file != null && file.dataDir() != null ? file.dataDir() : Path.of("data");
        SessionConfig session = SessionConfig.DEFAULT.withDevice(Device.parse(device)).withIntraOpThreads(intraOpThreads);
        return new ServerOptions(host, httpPort, grpcPort, metricsPort, repo, session, maxMessageBytes,
                defaultInstances, eventLoopThreads, shutdownGraceSeconds, data,
                file == null ? java.util.List.of() : file.featureViews(), file == null ? null : file.kafka(),
                file == null ? java.util.List.of() : file.snapshots(),
                trainer == null ? null : RetrainOptions.defaults(trainer).withCooldown(Duration.ofSeconds(retrainCooldown))
                        .withBackoff(Duration.ofSeconds(1), Duration.ofSeconds(Math.max(1, retrainMaxBackoff)))
                        .withRequester(instanceName()), driftKafka, driftTopic,
                predictionLogKafka == null ? null : new PredictionLog.Options(predictionLogKafka, predictionLogTopic,
                        predictionLogSample, predictionLogBuffer), outcomesKafka, outcomesTopic, instanceName(),
                registry(file), new io.mlserve.server.SecurityOptions(tlsCert, tlsKey, tlsClientCa, authTokens,
                        metricsOpen, rateLimit, rateBurst, new io.mlserve.server.inference.RequestLimits(maxRows,
                        maxBytesElement, maxDecodedBytes), maxCallsPerConnection, keepalivePermitSecs), replayClock,
                file == null || file.trainingLog() == null ? io.mlserve.server.traininglog.TrainingLog.Options.defaults()
                        : file.trainingLog());
    }

    private io.mlserve.server.RegistryOptions registry(ServerConfigFile file) throws java.io.IOException {
        int poll = pollSecs != null ? pollSecs : file != null && file.repositoryPollSecs() != null
                ? file.repositoryPollSecs() : mlflowUri != null ? 30 : 0;
        String token = mlflowTokenFile == null ? null : java.nio.file.Files.readString(mlflowTokenFile).strip();
        return new io.mlserve.server.RegistryOptions(poll, mlflowUri, token,
                mlflowModels == null ? java.util.List.of() : mlflowModels, mlflowAliases, auditLog, null, rolloutKafka,
                rolloutTopic);
    }
}
