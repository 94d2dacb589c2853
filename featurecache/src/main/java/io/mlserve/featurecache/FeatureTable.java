package io.mlserve.featurecache;

import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;
import net.openhft.chronicle.map.ChronicleMap;
import net.openhft.chronicle.map.ExternalMapQueryContext;
import net.openhft.chronicle.map.MapEntry;

/**
 * One feature view's values, off-heap in a persisted Chronicle Map ({@code <dataDir>/<view>.cmap}) that
 * survives a crash of the process. Each entity maps to a fixed-size record: the write's event time (ms),
 * a presence bit per feature, and 8 bytes per feature (IEEE double; categories as their code).
 *
 * <p>Write ordering: a write is the entity's full row as of its event time. It applies only if its event
 * time is newer than the stored one, or equal (then the later arrival wins); an older write is ignored and
 * counted. Features a write leaves out read back as DEFAULTED. Writes to one entity are serialised by the
 * map's per-entry lock. Reads take no lock beyond Chronicle's segment read lock and allocate nothing: the
 * record is read into a per-thread array and decoded into the caller's {@link FeatureRow}.
 */
public final class FeatureTable implements AutoCloseable, RowTarget {
    private static final int TIME_BYTES = 8;

    private final FeatureView view;
    private final ChronicleMap<CharSequence, byte[]> map;
    private final int maskBytes;
    private final int recordSize;
    private final long ttlMillis;
    private final CategoryCodes codes;
    private final ThreadLocal<byte[]> readScratch;
    private final ThreadLocal<StringBuilder> keyScratch = ThreadLocal.withInitial(() -> new StringBuilder(24));
    private final LongAdder applied = new LongAdder();
    private final LongAdder ignoredOlder = new LongAdder();
    private final Path openMarker;
    private final boolean recovered;

    /** The outcome of one write. */
    public enum WriteOutcome { APPLIED, IGNORED_OLDER }

    private FeatureTable(FeatureView view, ChronicleMap<CharSequence, byte[]> map, Path openMarker, boolean recovered) {
        this.view = view;
        this.map = map;
        this.openMarker = openMarker;
        this.recovered = recovered;
        this.maskBytes = (view.size() + 7) / 8;
        this.recordSize = TIME_BYTES + maskBytes + 8 * view.size();
        this.ttlMillis = view.ttl().toMillis();
        this.readScratch = ThreadLocal.withInitial(() -> new byte[recordSize]);
        this.codes = new CategoryCodes(view);
    }

    /**
     * Opens the table of {@code view} under {@code dataDir}, creating it if absent. A table the last process
     * did not close (a crash, kill -9) is recovered first: Chronicle Map's recovery repairs locks and
     * segment headers a dying writer may have left half-done; every completed write survives.
     */
    public static FeatureTable open(Path dataDir, FeatureView view) throws IOException {
        Files.createDirectories(dataDir);
        File file = dataDir.resolve(view.name() + ".cmap").toFile();
        int maskBytes = (view.size() + 7) / 8;
        int recordSize = TIME_BYTES + maskBytes + 8 * view.size();
        var builder = ChronicleMap.of(CharSequence.class, byte[].class)
                .name("mlserve-" + view.name())
                .entries(view.maxEntities())
                .averageKeySize(view.keyType() == FeatureView.KeyType.INT64 ? 12 : 24)
                .constantValueSizeBySample(new byte[recordSize]);
        String prefix = view.name() + ".cmap.open.";
        long self = ProcessHandle.current().pid();
        // one opener at a time decides between create and recover (two processes starting together)
        try (FileChannel lockFile = FileChannel.open(dataDir.resolve(view.name() + ".cmap.lock"),
                StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             FileLock ignored = lockFile.lock()) {
            checkSchema(dataDir, view, file);
            // each process that opens the file leaves <view>.cmap.open.<pid> until it closes it. A marker of a
            // process that is gone (or of this pid: a restarted container) means it died with the file open.
            // A live marker means another process (e.g. a bulk load beside the server) shares the file, which
            // Chronicle Map allows; recovery then has to wait for an exclusive open.
            List<Path> dead = new ArrayList<>();
            boolean shared = false;
            try (var markers = Files.list(dataDir)) {
                for (Path m : (Iterable<Path>) markers::iterator) {
                    String n = m.getFileName().toString();
                    if (!n.startsWith(prefix)) {
                        continue;
                    }
                    long pid;
                    try {
                        pid = Long.parseLong(n.substring(prefix.length()));
                    } catch (NumberFormatException e) {
                        continue; // not one of ours
                    }
                    if (pid != self && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
                        shared = true;
                    } else {
                        dead.add(m);
                    }
                }
            }
            boolean recover = !dead.isEmpty() && !shared && file.exists();
            ChronicleMap<CharSequence, byte[]> map = recover ? builder.recoverPersistedTo(file, true)
                    : builder.createPersistedTo(file);
            if (!shared) {
                for (Path m : dead) {
                    Files.deleteIfExists(m);
                }
            }
            Path openMarker = dataDir.resolve(prefix + self);
            Files.writeString(openMarker, "");
            return new FeatureTable(view, map, openMarker, recover);
        }
    }

    /**
     * A table file holds fixed-size records of one feature layout; opening it with another layout would
     * misread every record. The layout is kept beside the file and a mismatch stops start-up with a message.
     */
    private static void checkSchema(Path dataDir, FeatureView view, File file) throws IOException {
        StringBuilder layout = new StringBuilder();
        for (FeatureSpec f : view.features()) {
            layout.append(f.name()).append(' ').append(f.type()).append('\n');
        }
        Path schema = dataDir.resolve(view.name() + ".cmap.schema");
        if (file.exists() && Files.exists(schema)) {
            String stored = Files.readString(schema);
            if (!stored.equals(layout.toString())) {
                throw new IOException("feature view '" + view.name() + "' has other features than " + file
                        + " was written with (see " + schema + "); move the file away or use another data dir");
            }
        } else if (!file.exists() || !Files.exists(schema)) {
            Files.writeString(schema, layout.toString());
        }
    }

    /** Whether opening had to recover the file (the previous process did not close it). */
    public boolean recovered() {
        return recovered;
    }

    @Override
    public FeatureView view() {
        return view;
    }

    /** Entities stored. */
    public long size() {
        return map.longSize();
    }

    public long appliedWrites() {
        return applied.sum();
    }

    public long ignoredOlderWrites() {
        return ignoredOlder.sum();
    }

    /** The key an INT64 entity id is stored under (its decimal form), in this thread's reusable buffer. */
    public CharSequence key(long entityId) {
        StringBuilder sb = keyScratch.get();
        sb.setLength(0);
        return sb.append(entityId);
    }

    /** The code a category value is stored as: vocabulary index, hash bucket, or -1 when unknown. */
    @Override
    public long categoryCode(int feature, String value) {
        return codes.code(feature, value);
    }

    /**
     * Writes {@code entity}'s row as of {@code eventTimeMs}: {@code values[i]} where {@code present[i]}, the
     * default elsewhere.
     */
    @Override
    public WriteOutcome write(CharSequence entity, long eventTimeMs, double[] values, boolean[] present) {
        if (values.length != view.size() || present.length != view.size()) {
            throw new IllegalArgumentException("a row of view '" + view.name() + "' has " + view.size()
                    + " features, got " + values.length);
        }
        checkKey(entity);
        byte[] record = new byte[recordSize];
        ByteBuffer b = ByteBuffer.wrap(record).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, eventTimeMs);
        for (int i = 0; i < values.length; i++) {
            if (present[i]) {
                record[TIME_BYTES + (i >> 3)] |= (byte) (1 << (i & 7));
                b.putDouble(TIME_BYTES + maskBytes + 8 * i, values[i]);
            }
        }
        try (ExternalMapQueryContext<CharSequence, byte[], ?> c = map.queryContext(entity)) {
            c.updateLock().lock();
            MapEntry<CharSequence, byte[]> entry = c.entry();
            if (entry != null) {
                long stored = ByteBuffer.wrap(entry.value().get()).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
                if (eventTimeMs < stored) {
                    ignoredOlder.increment();
                    return WriteOutcome.IGNORED_OLDER;
                }
                c.replaceValue(entry, c.wrapValueAsData(record));
            } else {
                c.insert(c.absentEntry(), c.wrapValueAsData(record));
            }
        }
        applied.increment();
        return WriteOutcome.APPLIED;
    }

