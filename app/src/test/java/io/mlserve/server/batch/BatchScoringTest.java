package io.mlserve.server.batch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mlserve.datagen.ChurnDataGenerator;
import io.mlserve.examples.ChurnExample;
import io.mlserve.featurecache.FeatureView;
import io.mlserve.proto.v1.PredictRequest;
import io.mlserve.proto.v1.PredictResponse;
import io.mlserve.proto.v1.PredictionServiceGrpc;
import io.mlserve.runtime.SessionConfig;
import io.mlserve.server.ServerOptions;
import io.mlserve.server.TestServer;
import io.mlserve.server.config.ServerConfigFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.example.GroupReadSupport;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Batch scoring against online serving on the same rows: the churn example (its feature view and model), a
 * generated data set scored in batch from CSV and from Parquet, and the same file loaded as a snapshot into a real
 * server and predicted by entity over gRPC. Every customer's online score equals the batch score of that customer's
 * latest row (the one the store keeps).
 */
class BatchScoringTest {
    @TempDir
    Path dir;

    Path repo;
    FeatureView view;
    Path data;

    @BeforeEach
    void setUp() throws Exception {
        ServerConfigFile file = ServerConfigFile.read(ChurnExample.writeTo(dir.resolve("example")));
        repo = file.modelRepository();
        FeatureView v = file.featureViews().get(0);
        // the generator's events are from 2022: no TTL, so online reads them as written
        view = new FeatureView(v.name(), v.entityKey(), v.keyType(), v.features(), Duration.ZERO, v.maxEntities(),
                v.serveStale());
        data = dir.resolve("data");
        new ChurnDataGenerator(new ChurnDataGenerator.Options(4_000, 1, 3)).generate(data);
    }

    private BatchScorer.Options options(Path in, Path out) {
        return new BatchScorer.Options(in, repo, "churn", 0, view, out, 512, "event_time", SessionConfig.DEFAULT);
    }

    @Test
    void batchScoresEqualOnlinePredictionsOfTheSameRows() throws Exception {
        List<long[]> progress = new ArrayList<>();
        BatchScorer.Summary csv = BatchScorer.run(options(data.resolve("data.csv"), dir.resolve("scores.csv")),
                rows -> progress.add(new long[] {rows}));
        BatchScorer.Summary parquet = BatchScorer.run(options(data.resolve("data.parquet"),
                dir.resolve("scores.parquet")), null);
        assertThat(csv.rows()).isEqualTo(4_000);
        assertThat(parquet.rows()).isEqualTo(4_000);
        assertThat(csv.version()).isEqualTo(1);
        assertThat(progress).hasSize(8); // 4,000 rows in batches of 512

        List<String> lines = Files.readAllLines(dir.resolve("scores.csv"));
        assertThat(lines.get(0)).isEqualTo("customer_id,event_time,score,model,version");
        assertThat(lines).hasSize(4_001);
        List<String> input = Files.readAllLines(data.resolve("data.csv"));
        // the customer's latest row by event time (a tie: the later row, as the store applies them)
        Map<String, Float> latest = new LinkedHashMap<>();
        Map<String, Long> latestTime = new HashMap<>();
        for (int i = 1; i < lines.size(); i++) {
            String[] c = lines.get(i).split(",");
            String[] in = input.get(i).split(",", 3);
            assertThat(c[0]).as("row %d keeps its key", i).isEqualTo(in[1]);
            assertThat(c[1]).as("and its event time").isEqualTo(in[0]);
            assertThat(c[3] + ":" + c[4]).isEqualTo("churn:1");
            long t = Long.parseLong(c[1]);
            if (t >= latestTime.getOrDefault(c[0], Long.MIN_VALUE)) {
                latestTime.put(c[0], t);
                latest.put(c[0], Float.parseFloat(c[2]));
            }
        }
        // Parquet in, Parquet out: the same scores, row for row
        try (ParquetReader<Group> r = ParquetReader.builder(new GroupReadSupport(),
                new org.apache.hadoop.fs.Path(dir.resolve("scores.parquet").toUri())).withConf(new Configuration(false))
                .build()) {
            for (int i = 1; i < lines.size(); i++) {
                Group g = r.read();
                assertThat(g.getString("customer_id", 0)).isEqualTo(lines.get(i).split(",")[0]);
                assertThat(g.getFloat("score", 0)).isEqualTo(Float.parseFloat(lines.get(i).split(",")[2]));
            }
            assertThat(r.read()).isNull();
        }

        try (TestServer t = new TestServer(repo).start(ServerOptions.ephemeral(repo)
                .withFeatureViews(dir.resolve("tables"), List.of(view))
                .withSnapshots(List.of(new ServerConfigFile.Snapshot("customer", data.resolve("data.csv"),
                        "event_time"))))) {
            PredictionServiceGrpc.PredictionServiceBlockingStub stub = PredictionServiceGrpc.newBlockingStub(t.channel());
            List<String> customers = new ArrayList<>(latest.keySet());
            for (int from = 0; from < customers.size(); from += 200) {
                PredictResponse r = stub.predict(PredictRequest.newBuilder().setModelName("churn")
                        .addAllEntityIds(customers.subList(from, Math.min(customers.size(), from + 200))).build());
                for (var p : r.getPredictionsList()) {
                    assertThat(p.getScore()).as("customer %s", p.getEntityId())
                            .isCloseTo(latest.get(p.getEntityId()), org.assertj.core.data.Offset.offset(1e-6));
                }
            }
            assertThat(customers).hasSizeGreaterThan(500);
        }
    }

