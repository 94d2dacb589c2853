package io.mlserve.server.repository;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.util.JsonFormat;
import io.mlserve.batching.BatchingConfig;
import io.mlserve.batching.QueuePolicy;
import io.mlserve.proto.inference.ModelConfig;
import io.mlserve.runtime.Device;
import io.mlserve.runtime.ModelLoadException;
import io.mlserve.runtime.SessionConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** config.json → session settings and scheduling, and the errors a user sees for mistakes. */
class ModelConfigsTest {
    private static final Path FILE = Path.of("repo/m/config.json");

    private static ModelConfig parse(String json) throws Exception {
        ModelConfig.Builder b = ModelConfig.newBuilder();
        JsonFormat.parser().merge(json, b);
        return b.build();
    }

    @Test
    void gpuInstanceGroupAndCudaProviderOptionsReachTheSession() throws Exception {
        ModelConfig c = parse("""
                {"instance_group": [{"kind": "KIND_GPU", "gpus": [1], "count": 2}],
                 "parameters": {"gpu_mem_limit": {"string_value": "2147483648"},
                                "arena_extend_strategy": {"string_value": "kSameAsRequested"},
                                "cudnn_conv_algo_search": {"string_value": "EXHAUSTIVE"},
                                "intra_op_thread_count": {"string_value": "3"}}}
                """);
        SessionConfig s = ModelConfigs.sessionConfig(c, SessionConfig.DEFAULT, 2, FILE);
        assertThat(s.device()).isEqualTo(Device.cuda(1));
        assertThat(s.gpuMemLimit()).isEqualTo(2147483648L);
        assertThat(s.arenaExtendStrategy()).isEqualTo("kSameAsRequested");
        assertThat(s.cudnnConvAlgoSearch()).isEqualTo("EXHAUSTIVE");
        assertThat(s.intraOpThreads()).isEqualTo(3);
        assertThat(ModelConfigs.batchingConfig(c, 4, FILE).instances()).isEqualTo(2);
        SessionConfig defaults = ModelConfigs.sessionConfig(parse("{}"), SessionConfig.DEFAULT, 1, FILE);
        assertThat(defaults.cudnnConvAlgoSearch()).isEqualTo("HEURISTIC");
        assertThat(defaults.device()).isEqualTo(Device.CPU);
        assertThatThrownBy(() -> ModelConfigs.sessionConfig(parse(
                "{\"parameters\": {\"arena_extend_strategy\": {\"string_value\": \"huge\"}}}"), SessionConfig.DEFAULT, 1, FILE))
                .isInstanceOf(ModelLoadException.class).hasMessageContaining("config.json").hasMessageContaining("kNextPowerOfTwo");
    }

    @Test
    void intraOpThreadsDefaultToCoresPerInstance() throws Exception {
        int cores = Runtime.getRuntime().availableProcessors();
        SessionConfig auto = SessionConfig.DEFAULT.withIntraOpThreads(0);
        assertThat(ModelConfigs.sessionConfig(parse("{}"), auto, 1, FILE).intraOpThreads()).isEqualTo(cores);
        assertThat(ModelConfigs.sessionConfig(parse("{}"), auto, cores * 2, FILE).intraOpThreads()).isEqualTo(1);
    }

    @Test
    void readsDynamicBatchingWithTritonNames() throws Exception {
        BatchingConfig b = ModelConfigs.batchingConfig(parse("""
                {"max_batch_size": 32,
                 "dynamic_batching": {"preferred_batch_size": [16, 8], "max_queue_delay_microseconds": 500,
                   "preserve_ordering": true, "priority_levels": 3, "default_priority_level": 2,
                   "default_queue_policy": {"max_queue_size": 100, "default_timeout_microseconds": 2000},
                   "priority_queue_policy": {"1": {"timeout_action": "DELAY", "allow_timeout_override": true}}},
                 "instance_group": [{"count": 2}, {"count": 1}]}
                """), 4, FILE);
        assertThat(b.maxBatchSize()).isEqualTo(32);
        assertThat(b.combines()).isTrue();
        assertThat(b.preferredBatchSizes()).containsExactly(8, 16);
        assertThat(b.maxQueueDelayMicros()).isEqualTo(500);
        assertThat(b.preserveOrdering()).isTrue();
        assertThat(b.priorityLevels()).isEqualTo(3);
        assertThat(b.defaultPriorityLevel()).isEqualTo(2);
        assertThat(b.policy(1).timeoutAction()).isEqualTo(QueuePolicy.TimeoutAction.DELAY);
        assertThat(b.policy(2).maxQueueSize()).isEqualTo(100);
        assertThat(b.policy(3).defaultTimeoutMicros()).isEqualTo(2000);
        assertThat(b.instances()).isEqualTo(3);
        BatchingConfig none = ModelConfigs.batchingConfig(parse("{\"max_batch_size\": 8}"), 4, FILE);
        assertThat(none.combines()).isFalse();
        assertThat(none.instances()).isEqualTo(4);
    }

