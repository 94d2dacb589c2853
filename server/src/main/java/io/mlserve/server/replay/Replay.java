package io.mlserve.server.replay;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import io.mlserve.featurecache.FeatureSpec;
import io.mlserve.featurecache.FeatureTable;
import io.mlserve.featurecache.FeatureType;
import io.mlserve.featurecache.FeatureView;
import io.mlserve.featurecache.RowTarget;
import io.mlserve.featurecache.Snapshots;
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
import java.io.BufferedWriter;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Replays recorded traffic through a running server's public API, as its users would have sent it: every record of a
 * data set (CSV or Parquet with the view's entity key, {@code event_time}, features and label), in event-time order,
 * is written to the feature store (gRPC WriteFeatures), predicted by entity by each model (gRPC Predict with the
 * record's {@code event_time_ms}), and its label reported as an outcome {@code labelDelayDays} later in event time
 * (gRPC ReportOutcomes). On a server started with {@code --replay-clock} the server's time follows the records, so a
 * year of traffic plays in minutes with drift windows, quality windows, rollouts and cooldowns meaning what they say.
 *
 * <p>Ordering: a batch of records ends before an entity repeats, and starts once every prediction of the previous one
 * has been answered — each prediction reads exactly the features of its own record. With {@code pauseWhileRetraining}
 * the replay waits while a model's retraining job is being delivered or run (read from {@code GET /v1/models/{m}}):
 * retraining then costs wall time, not replayed days.
 */
public final class Replay {
    /**
     * @param view            the feature view the records are read by (entity key, features and their types)
     * @param labelColumn     the label's column (0/1); rows without one get no outcome
     * @param models          the models to predict with, each on every record
     * @param grpc            the server's gRPC address, host:port
     * @param http            the server's HTTP base URL (for retraining status), or null
     * @param labelDelayDays  outcomes are reported this long after the record's event time; &lt; 0: never
     * @param fromMs          records with event time at or after this (0: all)
     * @param toMs            records before this (0: all)
     * @param token           a bearer token for the server, or null
     */
    public record Options(Path data, FeatureView view, String labelColumn, List<String> models, String grpc,
                          String http, double labelDelayDays, long fromMs, long toMs, int batch, int concurrency,
                          boolean pauseWhileRetraining, String token) {
        public Options {
            models = List.copyOf(models);
            if (models.isEmpty() || batch < 1 || concurrency < 1) {
                throw new IllegalArgumentException("need at least one model, batch >= 1, concurrency >= 1");
            }
            if (view.indexOf(labelColumn) >= 0) {
                throw new IllegalArgumentException("the label '" + labelColumn + "' is a feature of view '"
                        + view.name() + "'");
            }
        }
    }

    /** What a caller watching the replay hears (on the replay's thread). */
    public interface Listener {
        /** Before each batch, with the replayed time and how far along it is. */
        default void batch(long eventTimeMs, int done, int total) {
        }

        /** While the replay waits for a retraining job of {@code model} (about every 50 ms). */
        default void waiting(String model, JsonNode status) {
        }

        /** A Predict call of model number {@code model} answered after {@code nanos} (on a gRPC thread). */
        default void answered(int model, long nanos) {
        }
    }

    /** The records, in event-time order. */
    public static final class Records {
        public final int n;
        public final long[] time;
        public final String[] entity;
        /** n × features: numbers, or the index of the category's text in {@link #categories} (NaN: absent). */
        final double[] values;
        final int width;
        /** 0 or 1; -1 where there is no label. */
        public final byte[] label;
        final List<List<String>> categories;

        Records(int n, long[] time, String[] entity, double[] values, int width, byte[] label,
                List<List<String>> categories) {
            this.n = n;
            this.time = time;
            this.entity = entity;
            this.values = values;
            this.width = width;
            this.label = label;
            this.categories = categories;
        }
    }

    /**
     * Record {@code i}'s inputs as the feature store serves them to a model bound to {@code names}: numbers, category
     * codes (vocabulary index or hash bucket, -1 unknown), the view's default where a value is absent.
     */
    public static float[] encoded(Records r, FeatureView view, io.mlserve.featurecache.CategoryCodes codes,
                                  List<String> names, int i) {
        float[] out = new float[names.size()];
        for (int j = 0; j < out.length; j++) {
            int f = view.indexOf(names.get(j));
            double v = r.values[i * r.width + f];
            FeatureSpec s = view.features().get(f);
            out[j] = (float) (Double.isNaN(v) ? s.defaultValue() : s.type() == FeatureType.CATEGORICAL
                    ? codes.code(f, r.categories.get(f).get((int) v)) : v);
        }
        return out;
    }

    /** Per model and record: the score the server answered (NaN: failed) and the version that answered it. */
    public record Served(float[] score, int[] version) {
    }

    private final Options o;
    private final Listener listener;
    private final ObjectMapper json = new ObjectMapper();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private final AtomicLong failures = new AtomicLong();
    private volatile String lastFailure = "";
    private long predictions;

    public Replay(Options options, Listener listener) {
        this.o = options;
        this.listener = listener == null ? new Listener() { } : listener;
    }

    /**
     * Reads {@code data} by {@code view} plus the label column, keeps the rows in [fromMs, toMs), sorted by event
     * time (stable: equal times keep file order).
     */
    public static Records read(Path data, FeatureView view, String labelColumn, long fromMs, long toMs)
            throws IOException {
        List<FeatureSpec> specs = new ArrayList<>(view.features());
        specs.add(FeatureSpec.numeric(labelColumn, Double.NaN));
        FeatureView withLabel = new FeatureView(view.name(), view.entityKey(), view.keyType(), specs, view.ttl(),
                view.maxEntities(), view.serveStale());
        int width = view.size();
        List<List<String>> categories = new ArrayList<>();
        List<Map<String, Integer>> ids = new ArrayList<>();
        for (int f = 0; f < width; f++) {
            categories.add(new ArrayList<>());
            ids.add(new HashMap<>());
        }
        List<long[]> times = new ArrayList<>();
        List<String> entities = new ArrayList<>();
        List<double[]> rows = new ArrayList<>();
        RowTarget target = new RowTarget() {
            @Override
            public FeatureView view() {
                return withLabel;
            }

            @Override
            public long categoryCode(int feature, String value) {
                // this target's own code: the text's index, so the replay sends the text itself
                return ids.get(feature).computeIfAbsent(value, v -> {
                    categories.get(feature).add(v);
                    return categories.get(feature).size() - 1;
                });
            }

            @Override
            public FeatureTable.WriteOutcome write(CharSequence entity, long eventTimeMs, double[] values,
                                                   boolean[] present) {
                if ((fromMs > 0 && eventTimeMs < fromMs) || (toMs > 0 && eventTimeMs >= toMs)) {
                    return FeatureTable.WriteOutcome.IGNORED_OLDER;
                }
                double[] row = new double[width + 1];
                for (int f = 0; f <= width; f++) {
                    row[f] = present[f] ? values[f] : Double.NaN;
                }
                times.add(new long[] {eventTimeMs, times.size()});
                entities.add(entity.toString());
                rows.add(row);
                return FeatureTable.WriteOutcome.APPLIED;
            }
        };
        Snapshots.load(data, target, "event_time", Long.MIN_VALUE);
        int n = times.size();
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> Long.compare(times.get(a)[0], times.get(b)[0]));
        long[] time = new long[n];
        String[] entity = new String[n];
        double[] values = new double[n * width];
        byte[] label = new byte[n];
        for (int i = 0; i < n; i++) {
            int r = order[i];
            time[i] = times.get(r)[0];
            entity[i] = entities.get(r);
            double[] row = rows.get(r);
            System.arraycopy(row, 0, values, i * width, width);
            double y = row[width];
            if (!Double.isNaN(y) && y != 0 && y != 1) {
                throw new IOException(data + ": label '" + labelColumn + "' must be 0 or 1, found " + y + " (entity "
                        + entity[i] + ")");
            }
            label[i] = Double.isNaN(y) ? -1 : (byte) y;
        }
        return new Records(n, time, entity, values, width, label, categories);
    }

    /** The request id of model {@code m}'s prediction of record {@code i}: what its outcome names. */
    static String requestId(int model, int i) {
        return model + ":" + i;
    }

    /** Replays {@code records}; returns what each model answered. */
    public List<Served> run(Records r) throws Exception {
        ManagedChannel channel = NettyChannelBuilder.forTarget(o.grpc()).usePlaintext().maxInboundMessageSize(64 << 20)
                .build();
        try {
            Metadata auth = new Metadata();
            if (o.token() != null) {
                auth.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer " + o.token());
            }
            var features = FeatureServiceGrpc.newBlockingStub(channel)
                    .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(auth));
            var outcomes = OutcomeServiceGrpc.newBlockingStub(channel)
                    .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(auth));
            var predict = PredictionServiceGrpc.newStub(channel)
                    .withInterceptors(MetadataUtils.newAttachHeadersInterceptor(auth));
            List<Served> served = new ArrayList<>();
            for (int m = 0; m < o.models().size(); m++) {
                float[] s = new float[r.n];
                Arrays.fill(s, Float.NaN);
                served.add(new Served(s, new int[r.n]));
            }
            Semaphore inFlight = new Semaphore(o.concurrency());
            long delay = o.labelDelayDays() < 0 ? Long.MAX_VALUE : (long) (o.labelDelayDays() * 86_400_000L);
            int nextOutcome = 0;
            Set<String> inBatch = new HashSet<>();
            for (int from = 0, to; from < r.n; from = to) {
                inBatch.clear();
                to = from;
                while (to < r.n && to - from < o.batch() && inBatch.add(r.entity[to])) {
                    to++;
                }
                inFlight.acquire(o.concurrency());
                inFlight.release(o.concurrency());
                listener.batch(r.time[from], from, r.n);
                if (o.pauseWhileRetraining()) {
                    awaitRetraining();
                }
                long now = r.time[from];
                ReportOutcomesRequest.Builder ob = ReportOutcomesRequest.newBuilder();
                while (delay != Long.MAX_VALUE && nextOutcome < from && r.time[nextOutcome] + delay <= now) {
                    int i = nextOutcome++;
                    if (r.label[i] < 0) {
                        continue;
                    }
                    for (int m = 0; m < o.models().size(); m++) {
                        ob.addOutcomes(Outcome.newBuilder().setEntityId(r.entity[i]).setRequestId(requestId(m, i))
                                .setObservedEventTimeMs(r.time[i]).setEventTimeMs(r.time[i] + delay)
                                .setLabel(r.label[i]));
                    }
                    if (ob.getOutcomesCount() >= 1000) {
                        outcomes.withDeadlineAfter(60, TimeUnit.SECONDS).reportOutcomes(ob.build());
                        ob.clear();
                    }
                }
                if (ob.getOutcomesCount() > 0) {
                    outcomes.withDeadlineAfter(60, TimeUnit.SECONDS).reportOutcomes(ob.build());
                }
                WriteFeaturesRequest.Builder wb = WriteFeaturesRequest.newBuilder().setView(o.view().name());
                for (int i = from; i < to; i++) {
                    wb.addRecords(record(r, i));
                }
                features.withDeadlineAfter(60, TimeUnit.SECONDS).writeFeatures(wb.build());
                for (int i = from; i < to; i++) {
                    for (int m = 0; m < o.models().size(); m++) {
                        inFlight.acquire();
                        send(predict, inFlight, served.get(m), m, r, i);
                    }
                }
            }
            inFlight.acquire(o.concurrency());
            inFlight.release(o.concurrency());
            return served;
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    /** Predict calls sent. */
    public long predictions() {
        return predictions;
    }

    /** Predict calls that failed, and the last failure's message. */
    public long failures() {
        return failures.get();
    }

    public String lastFailure() {
        return lastFailure;
    }

    private FeatureRecord record(Records r, int i) {
        FeatureRecord.Builder b = FeatureRecord.newBuilder().setEntityId(r.entity[i]).setEventTimeMs(r.time[i]);
        List<FeatureSpec> specs = o.view().features();
        for (int f = 0; f < r.width; f++) {
            double v = r.values[i * r.width + f];
            FeatureSpec s = specs.get(f);
            if (Double.isNaN(v)) {
                // a missing cell is sent as missing (not left out, which a merge view reads as "unchanged")
                b.putValues(s.name(), FeatureValue.getDefaultInstance());
                continue;
            }
            b.putValues(s.name(), s.type() == FeatureType.CATEGORICAL
                    ? FeatureValue.newBuilder().setCategory(r.categories.get(f).get((int) v)).build()
                    : FeatureValue.newBuilder().setNumber(v).build());
        }
        return b.build();
    }

    private void send(PredictionServiceGrpc.PredictionServiceStub stub, Semaphore inFlight, Served into, int m,
                      Records r, int i) {
        predictions++;
        long t0 = System.nanoTime();
        stub.withDeadlineAfter(60, TimeUnit.SECONDS).predict(PredictRequest.newBuilder().setModelName(o.models().get(m))
                .addEntityIds(r.entity[i]).setId(requestId(m, i)).setEventTimeMs(r.time[i]).build(),
                new StreamObserver<>() {
                    @Override
                    public void onNext(PredictResponse resp) {
                        into.score()[i] = (float) resp.getPredictions(0).getScore();
                        into.version()[i] = Integer.parseInt(resp.getModelVersion());
                        listener.answered(m, System.nanoTime() - t0);
                    }

                    @Override
                    public void onError(Throwable t) {
                        failures.incrementAndGet();
                        lastFailure = t.getMessage();
                        inFlight.release();
                    }

                    @Override
                    public void onCompleted() {
                        inFlight.release();
                    }
                });
    }

    /** Waits while any model's retraining job is being delivered, queued or run. */
    private void awaitRetraining() throws Exception {
        if (o.http() == null) {
            return;
        }
        for (String model : o.models()) {
            while (true) {
                JsonNode m = get("/v1/models/" + model);
                JsonNode retrain = m == null ? null : m.path("retrain");
                String phase = retrain == null ? "" : retrain.path("phase").asText("");
                if (!phase.equals("delivering") && !phase.equals("queued") && !phase.equals("running")) {
                    break;
                }
                listener.waiting(model, retrain);
                Thread.sleep(50);
            }
        }
    }

    /** GET {@code path} on the server's HTTP port as JSON; null on 404. */
    public JsonNode get(String path) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(o.http() + path)).timeout(Duration.ofSeconds(30));
        if (o.token() != null) {
            b.header("authorization", "Bearer " + o.token());
        }
        HttpResponse<String> res = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        if (res.statusCode() == 404) {
            return null;
        }
        if (res.statusCode() != 200) {
            throw new IOException("GET " + path + ": " + res.statusCode() + " " + res.body());
        }
        return json.readTree(res.body());
    }

    /** Writes every answer as CSV: record, entity, event_time, model, version, score, label. */
    public static void write(Path out, Records r, List<String> models, List<Served> served) throws IOException {
        Path parent = out.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        try (BufferedWriter w = Files.newBufferedWriter(out)) {
            w.write("record,entity,event_time,model,version,score,label\n");
            for (int i = 0; i < r.n; i++) {
                for (int m = 0; m < models.size(); m++) {
                    float s = served.get(m).score()[i];
                    w.write(i + "," + r.entity[i] + "," + r.time[i] + "," + models.get(m) + ","
                            + served.get(m).version()[i] + "," + (Float.isNaN(s) ? "" : Float.toString(s)) + ","
                            + (r.label[i] < 0 ? "" : Integer.toString(r.label[i])) + "\n");
                }
            }
        }
    }
}
