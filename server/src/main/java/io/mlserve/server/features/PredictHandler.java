package io.mlserve.server.features;

import io.grpc.Status;
import io.mlserve.featurecache.FeatureRow;
import io.mlserve.featurecache.FeatureStore;
import io.mlserve.featurecache.FeatureStoreException;
import io.mlserve.featurecache.FeatureTable;
import io.mlserve.featurecache.FeatureView;
import io.mlserve.proto.inference.ModelFeatureBinding;
import io.mlserve.proto.v1.FeatureColumn;
import io.mlserve.proto.v1.FeatureStatus;
import io.mlserve.proto.v1.FeatureValue;
import io.mlserve.proto.v1.PredictRequest;
import io.mlserve.proto.v1.PredictResponse;
import io.mlserve.proto.v1.Prediction;
import io.mlserve.proto.v1.PredictionRecord;
import io.mlserve.server.drift.PredictionLog;
import io.mlserve.server.drift.QualityMonitor;
import io.mlserve.server.inference.InferenceCore;
import io.mlserve.server.inference.InferenceError;
import io.mlserve.server.inference.RequestContext;
import io.mlserve.server.inference.RowRequest;
import io.mlserve.server.repository.ServedVersion;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * Predict by entity id: reads each entity's features from the store (the model's {@code features}
 * binding in config.json says which view and columns), applies request-time overrides, and hands the rows to the
 * inference core as a {@link RowRequest} — straight into the version's batch, the same checks and scheduling as a
 * ModelInfer with those values. Each prediction, with
 * the features as served, goes to live quality to wait for its outcome (and from there to the training log) and to
 * the prediction log; its time is the request's event_time_ms, or the server's clock when it gives none.
 */
public final class PredictHandler {
    private final InferenceCore inference;
    private final FeatureStore store;
    private final PredictionLog log;
    private final QualityMonitor quality;
    private final io.mlserve.server.time.ServerClock clock;
    /** Per model, the last rows Predict assembled (the importance view explains them). */
    private final java.util.concurrent.ConcurrentHashMap<String, io.mlserve.explain.RecentRows> recent =
            new java.util.concurrent.ConcurrentHashMap<>();
    private static final int RECENT_ROWS = 2048;
    /**
     * Explanations run here, not on the inference threads that answer everyone else (a sampled explanation runs the
     * model thousands of times); one thread, so explain callers queue behind each other, not in front of others.
     */
    private java.util.concurrent.ExecutorService explaining;
    private io.prometheus.metrics.core.metrics.Counter explained;
    private io.prometheus.metrics.core.metrics.Histogram explainSeconds;
    private io.mlserve.server.traininglog.TrainingLog trainingLog;

    /** @param store the feature store, or null when the server has none */
    public PredictHandler(InferenceCore inference, FeatureStore store) {
        this(inference, store, null, null, new io.mlserve.server.time.ServerClock());
    }

    /**
     * @param log     the prediction log, or null for none
     * @param quality live quality (predictions wait there for their outcomes), or null for none
     */
    public PredictHandler(InferenceCore inference, FeatureStore store, PredictionLog log, QualityMonitor quality,
                          io.mlserve.server.time.ServerClock clock) {
        this.clock = clock;
        this.inference = inference;
        this.store = store;
        this.log = log;
        this.quality = quality;
    }

    /**
     * Answers {@code request} through {@code done}, exactly once: (response, null) or (null, error). A request that
     * asks for explanations is taken off the caller's thread (a Netty event loop) first: the first one of a version
     * builds its explainer, which reads the graph and may run the model dozens of times.
     */
    public void predict(PredictRequest request, RequestContext context,
                        BiConsumer<PredictResponse, InferenceError> done) {
        if (request.getExplain()) {
            try {
                explainer().execute(() -> predictNow(request, context, done));
            } catch (java.util.concurrent.RejectedExecutionException e) {
                done.accept(null, new InferenceError(Status.Code.UNAVAILABLE, "the server is stopping"));
            }
            return;
        }
        predictNow(request, context, done);
    }

