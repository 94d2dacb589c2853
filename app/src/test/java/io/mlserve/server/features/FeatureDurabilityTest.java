package io.mlserve.server.features;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.mlserve.examples.ChurnExample;
import io.mlserve.proto.v1.FeatureRecord;
import io.mlserve.proto.v1.FeatureServiceGrpc;
import io.mlserve.proto.v1.FeatureValue;
import io.mlserve.proto.v1.ReadFeaturesRequest;
import io.mlserve.proto.v1.ReadFeaturesResponse;
import io.mlserve.proto.v1.WriteFeaturesRequest;
import io.mlserve.server.ServerProcess;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** kill -9 the real server while it takes writes; after a restart every acknowledged write is there. */
class FeatureDurabilityTest {
    private static final int ACKED_BEFORE_KILL = 3000;

    @TempDir
    Path dir;

    @Test
    void everyAcknowledgedWriteSurvivesKillDashNine() throws Exception {
        Path config = ChurnExample.writeTo(dir);
        Path data = dir.resolve("tables");
        long base = System.currentTimeMillis();
        int acked = -1;
        try (ServerProcess first = ServerProcess.start(dir.resolve("first.log"), "--config", config.toString(),
                "--data-dir", data.toString())) {
            ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", first.grpcPort).usePlaintext().build();
            try {
                var stub = FeatureServiceGrpc.newBlockingStub(ch);
                Thread killer = null;
                for (int i = 0; ; i++) {
                    try {
                        stub.withDeadlineAfter(10, TimeUnit.SECONDS).writeFeatures(WriteFeaturesRequest.newBuilder()
                                .setView("customer").addRecords(FeatureRecord.newBuilder().setEntityId("k-" + i)
                                        .setEventTimeMs(base + i)
                                        .putValues("tenure_months", FeatureValue.newBuilder().setNumber(i).build()))
                                .build());
                    } catch (io.grpc.StatusRuntimeException e) {
                        break; // the server died under us: writes after the last acknowledged one may be lost
                    }
                    acked = i;
                    if (i == ACKED_BEFORE_KILL && killer == null) {
                        // kill while writes keep coming
                        killer = new Thread(() -> {
                            try {
                                first.kill();
                            } catch (InterruptedException e) {
                                Thread.currentThread().interrupt();
                            }
                        });
                        killer.start();
                    }
                }
                killer.join();
            } finally {
                ch.shutdownNow();
            }
            assertThat(first.process.exitValue()).isNotZero();
        }
        assertThat(acked).isGreaterThanOrEqualTo(ACKED_BEFORE_KILL);
        try (ServerProcess second = ServerProcess.start(dir.resolve("second.log"), "--config", config.toString(),
                "--data-dir", data.toString())) {
            assertThat(second.log()).contains("recovered after an unclean stop");
            ManagedChannel ch = NettyChannelBuilder.forAddress("127.0.0.1", second.grpcPort).usePlaintext()
                    .maxInboundMessageSize(64 << 20).build();
            try {
                ReadFeaturesRequest.Builder read = ReadFeaturesRequest.newBuilder().setView("customer");
                for (int i = 0; i <= acked; i++) {
                    read.addEntityIds("k-" + i);
                }
                ReadFeaturesResponse r = FeatureServiceGrpc.newBlockingStub(ch).withDeadlineAfter(60, TimeUnit.SECONDS)
                        .readFeatures(read.build());
                for (int i = 0; i <= acked; i++) {
                    assertThat(r.getRows(i).getEventTimeMs()).as("k-" + i).isEqualTo(base + i);
                    assertThat(r.getRows(i).getValuesMap().get("tenure_months")).isEqualTo((double) i);
                }
            } finally {
                ch.shutdownNow();
            }
        }
    }
}
