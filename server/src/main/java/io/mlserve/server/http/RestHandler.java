package io.mlserve.server.http;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import io.grpc.Status;
import io.mlserve.proto.inference.ModelMetadataResponse;
import io.mlserve.proto.inference.RepositoryIndexResponse;
import io.mlserve.proto.inference.ServerMetadataResponse;
import io.mlserve.server.inference.InferenceError;
import io.mlserve.server.inference.InferenceHandler;
import io.mlserve.server.inference.ModelAdmin;
import io.mlserve.server.features.FeatureApi;
import io.mlserve.server.features.PredictHandler;
import io.mlserve.proto.v1.DriftEvent;
import io.mlserve.proto.v1.DriftKind;
import io.mlserve.proto.v1.PredictRequest;
import io.mlserve.server.drift.DriftReports;
import io.mlserve.server.drift.GrpcOutcomeService;
import io.mlserve.server.drift.QualityMonitor;
import io.mlserve.drift.QualityJoin;
import io.mlserve.proto.v1.Outcome;
import io.mlserve.proto.v1.ReportOutcomesRequest;
import io.mlserve.server.repository.ModelEntry;
import io.mlserve.server.repository.ModelRepository;
import io.mlserve.server.retrain.RetrainBridge;
import io.mlserve.server.retrain.RetrainStatus;
import io.mlserve.proto.v1.ReadFeaturesRequest;
import io.mlserve.proto.v1.ReadFeaturesResponse;
import io.mlserve.proto.v1.WriteFeaturesResponse;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufInputStream;
import io.netty.buffer.ByteBufOutputStream;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The REST v2 endpoints (health, metadata, config, statistics, repository, infer) on Netty's HTTP codec.
 * Inference runs on the event loop like gRPC does; repository loads complete asynchronously.
 */
