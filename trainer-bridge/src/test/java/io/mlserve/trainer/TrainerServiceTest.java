package io.mlserve.trainer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.mlserve.datagen.ChurnDataGenerator;
import io.mlserve.featurecache.kafka.KafkaBroker;
import io.mlserve.proto.v1.GetJobRequest;
import io.mlserve.proto.v1.Job;
import io.mlserve.proto.v1.JobRequest;
import io.mlserve.proto.v1.JobState;
import io.mlserve.proto.v1.ListJobsRequest;
import io.mlserve.proto.v1.SubmitJobResponse;
import io.mlserve.proto.v1.TrainSpec;
import io.mlserve.proto.v1.TrainerServiceGrpc;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The trainer service over real gRPC on loopback and a real Kafka broker, running real Spark jobs. */
class TrainerServiceTest {
    @TempDir
    Path dir;

    private TrainerServer start(Path registry, Path data, String kafka) throws Exception {
        return TrainerServer.start(new TrainerServer.Options("127.0.0.1", 0, registry, new TrainerJobs.Defaults(data,
                data == null ? null : data.resolve("mlserve.yaml"), null), "local[2]", kafka,
                "mlserve.retrain", "test-trainer", 100, 60));
    }

    /** A one-feature encoding, as a server would send it. */
    private static final String SCHEMA = "{\"view\": \"v\", \"entity_key\": \"id\", \"inputs\": [{\"name\": \"x\", "
            + "\"type\": \"number\", \"default\": null}]}";

    private static ManagedChannel channel(TrainerServer s) {
        return NettyChannelBuilder.forAddress("127.0.0.1", s.port()).usePlaintext().build();
    }

    @Test
    void refusesBadRequestsWithoutQueueingAnything() throws Exception {
        Path empty = Files.createDirectories(dir.resolve("empty"));
        Path data = Files.createDirectories(dir.resolve("data"));
        Files.writeString(data.resolve("data.parquet"), "never read: validation fails first");
        try (TrainerServer s = start(dir.resolve("models"), null, null)) {
            ManagedChannel ch = channel(s);
            try {
                var stub = TrainerServiceGrpc.newBlockingStub(ch);
                Object[][] cases = {
                    {JobRequest.newBuilder().setModelName("churn"), "train.schema is empty and the trainer has no "
                            + "--config"},
                    {JobRequest.newBuilder().setModelName("churn").setTrain(TrainSpec.newBuilder().setSchema(SCHEMA)),
                            "train.data is empty and the trainer has no --data"},
                    {JobRequest.newBuilder().setModelName("churn").setTrain(TrainSpec.newBuilder().setSchema(SCHEMA)
                            .setData(empty.toString())), "neither data.parquet nor data.csv there"},
                    {JobRequest.newBuilder().setModelName("churn").setTrain(TrainSpec.newBuilder().setSchema(SCHEMA)
                            .setData("log")), "names no log_dir or log_kafka"},
                    {JobRequest.newBuilder().setModelName("churn").setTrain(TrainSpec.newBuilder().setSchema("{")),
                            "train.schema: not JSON"},
                    {JobRequest.newBuilder().setModelName("../etc").setTrain(TrainSpec.newBuilder().setSchema(SCHEMA)
                            .setData(data.toString())), "model name must be"},
                    {JobRequest.newBuilder().setModelName("churn").setTrain(TrainSpec.newBuilder().setSchema(SCHEMA)
                            .setAlgorithm("svm").setData(data.toString())), "algorithm must be lr, gbt or mlp"},
                    {JobRequest.newBuilder().setModelName("churn").setTrain(TrainSpec.newBuilder().setSchema(SCHEMA)
                            .setTrees(-1).setData(data.toString())), "must not be negative"},
                    {JobRequest.newBuilder().setModelName("churn").setTrain(TrainSpec.newBuilder().setSchema(SCHEMA)
                            .setThreshold(0.3).setCostRatio(4).setData(data.toString())),
                            "give a threshold or a cost ratio, not both"},
                };
                for (Object[] c : cases) {
                    JobRequest r = ((JobRequest.Builder) c[0]).build();
                    assertThatThrownBy(() -> stub.submitJob(r)).isInstanceOf(StatusRuntimeException.class)
                            .hasMessageStartingWith("INVALID_ARGUMENT").hasMessageContaining((String) c[1]);
                }
                JobRequest badGrid = JobRequest.newBuilder().setModelName("churn").setTrain(TrainSpec.newBuilder()
                        .setSchema(SCHEMA).setData(data.toString()).setGrid("noSuch=1")).build();
                assertThatThrownBy(() -> stub.submitJob(badGrid)).hasMessageStartingWith("INVALID_ARGUMENT")
                        .hasMessageContaining("no parameter 'noSuch'");
                assertThat(stub.listJobs(ListJobsRequest.getDefaultInstance()).getJobsList()).isEmpty();
                assertThatThrownBy(() -> stub.getJob(GetJobRequest.newBuilder().setJobId("nope").build()))
                        .hasMessageStartingWith("NOT_FOUND");
                assertThatThrownBy(() -> stub.getJob(GetJobRequest.getDefaultInstance()))
                        .hasMessageStartingWith("INVALID_ARGUMENT");
            } finally {
                ch.shutdownNow();
            }
        }
        assertThat(dir.resolve("models")).doesNotExist();
    }