    private void predictNow(PredictRequest request, RequestContext context,
                            BiConsumer<PredictResponse, InferenceError> done) {
        Assembled a;
        RowRequest rows;
        try {
            a = assemble(request, context);
            rows = new RowRequest(a.version(), request.getModelVersion().isEmpty(), request.getId(),
                    request.getEntityIds(0), context, a.input(), a.values(), request.getEntityIdsCount(),
                    a.names().size(), (scores, error) -> {
                        if (error != null) {
                            done.accept(null, error);
                        } else if (request.getExplain()) {
                            try {
                                explainer().execute(() -> finish(request, a, scores, done));
                            } catch (java.util.concurrent.RejectedExecutionException e) {
                                done.accept(null, new InferenceError(Status.Code.UNAVAILABLE,
                                        "the server is stopping"));
                            }
                        } else {
                            finish(request, a, scores, done);
                        }
                    });
        } catch (InferenceError e) {
            done.accept(null, e);
            return;
        } catch (FeatureStoreException e) {
            done.accept(null, FeatureApi.map(e));
            return;
        }
        // routed by entity when no version is named: if the chosen version is swapped out before it runs, the
        // request follows the swap; under a shadow rollout the challenger gets its copy
        inference.submit(rows);
    }

    /** The last rows Predict assembled for {@code model} (up to 2,048), or null before its first call. */
    public io.mlserve.explain.RecentRows recentRows(String model) {
        return recent.get(model);
    }

    /** The explainer of the version that answered (a routed request may have followed a swap to another one). */
    private static io.mlserve.explain.Explainer explainerOf(RowRequest.Scores scores) {
        ServedVersion.Explanations e = scores.version().explanations();
        if (e.explainer() == null) {
            throw new InferenceError(Status.Code.FAILED_PRECONDITION, "explain: " + e.unavailable());
        }
        return e.explainer();
    }

    private static void explain(Prediction.Builder p, io.mlserve.explain.Explainer explainer, Assembled a,
                                int offset) {
        io.mlserve.explain.Explainer.Explanation e = explainer.explain(a.values(), offset);
        for (int j = 0; j < e.contributions().length; j++) {
            p.putContributions(a.names().get(j), e.contributions()[j]);
        }
        p.setBaseValue(explainer.base()).setExplanation(e.method());
    }

    /** Hands each prediction's served features to {@code log} (through live quality, which joins the outcomes). */
    public PredictHandler withTrainingLog(io.mlserve.server.traininglog.TrainingLog log) {
        this.trainingLog = log;
        return this;
    }

    /** Counts explanations by model and method (and refusals), and times them, in {@code registry}. */
    public PredictHandler withMetrics(io.prometheus.metrics.model.registry.PrometheusRegistry registry) {
        explained = io.prometheus.metrics.core.metrics.Counter.builder().name("mlserve_explanations_total")
                .help("Predictions explained (explain=true), by model and method: linear, treeshap, sampling; "
                        + "refused when the version's graph allows none").labelNames("model", "method")
                .register(registry);
        explainSeconds = io.prometheus.metrics.core.metrics.Histogram.builder().name("mlserve_explanation_seconds")
                .help("Time to explain one prediction, by model").unit(
                        io.prometheus.metrics.model.snapshots.Unit.SECONDS).labelNames("model").classicOnly()
                .classicUpperBounds(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1).withoutExemplars()
                .register(registry);
        return this;
    }

    /** The explanation thread, started by the first request that asks for an explanation. */
    private synchronized java.util.concurrent.ExecutorService explainer() {
        if (explaining == null) {
            explaining = io.mlserve.server.threads.Daemons.scheduler("mlserve-explain");
        }
        return explaining;
    }

    /** Stops the explanation thread once the explanations already queued are answered. */
    public synchronized void close() {
        if (explaining != null) {
            explaining.shutdown();
        }
    }

    private void finish(PredictRequest request, Assembled a, RowRequest.Scores scores,
                        BiConsumer<PredictResponse, InferenceError> done) {
        PredictResponse answer;
        try {
            answer = answer(request, a, scores);
        } catch (InferenceError e) {
            done.accept(null, e);
            return;
        } catch (RuntimeException e) {
            done.accept(null, new InferenceError(Status.Code.INTERNAL, (request.getExplain() ? "explain: " : "")
                    + e.getMessage()));
            return;
        }
        done.accept(answer, null);
    }