    @Test
    void sparkModeScoresExactlyAsInProcess() throws Exception {
        System.setProperty("mlserve.home", Path.of("..").toAbsolutePath().normalize().toString());
        Path config = dir.resolve("example/mlserve.yaml");
        int local = new picocli.CommandLine(new io.mlserve.app.ScoreCommand()).execute("--data",
                data.resolve("data.csv").toString(), "--model", "churn", "--registry", repo.toString(), "--config",
                config.toString(), "--out", dir.resolve("local.csv").toString());
        int spark = new picocli.CommandLine(new io.mlserve.app.ScoreCommand()).execute("--data",
                data.resolve("data.parquet").toString(), "--model", "churn", "--registry", repo.toString(), "--config",
                config.toString(), "--out", dir.resolve("spark").toString(), "--spark-master", "local[2]");
        assertThat(local).isZero();
        assertThat(spark).isZero();
        Map<String, Float> expected = new HashMap<>();
        for (String line : Files.readAllLines(dir.resolve("local.csv")).subList(1, 4_001)) {
            String[] c = line.split(",");
            expected.put(c[0] + "@" + c[1], Float.parseFloat(c[2]));
        }
        Map<String, Float> got = new HashMap<>();
        try (var parts = Files.list(dir.resolve("spark"))) {
            for (Path part : parts.filter(f -> f.getFileName().toString().endsWith(".parquet")).toList()) {
                try (ParquetReader<Group> r = ParquetReader.builder(new GroupReadSupport(),
                        new org.apache.hadoop.fs.Path(part.toUri())).withConf(new Configuration(false)).build()) {
                    for (Group g = r.read(); g != null; g = r.read()) {
                        assertThat(g.getString("model", 0)).isEqualTo("churn");
                        assertThat(g.getLong("version", 0)).isEqualTo(1);
                        got.put(g.getString("customer_id", 0) + "@" + g.getLong("event_time", 0), g.getFloat("score", 0));
                    }
                }
            }
        }
        assertThat(got).hasSameSizeAs(expected);
        for (Map.Entry<String, Float> e : expected.entrySet()) {
            assertThat(got.get(e.getKey())).as(e.getKey()).isCloseTo(e.getValue(), org.assertj.core.data.Offset.offset(1e-6f));
        }
    }

    @Test
    void refusesWhatItCannotScoreWithTheReason() throws Exception {
        Path out = dir.resolve("x.csv");
        assertThatThrownBy(() -> BatchScorer.run(new BatchScorer.Options(data.resolve("data.csv"), repo, "nope", 0,
                view, out, 512, "event_time", SessionConfig.DEFAULT), null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no model 'nope'");
        assertThatThrownBy(() -> BatchScorer.run(new BatchScorer.Options(data.resolve("data.csv"), repo, "churn", 9,
                view, out, 512, "event_time", SessionConfig.DEFAULT), null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("version 9");
        Path bad = Files.writeString(dir.resolve("bad.csv"), "customer_id,event_time,tenure_months\nc-1,5,12\n"
                + "c-2,6,twelve\n");
        assertThatThrownBy(() -> BatchScorer.run(options(bad, out), null)).isInstanceOf(IOException.class)
                .hasMessageContaining("bad.csv:3").hasMessageContaining("'twelve' is not a number");
    }
}
