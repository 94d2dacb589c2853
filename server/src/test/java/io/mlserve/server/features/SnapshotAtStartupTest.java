package io.mlserve.server.features;

import static org.assertj.core.api.Assertions.assertThat;

import io.mlserve.proto.v1.FeatureServiceGrpc;
import io.mlserve.proto.v1.FeatureStatus;
import io.mlserve.proto.v1.ReadFeaturesRequest;
import io.mlserve.proto.v1.ReadFeaturesResponse;
import io.mlserve.server.ServerOptions;
import io.mlserve.server.TestServer;
import io.mlserve.server.config.ServerConfigFile;
import io.mlserve.examples.ChurnExample;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A snapshot named in the config is in the store before the server answers. */
class SnapshotAtStartupTest {
    @TempDir
    Path dir;

    @Test
    void loadsConfiguredSnapshotsBeforeServing() throws Exception {
        ServerConfigFile file = ServerConfigFile.read(ChurnExample.writeTo(dir));
        long now = System.currentTimeMillis();
        Path csv = Files.writeString(dir.resolve("customers.csv"), "customer_id,event_time,tenure_months,contract_type\n"
                + "s-1," + now + ",5,two_year\n" + "s-2," + now + ",61,month_to_month\n");
        try (TestServer t = new TestServer(file.modelRepository()).start(ServerOptions.ephemeral(file.modelRepository())
                .withFeatureViews(dir.resolve("tables"), file.featureViews())
                .withSnapshots(List.of(new ServerConfigFile.Snapshot("customer", csv, "event_time"))))) {
            ReadFeaturesResponse r = FeatureServiceGrpc.newBlockingStub(t.channel()).readFeatures(
                    ReadFeaturesRequest.newBuilder().setView("customer").addEntityIds("s-2").build());
            assertThat(r.getRows(0).getValuesMap()).containsEntry("tenure_months", 61.0)
                    .containsEntry("contract_type", 0.0);
            assertThat(r.getRows(0).getStatusMap()).containsEntry("tenure_months", FeatureStatus.PRESENT)
                    .containsEntry("age", FeatureStatus.DEFAULTED);
            // a view default of nan means "missing": JSON shows it as null
            var views = List.of(new io.mlserve.featurecache.FeatureView("nanview", "id",
                    io.mlserve.featurecache.FeatureView.KeyType.STRING,
                    List.of(io.mlserve.featurecache.FeatureSpec.numeric("x", Double.NaN)), java.time.Duration.ZERO, 10, false));
            try (TestServer n = new TestServer(file.modelRepository()).start(ServerOptions.ephemeral(file.modelRepository())
                    .withFeatureViews(dir.resolve("nan-tables"), views))) {
                String body = n.get(n.server.httpPort(), "/v1/features/nanview/someone").body();
                assertThat(body).contains("\"x\":null").contains("\"x\":\"MISSING\"");
            }
        }
    }
}