    /**
     * The rows Predict runs (the version's input, the values) plus what is needed to answer: the statuses as served,
     * whether the view serves stale values, and the training log's encoding of the binding (null: not logged).
     */
    private record Assembled(String input, List<String> names, float[] values,
                             FeatureStatus[] statuses, boolean serveStale, ServedVersion version,
                             io.mlserve.server.traininglog.RowEncoding encoding) {
    }

    private Assembled assemble(PredictRequest request, RequestContext context) {
        int n = request.getEntityIdsCount();
        if (n == 0) {
            throw InferenceError.invalid("entity_ids: at least one entity is needed");
        }
        if (request.getEventTimeMs() < 0) {
            throw InferenceError.invalid("event_time_ms: expected milliseconds since the epoch, or 0 for the server's "
                    + "clock; got " + request.getEventTimeMs());
        }
        // the version this caller gets (allow-list checked), routed by the first entity: its binding names the features
        ServedVersion v = inference.resolve(request.getModelName(), request.getModelVersion(),
                request.getEntityIds(0), request.getId(), context.principal());
        if (!v.config().hasFeatures()) {
            throw new InferenceError(Status.Code.FAILED_PRECONDITION, "model '" + v.model()
                    + "' has no \"features\" binding in its config.json; call ModelInfer with the values instead");
        }
        if (request.getExplain() && v.explanations().explainer() == null) {
            if (explained != null) {
                explained.labelValues(v.model(), "refused").inc();
            }
            throw new InferenceError(Status.Code.FAILED_PRECONDITION, "explain: " + v.explanations().unavailable());
        }
        if (store == null) {
            throw new InferenceError(Status.Code.FAILED_PRECONDITION,
                    "this server has no feature store; start it with --config naming feature_views");
        }
        ModelFeatureBinding binding = v.config().getFeatures();
        FeatureTable table;
        try {
            table = store.table(binding.getView());
        } catch (FeatureStoreException e) {
            throw new InferenceError(Status.Code.FAILED_PRECONDITION, "model '" + v.model() + "' reads feature view '"
                    + binding.getView() + "', which this server does not have: " + e.getMessage());
        }
        FeatureView view = table.view();
        List<String> names = binding.getNamesList();
        int k = names.size();
        int[] column = new int[k];
        for (int j = 0; j < k; j++) {
            column[j] = view.indexOf(names.get(j));
            if (column[j] < 0) {
                throw new InferenceError(Status.Code.FAILED_PRECONDITION, "model '" + v.model()
                        + "' binds feature '" + names.get(j) + "', which view '" + view.name() + "' does not have");
            }
        }
        double[][] overrides = overrides(request, v.model(), names, table, column, n);
        float[] values = new float[n * k];
        FeatureStatus[] statuses = new FeatureStatus[n * k];
        FeatureRow row = new FeatureRow(view);
        if (request.getEventTimeMs() > 0) {
            clock.observe(request.getEventTimeMs()); // a replay clock moves first: the reads below judge TTL then
        }
        long now = clock.now();
        for (int i = 0; i < n; i++) {
            store.read(view.name(), request.getEntityIds(i), now, row, "entity_ids[" + i + "]");
            for (int j = 0; j < k; j++) {
                double[] o = overrides[j];
                boolean overridden = o != null;
                values[i * k + j] = (float) (overridden ? o[i] : row.value(column[j]));
                statuses[i * k + j] = overridden ? FeatureStatus.OVERRIDDEN
                        : FeatureStatus.valueOf(row.status(column[j]).name());
            }
        }
        io.mlserve.explain.RecentRows kept = recent.get(v.model());
        if (kept == null || kept.width() != k) {
            // the first Predict of this model, or its binding changed: start over
            kept = new io.mlserve.explain.RecentRows(k, RECENT_ROWS);
            recent.put(v.model(), kept);
        }
        for (int i = 0; i < n; i++) {
            kept.add(values, i * k);
        }
        String input = binding.getInput().isEmpty() ? v.signature().inputs().get(0).name() : binding.getInput();
        return new Assembled(input, names, values, statuses, view.serveStale(), v,
                trainingLog == null ? null : trainingLog.encoding(v.model(), binding, view));
    }

