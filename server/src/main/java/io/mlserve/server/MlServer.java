package io.mlserve.server;

import io.grpc.Server;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.mlserve.featurecache.CsvSnapshot;
import io.mlserve.featurecache.FeatureStore;
import io.mlserve.featurecache.Snapshots;
import io.mlserve.featurecache.kafka.FeatureIngester;
import io.mlserve.proto.inference.GRPCInferenceServiceGrpc;
import io.mlserve.proto.v1.DriftEvent;
import io.mlserve.proto.v1.DriftKind;
import io.mlserve.runtime.ModelSession;
import io.mlserve.server.config.ServerConfigFile;
import io.mlserve.server.drift.DriftEventPublisher;
import io.mlserve.server.drift.DriftMonitor;
import io.mlserve.server.drift.GrpcOutcomeService;
import io.mlserve.server.drift.PredictionLog;
import io.mlserve.server.drift.QualityMonitor;
import io.mlserve.server.features.FeatureApi;
import io.mlserve.server.features.GrpcFeatureService;
import io.mlserve.server.features.GrpcPredictionService;
import io.mlserve.server.features.PredictHandler;
import io.mlserve.server.http.MetricsHandler;
import io.mlserve.server.http.RestHandler;
import io.mlserve.server.inference.BatchRunner;
import io.mlserve.server.inference.GrpcInferenceService;
import io.mlserve.server.inference.InferenceCore;
import io.mlserve.server.inference.ModelAdmin;
import io.mlserve.server.metrics.ServerMetrics;
import io.mlserve.server.monitoring.GrpcDriftService;
import io.mlserve.server.repository.ModelEntry;
import io.mlserve.server.repository.ModelRepository;
import io.mlserve.server.retrain.RetrainBridge;
import io.mlserve.server.time.ServerClock;
import io.mlserve.topics.TopicConsumer;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpServerExpectContinueHandler;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running server: model repository, gRPC (OIP + health + reflection), REST v2 and /metrics, all on
 * one set of Netty event loops (native epoll where available). {@link #shutdown} stops accepting,
 * lets in-flight calls finish within the grace period, then closes every session.
 */
public final class MlServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(MlServer.class);
    /** How often the drift monitor looks for windows that are due. */
    // closing a due window is cheap (a look at each version's row count); checked often so that windows keep their
    // size under fast traffic and replays
    private static final long DRIFT_CHECK_MS = 100;
    /** How often the rollout manager looks for challengers whose window is due. */
    private static final long ROLLOUT_CHECK_MS = 1000;
    /** How often certificate and token files are checked for changes. */
    private static final long TLS_CHECK_MS = 2000;
    private static final long AUTH_CHECK_MS = 1000;

    private final ServerOptions options;
    private final ServerMetrics metrics;
    private final ServerClock clock;
    private final java.util.List<io.mlserve.server.drift.DriftListener> driftListeners =
            new java.util.concurrent.CopyOnWriteArrayList<>();
    private final io.mlserve.server.drift.DriftHistory driftHistory = new io.mlserve.server.drift.DriftHistory();
    private final ModelRepository repository;
    private RestHandler rest;
    private io.mlserve.security.Guard guard;
    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final ExecutorService loader;
    private final HealthStatusManager health = new HealthStatusManager();
    private final AtomicBoolean accepting = new AtomicBoolean(true);
    private final AtomicBoolean stopped = new AtomicBoolean();
    private FeatureStore features;
    private FeatureIngester ingester;
    private volatile RetrainBridge retrain;
    private TopicConsumer driftConsumer;
    private TopicConsumer outcomeConsumer;
    private DriftMonitor driftMonitor;
    private DriftEventPublisher driftPublisher;
    private io.mlserve.security.AuditLog audit;
    private io.mlserve.registry.RegistrySource source;
    private io.mlserve.server.rollout.RepositoryPoller poller;
    private io.mlserve.server.rollout.RolloutManager rollout;
    private io.mlserve.security.ReloadingTls tls;
    private io.mlserve.security.TokenFile tokens;
    private PredictionLog predictionLog;
    private QualityMonitor quality;
    private io.mlserve.server.traininglog.TrainingLog trainingLog;
    private PredictHandler predict;
    private Server grpc;
    private Channel http;
    private Channel metricsChannel;

    private MlServer(ServerOptions options) {
        this.options = options;
        this.metrics = new ServerMetrics();
        this.clock = options.replayClock() ? ServerClock.replay() : new ServerClock();
        driftListeners.add(driftHistory);
        this.repository = new ModelRepository(options.modelRepository(), options.sessionDefaults(),
                options.resolvedDefaultInstances(), metrics, BatchRunner::start).withClock(clock)
                .withFeatureViews(options.featureViews());
        IoHandlerFactory io = Epoll.isAvailable() ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
        this.boss = new MultiThreadIoEventLoopGroup(1, daemonThreads("mlserve-accept"), io);
        int threads = options.eventLoopThreads() > 0 ? options.eventLoopThreads()
                : Runtime.getRuntime().availableProcessors();
        this.workers = new MultiThreadIoEventLoopGroup(threads, daemonThreads("mlserve-io"), io);
        this.loader = Executors.newSingleThreadExecutor(daemonThreads("mlserve-loader"));
    }

    /** Loads the repository, then binds gRPC, HTTP and metrics; returns once all are accepting. */
    public static MlServer start(ServerOptions options) throws IOException {
        MlServer s = new MlServer(options);
        try {
            s.startAll();
            return s;
        } catch (IOException | RuntimeException e) {
            s.shutdown(0);
            throw e;
        }
    }

    private void startAll() throws IOException {
        if (!options.featureViews().isEmpty()) {
            io.mlserve.featurecache.FeatureStoreListener counted = metrics.features();
            // every write the store takes — gRPC, REST, Kafka, snapshots — moves a replay clock to its event time
            features = FeatureStore.open(options.dataDir(), options.featureViews(),
                    new io.mlserve.featurecache.FeatureStoreListener() {
                        @Override
                        public void written(String view, boolean applied, long eventTimeMs) {
                            counted.written(view, applied, eventTimeMs);
                            clock.observe(eventTimeMs);
                        }

                        @Override
                        public void read(String view, io.mlserve.featurecache.FeatureRow row, long nowMs) {
                            counted.read(view, row, nowMs);
                        }
                    });
            LOG.info("feature store in {}: views {}", options.dataDir(),
                    features.tables().stream().map(t -> t.view().name() + " (" + t.size() + " entities"
                            + (t.recovered() ? ", recovered after an unclean stop" : "") + ")").toList());
        }
        for (ServerConfigFile.Snapshot snap : options.snapshots()) {
            CsvSnapshot.LoadSummary s = Snapshots.load(snap.csv(), features.table(snap.view()), snap.eventTimeColumn(),
                    System.currentTimeMillis());
            LOG.info("snapshot {} into view {}: {} rows, {} applied, {} older ignored, {} s", snap.csv(), snap.view(),
                    s.rows(), s.applied(), s.ignoredOlder(), String.format(java.util.Locale.ROOT, "%.1f", s.seconds()));
        }
        if (options.kafka() != null) {
            if (features == null) {
                throw new IllegalArgumentException("kafka ingestion needs feature_views in the config");
            }
            ingester = new FeatureIngester(options.kafka(), features, metrics.ingest()).start();
            LOG.info("ingesting {} from kafka {}", options.kafka().topics().stream().map(t -> t.name()).toList(),
                    options.kafka().bootstrapServers());
        }
        startRegistry();
        SecurityOptions sec = options.security();
        if (sec.tlsCert() != null) {
            tls = new io.mlserve.security.ReloadingTls(sec.tlsCert(), sec.tlsKey(), sec.tlsClientCa(),
                    TLS_CHECK_MS);
        }
        if (sec.authTokens() != null) {
            tokens = new io.mlserve.security.TokenFile(sec.authTokens(), AUTH_CHECK_MS);
        }
        guard = tokens == null && sec.rateLimit() == 0 ? null
                : new io.mlserve.security.Guard(tokens, sec.rateLimit() > 0
                        ? new io.mlserve.security.RateLimiter(sec.rateLimit(), sec.rateBurst()) : null, audit,
                        metrics.registry());
        InferenceCore core = new InferenceCore(repository, metrics).withLimits(sec.limits())
                .withGuard(guard);
        FeatureApi featureApi = features == null ? null : new FeatureApi(features, clock);
        if (options.predictionLog() != null) {
            predictionLog = new PredictionLog(options.predictionLog(), metrics.predictionLogRecords());
            LOG.info("logging predictions ({} sampled) to {} on {}", options.predictionLog().sample(),
                    options.predictionLog().topic(), options.predictionLog().bootstrapServers());
        }
        QualityMonitor.Options qualityOptions = QualityMonitor.Options.defaults();
        if (options.trainingLogOn()) {
            io.mlserve.server.traininglog.TrainingLog.Options t = options.trainingLog();
            trainingLog = io.mlserve.server.traininglog.TrainingLog.open(options.dataDir().resolve(
                    io.mlserve.server.traininglog.TrainingLog.DIR), t, metrics.trainingLog(), clock);
            // one join serves live quality and the training log: its buffer and wait are the log's
            qualityOptions = qualityOptions.withWaiting(t.maxPendingRows(), t.outcomeWait().toMillis());
            LOG.info("training log in {} (flush every {} rows or {} s; outcomes awaited {} h; kept {} days)",
                    options.dataDir().resolve(io.mlserve.server.traininglog.TrainingLog.DIR), t.flushRows(),
                    t.flushInterval().toSeconds(), t.outcomeWait().toHours(), t.retentionDays());
        }
        quality = new QualityMonitor(qualityOptions, metrics.registry(), event -> {
            driftListeners.forEach(l -> l.alert(event));
            RetrainBridge qualityBridge = retrain; // created below: read when the event comes
            if (qualityBridge != null) {
                qualityBridge.onDrift(event);
            }
            if (driftPublisher != null) {
                driftPublisher.publish(event);
            }
        }, model -> {
            ModelEntry entry = repository.model(model);
            return entry == null ? null : entry.config().getDrift();
        }, (model, version) -> versionMetrics(repository, model, version), clock, trainingLog);
        if (options.outcomesKafka() != null) {
            QualityMonitor q = quality;
            outcomeConsumer = new TopicConsumer(options.outcomesKafka(), options.outcomesTopic(),
                    "mlserve-outcomes-" + options.instanceName(),
                    (value, where) -> q.outcome(io.mlserve.proto.v1.Outcome.parseFrom(value))).start();
            LOG.info("reading outcomes from {} on {}", options.outcomesTopic(), options.outcomesKafka());
        }
        predict = new PredictHandler(core, features, predictionLog, quality, clock).withMetrics(metrics.registry())
                .withTrainingLog(trainingLog);
        ModelAdmin admin = new ModelAdmin(repository, core, loader, accepting::get,
                () -> updateHealth(accepting.get() && repository.allReady()));
        if (options.retrain() != null) {
            io.mlserve.proto.v1.LogTopics topics = options.predictionLog() == null || options.outcomesKafka() == null
                    ? null : io.mlserve.proto.v1.LogTopics.newBuilder()
                    .setBootstrapServers(options.predictionLog().bootstrapServers())
                    .setPredictionsTopic(options.predictionLog().topic()).setOutcomesTopic(options.outcomesTopic())
                    .build();
            java.util.Map<String, io.mlserve.featurecache.FeatureView> views = new java.util.HashMap<>();
            options.featureViews().forEach(v -> views.put(v.name(), v));
            retrain = new RetrainBridge(options.retrain(), repository::model, m -> admin.load("", m),
                    metrics.retrain(), clock, new io.mlserve.server.retrain.JobData(views::get, trainingLog, topics));
            LOG.info("retraining on drift through the trainer at {}", options.retrain().trainer());
            if (options.driftKafka() != null) {
                RetrainBridge bridge = retrain;
                driftConsumer = new TopicConsumer(options.driftKafka(), options.driftTopic(),
                        "mlserve-drift-" + options.instanceName(), (value, where) -> {
                            DriftEvent event = DriftEvent.parseFrom(value);
                            if (event.getKind() == DriftKind.MANUAL) {
                                // MANUAL skips the cooldown: only an operator (the REST endpoint) may ask for that
                                LOG.warn("{}: MANUAL events are not taken from Kafka; skipped", where);
                            } else {
                                bridge.onDrift(event);
                            }
                        }).start();
                LOG.info("reading drift events from {} on {}", options.driftTopic(), options.driftKafka());
            }
        }
        if (options.driftKafka() != null) {
            driftPublisher = new DriftEventPublisher(options.driftKafka(), options.driftTopic());
        }
        rollout = new io.mlserve.server.rollout.RolloutManager(repository, loader, quality, source, poller,
                metrics.registrySync(), ROLLOUT_CHECK_MS, clock);
        if (options.registry().rolloutKafka() != null) {
            rollout.withPooledJudging(options.registry().rolloutKafka(), options.registry().rolloutTopic(),
                    options.instanceName(), options.registry().pollSecs());
        }
        if (retrain != null) {
            // a version a job published because the champion degraded may skip its canary: the rollout decides
            retrain.onPublished(rollout::published);
        }
        RetrainBridge bridge = retrain;
        DriftEventPublisher publisher = driftPublisher;
        driftMonitor = new DriftMonitor(repository::driftWindows, metrics.drift(), event -> {
            driftListeners.forEach(l -> l.alert(event));
            if (bridge != null) {
                bridge.onDrift(event);
            }
            if (publisher != null) {
                publisher.publish(event);
            }
        }, DRIFT_CHECK_MS, clock, new io.mlserve.server.drift.DriftListener() {
            @Override
            public void window(String model, String version, io.mlserve.drift.DriftDetector.Report report) {
                driftListeners.forEach(l -> l.window(model, version, report));
            }

            @Override
            public void flagged(String model, String version, String feature, boolean on, long timeMs) {
                driftListeners.forEach(l -> l.flagged(model, version, feature, on, timeMs));
            }
        });
        Class<? extends ServerChannel> channelType = Epoll.isAvailable()
                ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
        NettyServerBuilder b = NettyServerBuilder.forAddress(new InetSocketAddress(options.host(), options.grpcPort()))
                .channelType(channelType)
                .bossEventLoopGroup(boss)
                .workerEventLoopGroup(workers)
                .maxInboundMessageSize(options.maxMessageBytes())
                .maxConcurrentCallsPerConnection(sec.maxConcurrentCallsPerConnection())
                .permitKeepAliveTime(sec.keepalivePermitSecs(), TimeUnit.SECONDS)
                .permitKeepAliveWithoutCalls(true)
                .addService(new GrpcInferenceService(core, admin))
                .addService(new GrpcPredictionService(predict))
                .addService(new GrpcDriftService(repository, core))
                .addService(new GrpcOutcomeService(quality))
                .addService(new io.mlserve.server.rollout.GrpcRolloutService(rollout, core))
                .addService(health.getHealthService())
                .addService(ProtoReflectionServiceV1.newInstance())
                // handlers never block (inference is queued to the model's batcher), so no executor hop here
                .directExecutor();
        if (featureApi != null) {
            b.addService(new GrpcFeatureService(featureApi));
        }
        if (tls != null) {
            b.sslContext(tls.grpc());
        }
        if (guard != null) {
            b.intercept(new io.mlserve.security.GrpcAuth(guard));
        }
        grpc = b.build().start();
        rest = new RestHandler(core, admin, featureApi, predict, repository, retrain, quality)
                .withRollout(rollout).withGuard(guard).withDriftHistory(driftHistory).withTrainingLog(trainingLog);
        io.netty.handler.ssl.SslContext httpTls = tls == null ? null : tls.http();
        http = bind(options.httpPort(), rest, channelType, httpTls);
        metricsChannel = bind(options.metricsPort(), new MetricsHandler(metrics,
                tokens != null && !sec.metricsOpen() ? guard : null), channelType, httpTls);
        updateHealth(admin.serverReady());
        LOG.info("mlserve {} on {} with {}: gRPC {} | HTTP {} | metrics {} | repository {} | transport {} | default instances {}",
                ModelAdmin.SERVER_VERSION, options.host(), options.sessionDefaults().device(), grpcPort(), httpPort(),
                metricsPort(), repository.root(), Epoll.isAvailable() ? "epoll" : "nio", options.resolvedDefaultInstances());
    }

    /**
     * The registry: audit log, rollout state, the source (MLflow's cache, or the file system) and its poller; the
     * first pass loads every model, later passes run every --repository-poll-secs.
     */
    private void startRegistry() throws IOException {
        RegistryOptions reg = options.registry();
        audit = new io.mlserve.security.AuditLog(reg.auditLog() != null ? reg.auditLog()
                : options.dataDir().resolve("audit.log"));
        io.mlserve.rollout.RolloutStates states = new io.mlserve.rollout.RolloutStates(
                reg.stateDir() != null ? reg.stateDir() : options.dataDir().resolve("rollout"));
        if (reg.mlflowUri() != null) {
            java.nio.file.Files.createDirectories(options.modelRepository());
            source = new io.mlserve.registry.MlflowSource(new io.mlserve.registry.MlflowSource.Options(
                    java.net.URI.create(reg.mlflowUri()), reg.mlflowToken(), reg.mlflowModels(), reg.aliases(),
                    options.modelRepository(), java.time.Duration.ofSeconds(10)));
        } else {
            source = new io.mlserve.registry.FileSystemSource(options.modelRepository());
        }
        poller = new io.mlserve.server.rollout.RepositoryPoller(source, repository, loader, metrics.registrySync());
        repository.withRegistry(states, audit, poller::roles);
        if (reg.mlflowUri() != null) {
            poller.pollOnce();
        } else {
            source.sync(); // the files as they are now: later passes report what changes
        }
        repository.loadAll();
        if (reg.pollSecs() > 0) {
            poller.start(reg.pollSecs());
            LOG.info("polling {} every {} s", source.describe(), reg.pollSecs());
        }
    }

    private void updateHealth(boolean ready) {
        if (stopped.get()) {
            return;
        }
        ServingStatus s = ready ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
        health.setStatus("", s);
        health.setStatus(GRPCInferenceServiceGrpc.SERVICE_NAME, s);
    }

    private Channel bind(int port, ChannelHandler handler, Class<? extends ServerChannel> channelType,
                         io.netty.handler.ssl.SslContext ssl) throws IOException {
        int maxBody = options.maxMessageBytes();
        ServerBootstrap sb = new ServerBootstrap().group(boss, workers).channel(channelType)
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        if (ssl != null) {
                            ch.pipeline().addLast(ssl.newHandler(ch.alloc()));
                        }
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpServerExpectContinueHandler(),
                                new HttpObjectAggregator(maxBody), handler);
                    }
                });
        try {
            return sb.bind(new InetSocketAddress(options.host(), port)).sync().channel();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while binding port " + port, e);
        } catch (RuntimeException e) {
            throw new IOException("cannot bind " + options.host() + ":" + port + ": " + e.getMessage(), e);
        }
    }

    /**
     * A model version's operating threshold and the AUC its live quality is held to: the threshold of the serving
     * version, else (a version retired before its outcomes came) of its metadata.json in the repository; the AUC is the
     * best holdout AUC of the model's versions up to this one — the bar the model has met, so a version trained on a
     * harder window does not lower the alarm line below what the model once ranked at. NaN where none names one. Asked
     * once per model version, on the quality thread.
     */
    private static QualityMonitor.VersionMetrics versionMetrics(ModelRepository repository, String model,
                                                               String version) {
        ModelEntry entry = repository.model(model);
        long v;
        try {
            v = Long.parseLong(version);
        } catch (NumberFormatException e) {
            return QualityMonitor.VersionMetrics.NONE;
        }
        java.nio.file.Path dir = repository.root().resolve(model).resolve(Long.toString(v));
        io.mlserve.server.repository.ServedVersion served = entry == null ? null : entry.version(v);
        double bar = io.mlserve.server.repository.ModelConfigs.metadataHoldoutAuc(dir);
        try (java.util.stream.Stream<java.nio.file.Path> versions = java.nio.file.Files.list(dir.getParent())) {
            for (java.nio.file.Path other : versions.toList()) {
                String name = other.getFileName().toString();
                if (name.matches("[0-9]{1,18}") && Long.parseLong(name) < v) {
                    double auc = io.mlserve.server.repository.ModelConfigs.metadataHoldoutAuc(other);
                    if (!Double.isNaN(auc) && !(auc <= bar)) { // also when bar is NaN
                        bar = auc;
                    }
                }
            }
        } catch (java.io.IOException e) {
            // the version's own holdout AUC, then
        }
        return new QualityMonitor.VersionMetrics(served != null ? served.threshold()
                : io.mlserve.server.repository.ModelConfigs.metadataThreshold(dir), bar);
    }

    private static ThreadFactory daemonThreads(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    public int grpcPort() {
        return grpc.getPort();
    }

    public int httpPort() {
        return ((InetSocketAddress) http.localAddress()).getPort();
    }

    public int metricsPort() {
        return ((InetSocketAddress) metricsChannel.localAddress()).getPort();
    }

    /** Adds a listener for judged drift windows and raised alerts (see {@link io.mlserve.server.drift.DriftListener}). */
    public void addDriftListener(io.mlserve.server.drift.DriftListener listener) {
        driftListeners.add(listener);
    }

    /** The server's time for drift, quality, rollout windows and feature reads; a replay may drive it. */
    public ServerClock clock() {
        return clock;
    }

    public ModelRepository repository() {
        return repository;
    }

    public ServerMetrics metrics() {
        return metrics;
    }

    /** Live quality: predictions joined with their outcomes. */
    public QualityMonitor quality() {
        return quality;
    }

    /** The training log (Predict rows joined with outcomes, as Parquet), or null when the server keeps none. */
    public io.mlserve.server.traininglog.TrainingLog trainingLog() {
        return trainingLog;
    }

    /** The judged drift windows and raised alerts of the recent past (GET /v1/drift/{model}/history). */
    public io.mlserve.server.drift.DriftHistory driftHistory() {
        return driftHistory;
    }

    /** The consumer of outcomes from Kafka, or null. */
    public TopicConsumer outcomeConsumer() {
        return outcomeConsumer;
    }

    /** The agent that closes and judges drift windows. */
    public DriftMonitor driftMonitor() {
        return driftMonitor;
    }

    /** The consumer of drift events from Kafka, or null. */
    public TopicConsumer driftConsumer() {
        return driftConsumer;
    }

    /** The rollout manager: judges challengers, takes operators' overrides. */
    public io.mlserve.server.rollout.RolloutManager rollout() {
        return rollout;
    }

    /** The registry poller (a pass on demand: {@link io.mlserve.server.rollout.RepositoryPoller#pollOnce}). */
    public io.mlserve.server.rollout.RepositoryPoller poller() {
        return poller;
    }

    /** The retrain bridge (drift listeners hand their events to it), or null when no trainer is configured. */
    public RetrainBridge retrain() {
        return retrain;
    }

    /**
     * Stops accepting work, waits up to {@code graceSeconds} for in-flight calls, then closes sessions and
     * event loops. Safe to call more than once.
     */
    public void shutdown(int graceSeconds) {
        if (!stopped.compareAndSet(false, true)) {
            return;
        }
        accepting.set(false);
        health.enterTerminalState();
        LOG.info("shutting down: no new calls; waiting up to {} s for calls in flight", graceSeconds);
        closeQuietly(http);
        closeQuietly(metricsChannel);
        if (grpc != null) {
            grpc.shutdown();
            try {
                if (!grpc.awaitTermination(graceSeconds, TimeUnit.SECONDS)) {
                    LOG.warn("calls still running after {} s; cancelling them", graceSeconds);
                    grpc.shutdownNow();
                    grpc.awaitTermination(5, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                grpc.shutdownNow();
            }
        }
        if (poller != null) {
            poller.close();
        }
        if (rollout != null) {
            rollout.close();
        }
        if (driftMonitor != null) {
            driftMonitor.close();
        }
        if (driftConsumer != null) {
            driftConsumer.close();
        }
        if (outcomeConsumer != null) {
            outcomeConsumer.close();
        }
        if (driftPublisher != null) {
            driftPublisher.close();
        }
        if (predictionLog != null) {
            predictionLog.close();
        }
        if (quality != null) {
            quality.close(); // predictions still waiting for outcomes go to the training log, unlabelled
        }
        if (trainingLog != null) {
            trainingLog.close();
        }
        if (predict != null) {
            predict.close();
        }
        if (rest != null) {
            rest.close();
        }
        if (retrain != null) {
            retrain.close();
        }
        loader.shutdown();
        try {
            if (!loader.awaitTermination(30, TimeUnit.SECONDS)) {
                LOG.warn("a model load was still running at shutdown");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        repository.close();
        if (guard != null) {
            guard.close(); // its queued refusals, before the audit log closes
        }
        if (audit != null) {
            audit.close();
        }
        if (tls != null) {
            tls.close();
        }
        if (tokens != null) {
            tokens.close();
        }
        if (ingester != null) {
            ingester.close();
        }
        if (features != null) {
            features.close();
        }
        workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        boss.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
        int open = ModelSession.openSessions();
        if (open > 0) {
            LOG.warn("{} ONNX Runtime session(s) still open after shutdown", open);
        }
        LOG.info("stopped");
    }

    private static void closeQuietly(Channel c) {
        if (c != null) {
            c.close().syncUninterruptibly();
        }
    }

    /** Blocks until {@link #shutdown} has completed. */
    public void awaitTermination() throws InterruptedException {
        if (grpc != null) {
            grpc.awaitTermination();
        }
    }

    @Override
    public void close() {
        shutdown(options.shutdownGraceSeconds());
    }
}
