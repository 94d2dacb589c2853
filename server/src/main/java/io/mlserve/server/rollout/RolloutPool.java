package io.mlserve.server.rollout;

import io.mlserve.proto.v1.ArmWindow;
import io.mlserve.proto.v1.RolloutEvidence;
import io.mlserve.rollout.ArmRecorder;
import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One rollout decision across replicas. Every replica sends its windows of each pairing (champion, challenger) to one
 * Kafka topic; every replica also joins one consumer group on that topic, and the member Kafka assigns its partition
 * holds the judge's lease: it alone pools the windows of every replica and, once the pooled challenger has its
 * requests and its window, asks the rollout manager for the verdict, which moves MLflow's aliases — the one source of
 * truth every replica follows on its next poll. A lease holder that dies (kill -9) stops heartbeating; after the
 * group's session timeout Kafka gives the partition to another member, which re-reads every window since the last
 * committed offset. Offsets are committed only when no pairing is pooling, so a decision is taken on all the evidence
 * even across a failover, and evidence of a pairing that was already decided (its roles have changed) is dropped: no
 * second verdict.
 */
final class RolloutPool implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RolloutPool.class);
    static final String GROUP = "mlserve-rollout-judge";
    /** How long a dead lease holder keeps the lease: Kafka's session timeout for the group (its broker minimum). */
    static final int SESSION_MS = 6_000;

    /** Decides a pooled pairing; returns true when the pairing is done with (decided, or no longer current). */
    interface Judge {
        boolean judge(String model, long champion, long challenger, ArmRecorder.Window championWindow,
                      ArmRecorder.Window challengerWindow, int replicas, long firstMs);
    }

    /** A model's champion and challenger as one replica's evidence names them. */
    private record Pairing(String model, long champion, long challenger) {
    }

    /** The pooled windows of one pairing. */
    private static final class Pooled {
        final long firstMs;
        ArmRecorder.Window championWindow;
        ArmRecorder.Window challengerWindow;
        final java.util.Set<String> replicas = new java.util.TreeSet<>();

        Pooled(long firstMs) {
            this.firstMs = firstMs;
        }
    }

    private final String topic;
    private final String instance;
    private final KafkaProducer<String, byte[]> producer;
    private final KafkaConsumer<String, byte[]> consumer;
    private final Thread thread;
    private final AtomicBoolean running = new AtomicBoolean(true);
    private volatile boolean lease;
    private volatile Judge judge;
    /** Owned by the consumer thread. */
    private final Map<Pairing, Pooled> pools = new HashMap<>();
    /** Records read since the last commit (consumer thread). */
    private boolean uncommitted;

    RolloutPool(String bootstrap, String topic, String instance) {
        this.topic = topic;
        this.instance = instance;
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 5_000);
        this.producer = new KafkaProducer<>(p);
        Properties c = new Properties();
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        c.put(ConsumerConfig.GROUP_ID_CONFIG, GROUP);
        c.put(ConsumerConfig.CLIENT_ID_CONFIG, GROUP + "-" + instance);
        c.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        c.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        c.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, SESSION_MS);
        c.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, SESSION_MS / 3);
        c.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        c.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        this.consumer = new KafkaConsumer<>(c);
        this.thread = new Thread(this::run, "mlserve-rollout-judge");
        thread.setDaemon(true);
    }

    /** Starts taking part in the lease; {@code j} decides pooled pairings while this replica holds it. */
    RolloutPool start(Judge j) {
        this.judge = j;
        thread.start();
        return this;
    }

    /** Whether this replica holds the judge's lease now. */
    boolean judging() {
        return lease;
    }

    /** Sends this replica's window of a pairing (not blocking the caller beyond the producer's buffer). */
    void publish(String model, long champion, long challenger, ArmRecorder.Window champ, ArmRecorder.Window chall,
                 long timeMs) {
        RolloutEvidence e = RolloutEvidence.newBuilder().setModelName(model).setChampion(champion)
                .setChallenger(challenger).setInstance(instance).setTimeMs(timeMs)
                .setChampionWindow(proto(champ)).setChallengerWindow(proto(chall)).build();
        producer.send(new ProducerRecord<>(topic, model, e.toByteArray()), (meta, error) -> {
            if (error != null) {
                LOG.error("rollout of {}: window not sent to {} ({}): the judge decides without it", model, topic,
                        error.toString());
            }
        });
    }

    private void run() {
        try {
            consumer.subscribe(List.of(topic), new ConsumerRebalanceListener() {
                @Override
                public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
                    lost("revoked");
                }

                @Override
                public void onPartitionsLost(Collection<TopicPartition> partitions) {
                    lost("lost");
                }

                @Override
                public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
                    if (!partitions.isEmpty()) {
                        lease = true;
                        LOG.warn("rollout: {} holds the judge's lease ({})", instance, partitions);
                    }
                }
            });
            while (running.get()) {
                for (ConsumerRecord<String, byte[]> r : consumer.poll(Duration.ofMillis(200))) {
                    add(r);
                }
                if (lease) {
                    decide();
                }
            }
        } catch (WakeupException e) {
            if (running.get()) {
                throw e;
            }
        } catch (RuntimeException e) {
            LOG.error("rollout: the judge's consumer stopped", e);
        } finally {
            lease = false;
            consumer.close(Duration.ofSeconds(2));
        }
    }

    private void lost(String how) {
        if (lease) {
            LOG.warn("rollout: {} no longer holds the judge's lease ({}); {} pooled pairings left to the next holder",
                    instance, how, pools.size());
        }
        lease = false;
        pools.clear();
    }

    private void add(ConsumerRecord<String, byte[]> r) {
        RolloutEvidence e;
        try {
            e = RolloutEvidence.parseFrom(r.value());
        } catch (com.google.protobuf.InvalidProtocolBufferException ex) {
            LOG.warn("rollout: {}-{}@{} is not rollout evidence: skipped", r.topic(), r.partition(), r.offset());
            return;
        }
        // each pairing pools apart: a replica that has not yet seen a decision (its next poll will show it) sends
        // windows of the old pairing, which the judge drops as stale without touching the current pairing's pool
        Pooled p = pools.computeIfAbsent(new Pairing(e.getModelName(), e.getChampion(), e.getChallenger()),
                k -> new Pooled(e.getTimeMs()));
        p.championWindow = plus(p.championWindow, window(e.getChampionWindow()));
        p.challengerWindow = plus(p.challengerWindow, window(e.getChallengerWindow()));
        p.replicas.add(e.getInstance());
        uncommitted = true;
    }

    private void decide() {
        Judge j = judge;
        pools.entrySet().removeIf(en -> j.judge(en.getKey().model(), en.getKey().champion(),
                en.getKey().challenger(), en.getValue().championWindow, en.getValue().challengerWindow,
                en.getValue().replicas.size(), en.getValue().firstMs));
        if (pools.isEmpty() && uncommitted) {
            // nothing pooling: what was read is decided or stale; a successor need not read it again
            consumer.commitSync();
            uncommitted = false;
        }
    }

    static ArmWindow proto(ArmRecorder.Window w) {
        ArmWindow.Builder b = ArmWindow.newBuilder().setRequests(w.requests()).setErrors(w.errors());
        for (long l : w.latency()) {
            b.addLatency(l);
        }
        for (long s : w.scores()) {
            b.addScores(s);
        }
        return b.build();
    }

    static ArmRecorder.Window window(ArmWindow w) {
        long[] latency = new long[w.getLatencyCount()];
        for (int i = 0; i < latency.length; i++) {
            latency[i] = w.getLatency(i);
        }
        long[] scores = new long[w.getScoresCount()];
        for (int i = 0; i < scores.length; i++) {
            scores[i] = w.getScores(i);
        }
        return new ArmRecorder.Window(w.getRequests(), w.getErrors(), latency, scores);
    }

    /** The two windows' counts added (a null window is empty). */
    static ArmRecorder.Window plus(ArmRecorder.Window a, ArmRecorder.Window b) {
        if (a == null) {
            return b;
        }
        long[] latency = a.latency().clone();
        for (int i = 0; i < Math.min(latency.length, b.latency().length); i++) {
            latency[i] += b.latency()[i];
        }
        long[] scores = a.scores().clone();
        for (int i = 0; i < Math.min(scores.length, b.scores().length); i++) {
            scores[i] += b.scores()[i];
        }
        return new ArmRecorder.Window(a.requests() + b.requests(), a.errors() + b.errors(), latency, scores);
    }

    @Override
    public void close() {
        running.set(false);
        consumer.wakeup();
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        producer.close(Duration.ofSeconds(2));
    }
}