    private static double[][] overrides(PredictRequest request, String model, List<String> names, FeatureTable table,
                                        int[] column, int n) {
        double[][] out = new double[names.size()][];
        for (Map.Entry<String, FeatureColumn> e : request.getFeaturesMap().entrySet()) {
            int j = names.indexOf(e.getKey());
            if (j < 0) {
                throw InferenceError.invalid("features." + e.getKey() + ": model '" + model
                        + "' does not use feature '" + e.getKey() + "'; it uses " + String.join(", ", names));
            }
            List<FeatureValue> vals = e.getValue().getValuesList();
            if (vals.size() != n) {
                throw InferenceError.invalid("features." + e.getKey() + ": " + vals.size() + " values for " + n
                        + " entities; give one per entity, in entity_ids order");
            }
            double[] col = new double[n];
            for (int i = 0; i < n; i++) {
                FeatureValue fv = vals.get(i);
                col[i] = switch (fv.getKindCase()) {
                    case NUMBER -> fv.getNumber();
                    case INTEGER -> fv.getInteger();
                    case CATEGORY -> table.categoryCode(column[j], fv.getCategory());
                    default -> throw InferenceError.invalid("features." + e.getKey() + "[" + i + "]: no value");
                };
            }
            out[j] = col;
        }
        return out;
    }

    private PredictResponse answer(PredictRequest request, Assembled a, RowRequest.Scores scores) {
        int n = request.getEntityIdsCount();
        int k = a.names().size();
        int perEntity = scores.perRow();
        double[] values = scores.values();
        String model = scores.version().model();
        String version = scores.version().versionLabel();
        PredictResponse.Builder b = PredictResponse.newBuilder().setModelName(model).setModelVersion(version)
                .setId(request.getId());
        long timeMs = request.getEventTimeMs() > 0 ? request.getEventTimeMs()
                : quality != null || log != null ? clock.now() : 0;
        io.mlserve.explain.Explainer explainer = request.getExplain() ? explainerOf(scores) : null;
        for (int i = 0; i < n; i++) {
            Prediction.Builder p = Prediction.newBuilder().setEntityId(request.getEntityIds(i));
            for (int s = 0; s < perEntity; s++) {
                p.addScores(values[i * perEntity + s]);
            }
            p.setScore(p.getScores(0));
            if (request.getReturnFeatures()) {
                for (int j = 0; j < k; j++) {
                    p.putFeatures(a.names().get(j), a.values()[i * k + j]);
                    p.putFeatureStatus(a.names().get(j), a.statuses()[i * k + j]);
                }
            }
            if (request.getExplain()) {
                long t0 = System.nanoTime();
                explain(p, explainer, a, i * k);
                if (explained != null) {
                    explained.labelValues(model, p.getExplanation().split("[: ]")[0]
                            .toLowerCase(java.util.Locale.ROOT)).inc();
                    explainSeconds.labelValues(model).observe((System.nanoTime() - t0) / 1e9);
                }
            }
            b.addPredictions(p);
            if (quality != null) {
                Object served = a.encoding() == null ? null
                        : new io.mlserve.server.traininglog.ServedRow(a.encoding(), a.values(), a.statuses(),
                                i * k);
                if (!quality.prediction(model, version, request.getEntityIds(i),
                        request.getId(), timeMs, (float) p.getScore(), served) && served != null) {
                    trainingLog.dropped(model);
                }
            }
            if (log != null && log.sampled()) {
                PredictionRecord.Builder r = PredictionRecord.newBuilder().setRequestId(request.getId())
                        .setEntityId(request.getEntityIds(i)).setModelName(model)
                        .setModelVersion(version).setTimeMs(timeMs)
                        .addAllFeatureNames(a.names()).setScore(p.getScore());
                for (int j = 0; j < k; j++) {
                    r.addFeatures(a.values()[i * k + j]);
                    if (io.mlserve.server.traininglog.RowEncoding.servedAsDefault(a.statuses()[i * k + j],
                            a.serveStale())) {
                        r.addDefaulted(j);
                    }
                }
                log.log(r.build());
            }
        }
        return b.build();
    }
}
