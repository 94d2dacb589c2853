package io.mlserve.server.features;

import io.grpc.Status;
import io.mlserve.featurecache.FeatureRow;
import io.mlserve.featurecache.FeatureStore;
import io.mlserve.featurecache.FeatureStoreException;
import io.mlserve.featurecache.FeatureView;
import io.mlserve.proto.v1.FeatureStatus;
import io.mlserve.proto.v1.ReadFeaturesRequest;
import io.mlserve.proto.v1.ReadFeaturesResponse;
import io.mlserve.proto.v1.WriteFeaturesRequest;
import io.mlserve.proto.v1.WriteFeaturesResponse;
import io.mlserve.server.inference.InferenceError;

/**
 * Feature reads and writes shared by the gRPC FeatureService and the /v1/features HTTP endpoints. Reads judge TTL at
 * the server's clock; the store moves a replay clock with every write it takes (see MlServer).
 */
public final class FeatureApi {
    /** Entities one read may ask for. */
    public static final int MAX_ENTITIES_PER_READ = 10_000;

    private final FeatureStore store;
    private final io.mlserve.server.time.ServerClock clock;

    public FeatureApi(FeatureStore store) {
        this(store, new io.mlserve.server.time.ServerClock());
    }

    public FeatureApi(FeatureStore store, io.mlserve.server.time.ServerClock clock) {
        this.store = store;
        this.clock = clock;
    }

    public FeatureStore store() {
        return store;
    }

    public WriteFeaturesResponse write(WriteFeaturesRequest request) {
        if (request.getView().isEmpty()) {
            throw InferenceError.invalid("view: required");
        }
        try {
            FeatureStore.WriteSummary s = store.write(request.getView(), request.getRecordsList());
            return WriteFeaturesResponse.newBuilder().setWritten(s.written()).setIgnoredOlder(s.ignoredOlder()).build();
        } catch (FeatureStoreException e) {
            throw map(e);
        }
    }

    public ReadFeaturesResponse read(ReadFeaturesRequest request) {
        if (request.getView().isEmpty()) {
            throw InferenceError.invalid("view: required");
        }
        if (request.getEntityIdsCount() > MAX_ENTITIES_PER_READ) {
            throw InferenceError.invalid("entity_ids: at most " + MAX_ENTITIES_PER_READ + " per read, got "
                    + request.getEntityIdsCount());
        }
        try {
            FeatureView view = store.table(request.getView()).view();
            FeatureRow row = new FeatureRow(view);
            long now = clock.now();
            ReadFeaturesResponse.Builder out = ReadFeaturesResponse.newBuilder();
            for (int i = 0; i < request.getEntityIdsCount(); i++) {
                String id = request.getEntityIds(i);
                store.read(request.getView(), id, now, row, "entity_ids[" + i + "]");
                out.addRows(toProto(view, id, row));
            }
            return out.build();
        } catch (FeatureStoreException e) {
            throw map(e);
        }
    }

    /** One entity's row in protocol form. */
    public static io.mlserve.proto.v1.FeatureRow toProto(FeatureView view, String id, FeatureRow row) {
        io.mlserve.proto.v1.FeatureRow.Builder b = io.mlserve.proto.v1.FeatureRow.newBuilder().setEntityId(id)
                .setEventTimeMs(row.eventTimeMs());
        for (int f = 0; f < view.size(); f++) {
            String name = view.features().get(f).name();
            b.putValues(name, row.value(f));
            b.putStatus(name, FeatureStatus.valueOf(row.status(f).name()));
        }
        return b.build();
    }

    /** Unknown view → NOT_FOUND; a record that does not fit → INVALID_ARGUMENT. */
    public static InferenceError map(FeatureStoreException e) {
        return new InferenceError(e.kind() == FeatureStoreException.Kind.UNKNOWN_VIEW ? Status.Code.NOT_FOUND
                : Status.Code.INVALID_ARGUMENT, e.getMessage());
    }
}
