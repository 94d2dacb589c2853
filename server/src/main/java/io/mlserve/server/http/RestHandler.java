package io.mlserve.server.http;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.util.JsonFormat;
import io.grpc.Status;
import io.mlserve.drift.QualityJoin;
import io.mlserve.proto.inference.ModelMetadataResponse;
import io.mlserve.proto.inference.RepositoryIndexResponse;
import io.mlserve.proto.inference.ServerMetadataResponse;
import io.mlserve.proto.v1.DriftEvent;
import io.mlserve.proto.v1.DriftKind;
import io.mlserve.proto.v1.Outcome;
import io.mlserve.proto.v1.PredictRequest;
import io.mlserve.proto.v1.ReadFeaturesRequest;
import io.mlserve.proto.v1.ReadFeaturesResponse;
import io.mlserve.proto.v1.ReportOutcomesRequest;
import io.mlserve.proto.v1.WriteFeaturesResponse;
import io.mlserve.security.Role;
import io.mlserve.server.drift.GrpcOutcomeService;
import io.mlserve.server.drift.QualityMonitor;
import io.mlserve.server.features.FeatureApi;
import io.mlserve.server.features.PredictHandler;
import io.mlserve.server.inference.InferenceCore;
import io.mlserve.server.inference.InferenceError;
import io.mlserve.server.inference.ModelAdmin;
import io.mlserve.server.inference.RequestContext;
import io.mlserve.server.inference.TensorRequest;
import io.mlserve.server.monitoring.DriftReports;
import io.mlserve.server.repository.ModelEntry;
import io.mlserve.server.repository.ModelRepository;
import io.mlserve.server.retrain.RetrainBridge;
import io.mlserve.server.retrain.RetrainStatus;
import io.netty.buffer.ByteBuf;
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

    private final InferenceCore core;
    private final ModelAdmin admin;
    private final FeatureApi features;
    private final PredictHandler predict;
    private final ModelRepository repository;
    private final RetrainBridge retrain;
    private final QualityMonitor quality;
    private io.mlserve.server.rollout.RolloutManager rollout;
    private io.mlserve.security.Guard guard;
    private io.mlserve.server.drift.DriftHistory driftHistory;
    private io.mlserve.server.traininglog.TrainingLog trainingLog;

    /**
     * @param features the feature API, or null when the server has no feature store
     * @param retrain  the retrain bridge, or null when the server has no trainer
     */
    public RestHandler(InferenceCore core, ModelAdmin admin, FeatureApi features, PredictHandler predict,
                       ModelRepository repository, RetrainBridge retrain, QualityMonitor quality) {
        this.core = core;
        this.admin = admin;
        this.features = features;
        this.predict = predict;
        this.repository = repository;
        this.retrain = retrain;
        this.quality = quality;
    }

    /** Checks every request's token and role (and rate) with this guard before it is routed. */
    public RestHandler withGuard(io.mlserve.security.Guard g) {
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

    private final RouteTable<Handler> routes = table(this);

    /**
     * Reads of files or whole computations — the audit log, a version's importance (up to 2,048 explanations), the
     * training log's directory — that must not hold an event loop: they run here, one at a time.
     */
    private final java.util.concurrent.ExecutorService slow =
            io.mlserve.server.threads.Daemons.scheduler("mlserve-http-slow");

    /** Stops the thread of slow requests (those queued are answered first). */
    public void close() {
        slow.shutdown();
    }

    /** One HTTP call being answered: the request, its connection, the checked caller and the route's parameters. */
    private record Call(ChannelHandlerContext ctx, FullHttpRequest req, boolean keepAlive, RequestContext caller,
                        RouteTable.Match<Handler> match, String path) {
        String param(String name) {
            return match.param(name);
        }

        /** The {version} segment, or "" on a route without one (the latest serving version). */
        String version() {
            return match.route().binds("version") ? match.param("version") : "";
        }

        java.util.Map<String, java.util.List<String>> query() {
            return new QueryStringDecoder(req.uri()).parameters();
        }

        java.util.List<String> query(String name) {
            return query().get(name);
        }
    }

    /** Answers a call: the response, or null when it is sent later (asynchronous work). */
    @FunctionalInterface
    private interface Handler {
        FullHttpResponse handle(Call c) throws IOException;
    }

    /**
     * Every endpoint with the role it needs. A route with a {model} segment is scoped to that model: the caller's
     * allow-list is checked before its handler runs. Reads of files or whole computations (the audit log, a version's
     * importance, the training log's directory) are slow routes, answered off the event loop.
     */
    private static RouteTable<Handler> table(RestHandler h) {
        HttpMethod get = HttpMethod.GET;
        HttpMethod post = HttpMethod.POST;
        RouteTable<Handler> t = new RouteTable<>();
        t.add(get, "/v2", Role.PREDICT, c -> h.serverMetadata());
        t.add(get, "/v2/health/live", null, c -> empty(200));
        t.add(get, "/v2/health/ready", null, c -> empty(h.admin.serverReady() ? 200 : 503));
        t.add(post, "/v2/repository/index", Role.ADMIN, c -> h.repositoryIndex(c));
        t.add(post, "/v2/repository/models/{model}/load", Role.ADMIN, c -> h.loadOrUnload(c, true));
        t.add(post, "/v2/repository/models/{model}/unload", Role.ADMIN, c -> h.loadOrUnload(c, false));
        t.add(get, "/v2/models/stats", Role.METRICS, c -> proto(h.admin.statistics("", "", c.caller().principal())));
        for (String model : new String[] {"/v2/models/{model}", "/v2/models/{model}/versions/{version}"}) {
            t.add(get, model, Role.PREDICT,
                    c -> h.metadata(h.admin.modelMetadata(c.param("model"), c.version(), c.caller().principal())));
            t.add(get, model + "/ready", Role.PREDICT, c -> empty(h.admin.modelReady(c.param("model"), c.version(),
                    c.caller().principal()) ? 200 : 503));
            t.add(get, model + "/config", Role.PREDICT,
                    c -> proto(h.admin.modelConfig(c.param("model"), c.version(), c.caller().principal())));
            t.add(get, model + "/stats", Role.METRICS,
                    c -> proto(h.admin.statistics(c.param("model"), c.version(), c.caller().principal())));
            t.add(post, model + "/infer", Role.PREDICT, c -> h.infer(c));
        }
        t.add(get, "/v1/models", Role.METRICS, c -> h.models(c));
        t.add(get, "/v1/models/{model}", Role.METRICS, c -> h.model(c));
        t.add(post, "/v1/models/{model}/predict", Role.PREDICT, c -> h.predict(c));
        t.add(get, "/v1/models/{model}/rollout", Role.METRICS, c -> h.rolloutStatus(c));
        t.add(post, "/v1/models/{model}/rollout", Role.ADMIN, c -> h.rolloutOverride(c));
        t.add(post, "/v1/models/{model}/retrain", Role.ADMIN, c -> h.retrain(c));
        t.add(get, "/v1/models/{model}/importance", Role.METRICS, true,
                c -> h.importance(c.param("model"), c.query("version")));
        t.add(get, "/v1/models/{model}/training-log", Role.METRICS, true, c -> h.trainingLog(c.param("model")));
        t.add(get, "/v1/quality/{model}", Role.METRICS, c -> h.quality(c));
        t.add(get, "/v1/drift/{model}", Role.METRICS, c -> h.drift(c.param("model"), c.query("version")));
        t.add(get, "/v1/drift/{model}/history", Role.METRICS, c -> h.driftHistory(c.param("model"), c.query()));
        t.add(post, "/v1/outcomes", Role.PREDICT, c -> h.outcomes(c));
        t.add(HttpMethod.PUT, "/v1/features/{view}", Role.FEATURES_WRITE, c -> h.writeFeatures(c));
        t.add(get, "/v1/features/{view}/{entity}", Role.PREDICT, c -> h.readFeatures(c));
        t.add(get, "/v1/audit", Role.ADMIN, true, c -> h.audit(c.query()));
        return t;
    }

    /** The routes' roles, for checks that need no server (handlers are never called through it). */
    private static final RouteTable<Handler> ROLES = table(null);

    /** Whether {@code m path} is open to callers without a token (health probes). */
    public static boolean open(HttpMethod m, String path) {
        RouteTable.Match<Handler> match = ROLES.match(m, path);
        return match.found() && match.route().role() == null;
    }

    /** The role {@code m path} needs, or null when it is open or no route takes it. */
    public static Role role(HttpMethod m, String path) {
        RouteTable.Match<Handler> match = ROLES.match(m, path);
        return match.found() ? match.route().role() : null;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) {
        boolean keepAlive = HttpUtil.isKeepAlive(req);
        String path = new QueryStringDecoder(req.uri()).path();
        RouteTable.Match<Handler> match = routes.match(req.method(), path);
        io.mlserve.security.Principal principal = null;
        if (guard != null && !(match.found() && match.route().role() == null)) {
            try {
                // a path no route takes still needs a valid token (any role) before it is told so
                principal = guard.check(req.headers().get(io.netty.handler.codec.http.HttpHeaderNames.AUTHORIZATION),
                        match.found() ? match.route().role() : null, req.method() + " " + path,
                        String.valueOf(ctx.channel().remoteAddress()));
            } catch (io.mlserve.security.Guard.Denied d) {
                send(ctx, denied(d), keepAlive);
                return;
            }
        }
        if (!match.found()) {
            send(ctx, error(match.status(), match.message()), keepAlive);
            return;
        }
        // the caller, explicit from here to the core (an open endpoint's caller is anonymous)
        Call call = new Call(ctx, req, keepAlive, RequestContext.of(principal, io.grpc.Context.ROOT), match, path);
        if (match.route().binds("model")) {
            try {
                core.allow(call.caller().principal(), match.param("model"),
                        req.method() + " " + match.route().pattern());
            } catch (InferenceError e) {
                send(ctx, error(e.httpStatus(), e.getMessage()), keepAlive);
                return;
            }
        }
        if (match.route().slow()) {
            // off the event loop; the connection reads nothing more until this answer is written, so answers keep
            // their order
            req.retain();
            ctx.channel().config().setAutoRead(false);
            try {
                slow.execute(() -> {
                    try {
                        answer(call);
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
        answer(call);
    }

    /** Runs the call's handler and sends its answer (unless the handler sends it later). */
    private void answer(Call c) {
        FullHttpResponse response;
        try {
            response = c.match().route().handler().handle(c);
        } catch (InferenceError e) {
            response = error(e.httpStatus(), e.getMessage());
        } catch (io.mlserve.featurecache.FeatureStoreException e) {
            InferenceError mapped = FeatureApi.map(e);
            response = error(mapped.httpStatus(), mapped.getMessage());
        } catch (Exception e) {
            LOG.error("HTTP {} {} failed", c.req().method(), c.req().uri(), e);
            response = error(500, e.toString());
        }
        if (response != null) {
            send(c.ctx(), response, c.keepAlive());
        }
    }

    private FullHttpResponse serverMetadata() throws IOException {
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

    /** POST /v2/models/{m}[/versions/{v}]/infer: JSON, or JSON then binary tensors (Triton's extension). */
    private FullHttpResponse infer(Call c) {
        BinaryTensors.Parsed asked = BinaryTensors.request(c.req().content(),
                c.req().headers().get(BinaryTensors.HEADER), c.param("model"), c.version());
        core.submit(new TensorRequest(asked.request(), c.caller(), (r, error) -> {
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
            send(c.ctx(), res, c.keepAlive());
        }));
        return null;
    }

    /** POST /v1/models/{m}/predict: Predict by entity. */
    private FullHttpResponse predict(Call c) {
        PredictRequest pr = V1Json.predictRequest(body(c.req()), c.param("model"));
        predict.predict(pr, c.caller(), (response, error) -> {
            FullHttpResponse res;
            try {
                res = error != null ? error(error.httpStatus(), error.getMessage())
                        : json(200, g -> V1Json.writePredictResponse(response, g));
            } catch (IOException e) {
                res = error(500, e.toString());
            }
            send(c.ctx(), res, c.keepAlive());
        });
        return null;
    }

    /** GET /v1/models: every model the caller may use, by name. */
    private FullHttpResponse models(Call c) throws IOException {
        java.util.List<ModelEntry> all = new java.util.ArrayList<>();
        for (ModelEntry e : repository.models()) {
            if (c.caller().principal().mayUse(e.name())) {
                all.add(e);
            }
        }
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

    /** GET /v1/models/{m}. */
    private FullHttpResponse model(Call c) throws IOException {
        ModelEntry e = repository.model(c.param("model"));
        if (e == null) {
            return error(404, "no model '" + c.param("model") + "'");
        }
        return json(200, g -> ModelsJson.write(e, retrain, g));
    }

    /** POST /v1/outcomes. */
    private FullHttpResponse outcomes(Call c) throws IOException {
        ReportOutcomesRequest outcomes = V1Json.outcomes(body(c.req()));
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

    /** GET /v1/quality/{m}[?version=V]: the last closed quality window. */
    private FullHttpResponse quality(Call c) throws IOException {
        String model = c.param("model");
        ModelEntry e = repository.model(model);
        if (e == null || e.latest() == null) {
            return error(404, "no serving model '" + model + "'");
        }
        java.util.List<String> asked = c.query("version");
        String version = asked == null || asked.isEmpty() ? e.latest().versionLabel() : asked.get(0);
        QualityJoin.Report r = quality.last(model, version);
        if (r == null) {
            return error(404, "model '" + model + "' version " + version + ": no quality window closed yet (Predict "
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

    /** PUT /v1/features/{view}. */
    private FullHttpResponse writeFeatures(Call c) throws IOException {
        if (features == null) {
            return error(404, "this server has no feature store; start it with --config naming feature_views");
        }
        WriteFeaturesResponse w = features.write(V1Json.writeRequest(body(c.req()), c.param("view")));
        return json(200, g -> {
            g.writeStartObject();
            g.writeNumberField("written", w.getWritten());
            g.writeNumberField("ignored_older", w.getIgnoredOlder());
            g.writeEndObject();
        });
    }

    /** GET /v1/features/{view}/{entity}. */
    private FullHttpResponse readFeatures(Call c) throws IOException {
        if (features == null) {
            return error(404, "this server has no feature store; start it with --config naming feature_views");
        }
        ReadFeaturesResponse r = features.read(ReadFeaturesRequest.newBuilder().setView(c.param("view"))
                .addEntityIds(c.param("entity")).build());
        return json(200, g -> V1Json.writeRow(r.getRows(0), g));
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
        io.mlserve.explain.RecentRows rows = predict.recentRows(model);
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
        io.mlserve.explain.Importance imp = io.mlserve.explain.Importance.of(x.explainer(),
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
            for (io.mlserve.explain.Importance.Feature f : imp.features()) {
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
        io.mlserve.security.AuditLog log = repository.audit();
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

    /** GET /v1/models/{m}/rollout: the champion, the challenger and the evidence so far. */
    private FullHttpResponse rolloutStatus(Call c) throws IOException {
        if (rollout == null) {
            return error(404, "this server has no rollout manager");
        }
        try {
            return proto(rollout.status(c.param("model")));
        } catch (java.util.NoSuchElementException e) {
            return error(404, e.getMessage());
        }
    }

    /**
     * POST /v1/models/{m}/rollout {"action": promote|rollback|set_champion|clear_rejected, "version": N, "reason":
     * "..."}: an operator's override, audited with the caller as actor.
     */
    private FullHttpResponse rolloutOverride(Call c) throws IOException {
        if (rollout == null) {
            return error(404, "this server has no rollout manager");
        }
        String model = c.param("model");
        try {
            JsonNode b = body(c.req());
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
            io.mlserve.security.Principal who = c.caller().principal();
            String actor = "http:" + (who == io.mlserve.security.Principal.ANONYMOUS ? "" : who.name() + "@")
                    + c.ctx().channel().remoteAddress();
            rollout.override(model, b.get("action").asText(), version, actor, b.path("reason").asText(""))
                    .whenComplete((entry, err) -> {
                        FullHttpResponse r;
                        try {
                            r = err != null ? error(500, err.toString()) : proto(rollout.status(model));
                        } catch (IOException e) {
                            r = error(500, e.toString());
                        }
                        send(c.ctx(), r, c.keepAlive());
                    });
            return null;
        } catch (java.util.NoSuchElementException e) {
            return error(404, e.getMessage());
        } catch (IllegalArgumentException e) {
            return error(409, e.getMessage());
        }
    }

    /** POST /v1/models/{name}/retrain: an operator's retraining request, through the bridge's policy. */
    private FullHttpResponse retrain(Call c) {
        String model = c.param("model");
        FullHttpRequest req = c.req();
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
            send(c.ctx(), r, c.keepAlive());
        });
        return null;
    }

    /** POST /v2/repository/index [{"ready": true}]: every model on disk or loaded the caller may use. */
    private FullHttpResponse repositoryIndex(Call c) throws IOException {
        JsonNode b = c.req().content().isReadable() ? body(c.req()) : null;
        boolean ready = b != null && b.path("ready").asBoolean(false);
        RepositoryIndexResponse idx = admin.index("", ready);
        return json(200, g -> {
            g.writeStartArray();
            for (RepositoryIndexResponse.ModelIndex mi : idx.getModelsList()) {
                if (!c.caller().principal().mayUse(mi.getName())) {
                    continue;
                }
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

    /** POST /v2/repository/models/{m}/load and /unload: answered once the loader has done it. */
    private FullHttpResponse loadOrUnload(Call c, boolean load) {
        String model = c.param("model");
        CompletableFuture<Void> f = load ? admin.load("", model) : admin.unload("", model);
        f.whenComplete((ok, err) -> {
            Throwable cause = err != null && err.getCause() != null ? err.getCause() : err;
            FullHttpResponse r = err == null ? empty(200)
                    : cause instanceof InferenceError e ? error(e.httpStatus(), e.getMessage())
                    : error(500, String.valueOf(cause));
            send(c.ctx(), r, c.keepAlive());
        });
        return null;
    }

    private static JsonNode body(FullHttpRequest req) {
        return RequestJson.parse(req.content());
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
    static FullHttpResponse denied(io.mlserve.security.Guard.Denied d) {
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