    /**
     * Reads {@code entity} as of {@code nowMs} into {@code row}: values with defaults applied and a status per
     * feature (PRESENT, DEFAULTED, STALE past the TTL, MISSING for an unknown entity). Allocates nothing.
     */
    public void read(CharSequence entity, long nowMs, FeatureRow row) {
        byte[] scratch = readScratch.get();
        byte[] record = map.getUsing(entity, scratch);
        List<FeatureSpec> features = view.features();
        int n = features.size();
        if (record == null) {
            row.found = false;
            row.eventTimeMs = -1;
            for (int i = 0; i < n; i++) {
                row.values[i] = features.get(i).defaultValue();
                row.statuses[i] = FeatureStatus.MISSING;
            }
            return;
        }
        long eventTime = getLong(record, 0);
        boolean stale = ttlMillis > 0 && nowMs - eventTime > ttlMillis;
        row.found = true;
        row.eventTimeMs = eventTime;
        for (int i = 0; i < n; i++) {
            boolean present = (record[TIME_BYTES + (i >> 3)] & (1 << (i & 7))) != 0;
            if (!present) {
                row.values[i] = features.get(i).defaultValue();
                row.statuses[i] = FeatureStatus.DEFAULTED;
            } else if (stale) {
                row.values[i] = view.serveStale() ? Double.longBitsToDouble(getLong(record, TIME_BYTES + maskBytes + 8 * i))
                        : features.get(i).defaultValue();
                row.statuses[i] = FeatureStatus.STALE;
            } else {
                row.values[i] = Double.longBitsToDouble(getLong(record, TIME_BYTES + maskBytes + 8 * i));
                row.statuses[i] = FeatureStatus.PRESENT;
            }
        }
    }

    private static long getLong(byte[] b, int at) {
        long v = 0;
        for (int k = 7; k >= 0; k--) {
            v = (v << 8) | (b[at + k] & 0xFFL);
        }
        return v;
    }

    private void checkKey(CharSequence entity) {
        if (entity.length() == 0) {
            throw new IllegalArgumentException("entity id of view '" + view.name() + "' is empty");
        }
        if (entity.length() > FeatureView.MAX_KEY_BYTES) {
            throw new IllegalArgumentException("entity id of view '" + view.name() + "' is longer than "
                    + FeatureView.MAX_KEY_BYTES + " characters");
        }
    }

    /** Flushes and unmaps the file; the data stays on disk for the next open. */
    @Override
    public void close() {
        map.close();
        try {
            Files.deleteIfExists(openMarker);
        } catch (IOException e) {
            // the next open recovers the file, which is safe, only slower
        }
    }
}