    @Test
    void aRefusalIsOneLineWhateverTheConfigEchoes() throws Exception {
        Path dir = java.nio.file.Files.createTempDirectory("mlserve-config");
        java.nio.file.Files.writeString(dir.resolve("config.json"), """
                {"rollout": {"mode": "canary\\nshadow"}}""");
        assertThatThrownBy(() -> ModelConfigs.read(dir, "m"))
                .hasMessage(dir.resolve("config.json") + ": rollout.mode must be off, canary or shadow, got "
                        + "'canary\\nshadow'");
    }

    @Test
    void schedulingMistakesNameTheFileAndKey() {
        assertThatThrownBy(() -> ModelConfigs.batchingConfig(parse("{\"dynamic_batching\": {}}"), 1, FILE))
                .hasMessageContaining("config.json").hasMessageContaining("max_batch_size > 0");
        assertThatThrownBy(() -> ModelConfigs.batchingConfig(parse(
                "{\"max_batch_size\": 4, \"dynamic_batching\": {\"priority_levels\": 2}}"), 1, FILE))
                .hasMessageContaining("default_priority_level");
        assertThatThrownBy(() -> ModelConfigs.batchingConfig(parse(
                "{\"max_batch_size\": 4, \"dynamic_batching\": {\"preferred_batch_size\": [8]}}"), 1, FILE))
                .hasMessageContaining("preferred_batch_size 8");
        assertThatThrownBy(() -> ModelConfigs.batchingConfig(parse("{\"max_batch_size\": 4, \"dynamic_batching\": "
                + "{\"priority_levels\": 2, \"default_priority_level\": 1, \"priority_queue_policy\": {\"5\": {}}}}"), 1, FILE))
                .hasMessageContaining("priority_queue_policy has level 5");
    }

    @Test
    void driftAndRetrainMistakesNameTheFileAndKey() throws Exception {
        assertThatThrownBy(() -> ModelConfigs.checkDrift(parse("{\"drift\": {\"numeric_method\": \"wasserstein\"}}")
                .getDrift(), FILE)).hasMessageContaining("config.json").hasMessageContaining("drift.numeric_method");
        assertThatThrownBy(() -> ModelConfigs.checkDrift(parse("{\"drift\": {\"dataset_share\": 2}}").getDrift(),
                FILE)).hasMessageContaining("drift.dataset_share");
        assertThatThrownBy(() -> ModelConfigs.checkDrift(parse("{\"drift\": {\"quality_window_pairs\": 1}}")
                .getDrift(), FILE)).hasMessageContaining("quality_window_pairs");
        ModelConfigs.checkDrift(parse("{\"drift\": {\"numeric_method\": \"ks\", \"window_rows\": 500}}").getDrift(),
                FILE);
    }

    @Test
    void emergencyPromotionAndTheRetrainedThresholdAreCheckedAtLoad(@TempDir Path dir) throws Exception {
        assertThatThrownBy(() -> ModelConfigs.checkRollout(parse("{\"rollout\": {\"mode\": \"canary\", "
                + "\"emergency_margin\": -0.1}}").getRollout(), FILE)).hasMessageContaining("config.json")
                .hasMessageContaining("emergency_margin");
        ModelConfig off = parse("{\"rollout\": {\"mode\": \"canary\", \"no_emergency_promotion\": true}}");
        ModelConfigs.checkRollout(off.getRollout(), FILE);
        assertThat(off.getRollout().getNoEmergencyPromotion()).isTrue();
        assertThat(ModelConfigs.emergencyMargin(off)).as("the default").isEqualTo(0.01);
        assertThat(ModelConfigs.emergencyMargin(parse("{\"rollout\": {\"emergency_margin\": 0.03}}")))
                .isEqualTo(0.03);
        Path m = Files.createDirectories(dir.resolve("m"));
        Files.writeString(m.resolve("config.json"), "{\"retrain\": {\"enabled\": true, \"train\": "
                + "{\"threshold\": 0.3, \"cost_ratio\": 4}}}");
        assertThatThrownBy(() -> ModelConfigs.read(m, "m")).hasMessageContaining("retrain.train: give threshold");
        Files.writeString(m.resolve("config.json"), "{\"retrain\": {\"train\": {\"cost_ratio\": -1}}}");
        assertThatThrownBy(() -> ModelConfigs.read(m, "m")).hasMessageContaining("retrain.train.cost_ratio must be "
                + "a positive number");
        Files.writeString(m.resolve("config.json"), "{\"retrain\": {\"train\": {\"cost_ratio\": 4}}}");
        assertThat(ModelConfigs.read(m, "m").getRetrain().getTrain().getCostRatio()).isEqualTo(4.0);
    }
}
