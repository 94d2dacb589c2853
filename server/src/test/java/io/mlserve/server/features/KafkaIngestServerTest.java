package io.mlserve.server.features;

import static org.assertj.core.api.Assertions.assertThat;

import io.mlserve.featurecache.kafka.IngestConfig;
import io.mlserve.featurecache.kafka.KafkaBroker;
import io.mlserve.proto.v1.FeatureRecord;
import io.mlserve.proto.v1.FeatureUpdate;
import io.mlserve.proto.v1.FeatureValue;
import io.mlserve.proto.v1.PredictRequest;
import io.mlserve.proto.v1.PredictionServiceGrpc;
import io.mlserve.server.ServerOptions;
import io.mlserve.server.TestServer;
import io.mlserve.server.config.ServerConfigFile;
import io.mlserve.examples.ChurnExample;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The server fed from a real Kafka broker: Predict sees ingested features; a broker outage does not stop serving. */
class KafkaIngestServerTest {
    @TempDir
    Path dir;

    @Test
    void predictSeesIngestedFeaturesAndServingOutlivesTheBroker() throws Exception {
        Path config = ChurnExample.writeTo(dir.resolve("example"));
        ServerConfigFile file = ServerConfigFile.read(config);
        try (KafkaBroker broker = new KafkaBroker(dir.resolve("kafka")).start()) {
            IngestConfig kafka = new IngestConfig(broker.bootstrap(), "server-test", List.of(new IngestConfig.Topic(
                    "mlserve.features", IngestConfig.Format.PROTOBUF, "customer", "mlserve.features.dlq")),
                    Duration.ofMillis(200));
            try (TestServer t = new TestServer(file.modelRepository()).start(ServerOptions.ephemeral(file.modelRepository())
                    .withFeatureViews(dir.resolve("tables"), file.featureViews()).withKafka(kafka));
                 KafkaProducer<String, byte[]> producer = broker.producer()) {
                var predict = PredictionServiceGrpc.newBlockingStub(t.channel());
                producer.send(new ProducerRecord<>("mlserve.features", "k-1", update("k-1", 1, 24))).get();
                awaitTenure(predict, "k-1", 24);

                // a burst acknowledged by the broker just before it goes away is all applied
                for (int i = 0; i < 50; i++) {
                    producer.send(new ProducerRecord<>("mlserve.features", "b-" + i, update("b-" + i, 1, i))).get();
                }
                awaitTenure(predict, "b-49", 49);
                broker.stop();
                // the broker is gone: predictions keep coming from what is cached, and staleness shows
                for (int i = 0; i < 20; i++) {
                    assertThat(tenure(predict, "k-1")).isEqualTo(24);
                }
                Thread.sleep(3_000);
                assertThat(contactAge(t)).as("seconds since the broker last answered").isGreaterThanOrEqualTo(2.5);
                assertThat(t.get(t.server.httpPort(), "/v2/health/ready").statusCode()).isEqualTo(200);
                broker.start();
                producer.send(new ProducerRecord<>("mlserve.features", "k-1", update("k-1", 2, 25))).get(60, TimeUnit.SECONDS);
                awaitTenure(predict, "k-1", 25);
                for (int i = 0; i < 50; i++) {
                    assertThat(tenure(predict, "b-" + i)).isEqualTo(i);
                }
                String metrics = t.get(t.server.metricsPort(), "/metrics").body();
                assertThat(metrics).contains("mlserve_feature_ingest_records_total{outcome=\"applied\",topic=\"mlserve.features\"} 52.0");
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                while (contactAge(t) > 2 && System.nanoTime() < deadline) {
                    Thread.sleep(200);
                }
                assertThat(contactAge(t)).as("in contact again").isLessThanOrEqualTo(2);
            }
        }
    }

    private static double contactAge(TestServer t) throws Exception {
        for (String line : t.get(t.server.metricsPort(), "/metrics").body().split("\n")) {
            if (line.startsWith("mlserve_feature_ingest_contact_age_seconds ")) {
                return Double.parseDouble(line.substring(line.indexOf(' ') + 1));
            }
        }
        throw new AssertionError("no mlserve_feature_ingest_contact_age_seconds in /metrics");
    }

    private static double tenure(PredictionServiceGrpc.PredictionServiceBlockingStub s, String id) {
        return s.withDeadlineAfter(10, TimeUnit.SECONDS).predict(PredictRequest.newBuilder().setModelName("churn")
                .addEntityIds(id).setReturnFeatures(true).build()).getPredictions(0).getFeaturesMap().get("tenure_months");
    }

    private static void awaitTenure(PredictionServiceGrpc.PredictionServiceBlockingStub s, String id, double want)
            throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (tenure(s, id) != want) {
            assertThat(System.nanoTime()).as("waiting for tenure " + want).isLessThan(deadline);
            Thread.sleep(50);
        }
    }

    private static byte[] update(String id, long time, double tenure) {
        return FeatureUpdate.newBuilder().setView("customer").setRecord(FeatureRecord.newBuilder().setEntityId(id)
                .setEventTimeMs(System.currentTimeMillis() - 1000 + time)
                .putValues("tenure_months", FeatureValue.newBuilder().setNumber(tenure).build())).build().toByteArray();
    }

}
