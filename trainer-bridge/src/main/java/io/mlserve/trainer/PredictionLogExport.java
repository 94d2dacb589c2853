package io.mlserve.trainer;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.InvalidProtocolBufferException;
import io.mlserve.proto.v1.Outcome;
import io.mlserve.proto.v1.PredictionRecord;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * Training data from what was served, at scale: the prediction log on Kafka ({@code mlserve.predictions}, one
 * {@code PredictionRecord} per logged Predict with the feature values the model actually received) joined with
 * the outcomes that arrived later ({@code mlserve.outcomes}), written in the training log's format (what a server
 * writes under {@code <data_dir>/training-log/<model>}), so that {@code ./mlserve train --data DIR} and retraining
 * jobs read both the same way: the features as served — no second feature pipeline to drift.
 *
 * <p>Both topics are read from the beginning up to their end offsets at the start (a bounded snapshot of the log).
 * The join is the live quality monitor's: by request id when the outcome names one; otherwise the entity's
 * prediction nearest the outcome's observed time within {@code --max-gap-ms} (or its latest prediction made before
 * the outcome when the outcome gives no observed time). Each prediction takes one label (the first outcome;
 * later ones are counted as duplicates); predictions without an outcome are written without a label, and counted.
 */
@Command(name = "export-log", mixinStandardHelpOptions = true,
        description = "Join the prediction log with the outcomes from Kafka and write them in the training log's "
                + "format (date=YYYY-MM-DD/ Parquet partitions) for ./mlserve train --data: training data with the "
                + "features as served.")
public final class PredictionLogExport implements Callable<Integer> {
    @Option(names = "--kafka", required = true, description = "Kafka bootstrap servers.")
    String kafka;

    @Option(names = "--out", required = true, description = "Directory to write the training log (date= "
            + "partitions) and _export.json into.")
    Path out;

    @Option(names = "--model", required = true, description = "The model whose predictions to export.")
    String model;

    @Option(names = "--config", required = true, description = "Server config file naming the model's feature view.")
    Path config;

    @Option(names = "--view", description = "The feature view the model binds (default: the config's only view).")
    String view;

    @Option(names = "--predictions-topic", defaultValue = "mlserve.predictions",
            description = "Default: ${DEFAULT-VALUE}.")
    String predictionsTopic;

    @Option(names = "--outcomes-topic", defaultValue = "mlserve.outcomes", description = "Default: ${DEFAULT-VALUE}.")
    String outcomesTopic;

    @Option(names = "--max-gap-ms", defaultValue = "3600000", description = "Join by entity: the prediction's time "
            + "must be within this of the outcome's observed time (default: ${DEFAULT-VALUE}).")
    long maxGapMs;

    /** What an export read, joined and wrote. */
    public record Summary(long predictions, long otherModels, long malformedPredictions, long outcomes,
                          long malformedOutcomes, long joinedByRequest, long joinedByEntity, long unmatchedOutcomes,
                          long duplicateOutcomes, long unlabelled, long written, long firstMs, long lastMs,
                          Map<String, Long> versions, long otherFeatures) {
    }

    private static final class Served {
        final PredictionRecord record;
        int label = -1;

        Served(PredictionRecord record) {
            this.record = record;
        }
    }

