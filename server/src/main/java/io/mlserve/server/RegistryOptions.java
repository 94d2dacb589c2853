package io.mlserve.server;

import java.nio.file.Path;
import java.util.List;

/**
 * Where model versions come from and where their history is kept.
 *
 * @param pollSecs    seconds between passes over the registry (Triton's --repository-poll-secs); 0 = no polling
 *                    (loads at start-up and through the OIP repository API only)
 * @param mlflowUri   an MLflow tracking server to take versions from (its model registry), or null for the file
 *                    system; the model repository directory is then MLflow's local cache
 * @param mlflowToken bearer token for MLflow, or null
 * @param mlflowModels the registered models to serve from MLflow
 * @param aliases     the MLflow aliases naming the champion and the challenger, in that order
 * @param auditLog    the audit log file, or null for {@code <data_dir>/audit.log}
 * @param stateDir    where rollout state persists, or null for {@code <data_dir>/rollout}
 * @param rolloutKafka Kafka bootstrap servers for pooled judging (every replica's windows to the one holding the
 *                    judge's lease), or null: each server judges its own traffic
 * @param rolloutTopic the topic of the pooled windows
 */
public record RegistryOptions(int pollSecs, String mlflowUri, String mlflowToken, List<String> mlflowModels,
                              List<String> aliases, Path auditLog, Path stateDir, String rolloutKafka,
                              String rolloutTopic) {
    /** The topic of pooled rollout windows when none is named. */
    public static final String DEFAULT_ROLLOUT_TOPIC = "mlserve.rollout";

    public RegistryOptions {
        if (pollSecs < 0) {
            throw new IllegalArgumentException("--repository-poll-secs must be >= 0, got " + pollSecs);
        }
        mlflowModels = List.copyOf(mlflowModels);
        aliases = List.copyOf(aliases);
        if (mlflowUri != null && mlflowModels.isEmpty()) {
            throw new IllegalArgumentException("--mlflow-uri needs --mlflow-models: the registered models to serve");
        }
        if (rolloutKafka != null && mlflowUri == null) {
            throw new IllegalArgumentException("--rollout-kafka needs --mlflow-uri: the replicas follow one decision "
                    + "through MLflow's aliases");
        }
        if (aliases.size() != 2) {
            throw new IllegalArgumentException("--mlflow-aliases needs two names: champion,challenger; got "
                    + aliases);
        }
    }

    /** No polling, the file system, the default files. */
    public static RegistryOptions defaults() {
        return new RegistryOptions(0, null, null, List.of(), List.of("champion", "challenger"), null, null, null,
                DEFAULT_ROLLOUT_TOPIC);
    }

    public RegistryOptions withPollSecs(int secs) {
        return new RegistryOptions(secs, mlflowUri, mlflowToken, mlflowModels, aliases, auditLog, stateDir,
                rolloutKafka, rolloutTopic);
    }

    public RegistryOptions withMlflow(String uri, String token, List<String> models) {
        return new RegistryOptions(pollSecs, uri, token, models, aliases, auditLog, stateDir, rolloutKafka,
                rolloutTopic);
    }

    /** Pooled judging over {@code bootstrap}'s {@code topic}. */
    public RegistryOptions withRolloutKafka(String bootstrap, String topic) {
        return new RegistryOptions(pollSecs, mlflowUri, mlflowToken, mlflowModels, aliases, auditLog, stateDir,
                bootstrap, topic);
    }
}
