package io.mlserve.server.retrain;

import io.mlserve.featurecache.FeatureView;
import io.mlserve.featurecache.ViewEncoding;
import io.mlserve.proto.inference.ModelFeatureBinding;
import io.mlserve.proto.v1.LogTopics;
import io.mlserve.proto.v1.TrainSpec;
import io.mlserve.server.repository.ModelEntry;
import io.mlserve.server.repository.ServedVersion;
import io.mlserve.server.traininglog.TrainingLog;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;

/**
 * What a retraining job of a model bound to a feature view trains on — the job carries its data: the model's training
 * log (this server's {@code <data_dir>/training-log/<model>}, or at scale the prediction and outcome topics) over the
 * last {@code window_days} of the server's clock, the view's encoding as the schema (the features as they were
 * served: no second feature pipeline), and the serving champion for the quality gate. A config.json that names a data
 * directory instead keeps it.
 */
public final class JobData {
    /** The training window when config.json names none. */
    public static final int DEFAULT_WINDOW_DAYS = 90;
    private static final long DAY = 86_400_000L;

    private final Function<String, FeatureView> views;
    private final TrainingLog log;
    private final LogTopics topics;

    /**
     * @param views  the server's feature views by name
     * @param log    the training log, or null when the server keeps none
     * @param topics the prediction log and outcomes on Kafka, or null
     */
    public JobData(Function<String, FeatureView> views, TrainingLog log, LogTopics topics) {
        this.views = views;
        this.log = log;
        this.topics = topics;
    }

    /**
     * The job's TrainSpec: {@code configured} (config.json's retrain.train) completed with the log, the window ending
     * at {@code nowMs}, the schema and the champion.
     *
     * @throws IllegalStateException when the model's data cannot be named (the reason, in one line)
     */
    public TrainSpec complete(ModelEntry entry, TrainSpec configured, long nowMs) {
        boolean log = configured.getData().equals("log");
        if (!configured.getData().isEmpty() && !log) {
            return configured;
        }
        String model = entry.name();
        if (!entry.config().hasFeatures()) {
            if (log) {
                throw new IllegalStateException("model '" + model + "' reads no feature view, so it has no training "
                        + "log: name a data directory in retrain.train.data");
            }
            return configured;
        }
        ModelFeatureBinding binding = entry.config().getFeatures();
        FeatureView view = views.apply(binding.getView());
        if (view == null) {
            throw new IllegalStateException("model '" + model + "' binds view '" + binding.getView()
                    + "', which this server does not have");
        }
        int days = configured.getWindowDays() > 0 ? configured.getWindowDays() : DEFAULT_WINDOW_DAYS;
        TrainSpec.Builder b = configured.toBuilder().setData("log").setLabel("label")
                .setSchema(ViewEncoding.json(view, binding.getNamesList()).toString())
                .setFromMs(nowMs - days * DAY).setToMs(nowMs + 1).setChampionVersion(champion(entry));
        if (topics != null) {
            b.setLogKafka(topics);
        } else if (this.log != null) {
            b.setLogDir(this.log.dir(model).toAbsolutePath().toString());
        } else {
            throw new IllegalStateException("model '" + model + "' has no training log to retrain from: the server "
                    + "keeps none (training_log disabled, or no data_dir) and logs no predictions to Kafka");
        }
        return b.build();
    }

    /** Completes once the model's rows joined so far are on disk (at once when there is nothing to write). */
    public CompletableFuture<Void> flush(String model) {
        return topics == null && log != null ? log.flush(model) : CompletableFuture.completedFuture(null);
    }

    /** The rollout's champion, else the newest serving version; 0 when nothing serves. */
    private static long champion(ModelEntry entry) {
        ModelEntry.Rollout r = entry.rollout();
        ServedVersion v = r != null && r.champion() != null ? r.champion() : entry.latest();
        return v == null ? 0 : v.version();
    }
}