    public static void main(String[] args) {
        System.exit(new picocli.CommandLine(new PredictionLogExport()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        TrainingSchema schema;
        try {
            schema = TrainingSchema.fromConfig(config, view, TrainingData.LOG_LABEL);
        } catch (IllegalArgumentException e) {
            System.err.println("mlserve export-log: " + e.getMessage());
            return 2;
        }
        Summary s = export(kafka, predictionsTopic, outcomesTopic, model, schema, maxGapMs, out);
        System.out.printf(java.util.Locale.ROOT, "read %d predictions (%d of other models, %d malformed) and %d "
                        + "outcomes (%d malformed); joined %d by request id and %d by entity; %d outcomes matched "
                        + "nothing, %d were duplicates; %d predictions have no outcome yet; wrote %d rows to %s%s%n",
                s.predictions(), s.otherModels(), s.malformedPredictions(), s.outcomes(), s.malformedOutcomes(),
                s.joinedByRequest(), s.joinedByEntity(), s.unmatchedOutcomes(), s.duplicateOutcomes(),
                s.unlabelled(), s.written(), out, s.otherFeatures() == 0 ? "" : "; " + s.otherFeatures()
                        + " were served with other features than the view has now (kept, marked by their encoding)");
        return s.written() > 0 ? 0 : 1;
    }

    /** Reads both topics, joins, writes {@code out}; see the class comment. */
    public static Summary export(String kafka, String predictionsTopic, String outcomesTopic, String model,
                                 TrainingSchema schema, long maxGapMs, Path out) throws IOException {
        List<Served> served = new ArrayList<>();
        Map<String, Served> byRequest = new HashMap<>();
        Map<String, List<Served>> byEntity = new HashMap<>();
        long[] counts = new long[2]; // other models, malformed
        readAll(kafka, predictionsTopic, value -> {
            PredictionRecord p;
            try {
                p = PredictionRecord.parseFrom(value);
            } catch (InvalidProtocolBufferException e) {
                counts[1]++;
                return;
            }
            if (model != null && !model.equals(p.getModelName())) {
                counts[0]++;
                return;
            }
            Served s = new Served(p);
            served.add(s);
            if (!p.getRequestId().isEmpty()) {
                byRequest.putIfAbsent(p.getRequestId(), s);
            }
            byEntity.computeIfAbsent(p.getEntityId(), k -> new ArrayList<>()).add(s);
        });
        byEntity.values().forEach(l -> l.sort(Comparator.comparingLong(x -> x.record.getTimeMs())));
        long[] o = new long[6]; // outcomes, malformed, by request, by entity, unmatched, duplicates
        readAll(kafka, outcomesTopic, value -> {
            Outcome outcome;
            try {
                outcome = Outcome.parseFrom(value);
            } catch (InvalidProtocolBufferException e) {
                o[1]++;
                return;
            }
            o[0]++;
            Served match = outcome.getRequestId().isEmpty() ? null : byRequest.get(outcome.getRequestId());
            boolean byId = match != null;
            if (match == null) {
                match = nearest(byEntity.get(outcome.getEntityId()), outcome, maxGapMs);
            }
            if (match == null) {
                o[4]++;
            } else if (match.label >= 0) {
                o[5]++;
            } else {
                match.label = outcome.getLabel() >= 0.5 ? 1 : 0;
                o[byId ? 2 : 3]++;
            }
        });
        served.sort(Comparator.comparingLong(x -> x.record.getTimeMs()));
        Map<String, Long> versions = new TreeMap<>();
        long unlabelled = 0;
        long other = 0;
        long first = Long.MAX_VALUE;
        long last = Long.MIN_VALUE;
        long written = 0;
        try (TrainingLogFiles files = new TrainingLogFiles(out, schema)) {
            for (Served s : served) {
                PredictionRecord p = s.record;
                if (s.label < 0) {
                    unlabelled++;
                }
                if (!p.getFeatureNamesList().equals(schema.names())) {
                    other++;
                }
                files.write(p, s.label < 0 ? null : (double) s.label);
                versions.merge(p.getModelName() + "/" + p.getModelVersion(), 1L, Long::sum);
                first = Math.min(first, p.getTimeMs());
                last = Math.max(last, p.getTimeMs());
                written++;
            }
        }
        Summary summary = new Summary(served.size(), counts[0], counts[1], o[0], o[1], o[2], o[3], o[4], o[5],
                unlabelled, written, written == 0 ? 0 : first, written == 0 ? 0 : last, versions, other);
        ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
        ObjectNode meta = json.valueToTree(summary);
        meta.put("source", "prediction log").put("kafka", kafka).put("predictions_topic", predictionsTopic)
                .put("outcomes_topic", outcomesTopic).put("max_gap_ms", maxGapMs);
        java.nio.file.Files.createDirectories(out);
        json.writeValue(out.resolve("_export.json").toFile(), meta);
        return summary;
    }

    /**
     * The entity's unlabelled prediction nearest the outcome's observed time within the gap (or, without an observed
     * time, its latest unlabelled prediction made before the outcome); when only labelled ones are in range, the
     * nearest of those (the caller counts a duplicate); null when none is.
     */
    private static Served nearest(List<Served> candidates, Outcome outcome, long maxGapMs) {
        if (candidates == null) {
            return null;
        }
        long observed = outcome.getObservedEventTimeMs();
        Served free = null;
        Served taken = null;
        long freeGap = Long.MAX_VALUE;
        long takenGap = Long.MAX_VALUE;
        for (Served s : candidates) { // sorted by time
            long t = s.record.getTimeMs();
            long gap = observed > 0 ? Math.abs(t - observed) : 0;
            boolean inRange = observed > 0 ? gap <= maxGapMs
                    : outcome.getEventTimeMs() <= 0 || t <= outcome.getEventTimeMs();
            if (!inRange) {
                continue;
            }
            if (s.label < 0 && gap <= freeGap) {
                free = s;
                freeGap = gap;
            } else if (s.label >= 0 && gap <= takenGap) {
                taken = s;
                takenGap = gap;
            }
        }
        return free != null ? free : taken;
    }

    /** Every record of the topic from its beginning to its end offsets as of now. */
    private static void readAll(String kafka, String topic, Consumer<byte[]> each) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "5000");
        p.put(ConsumerConfig.ALLOW_AUTO_CREATE_TOPICS_CONFIG, "false");
        try (KafkaConsumer<String, byte[]> consumer = new KafkaConsumer<>(p, new StringDeserializer(),
                new ByteArrayDeserializer())) {
            List<org.apache.kafka.common.PartitionInfo> info = consumer.partitionsFor(topic, Duration.ofSeconds(30));
            if (info == null || info.isEmpty()) {
                throw new IllegalArgumentException("topic " + topic + " does not exist on " + kafka);
            }
            List<TopicPartition> partitions = info.stream().map(i -> new TopicPartition(topic, i.partition()))
                    .toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions, Duration.ofSeconds(30));
            while (partitions.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    if (r.offset() < end.get(new TopicPartition(r.topic(), r.partition())) && r.value() != null) {
                        each.accept(r.value());
                    }
                }
            }
        }
    }
}
