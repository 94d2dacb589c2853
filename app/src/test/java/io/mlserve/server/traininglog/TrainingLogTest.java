package io.mlserve.server.traininglog;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.mlserve.featurecache.FeatureSpec;
import io.mlserve.featurecache.FeatureType;
import io.mlserve.featurecache.FeatureView;
import io.mlserve.featurecache.ViewEncoding;
import io.mlserve.proto.v1.FeatureColumn;
import io.mlserve.proto.v1.FeatureRecord;
import io.mlserve.proto.v1.FeatureServiceGrpc;
import io.mlserve.proto.v1.FeatureValue;
import io.mlserve.proto.v1.Outcome;
import io.mlserve.proto.v1.OutcomeServiceGrpc;
import io.mlserve.proto.v1.PredictRequest;
import io.mlserve.proto.v1.PredictResponse;
import io.mlserve.proto.v1.PredictionServiceGrpc;
import io.mlserve.proto.v1.ReportOutcomesRequest;
import io.mlserve.proto.v1.WriteFeaturesRequest;
import io.mlserve.runtime.onnx.Exporters;
import io.mlserve.runtime.onnx.Preprocessing;
import io.mlserve.server.MlServer;
import io.mlserve.server.ServerOptions;
import io.mlserve.server.ServerProcess;
import io.mlserve.server.TestServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.hadoop.ParquetReader;
import org.apache.parquet.hadoop.example.GroupReadSupport;
import org.apache.parquet.hadoop.metadata.FileMetaData;
import org.apache.parquet.io.LocalInputFile;
import org.apache.parquet.schema.MessageTypeParser;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The training log end to end on a replay clock: Predict rows joined with outcomes (REST by request id, gRPC by
 * entity) are written as Parquet with exactly the features served — NULL where the view's default was served — the
 * label and the outcome's time; rows whose outcome never comes are written unlabelled after the outcome wait;
 * files appear on flush, by size and at shutdown, in date partitions, and old partitions are deleted.
 */
class TrainingLogTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final long T0 = Instant.parse("2024-03-01T10:00:00Z").toEpochMilli();
    private static final long MINUTE = 60_000L;
    private static final long HOUR = 60 * MINUTE;
    private static final long DAY = 24 * HOUR;
    /** Bound in an order unlike the view's. */
    private static final List<String> NAMES = List.of("plan", "balance", "visits");
    private static final FeatureView VIEW = new FeatureView("acct", "account_id", FeatureView.KeyType.STRING, List.of(
            FeatureSpec.numeric("balance", 0), new FeatureSpec("visits", FeatureType.INT64, List.of(), 0, Double.NaN),
            new FeatureSpec("plan", FeatureType.CATEGORICAL, List.of("basic", "pro"), 0, -1)), Duration.ofDays(1),
            1000, false);

    @TempDir
    Path dir;

    private Path repository() throws IOException {
        Path repo = dir.resolve("models");
        Exporters.logisticRegression("risk", new Preprocessing(3, List.of(new Preprocessing.Numeric(0, 0, 0, 1),
                        new Preprocessing.Numeric(1, 0, 0, 10), new Preprocessing.Numeric(2, 0, 0, 1))),
                new double[] {0.4, 0.05, -0.3}, 0.1).writeTo(repo.resolve("risk/1/model.onnx"));
        Files.writeString(repo.resolve("risk/config.json"), """
                {"max_batch_size": 64, "features": {"view": "acct", "names": ["plan", "balance", "visits"]}}""");
        return repo;
    }

    private ServerOptions options(TrainingLog.Options log) throws IOException {
        Path repo = repository();
        return ServerOptions.ephemeral(repo).withFeatureViews(dir.resolve("data"), List.of(VIEW)).withReplayClock(true)
                .withTrainingLog(log);
    }

    private static FeatureValue num(double v) {
        return FeatureValue.newBuilder().setNumber(v).build();
    }

    @Test
    void rowsAreWrittenAsServedWithTheirOutcomesOrUnlabelledAfterTheWait() throws Exception {
        try (TestServer t = new TestServer(dir.resolve("models")).start(options(TrainingLog.Options.defaults()
                .withFlush(1000, Duration.ofHours(1)).withOutcomeWait(Duration.ofDays(1)).withRetentionDays(5)))) {
            int http = t.server.httpPort();
            var features = FeatureServiceGrpc.newBlockingStub(t.channel());
            var predictor = PredictionServiceGrpc.newBlockingStub(t.channel());
            features.writeFeatures(WriteFeaturesRequest.newBuilder().setView("acct")
                    .addRecords(FeatureRecord.newBuilder().setEntityId("a1").setEventTimeMs(T0)
                            .putValues("balance", num(12.5)).putValues("visits", num(3))
                            .putValues("plan", FeatureValue.newBuilder().setCategory("pro").build()))
                    .addRecords(FeatureRecord.newBuilder().setEntityId("a2").setEventTimeMs(T0)
                            .putValues("balance", num(7)))
                    .build());
            PredictResponse first = predictor.predict(PredictRequest.newBuilder().setModelName("risk").setId("r1")
                    .addEntityIds("a1").addEntityIds("a2").addEntityIds("a3").setEventTimeMs(T0 + MINUTE).build());
            PredictResponse overridden = predictor.predict(PredictRequest.newBuilder().setModelName("risk")
                    .setId("r1b").addEntityIds("a4").setEventTimeMs(T0 + MINUTE)
                    .putFeatures("balance", FeatureColumn.newBuilder().addValues(num(99)).build()).build());
            assertThat(t.post(http, "/v1/outcomes", "{\"outcomes\": [{\"entity_id\": \"a1\", \"request_id\": \"r1\", "
                    + "\"label\": 1, \"event_time_ms\": " + (T0 + 2 * HOUR) + "}]}").statusCode()).isEqualTo(200);
            OutcomeServiceGrpc.newBlockingStub(t.channel()).reportOutcomes(ReportOutcomesRequest.newBuilder()
                    .addOutcomes(Outcome.newBuilder().setEntityId("a2").setLabel(0).setEventTimeMs(T0 + 3 * HOUR))
                    .build());
            t.server.quality().drain();
            Path log = dir.resolve("data/training-log/risk");
            assertThat(parquetFiles(log)).as("nothing written before a flush").isEmpty();
            assertThat(t.server.trainingLog().status("risk").pending()).isEqualTo(2);

            t.server.trainingLog().flush("risk").get(30, TimeUnit.SECONDS);
            List<Path> files = parquetFiles(log);
            assertThat(files).hasSize(1);
            assertThat(files.get(0).getParent().getFileName().toString()).isEqualTo("date=2024-03-01");
            assertThat(files.get(0).getFileName().toString()).isEqualTo("part-" + (T0 + MINUTE) + "-0.parquet");
            FileMetaData meta = footer(files.get(0));
            assertThat(meta.getSchema()).isEqualTo(MessageTypeParser.parseMessageType("""
                    message training_log {
                      required binary account_id (STRING); required int64 event_time;
                      optional int32 plan; optional float balance; optional float visits;
                      optional double label; optional int64 outcome_time; required float score;
                      required binary model (STRING); required binary version (STRING);
                      required binary request_id (STRING); required binary encoding (STRING);
                    }"""));
            assertThat(meta.getKeyValueMetaData()).containsEntry("mlserve.encoding",
                    ViewEncoding.json(VIEW, NAMES).toString());
            String fingerprint = ViewEncoding.fingerprint(ViewEncoding.inputs(VIEW, NAMES));

            Map<String, Group> rows = byEntity(read(files.get(0)));
            assertThat(rows).containsOnlyKeys("a1", "a2");
            Group a1 = rows.get("a1");
            assertThat(a1.getLong("event_time", 0)).isEqualTo(T0 + MINUTE);
            assertThat(a1.getInteger("plan", 0)).as("the vocabulary code of pro").isEqualTo(1);
            assertThat(a1.getFloat("balance", 0)).isEqualTo(12.5f);
            assertThat(a1.getFloat("visits", 0)).isEqualTo(3f);
            assertThat(a1.getDouble("label", 0)).isEqualTo(1.0);
            assertThat(a1.getLong("outcome_time", 0)).isEqualTo(T0 + 2 * HOUR);
            assertThat(a1.getFloat("score", 0)).isEqualTo((float) first.getPredictions(0).getScore());
            assertThat(a1.getString("model", 0)).isEqualTo("risk");
            assertThat(a1.getString("version", 0)).isEqualTo("1");
            assertThat(a1.getString("request_id", 0)).isEqualTo("r1");
            assertThat(a1.getString("encoding", 0)).isEqualTo(fingerprint);
            Group a2 = rows.get("a2");
            assertThat(a2.getFloat("balance", 0)).isEqualTo(7f);
            assertThat(isNull(a2, "plan")).as("never written: the default was served").isTrue();
            assertThat(isNull(a2, "visits")).isTrue();
            assertThat(a2.getDouble("label", 0)).isZero();
            assertThat(a2.getLong("outcome_time", 0)).isEqualTo(T0 + 3 * HOUR);
            assertThat(a2.getFloat("score", 0)).isEqualTo((float) first.getPredictions(1).getScore());

            // two days on, a1's values are past the view's TTL: served as the defaults, logged as NULLs; this
            // prediction also finds a3 and a4 waiting longer than the outcome wait (1 day): written unlabelled
            predictor.predict(PredictRequest.newBuilder().setModelName("risk").setId("r2").addEntityIds("a1")
                    .setEventTimeMs(T0 + 2 * DAY).build());
            t.post(http, "/v1/outcomes", "{\"outcomes\": [{\"entity_id\": \"a1\", \"request_id\": \"r2\", "
                    + "\"label\": 1, \"event_time_ms\": " + (T0 + 2 * DAY + HOUR) + "}]}");
            t.server.quality().drain();
            t.server.trainingLog().flush("risk").get(30, TimeUnit.SECONDS);
            Map<String, List<Path>> partitions = partitions(log);
            assertThat(partitions.keySet()).containsExactly("date=2024-03-01", "date=2024-03-03");
            assertThat(partitions.get("date=2024-03-01")).hasSize(2);
            Map<String, Group> unlabelled = byEntity(read(partitions.get("date=2024-03-01").stream()
                    .filter(f -> !f.equals(files.get(0))).findFirst().orElseThrow()));
            assertThat(unlabelled).containsOnlyKeys("a3", "a4");
            Group a3 = unlabelled.get("a3");
            assertThat(isNull(a3, "label")).isTrue();
            assertThat(isNull(a3, "outcome_time")).isTrue();
            assertThat(NAMES.stream().allMatch(f -> isNull(a3, f))).as("an unknown entity: every default").isTrue();
            assertThat(a3.getFloat("score", 0)).isEqualTo((float) first.getPredictions(2).getScore());
            Group a4 = unlabelled.get("a4");
            assertThat(a4.getFloat("balance", 0)).as("overridden: the value served").isEqualTo(99f);
            assertThat(isNull(a4, "plan")).isTrue();
            assertThat(a4.getString("request_id", 0)).isEqualTo("r1b");
            assertThat(a4.getFloat("score", 0)).isEqualTo((float) overridden.getPredictions(0).getScore());
            Group stale = byEntity(read(partitions.get("date=2024-03-03").get(0))).get("a1");
            assertThat(NAMES.stream().allMatch(f -> isNull(stale, f))).as("stale, not served: NULL").isTrue();
            assertThat(stale.getLong("outcome_time", 0)).isEqualTo(T0 + 2 * DAY + HOUR);

            JsonNode status = JSON.readTree(t.get(http, "/v1/models/risk/training-log").body());
            assertThat(status.get("dir").asText()).isEqualTo(log.toAbsolutePath().normalize().toString());
            assertThat(status.get("files").asLong()).isEqualTo(3);
            assertThat(status.get("bytes").asLong()).isEqualTo(Files.size(files.get(0))
                    + partitions.values().stream().flatMap(List::stream).filter(f -> !f.equals(files.get(0)))
                    .mapToLong(TrainingLogTest::size).sum());
            assertThat(status.get("rows_labelled").asLong()).isEqualTo(3);
            assertThat(status.get("rows_unlabelled").asLong()).isEqualTo(2);
            assertThat(status.get("pending").asLong()).isZero();
            assertThat(status.get("oldest_date").asText()).isEqualTo("2024-03-01");
            assertThat(status.get("newest_date").asText()).isEqualTo("2024-03-03");
            assertThat(t.get(http, "/v1/models/nosuch/training-log").statusCode()).isEqualTo(404);
            String metrics = t.get(t.server.metricsPort(), "/metrics").body();
            assertThat(metrics).contains("mlserve_training_log_rows_total{model=\"risk\",outcome=\"labelled\"} 3.0")
                    .contains("mlserve_training_log_rows_total{model=\"risk\",outcome=\"unlabelled\"} 2.0")
                    .contains("mlserve_training_log_rows_total{model=\"risk\",outcome=\"dropped\"} 0.0")
                    .contains("mlserve_training_log_pending_rows{model=\"risk\"} 0.0")
                    .contains("mlserve_training_log_files{model=\"risk\"} 3.0")
                    .contains("mlserve_training_log_bytes{model=\"risk\"} " + status.get("bytes").asLong() + ".0")
                    .contains("mlserve_training_log_write_failures_total{model=\"risk\"} 0.0");

            // ten days after the first rows, with 5 days kept: both partitions go at the next flush
            features.writeFeatures(WriteFeaturesRequest.newBuilder().setView("acct").addRecords(FeatureRecord
                    .newBuilder().setEntityId("a9").setEventTimeMs(T0 + 10 * DAY).putValues("balance", num(1))).build());
            t.server.trainingLog().flush("risk").get(30, TimeUnit.SECONDS);
            assertThat(partitions(log)).isEmpty();
            JsonNode after = JSON.readTree(t.get(http, "/v1/models/risk/training-log").body());
            assertThat(after.get("files").asLong()).isZero();
            assertThat(after.get("oldest_date").isNull()).isTrue();
        }
    }

    @Test
    void writesWhenFlushRowsAreBufferedAndWhatIsLeftAtShutdown() throws Exception {
        Path log = dir.resolve("data/training-log/risk");
        try (TestServer t = new TestServer(dir.resolve("models")).start(options(TrainingLog.Options.defaults()
                .withFlush(2, Duration.ofHours(1))))) {
            PredictionServiceGrpc.newBlockingStub(t.channel()).predict(PredictRequest.newBuilder().setModelName("risk")
                    .addEntityIds("x1").addEntityIds("x2").addEntityIds("x3").setEventTimeMs(T0).build());
            OutcomeServiceGrpc.newBlockingStub(t.channel()).reportOutcomes(ReportOutcomesRequest.newBuilder()
                    .addOutcomes(Outcome.newBuilder().setEntityId("x1").setLabel(1))
                    .addOutcomes(Outcome.newBuilder().setEntityId("x2").setLabel(0)).build());
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (parquetFiles(log).isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            List<Path> files = parquetFiles(log);
            assertThat(files).as("two rows are flush_rows").hasSize(1);
            List<Group> rows = read(files.get(0));
            assertThat(rows).hasSize(2);
            assertThat(rows.get(0).getLong("outcome_time", 0)).as("an outcome without a time: the server's")
                    .isEqualTo(T0);
        }
        // x3 was still waiting for its outcome at shutdown: written unlabelled, not lost
        List<Path> files = parquetFiles(log);
        assertThat(files).hasSize(2);
        List<Group> all = new ArrayList<>();
        for (Path f : files) {
            all.addAll(read(f));
        }
        assertThat(byEntity(all)).containsOnlyKeys("x1", "x2", "x3");
        assertThat(isNull(byEntity(all).get("x3"), "label")).isTrue();
        try (Stream<Path> s = Files.walk(log)) {
            assertThat(s.filter(p -> p.getFileName().toString().startsWith(".")).toList()).as("no temporary files")
                    .isEmpty();
        }
        // a restart counts what is on disk, and removes what a write a crash interrupted left behind
        Path interrupted = files.get(0).resolveSibling(".part-1-9.parquet.tmp");
        Files.writeString(interrupted, "half a file");
        try (TestServer t = new TestServer(dir.resolve("models")).start(options(TrainingLog.Options.defaults()))) {
            TrainingLog.Status s = t.server.trainingLog().status("risk");
            assertThat(s.files()).isEqualTo(2);
            assertThat(s.bytes()).isEqualTo(size(files.get(0)) + size(files.get(1)));
            assertThat(s.oldestDate()).hasToString("2024-03-01");
            assertThat(interrupted).doesNotExist();
        }
    }

    @Test
    void rowsThatCannotBeWrittenAreKeptUpToTwiceFlushRowsThenDropped() throws Exception {
        Path log = dir.resolve("data/training-log/risk");
        try (TestServer t = new TestServer(dir.resolve("models")).start(options(TrainingLog.Options.defaults()
                .withFlush(2, Duration.ofHours(1))))) {
            Files.writeString(log, "a file where the model's directory should be");
            PredictRequest.Builder p = PredictRequest.newBuilder().setModelName("risk").setEventTimeMs(T0);
            ReportOutcomesRequest.Builder o = ReportOutcomesRequest.newBuilder();
            for (int i = 0; i < 6; i++) {
                p.addEntityIds("f" + i);
                o.addOutcomes(Outcome.newBuilder().setEntityId("f" + i).setLabel(i % 2));
            }
            PredictionServiceGrpc.newBlockingStub(t.channel()).predict(p.build());
            OutcomeServiceGrpc.newBlockingStub(t.channel()).reportOutcomes(o.build());
            t.server.quality().drain();
            assertThatThrownBy(() -> t.server.trainingLog().flush("risk").get(30, TimeUnit.SECONDS))
                    .hasCauseInstanceOf(IOException.class);
            TrainingLog.Status s = t.server.trainingLog().status("risk");
            assertThat(s.buffered()).as("kept for the next flush: twice flush_rows").isEqualTo(4);
            String metrics = t.get(t.server.metricsPort(), "/metrics").body();
            assertThat(metrics).contains("mlserve_training_log_write_failures_total{model=\"risk\"} 2.0")
                    .contains("mlserve_training_log_rows_total{model=\"risk\",outcome=\"dropped\"} 2.0");

            Files.delete(log);
            t.server.trainingLog().flush("risk").get(30, TimeUnit.SECONDS);
            assertThat(parquetFiles(log).stream().mapToInt(f -> {
                try {
                    return read(f).size();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }).sum()).isEqualTo(4);
            assertThat(t.server.trainingLog().status("risk").buffered()).isZero();
            assertThat(t.server.trainingLog().status("risk").rowsLabelled()).isEqualTo(4);
        }
    }

    @Test
    void aTrainingLogDirectoryThatCannotBeCreatedIsRefusedAtStartWithOneLine() throws Exception {
        Files.createDirectories(dir.resolve("data"));
        Path inTheWay = Files.writeString(dir.resolve("data/training-log"), "not a directory");
        assertThatThrownBy(() -> MlServer.start(options(TrainingLog.Options.defaults()))).isInstanceOf(IOException.class)
                .hasMessage("cannot create the training log directory " + inTheWay + ": a file of that name is in the "
                        + "way");
        // the serve command prints that line and exits 2
        Files.createDirectories(dir.resolve("cli-data"));
        Path cliInTheWay = Files.writeString(dir.resolve("cli-data/training-log"), "not a directory");
        Files.writeString(dir.resolve("mlserve.yaml"), """
                model_repository: models
                data_dir: cli-data
                feature_views:
                  - {name: acct, entity_key: account_id, features: [{name: balance}]}
                """);
        Path out = dir.resolve("serve.log");
        assertThat(ServerProcess.runToExit(out, "--config", dir.resolve("mlserve.yaml").toString())).isEqualTo(2);
        assertThat(Files.readAllLines(out)).contains("mlserve serve: cannot create the training log directory "
                + cliInTheWay + ": a file of that name is in the way");
        // switched off in the config file, the server starts without it
        try (MlServer s = MlServer.start(options(TrainingLog.Options.defaults().withEnabled(false)))) {
            assertThat(s.trainingLog()).isNull();
        }
    }

    private static long size(Path f) {
        try {
            return Files.size(f);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static boolean isNull(Group g, String field) {
        return g.getFieldRepetitionCount(field) == 0;
    }

    private static Map<String, Group> byEntity(List<Group> rows) {
        Map<String, Group> out = new TreeMap<>();
        rows.forEach(g -> out.put(g.getString("account_id", 0), g));
        return out;
    }

    /** Visible files only (a reader such as Spark skips hidden ones). */
    private static List<Path> parquetFiles(Path log) throws IOException {
        if (!Files.isDirectory(log)) {
            return List.of();
        }
        try (Stream<Path> s = Files.walk(log)) {
            return s.filter(p -> p.getFileName().toString().startsWith("part-")).sorted().toList();
        }
    }

    private static Map<String, List<Path>> partitions(Path log) throws IOException {
        Map<String, List<Path>> out = new TreeMap<>();
        for (Path f : parquetFiles(log)) {
            out.computeIfAbsent(f.getParent().getFileName().toString(), k -> new ArrayList<>()).add(f);
        }
        return out;
    }

    private static FileMetaData footer(Path file) throws IOException {
        try (ParquetFileReader r = ParquetFileReader.open(new LocalInputFile(file))) {
            return r.getFooter().getFileMetaData();
        }
    }

    private static List<Group> read(Path file) throws IOException {
        List<Group> rows = new ArrayList<>();
        try (ParquetReader<Group> r = ParquetReader.builder(new GroupReadSupport(),
                new org.apache.hadoop.fs.Path(file.toAbsolutePath().toUri())).withConf(new Configuration(false)).build()) {
            for (Group g; (g = r.read()) != null; ) {
                rows.add(g);
            }
        }
        return rows;
    }
}
