package io.mlserve.trainer;

import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The long-running trainer: {@code mlserve.v1.TrainerService} and gRPC health on one port, and optionally a
 * consumer of {@code mlserve.retrain}, all feeding one {@link TrainerJobs}.
 */
public final class TrainerServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TrainerServer.class);

    /**
     * @param kafka      bootstrap servers, or null for no Kafka consumer
     * @param graceSeconds how long a running job may take to finish on shutdown
     */
    public record Options(String host, int port, Path registry, TrainerJobs.Defaults defaults, String master,
                          String kafka, String topic, String groupId, int history, int graceSeconds,
                          Publication publication) {
        /** Publishing into the registry directory alone. */
        public Options(String host, int port, Path registry, TrainerJobs.Defaults defaults, String master,
                       String kafka, String topic, String groupId, int history, int graceSeconds) {
            this(host, port, registry, defaults, master, kafka, topic, groupId, history, graceSeconds,
                    Publication.LOCAL);
        }

        /** These options, publishing through {@code p} as well. */
        public Options publishingTo(Publication p) {
            return new Options(host, port, registry, defaults, master, kafka, topic, groupId, history, graceSeconds,
                    p);
        }
    }

    private final Options options;
    private final TrainerJobs jobs;
    private final HealthStatusManager health = new HealthStatusManager();
    private final Server grpc;
    private io.mlserve.topics.TopicConsumer consumer;

    private TrainerServer(Options options) throws IOException {
        this.options = options;
        this.jobs = new TrainerJobs(options.registry(), options.defaults(), options.master(), options.history())
                .withPublication(options.publication());
        this.grpc = NettyServerBuilder.forAddress(new InetSocketAddress(options.host(), options.port()))
                .addService(new GrpcTrainerService(jobs))
                .addService(health.getHealthService())
                .build();
    }

    public static TrainerServer start(Options options) throws IOException {
        TrainerServer s = new TrainerServer(options);
        try {
            s.grpc.start();
            if (options.kafka() != null) {
                s.consumer = new io.mlserve.topics.TopicConsumer(options.kafka(), options.topic(), options.groupId(),
                        io.mlserve.topics.TopicConsumer.Start.EARLIEST, s::submitFromKafka).start();
            }
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
        LOG.info("trainer on {}:{} publishing into {} (Spark {}){}", options.host(), s.port(), options.registry(),
                options.master(), options.kafka() == null ? "" : "; consuming " + options.topic() + " from "
                        + options.kafka());
        return s;
    }

    /**
     * One {@code mlserve.retrain} record (a serialized JobRequest). A record without a request_id gets
     * {@code kafka:<topic>-<partition>-<offset>}, so a redelivered record is the same job; an invalid one is refused
     * (IllegalArgumentException: logged and skipped by the consumer, never retried).
     */
    private void submitFromKafka(byte[] value, String where) throws com.google.protobuf.InvalidProtocolBufferException {
        io.mlserve.proto.v1.JobRequest request = io.mlserve.proto.v1.JobRequest.parseFrom(value);
        if (request.getRequestId().isEmpty()) {
            request = request.toBuilder().setRequestId("kafka:" + where).build();
        }
        io.mlserve.proto.v1.SubmitJobResponse s = jobs.submit(request, "kafka");
        if (s.getDeduplicated()) {
            LOG.info("record {}: same as job {} ({})", where, s.getJob().getJobId(), s.getJob().getState());
        }
    }

    public int port() {
        return grpc.getPort();
    }

    public TrainerJobs jobs() {
        return jobs;
    }

    public void awaitTermination() throws InterruptedException {
        grpc.awaitTermination();
    }

    @Override
    public void close() {
        health.enterTerminalState();
        if (consumer != null) {
            consumer.close();
        }
        grpc.shutdown();
        jobs.close(options.graceSeconds());
        try {
            if (!grpc.awaitTermination(5, TimeUnit.SECONDS)) {
                grpc.shutdownNow();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            grpc.shutdownNow();
        }
        LOG.info("trainer stopped");
    }
}
