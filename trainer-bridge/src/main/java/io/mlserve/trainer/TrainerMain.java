package io.mlserve.trainer;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code mlserve trainer}: the long-running trainer service; runs in its own JVM with the trainer's classpath. */
@Command(name = "trainer", mixinStandardHelpOptions = true,
        description = "Run the trainer service: gRPC mlserve.v1.TrainerService (SubmitJob, GetJob, ListJobs) and, "
                + "with --kafka, a consumer of retrain requests. Jobs run one at a time with Spark MLlib and publish "
                + "into --registry exactly as ./mlserve train does; a server's jobs name their feature view and data "
                + "(the model's training log, the last N days).")
public final class TrainerMain implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--host", defaultValue = "0.0.0.0", description = "Address to bind (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", defaultValue = "8010", description = "gRPC port; 0 = any free port (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--registry", required = true, description = "Model repository jobs publish into (with "
            + "--mlflow-uri: the trainer's working copy).")
    Path registry;

    @CommandLine.Mixin
    MlflowFlags mlflow;

    @Option(names = "--data", description = "Data directory (data.parquet or data.csv) for jobs that name none.")
    Path data;

    @Option(names = "--config", description = "Server config file: the feature view of jobs that carry no schema "
            + "(a server's jobs carry theirs).")
    Path config;

    @Option(names = "--view", description = "The feature view in --config (default: its only view).")
    String view;

    @Option(names = "--spark-master", defaultValue = "local[*]", description = "Spark master (default: ${DEFAULT-VALUE}).")
    String master;

    @Option(names = "--kafka", description = "Kafka bootstrap servers: also take jobs from --retrain-topic.")
    String kafka;

    @Option(names = "--retrain-topic", defaultValue = "mlserve.retrain", description = "Topic of JobRequest records "
            + "(default: ${DEFAULT-VALUE}).")
    String topic;

    @Option(names = "--group-id", defaultValue = "mlserve-trainer", description = "Kafka consumer group "
            + "(default: ${DEFAULT-VALUE}).")
    String groupId;

    @Option(names = "--history", defaultValue = "1000", description = "Finished jobs kept for GetJob/ListJobs "
            + "(default: ${DEFAULT-VALUE}).")
    int history;

    @Option(names = "--shutdown-grace-secs", defaultValue = "60", description = "On SIGTERM, how long a running job "
            + "may take to finish (default: ${DEFAULT-VALUE}).")
    int grace;

    public static void main(String[] args) {
        int code = new CommandLine(new TrainerMain()).execute(args);
        if (code != 0) {
            System.exit(code);
        }
    }

    @Override
    public Integer call() throws Exception {
        if (port < 0 || port > 65535) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--port must be 0..65535, got " + port);
        }
        if (history < 1 || grace < 0) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--history must be >= 1 and --shutdown-grace-secs >= 0");
        }
        Publication publication;
        try {
            publication = mlflow.publication();
        } catch (IllegalArgumentException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), e.getMessage());
        }
        TrainerServer server = TrainerServer.start(new TrainerServer.Options(host, port, registry,
                new TrainerJobs.Defaults(data, config, view), master, kafka,
                topic, groupId, history, grace).publishingTo(publication));
        System.out.println("trainer listening on port " + server.port());
        System.out.flush();
        Runtime.getRuntime().addShutdownHook(new Thread(server::close, "mlserve-trainer-shutdown"));
        server.awaitTermination();
        return 0;
    }
}