    @Test
    void runsJobsFromGrpcAndKafkaOneAtATimeWithDeduplication() throws Exception {
        Path data = dir.resolve("data");
        new ChurnDataGenerator(new ChurnDataGenerator.Options(5_000, 3, 21)).generate(data);
        Path registry = dir.resolve("models");
        try (KafkaBroker kafka = new KafkaBroker(dir.resolve("kafka")).start();
             TrainerServer s = start(registry, data, kafka.bootstrap())) {
            ManagedChannel ch = channel(s);
            try {
                var stub = TrainerServiceGrpc.newBlockingStub(ch);
                // the operating threshold for the least expected cost when a missed churner costs 3 false alarms
                JobRequest lr = JobRequest.newBuilder().setRequestId("r1").setModelName("churn")
                        .setTrain(TrainSpec.newBuilder().setLabel("churned").setCostRatio(3)).setReason("test").build();
                SubmitJobResponse first = stub.submitJob(lr);
                assertThat(first.getDeduplicated()).isFalse();
                assertThat(first.getJob().getState()).isIn(JobState.QUEUED, JobState.RUNNING);
                // a retry of the same request, and another request for the same model, are the same job
                SubmitJobResponse again = stub.submitJob(lr);
                assertThat(again.getDeduplicated()).isTrue();
                assertThat(again.getJob().getJobId()).isEqualTo(first.getJob().getJobId());
                SubmitJobResponse other = stub.submitJob(lr.toBuilder().setRequestId("r2").build());
                assertThat(other.getJob().getJobId()).isEqualTo(first.getJob().getJobId());

                Job done = s.jobs().await(first.getJob().getJobId(), TimeUnit.MINUTES.toMillis(4));
                assertThat(done.getState()).as(done.getMessage()).isEqualTo(JobState.SUCCEEDED);
                assertThat(done.getResult().getVersion()).isEqualTo(1);
                assertThat(done.getResult().getMaxAbsDelta()).isLessThanOrEqualTo(1e-4);
                assertThat(done.getResult().getThresholdRule()).isEqualTo("cost_ratio 3");
                assertThat(done.getResult().getThreshold()).isBetween(0.0, 1.0);
                assertThat(done.getStartedMs()).isGreaterThanOrEqualTo(done.getSubmittedMs());
                assertThat(done.getFinishedMs()).isGreaterThanOrEqualTo(done.getStartedMs());
                assertThat(registry.resolve("churn/1/model.onnx")).exists();
                assertThat(stub.getJob(GetJobRequest.newBuilder().setRequestId("r2").build()).getJobId())
                        .isEqualTo(done.getJobId());

                // over Kafka: a record that is not a request is refused; a weak candidate is rejected by the gate
                JobRequest weak = JobRequest.newBuilder().setModelName("churn").setTrain(TrainSpec.newBuilder()
                        .setLabel("churned").setAlgorithm("gbt").setTrees(1).setDepth(1).setGateMargin(0)).build();
                try (KafkaProducer<String, byte[]> p = producer(kafka.bootstrap())) {
                    p.send(new ProducerRecord<>("mlserve.retrain", "churn", new byte[] {(byte) 0xff, 1, 2})).get();
                    p.send(new ProducerRecord<>("mlserve.retrain", "churn", weak.toByteArray())).get();
                }
                Job fromKafka = null;
                long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(4);
                while (System.nanoTime() < deadline) {
                    List<Job> jobs = stub.listJobs(ListJobsRequest.newBuilder().setModelName("churn").build())
                            .getJobsList();
                    fromKafka = jobs.stream().filter(j -> j.getSource().equals("kafka")).findFirst().orElse(null);
                    if (fromKafka != null && !TrainerJobs.active(fromKafka.getState())) {
                        break;
                    }
                    Thread.sleep(200);
                }
                assertThat(fromKafka).isNotNull();
                assertThat(fromKafka.getState()).as(fromKafka.getMessage()).isEqualTo(JobState.REJECTED);
                assertThat(fromKafka.getRequest().getRequestId()).startsWith("kafka:mlserve.retrain-0-");
                assertThat(fromKafka.getResult().getPublished()).isFalse();
                assertThat(fromKafka.getResult().getCandidateAuc()).isLessThan(fromKafka.getResult().getChampionAuc());
                assertThat(registry.resolve("churn/2")).doesNotExist();
                assertThat(stub.listJobs(ListJobsRequest.newBuilder().setModelName("churn").build()).getJobsCount())
                        .isEqualTo(2);
            } finally {
                ch.shutdownNow();
            }
        }
    }

    private static KafkaProducer<String, byte[]> producer(String bootstrap) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        return new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
    }
}