@ChannelHandler.Sharable
public final class RestHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private static final Logger LOG = LoggerFactory.getLogger(RestHandler.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final JsonFactory FACTORY = JSON.getFactory();
    private static final JsonFormat.Printer PROTO_JSON = JsonFormat.printer().preservingProtoFieldNames()
            .omittingInsignificantWhitespace();

    private final InferenceHandler handler;
    private final ModelAdmin admin;
    private final FeatureApi features;
    private final PredictHandler predict;
    private final ModelRepository repository;
    private final RetrainBridge retrain;
    private final QualityMonitor quality;
    private io.mlserve.server.rollout.RolloutManager rollout;
    private io.mlserve.server.security.Guard guard;
    private io.mlserve.server.drift.DriftHistory driftHistory;
    private io.mlserve.server.traininglog.TrainingLog trainingLog;

    /**
     * @param features the feature API, or null when the server has no feature store
     * @param retrain  the retrain bridge, or null when the server has no trainer
     */
    public RestHandler(InferenceHandler handler, ModelAdmin admin, FeatureApi features, PredictHandler predict,
                       ModelRepository repository, RetrainBridge retrain, QualityMonitor quality) {
        this.handler = handler;
        this.admin = admin;
        this.features = features;
        this.predict = predict;
        this.repository = repository;
        this.retrain = retrain;
        this.quality = quality;
    }

    /** Checks every request's token and role (and rate) with this guard before it is routed. */
    public RestHandler withGuard(io.mlserve.server.security.Guard g) {
        this.guard = g;
        return this;
    }

    /** Serves /v1/drift/{model}/history from this history. */
    public RestHandler withDriftHistory(io.mlserve.server.drift.DriftHistory h) {
        this.driftHistory = h;
        return this;
    }

    /** Serves /v1/models/{m}/training-log from this log (null: the server keeps none). */
    public RestHandler withTrainingLog(io.mlserve.server.traininglog.TrainingLog log) {
        this.trainingLog = log;
        return this;
    }

    /** Serves /v1/models/{m}/rollout and /v1/audit from this rollout manager. */
    public RestHandler withRollout(io.mlserve.server.rollout.RolloutManager r) {
        this.rollout = r;
        return this;
    }

    /**
     * Reads of files or whole computations — the audit log, a version's importance (up to 2,048 explanations), the
     * training log's directory — that must not hold an event loop: they run here, one at a time.
     */
    private final java.util.concurrent.ExecutorService slow = io.mlserve.server.Daemons.scheduler("mlserve-http-slow");

    /** Stops the thread of slow requests (those queued are answered first). */
    public void close() {
        slow.shutdown();
    }

    private static boolean slow(HttpMethod m, String[] p) {
        return (m == HttpMethod.GET || m == HttpMethod.HEAD) && p.length >= 2 && p[0].equals("v1")
                && ((p.length == 2 && p[1].equals("audit")) || (p.length == 4 && p[1].equals("models")
                && (p[3].equals("importance") || p[3].equals("training-log"))));
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
        boolean keepAlive = HttpUtil.isKeepAlive(req);
        String path = new QueryStringDecoder(req.uri()).path();
        io.grpc.Context context = io.grpc.Context.ROOT;
        if (guard != null && !io.mlserve.server.security.HttpAuth.open(req.method(), path)) {
            try {
                context = context.withValue(io.mlserve.server.security.Guard.PRINCIPAL, guard.check(
                        req.headers().get(io.netty.handler.codec.http.HttpHeaderNames.AUTHORIZATION),
                        io.mlserve.server.security.HttpAuth.role(req.method(), path), req.method() + " " + path,
                        String.valueOf(ctx.channel().remoteAddress())));
            } catch (io.mlserve.server.security.Guard.Denied d) {
                send(ctx, denied(d), keepAlive);
                return;
            }
        }
        if (slow(req.method(), segments(path))) {
            // off the event loop; the connection reads nothing more until this answer is written, so answers keep
            // their order
            io.grpc.Context checked = context;
            req.retain();
            ctx.channel().config().setAutoRead(false);
            try {
                slow.execute(() -> {
                    try {
                        answer(ctx, req, keepAlive, checked);
                    } finally {
                        req.release();
                        ctx.channel().config().setAutoRead(true);
                    }
                });
            } catch (java.util.concurrent.RejectedExecutionException e) {
                req.release();
                ctx.channel().config().setAutoRead(true);
                send(ctx, error(503, "the server is stopping"), keepAlive);
            }
            return;
        }
        answer(ctx, req, keepAlive, context);
    }

    /** Routes {@code req} with the caller's checked {@code context} and sends the answer (unless it goes later). */
    private void answer(ChannelHandlerContext ctx, FullHttpRequest req, boolean keepAlive, io.grpc.Context context) {
        FullHttpResponse response;
        try {
            // explicit where the core takes it; ModelAdmin's metadata calls still read it from the current context
            response = context.call(() -> route(ctx, req, keepAlive, context));
        } catch (InferenceError e) {
            response = error(e.httpStatus(), e.getMessage());
        } catch (io.mlserve.featurecache.FeatureStoreException e) {
            InferenceError mapped = FeatureApi.map(e);
            response = error(mapped.httpStatus(), mapped.getMessage());
        } catch (Exception e) {
            LOG.error("HTTP {} {} failed", req.method(), req.uri(), e);
            response = error(500, e.toString());
        }
        if (response != null) {
            send(ctx, response, keepAlive);
        }
    }

    /** The response, or null when it will be sent later (asynchronous repository calls). */
    private FullHttpResponse route(ChannelHandlerContext ctx, FullHttpRequest req, boolean keepAlive,
                                   io.grpc.Context context) throws IOException {
        String path = new QueryStringDecoder(req.uri()).path();
        String[] p = segments(path);
        HttpMethod m = req.method();
        if (p.length > 0 && p[0].equals("v1")) {
            return v1(ctx, req, p, path, keepAlive, context);
        }
        if (p.length == 0 || !p[0].equals("v2")) {
            return error(404, "no endpoint " + path + "; the REST APIs live under /v2 (inference) and /v1 (features)");
        }
        if (p.length == 1) {
            requireGet(m, path);
            ServerMetadataResponse md = admin.serverMetadata();
            return json(200, g -> {
                g.writeStartObject();
                g.writeStringField("name", md.getName());
                g.writeStringField("version", md.getVersion());
                g.writeArrayFieldStart("extensions");
                for (String x : md.getExtensionsList()) {
                    g.writeString(x);
                }
                g.writeEndArray();
                g.writeEndObject();
            });
        }
        if (p[1].equals("health") && p.length == 3) {
            requireGet(m, path);
            boolean ok = switch (p[2]) {
                case "live" -> true;
                case "ready" -> admin.serverReady();
                default -> throw new InferenceError(Status.Code.NOT_FOUND, "no endpoint " + path);
            };
            return empty(ok ? 200 : 503);
        }
        if (p[1].equals("repository")) {
            return repository(ctx, req, p, path, keepAlive);
        }
        if (p[1].equals("models") && p.length >= 3) {
            if (p.length == 3 && p[2].equals("stats")) {
                requireGet(m, path);
                return proto(admin.statistics("", ""));
            }
            String model = p[2];
            String version = "";
            int rest = 3;
            if (p.length >= 5 && p[3].equals("versions")) {
                version = p[4];
                rest = 5;
            }
            String action = p.length > rest ? p[rest] : "";
            if (p.length > rest + 1) {
                return error(404, "no endpoint " + path);
            }
            switch (action) {
                case "" -> {
                    requireGet(m, path);
                    return metadata(admin.modelMetadata(model, version));
                }
                case "ready" -> {
                    requireGet(m, path);
                    return empty(admin.modelReady(model, version) ? 200 : 503);
                }
                case "config" -> {
                    requireGet(m, path);
                    return proto(admin.modelConfig(model, version));
                }
                case "stats" -> {
                    requireGet(m, path);
                    return proto(admin.statistics(model, version));
                }
                case "infer" -> {
                    if (m != HttpMethod.POST) {
                        return error(405, path + " takes POST");
                    }
                    // JSON, or JSON then binary tensors (Triton's binary tensor data extension)
                    BinaryTensors.Parsed asked = BinaryTensors.request(req.content(),
                            req.headers().get(BinaryTensors.HEADER), model, version);
                    // the caller's checked principal travels in its context: the core's allow-list check reads it
                    handler.submit(asked.request(), context, (r, error) -> {
                        FullHttpResponse res;
                        if (error != null) {
                            res = error(error.httpStatus(), error.getMessage());
                        } else {
                            try {
                                int[] header = new int[1];
                                ByteBuf body = BinaryTensors.response(r, asked, header);
                                if (asked.anyBinary()) {
                                    res = response(200, body, "application/octet-stream");
                                    res.headers().setInt(BinaryTensors.HEADER, header[0]);
                                } else {
                                    res = response(200, body, "application/json");
                                }
                            } catch (IOException | RuntimeException e) {
                                res = error(e instanceof InferenceError ie ? ie.httpStatus() : 500, e.getMessage());
                            }
                        }
                        send(ctx, res, keepAlive);
                    });
                    return null;
                }
                default -> {
                    return error(404, "no endpoint " + path);
                }
            }
        }
        return error(404, "no endpoint " + path);
    }

    /** /v1: PUT/GET features, POST predict by entity id, GET models, POST retrain. */
    private FullHttpResponse v1(ChannelHandlerContext ctx, FullHttpRequest req, String[] p, String path,
                                boolean keepAlive, io.grpc.Context context) throws IOException {
        HttpMethod m = req.method();
        if (p.length == 2 && p[1].equals("models")) {
            if (m != HttpMethod.GET && m != HttpMethod.HEAD) {
                return error(405, path + " takes GET");
            }
            java.util.List<ModelEntry> all = new java.util.ArrayList<>(repository.models());
            all.sort(java.util.Comparator.comparing(ModelEntry::name));
            return json(200, g -> {
                g.writeStartObject();
                g.writeArrayFieldStart("models");
                for (ModelEntry e : all) {
                    ModelsJson.write(e, retrain, g);
                }
                g.writeEndArray();
                g.writeEndObject();
            });
        }
        if (p.length == 3 && p[1].equals("models")) {
            if (m != HttpMethod.GET && m != HttpMethod.HEAD) {
                return error(405, path + " takes GET");
            }
            ModelEntry e = repository.model(p[2]);
            if (e == null) {
                return error(404, "no model '" + p[2] + "'");
            }
            return json(200, g -> ModelsJson.write(e, retrain, g));
        }
        if (p.length == 2 && p[1].equals("outcomes")) {
            if (m != HttpMethod.POST) {
                return error(405, path + " takes POST");
            }
            ReportOutcomesRequest outcomes = V1Json.outcomes(body(req));
            String bad = GrpcOutcomeService.check(outcomes);
            if (bad != null) {
                return error(400, bad);
            }
            long accepted = 0;
            for (Outcome o : outcomes.getOutcomesList()) {
                accepted += quality.outcome(o) ? 1 : 0;
            }
            long taken = accepted;
            return json(200, g -> {
                g.writeStartObject();
                g.writeNumberField("accepted", taken);
                g.writeNumberField("dropped", outcomes.getOutcomesCount() - taken);
                g.writeEndObject();
            });
        }
        if (p.length == 3 && p[1].equals("quality")) {
            if (m != HttpMethod.GET && m != HttpMethod.HEAD) {
                return error(405, path + " takes GET");
            }
            ModelEntry e = repository.model(p[2]);
            if (e == null || e.latest() == null) {
                return error(404, "no serving model '" + p[2] + "'");
            }
            java.util.List<String> asked = new QueryStringDecoder(req.uri()).parameters().get("version");
            String version = asked == null || asked.isEmpty() ? e.latest().versionLabel() : asked.get(0);
            QualityJoin.Report r = quality.last(p[2], version);
            if (r == null) {
                return error(404, "model '" + p[2] + "' version " + version + ": no quality window closed yet (Predict "
                        + "calls joined with reported outcomes)");
            }
            return json(200, g -> {
                g.writeStartObject();
                g.writeStringField("model", r.model());
                g.writeStringField("version", r.version());
                g.writeNumberField("pairs", r.metrics().pairs());
                g.writeNumberField("positives", r.metrics().positives());
                g.writeNumberField("auc", r.metrics().auc());
                g.writeNumberField("log_loss", r.metrics().logLoss());
                g.writeNumberField("accuracy", r.metrics().accuracy());
                g.writeNumberField("threshold", r.metrics().threshold());
                g.writeStringField("threshold_from", r.settings().thresholdFrom());
                g.writeNumberField("min_auc", r.settings().minAuc());
                g.writeStringField("min_auc_from", r.settings().minAucFrom());
                g.writeBooleanField("low", r.low());
                g.writeBooleanField("alert", r.alert());
                g.writeEndObject();
            });
        }
        if (p.length == 3 && p[1].equals("drift")) {
            if (m != HttpMethod.GET && m != HttpMethod.HEAD) {
                return error(405, path + " takes GET");
            }
            return drift(p[2], new QueryStringDecoder(req.uri()).parameters().get("version"));
        }
        if (p.length == 4 && p[1].equals("drift") && p[3].equals("history")) {
            if (m != HttpMethod.GET && m != HttpMethod.HEAD) {
                return error(405, path + " takes GET");
            }
            return driftHistory(p[2], new QueryStringDecoder(req.uri()).parameters());
        }
        if (p.length == 4 && p[1].equals("models") && p[3].equals("training-log")) {
            if (m != HttpMethod.GET && m != HttpMethod.HEAD) {
                return error(405, path + " takes GET");
            }
            return trainingLog(p[2]);
        }
        if (p.length == 2 && p[1].equals("audit")) {
            if (m != HttpMethod.GET && m != HttpMethod.HEAD) {
                return error(405, path + " takes GET");
            }
            return audit(new QueryStringDecoder(req.uri()).parameters());
        }
        if (p.length == 4 && p[1].equals("models") && p[3].equals("rollout")) {
            return rollout(ctx, req, p[2], path, keepAlive, context);
        }
        if (p.length == 4 && p[1].equals("models") && p[3].equals("retrain")) {
            return retrain(ctx, req, p[2], path, keepAlive);
        }
        if (p.length == 4 && p[1].equals("models") && p[3].equals("importance")) {
            if (m != HttpMethod.GET && m != HttpMethod.HEAD) {
                return error(405, path + " takes GET");
            }
            return importance(p[2], new QueryStringDecoder(req.uri()).parameters().get("version"));
        }
        if (p.length == 4 && p[1].equals("models") && p[3].equals("predict")) {
            if (m != HttpMethod.POST) {
                return error(405, path + " takes POST");
            }
            PredictRequest pr = V1Json.predictRequest(body(req), p[2]);
            predict.predict(pr, context, (response, error) -> {
                FullHttpResponse res;
                try {
                    res = error != null ? error(error.httpStatus(), error.getMessage())
                            : json(200, g -> V1Json.writePredictResponse(response, g));
                } catch (IOException e) {
                    res = error(500, e.toString());
                }
                send(ctx, res, keepAlive);
            });
            return null;
        }
        if (p.length >= 3 && p[1].equals("features")) {
            if (features == null) {
                return error(404, "this server has no feature store; start it with --config naming feature_views");
            }
            if (p.length == 3 && m == HttpMethod.PUT) {
                WriteFeaturesResponse w = features.write(V1Json.writeRequest(body(req), p[2]));
                return json(200, g -> {
                    g.writeStartObject();
                    g.writeNumberField("written", w.getWritten());
                    g.writeNumberField("ignored_older", w.getIgnoredOlder());
                    g.writeEndObject();
                });
            }
            if (p.length == 4 && (m == HttpMethod.GET || m == HttpMethod.HEAD)) {
                ReadFeaturesResponse r = features.read(ReadFeaturesRequest.newBuilder().setView(p[2])
                        .addEntityIds(p[3]).build());
                return json(200, g -> V1Json.writeRow(r.getRows(0), g));
            }
            return error(405, path + ": PUT /v1/features/{view} writes, GET /v1/features/{view}/{entity_id} reads");
        }
        return error(404, "no endpoint " + path);
    }

    /** GET /v1/drift/{model}[?version=V]: the last closed window of the latest (or the given) serving version. */
    private FullHttpResponse drift(String model, java.util.List<String> versionParam) throws IOException {
        DriftReports.Found f = DriftReports.find(repository, model,
                versionParam == null || versionParam.isEmpty() ? null : versionParam.get(0));
        return json(200, g -> DriftJson.write(f.drift().model(), f.drift().version(), f.report(),
                f.drift().sequentialAlerts() ? f.drift().lastVerdict() : null, g));
    }

    /**
     * GET /v1/models/{m}/importance[?version=V]: the version's (default: the champion, else the newest) explanations
     * of the last rows Predict served for the model, aggregated per feature, next to its last drift window's verdict.
     */
    private FullHttpResponse importance(String model, java.util.List<String> versionParam) throws IOException {
        io.mlserve.server.repository.ModelEntry e = repository.model(model);
        if (e == null || e.latest() == null) {
            return error(404, "no serving model '" + model + "'");
        }
        io.mlserve.server.repository.ServedVersion v = e.rollout() != null && e.rollout().champion() != null
                ? e.rollout().champion() : e.latest();
        if (versionParam != null && !versionParam.isEmpty()) {
            try {
                v = e.version(Long.parseLong(versionParam.get(0)));
            } catch (NumberFormatException ex) {
                return error(400, "version: expected a number, got '" + versionParam.get(0) + "'");
            }
            if (v == null) {
                return error(404, "model '" + model + "' does not serve version " + versionParam.get(0));
            }
        }
        io.mlserve.server.repository.ServedVersion.Explanations x = v.explanations();
        if (x.explainer() == null) {
            return error(400, x.unavailable());
        }
        io.mlserve.server.explain.RecentRows rows = predict.recentRows(model);
        java.util.List<String> names = v.config().getFeatures().getNamesList();
        if (rows == null || rows.width() != names.size()) {
            return error(404, "model '" + model + "': no Predict calls with its current feature binding yet");
        }
        java.util.Map<String, Boolean> flagged = new java.util.HashMap<>();
        String window = null;
        try {
            DriftReports.Found f = DriftReports.find(repository, model, v.versionLabel());
            f.report().features().forEach((name, r) -> flagged.put(name, r.drifted()));
            window = java.time.Instant.ofEpochMilli(f.report().startMs()) + "/"
                    + java.time.Instant.ofEpochMilli(f.report().endMs());
        } catch (io.mlserve.server.inference.InferenceError ex) {
            // no drift monitoring or no window yet: importance alone
        }
        io.mlserve.server.explain.Importance imp = io.mlserve.server.explain.Importance.of(x.explainer(),
                rows.snapshot(), names, flagged::get);
        String driftWindow = window;
        String version = v.versionLabel();
        return json(200, g -> {
            g.writeStartObject();
            g.writeStringField("model", model);
            g.writeStringField("version", version);
            g.writeNumberField("rows", imp.rows());
            g.writeStringField("method", imp.method());
            g.writeNumberField("base_value", imp.base());
            if (driftWindow != null) {
                g.writeStringField("drift_window", driftWindow);
            }
            g.writeArrayFieldStart("features");
            for (io.mlserve.server.explain.Importance.Feature f : imp.features()) {
                g.writeStartObject();
                g.writeStringField("name", f.name());
                g.writeNumberField("mean_abs_contribution", f.meanAbs());
                g.writeNumberField("mean_contribution", f.mean());
                if (f.drifted() != null) {
                    g.writeBooleanField("drifted", f.drifted());
                }
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        });
    }

    /**
     * GET /v1/drift/{model}/history[?since_ms=T][&limit=N]: the model's sequential flag transitions, and its judged
     * windows (every version) that ended at
     * or after T and its alerts detected at or after T (server time), the last N of each (default 1000), oldest first.
     */
    private FullHttpResponse driftHistory(String model, java.util.Map<String, java.util.List<String>> q)
            throws IOException {
        if (driftHistory == null) {
            return error(404, "this server keeps no drift history");
        }
        if (repository.model(model) == null) {
            return error(404, "no model '" + model + "'");
        }
        long since = 0;
        if (q.containsKey("since_ms")) {
            try {
                since = Long.parseLong(q.get("since_ms").get(0));
            } catch (NumberFormatException e) {
                return error(400, "since_ms: expected epoch milliseconds, got '" + q.get("since_ms").get(0) + "'");
            }
        }
        int limit = limit(q, 1000);
        java.util.List<io.mlserve.server.drift.DriftHistory.Window> windows = driftHistory.windows(model, since, limit);
        java.util.List<DriftEvent> alerts = driftHistory.alerts(model, since, limit);
        java.util.List<io.mlserve.server.drift.DriftHistory.Flag> flags = driftHistory.flags(model, since, limit);
        return json(200, g -> {
            g.writeStartObject();
            g.writeArrayFieldStart("windows");
            for (io.mlserve.server.drift.DriftHistory.Window w : windows) {
                g.writeStartObject();
                g.writeStringField("version", w.version());
                g.writeNumberField("start_ms", w.startMs());
                g.writeNumberField("end_ms", w.endMs());
                g.writeNumberField("rows", w.rows());
                g.writeBooleanField("drifted", w.drifted());
                g.writeBooleanField("alert_raised", w.alertRaised());
                strings(g, "features", w.features());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeArrayFieldStart("alerts");
            for (DriftEvent e : alerts) {
                g.writeStartObject();
                g.writeStringField("kind", e.getKind().name());
                g.writeStringField("version", e.getModelVersion());
                g.writeNumberField("detected_ms", e.getDetectedMs());
                g.writeNumberField("severity", e.getSeverity());
                strings(g, "features", e.getFeaturesList());
                g.writeStringField("detail", e.getDetail());
                g.writeStringField("event_id", e.getEventId());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeArrayFieldStart("flags");
            for (io.mlserve.server.drift.DriftHistory.Flag f : flags) {
                g.writeStartObject();
                g.writeStringField("version", f.version());
                g.writeStringField("feature", f.feature());
                g.writeBooleanField("on", f.on());
                g.writeNumberField("time_ms", f.timeMs());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        });
    }

    /** The query's limit (1..100000), or {@code byDefault} when it gives none. */
    private static int limit(java.util.Map<String, java.util.List<String>> q, int byDefault) {
        if (!q.containsKey("limit")) {
            return byDefault;
        }
        int limit;
        try {
            limit = Integer.parseInt(q.get("limit").get(0));
        } catch (NumberFormatException e) {
            limit = -1;
        }
        if (limit < 1 || limit > 100_000) {
            throw InferenceError.invalid("limit: expected a whole number 1..100000, got '" + q.get("limit").get(0)
                    + "'");
        }
        return limit;
    }

    private static void strings(JsonGenerator g, String field, java.util.List<String> values) throws IOException {
        g.writeArrayFieldStart(field);
        for (String v : values) {
            g.writeString(v);
        }
        g.writeEndArray();
    }

    /**
     * GET /v1/models/{m}/training-log: where the model's training log is, its files and bytes on disk, the rows
     * written since the server started (labelled or not), those waiting for outcomes or buffered, its date range.
     */
    private FullHttpResponse trainingLog(String model) throws IOException {
        if (repository.model(model) == null) {
            return error(404, "no model '" + model + "'");
        }
        if (trainingLog == null) {
            return error(404, "this server keeps no training log (it needs a data directory and feature_views, and "
                    + "training_log.enabled not false)");
        }
        io.mlserve.server.traininglog.TrainingLog.Status s = trainingLog.status(model);
        return json(200, g -> {
            g.writeStartObject();
            g.writeStringField("model", s.model());
            g.writeStringField("dir", s.dir().toString());
            g.writeNumberField("files", s.files());
            g.writeNumberField("bytes", s.bytes());
            g.writeNumberField("rows_labelled", s.rowsLabelled());
            g.writeNumberField("rows_unlabelled", s.rowsUnlabelled());
            g.writeNumberField("pending", s.pending());
            g.writeNumberField("buffered", s.buffered());
            if (s.oldestDate() == null) {
                g.writeNullField("oldest_date");
                g.writeNullField("newest_date");
            } else {
                g.writeStringField("oldest_date", s.oldestDate().toString());
                g.writeStringField("newest_date", s.newestDate().toString());
            }
            g.writeEndObject();
        });
    }

    /** GET /v1/audit[?model=M][&action=A][&limit=N]: the last N audit records (default 100), oldest first. */
    private FullHttpResponse audit(java.util.Map<String, java.util.List<String>> q) throws IOException {
        io.mlserve.registry.AuditLog log = repository.audit();
        if (log == null) {
            return error(404, "this server keeps no audit log");
        }
        int limit = limit(q, 100);
        java.util.List<JsonNode> entries = log.read(q.containsKey("model") ? q.get("model").get(0) : null,
                q.containsKey("action") ? q.get("action").get(0) : null, limit);
        return json(200, g -> {
            g.writeStartObject();
            g.writeArrayFieldStart("entries");
            for (JsonNode e : entries) {
                JSON.writeTree(g, e);
            }
            g.writeEndArray();
            g.writeEndObject();
        });
    }

    /**
     * GET /v1/models/{m}/rollout: champion, challenger, refused versions and the last judgement; POST with
     * {"action": "promote" | "rollback" | "set_champion" | "clear_rejected", "version"?, "reason"?}: the operator's
     * override, answered once the new roles serve.
     */
    private FullHttpResponse rollout(ChannelHandlerContext ctx, FullHttpRequest req, String model, String path,
                                     boolean keepAlive, io.grpc.Context context) throws IOException {
        if (rollout == null) {
            return error(404, "this server has no rollout manager");
        }
        try {
            if (req.method() == HttpMethod.GET || req.method() == HttpMethod.HEAD) {
                return proto(rollout.status(model));
            }
            if (req.method() != HttpMethod.POST) {
                return error(405, path + " takes GET or POST");
            }
            JsonNode b = body(req);
            if (!b.path("action").isTextual()) {
                return error(400, "action: required, one of promote, rollback, set_champion, clear_rejected");
            }
            long version = 0;
            JsonNode v = b.path("version");
            if (!v.isMissingNode() && !v.isNull()) {
                try {
                    version = Long.parseLong(v.asText());
                } catch (NumberFormatException e) {
                    version = -1;
                }
                if (version < 1) {
                    return error(400, "version: expected a positive integer, got " + v);
                }
            }
            io.mlserve.server.security.Principal who = io.mlserve.server.security.Guard.PRINCIPAL.get(context);
            String actor = "http:" + (who == null || who == io.mlserve.server.security.Principal.ANONYMOUS ? ""
                    : who.name() + "@") + ctx.channel().remoteAddress();
            rollout.override(model, b.get("action").asText(), version, actor, b.path("reason").asText(""))
                    .whenComplete((entry, err) -> {
                        FullHttpResponse r;
                        try {
                            r = err != null ? error(500, err.toString()) : proto(rollout.status(model));
                        } catch (IOException e) {
                            r = error(500, e.toString());
                        }
                        send(ctx, r, keepAlive);
                    });
            return null;
        } catch (java.util.NoSuchElementException e) {
            return error(404, e.getMessage());
        } catch (IllegalArgumentException e) {
            return error(409, e.getMessage());
        }
    }

    /** POST /v1/models/{name}/retrain: an operator's retraining request, through the bridge's policy. */
    private FullHttpResponse retrain(ChannelHandlerContext ctx, FullHttpRequest req, String model, String path,
                                     boolean keepAlive) {
        if (req.method() != HttpMethod.POST) {
            return error(405, path + " takes POST");
        }
        if (retrain == null) {
            return error(400, "this server has no trainer; start it with --trainer host:port");
        }
        ModelEntry entry = repository.model(model);
        if (entry == null) {
            return error(404, "no model '" + model + "'");
        }
        JsonNode b = req.content().isReadable() ? body(req) : null;
        String reason = b != null && b.path("reason").isTextual() ? b.get("reason").asText() : "";
        DriftEvent event = DriftEvent.newBuilder().setEventId("manual-" + java.util.UUID.randomUUID())
                .setModelName(model).setKind(DriftKind.MANUAL).setDetectedMs(System.currentTimeMillis())
                .setDetail(reason).build();
        retrain.onDrift(event).whenComplete((outcome, err) -> {
            FullHttpResponse r;
            try {
                if (err != null) {
                    r = error(503, String.valueOf(err.getCause() != null ? err.getCause().getMessage() : err));
                } else if (outcome == RetrainBridge.Outcome.ACCEPTED) {
                    RetrainStatus s = retrain.status(model);
                    r = json(202, g -> {
                        g.writeStartObject();
                        g.writeStringField("model", model);
                        ModelsJson.status(s, g);
                        g.writeEndObject();
                    });
                } else if (outcome == RetrainBridge.Outcome.REFUSED) {
                    RetrainStatus s = retrain.status(model);
                    r = error(422, "the trainer refused the job for '" + model + "': "
                            + (s == null ? "" : s.lastError()));
                } else if (outcome == RetrainBridge.Outcome.IN_FLIGHT) {
                    RetrainStatus s = retrain.status(model);
                    r = error(409, "a retraining job for '" + model + "' is already in flight"
                            + (s != null && s.job() != null ? " (job " + s.job().getJobId() + ")" : ""));
                } else if (outcome == RetrainBridge.Outcome.NOT_ENABLED) {
                    r = error(409, "retraining is not enabled for '" + model + "': set retrain.enabled in its "
                            + "config.json");
                } else {
                    r = error(409, "not retrained: " + outcome.name().toLowerCase(java.util.Locale.ROOT));
                }
            } catch (IOException e) {
                r = error(500, e.toString());
            }
            send(ctx, r, keepAlive);
        });
        return null;
    }

    private FullHttpResponse repository(ChannelHandlerContext ctx, FullHttpRequest req, String[] p, String path,
                                        boolean keepAlive) throws IOException {
        if (req.method() != HttpMethod.POST) {
            return error(405, path + " takes POST");
        }
        if (p.length == 3 && p[2].equals("index")) {
            JsonNode b = req.content().isReadable() ? body(req) : null;
            boolean ready = b != null && b.path("ready").asBoolean(false);
            RepositoryIndexResponse idx = admin.index("", ready);
            return json(200, g -> {
                g.writeStartArray();
                for (RepositoryIndexResponse.ModelIndex mi : idx.getModelsList()) {
                    g.writeStartObject();
                    g.writeStringField("name", mi.getName());
                    if (!mi.getVersion().isEmpty()) {
                        g.writeStringField("version", mi.getVersion());
                    }
                    g.writeStringField("state", mi.getState());
                    if (!mi.getReason().isEmpty()) {
                        g.writeStringField("reason", mi.getReason());
                    }
                    g.writeEndObject();
                }
                g.writeEndArray();
            });
        }
        if (p.length == 5 && p[2].equals("models") && (p[4].equals("load") || p[4].equals("unload"))) {
            CompletableFuture<Void> f = p[4].equals("load") ? admin.load("", p[3]) : admin.unload("", p[3]);
            f.whenComplete((ok, err) -> {
                Throwable cause = err != null && err.getCause() != null ? err.getCause() : err;
                FullHttpResponse r = err == null ? empty(200)
                        : cause instanceof InferenceError e ? error(e.httpStatus(), e.getMessage())
                        : error(500, String.valueOf(cause));
                send(ctx, r, keepAlive);
            });
            return null;
        }
        return error(404, "no endpoint " + path);
    }

    private static void requireGet(HttpMethod m, String path) {
        if (m != HttpMethod.GET && m != HttpMethod.HEAD) {
            throw new InferenceError(Status.Code.INVALID_ARGUMENT, path + " takes GET");
        }
    }

    private static String[] segments(String path) {
        String trimmed = path.startsWith("/") ? path.substring(1) : path;
        if (trimmed.endsWith("/")) {
            trimmed = trimmed.substring(0, trimmed.length() - 1);
        }
        return trimmed.isEmpty() ? new String[0] : trimmed.split("/");
    }

    private static JsonNode body(FullHttpRequest req) {
        return json(req.content());
    }

    /** Parses JSON from {@code content} (not consuming it); unreadable or invalid JSON is a 400 with the reason. */
    static JsonNode json(ByteBuf content) {
        try (ByteBufInputStream in = new ByteBufInputStream(content.duplicate())) {
            return JSON.readTree((java.io.InputStream) in);
        } catch (JsonProcessingException e) {
            throw InferenceError.invalid("body: not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw InferenceError.invalid("body: unreadable: " + e.getMessage());
        }
    }

    private FullHttpResponse metadata(ModelMetadataResponse md) throws IOException {
        return json(200, g -> {
            g.writeStartObject();
            g.writeStringField("name", md.getName());
            g.writeArrayFieldStart("versions");
            for (String v : md.getVersionsList()) {
                g.writeString(v);
            }
            g.writeEndArray();
            g.writeStringField("platform", md.getPlatform());
            writeTensors(g, "inputs", md.getInputsList());
            writeTensors(g, "outputs", md.getOutputsList());
            g.writeEndObject();
        });
    }

    private static void writeTensors(JsonGenerator g, String field, java.util.List<ModelMetadataResponse.TensorMetadata> ts)
            throws IOException {
        g.writeArrayFieldStart(field);
        for (ModelMetadataResponse.TensorMetadata t : ts) {
            g.writeStartObject();
            g.writeStringField("name", t.getName());
            g.writeStringField("datatype", t.getDatatype());
            g.writeArrayFieldStart("shape");
            for (long d : t.getShapeList()) {
                g.writeNumber(d);
            }
            g.writeEndArray();
            g.writeEndObject();
        }
        g.writeEndArray();
    }

    private static FullHttpResponse proto(MessageOrBuilder message) throws InvalidProtocolBufferException {
        return text(200, PROTO_JSON.print(message), "application/json");
    }

    /** Writes JSON straight into the response buffer. */
    interface JsonBody {
        void write(JsonGenerator g) throws IOException;
    }

    private static FullHttpResponse json(int status, JsonBody body) throws IOException {
        ByteBuf buf = Unpooled.buffer(256);
        try (ByteBufOutputStream out = new ByteBufOutputStream(buf); JsonGenerator g = FACTORY.createGenerator(
                (java.io.OutputStream) out)) {
            body.write(g);
        } catch (IOException | RuntimeException e) {
            buf.release();
            throw e;
        }
        return response(status, buf, "application/json");
    }

    /** 401 / 403 / 429 (with Retry-After, whole seconds rounded up) for a refused request. */
    static FullHttpResponse denied(io.mlserve.server.security.Guard.Denied d) {
        FullHttpResponse r = error(d.httpStatus(), d.getMessage());
        if (d.httpStatus() == 401) {
            r.headers().set(io.netty.handler.codec.http.HttpHeaderNames.WWW_AUTHENTICATE, "Bearer");
        } else if (d.httpStatus() == 429) {
            r.headers().set(io.netty.handler.codec.http.HttpHeaderNames.RETRY_AFTER,
                    Long.toString((d.retryAfterMillis() + 999) / 1000));
        }
        return r;
    }

    static FullHttpResponse error(int status, String message) {
        try {
            return json(status, g -> {
                g.writeStartObject();
                g.writeStringField("error", message);
                g.writeEndObject();
            });
        } catch (IOException e) {
            return text(status, "{\"error\":\"(unprintable)\"}", "application/json");
        }
    }

    static FullHttpResponse text(int status, String body, String contentType) {
        return response(status, Unpooled.copiedBuffer(body, java.nio.charset.StandardCharsets.UTF_8), contentType);
    }

    private static FullHttpResponse empty(int status) {
        return response(status, Unpooled.EMPTY_BUFFER, "text/plain");
    }

    static FullHttpResponse response(int status, ByteBuf body, String contentType) {
        FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(status), body);
        r.headers().set(HttpHeaderNames.CONTENT_TYPE, contentType);
        r.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.readableBytes());
        return r;
    }

    static void send(ChannelHandlerContext ctx, FullHttpResponse r, boolean keepAlive) {
        if (keepAlive) {
            r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
            ctx.writeAndFlush(r);
        } else {
            ctx.writeAndFlush(r).addListener(ChannelFutureListener.CLOSE);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        LOG.debug("HTTP connection error: {}", cause.toString());
        ctx.close();
    }
}
