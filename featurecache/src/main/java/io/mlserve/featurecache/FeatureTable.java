package io.mlserve.featurecache;

import java.io.File;
import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.LongAdder;
import net.openhft.chronicle.map.ChronicleMap;
import net.openhft.chronicle.map.ExternalMapQueryContext;
import net.openhft.chronicle.map.MapEntry;

/**
 * One feature view's values, off-heap in a persisted Chronicle Map ({@code <dataDir>/<view>.cmap}) that
 * survives a crash of the process. Each entity maps to a fixed-size record: the row's event time (ms), a
 * presence bit per feature, 8 bytes per feature (IEEE double; categories as their code) and, in MERGE mode,
 * each feature's own event time (8 bytes each).
 *
 * <p>Write ordering, REPLACE mode: a write is the entity's full row as of its event time. It applies only if
 * its event time is newer than the stored one, or equal (then the later arrival wins); an older write is
 * ignored and counted. Features a write leaves out read back as DEFAULTED.
 *
 * <p>MERGE mode: a write names some of the view's features, and each of them applies if the write is newer
 * than that feature's stored event time, or equal (the later arrival wins); features it leaves out keep their
 * values. A write that names a feature with the value NaN (a snapshot's empty cell or null) sets it missing: it
 * reads back DEFAULTED until a newer value, and an older value does not bring it back. The write is APPLIED when at least one feature applied and IGNORED_OLDER when none did; a write that
 * names no feature changes nothing and counts as APPLIED. The row's event time is the newest applied write's.
 *
 * <p>Writes to one entity are serialised by the map's per-entry lock. Reads take no lock beyond Chronicle's
 * segment read lock and allocate nothing: the record is read into a per-thread array and decoded into the
 * caller's {@link FeatureRow}. A feature is STALE when its age passes its ttl (its own, else the view's); the
 * age counts from the feature's event time in MERGE mode, from the row's in REPLACE mode.
 */
public final class FeatureTable implements AutoCloseable, RowTarget {
    private static final int TIME_BYTES = 8;
    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    /** The schema file's last line in each mode; a file without one is from before modes: REPLACE. */
    private static final String MODE_LINE = "write_mode ";

    private final FeatureView view;
    private final ChronicleMap<CharSequence, byte[]> map;
    private final boolean merge;
    private final int valuesAt;
    private final int timesAt;
    private final double[] defaults;
    private final long[] ttlMillis;
    private final boolean serveStale;
    private final CategoryCodes codes;
    private final ThreadLocal<byte[]> readScratch;
    private final ThreadLocal<byte[]> writeScratch;
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
        int n = view.size();
        this.merge = view.writeMode() == FeatureView.WriteMode.MERGE;
        this.valuesAt = TIME_BYTES + (n + 7) / 8;
        this.timesAt = valuesAt + 8 * n;
        this.defaults = new double[n];
        this.ttlMillis = new long[n];
        for (int i = 0; i < n; i++) {
            FeatureSpec f = view.features().get(i);
            defaults[i] = f.defaultValue();
            ttlMillis[i] = (f.ttl().isZero() ? view.ttl() : f.ttl()).toMillis();
        }
        this.serveStale = view.serveStale();
        int recordSize = recordSize(view);
        this.readScratch = ThreadLocal.withInitial(() -> new byte[recordSize]);
        this.writeScratch = ThreadLocal.withInitial(() -> new byte[recordSize]);
        this.codes = new CategoryCodes(view);
    }

    /** Row time, presence bits and values; in MERGE mode then each feature's event time. */
    private static int recordSize(FeatureView view) {
        int n = view.size();
        return TIME_BYTES + (n + 7) / 8 + 8 * n + (view.writeMode() == FeatureView.WriteMode.MERGE ? 8 * n : 0);
    }

    /**
     * Opens the table of {@code view} under {@code dataDir}, creating it if absent. A table the last process
     * did not close (a crash, kill -9) is recovered first: Chronicle Map's recovery repairs locks and
     * segment headers a dying writer may have left half-done; every completed write survives.
     */
    public static FeatureTable open(Path dataDir, FeatureView view) throws IOException {
        Files.createDirectories(dataDir);
        File file = dataDir.resolve(view.name() + ".cmap").toFile();
        var builder = ChronicleMap.of(CharSequence.class, byte[].class)
                .name("mlserve-" + view.name())
                .entries(view.maxEntities())
                .averageKeySize(view.keyType() == FeatureView.KeyType.INT64 ? 12 : 24)
                .constantValueSizeBySample(new byte[recordSize(view)]);
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
     * A table file holds fixed-size records of one feature layout and write mode; opening it with another would
     * misread every record. Both are kept beside the file ({@code <view>.cmap.schema}: a line per feature, then
     * the mode) and a mismatch stops start-up with a message. A schema without a mode line was written before
     * modes existed, by whole-row writes: a REPLACE table.
     */
    private static void checkSchema(Path dataDir, FeatureView view, File file) throws IOException {
        StringBuilder layout = new StringBuilder();
        for (FeatureSpec f : view.features()) {
            layout.append(f.name()).append(' ').append(f.type()).append('\n');
        }
        String mode = view.writeMode().name().toLowerCase(Locale.ROOT);
        Path schema = dataDir.resolve(view.name() + ".cmap.schema");
        if (file.exists() && Files.exists(schema)) {
            String stored = Files.readString(schema);
            // the mode line is the last line; feature lines end in a type, never in a mode
            int last = stored.lastIndexOf('\n', stored.length() - 2) + 1;
            String storedMode = stored.startsWith(MODE_LINE, last)
                    ? stored.substring(last + MODE_LINE.length()).strip() : "";
            if (storedMode.equals("merge") || storedMode.equals("replace")) {
                stored = stored.substring(0, last);
            } else {
                storedMode = null;
            }
            if (!stored.equals(layout.toString())) {
                throw new IOException("feature view '" + view.name() + "' has other features than " + file
                        + " was written with (see " + schema + "); move the file away or use another data dir");
            }
            if (storedMode == null && view.writeMode() == FeatureView.WriteMode.MERGE) {
                throw new IOException("feature view '" + view.name() + "' has write_mode merge, but " + file
                        + " was written before write modes existed and holds whole rows (replace); set"
                        + " 'write_mode: replace' on the view to keep it, or move the file away to start a merge table");
            }
            if (storedMode != null && !storedMode.equals(mode)) {
                throw new IOException("feature view '" + view.name() + "' has write_mode " + mode + ", but " + file
                        + " was written with write_mode " + storedMode + " (see " + schema + "); set 'write_mode: "
                        + storedMode + "' on the view, or move the file away or use another data dir");
            }
        } else if (!file.exists() || !Files.exists(schema)) {
            Files.writeString(schema, layout + MODE_LINE + mode + "\n");
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
     * Writes {@code entity}'s features as of {@code eventTimeMs}: {@code values[i]} where {@code present[i]}.
     * REPLACE: that is the whole row (the default elsewhere). MERGE: only the named features, each ordered by its
     * own event time (see the class comment).
     */
    @Override
    public WriteOutcome write(CharSequence entity, long eventTimeMs, double[] values, boolean[] present) {
        if (values.length != view.size() || present.length != view.size()) {
            throw new IllegalArgumentException("a row of view '" + view.name() + "' has " + view.size()
                    + " features, got " + values.length);
        }
        checkKey(entity);
        WriteOutcome outcome = merge ? merge(entity, eventTimeMs, values, present)
                : replace(entity, eventTimeMs, values, present);
        (outcome == WriteOutcome.APPLIED ? applied : ignoredOlder).increment();
        return outcome;
    }

    private WriteOutcome replace(CharSequence entity, long eventTimeMs, double[] values, boolean[] present) {
        byte[] record = writeScratch.get();
        Arrays.fill(record, (byte) 0);
        LONGS.set(record, 0, eventTimeMs);
        for (int i = 0; i < values.length; i++) {
            if (present[i] && !Double.isNaN(values[i])) {
                setFeature(record, i, values[i]);
            }
        }
        try (ExternalMapQueryContext<CharSequence, byte[], ?> c = map.queryContext(entity)) {
            c.updateLock().lock();
            MapEntry<CharSequence, byte[]> entry = c.entry();
            if (entry == null) {
                c.insert(c.absentEntry(), c.wrapValueAsData(record));
            } else if (eventTimeMs < storedRowTime(entry)) {
                return WriteOutcome.IGNORED_OLDER;
            } else {
                c.replaceValue(entry, c.wrapValueAsData(record));
            }
        }
        return WriteOutcome.APPLIED;
    }

    /** Merges the named features into the stored row under the entry's lock. */
    private WriteOutcome merge(CharSequence entity, long eventTimeMs, double[] values, boolean[] present) {
        boolean named = false;
        for (boolean p : present) {
            named |= p;
        }
        if (!named) {
            return WriteOutcome.APPLIED; // nothing to order: no change, and nothing to ignore
        }
        byte[] scratch = writeScratch.get();
        try (ExternalMapQueryContext<CharSequence, byte[], ?> c = map.queryContext(entity)) {
            c.updateLock().lock();
            MapEntry<CharSequence, byte[]> entry = c.entry();
            byte[] record;
            if (entry == null) {
                record = scratch;
                Arrays.fill(record, (byte) 0);
                for (int i = 0; i < values.length; i++) {
                    LONGS.set(record, timesAt + 8 * i, Long.MIN_VALUE); // never named
                }
            } else {
                record = entry.value().getUsing(scratch);
            }
            boolean any = false;
            for (int i = 0; i < values.length; i++) {
                if (present[i] && eventTimeMs >= (long) LONGS.get(record, timesAt + 8 * i)) {
                    if (Double.isNaN(values[i])) {
                        clearFeature(record, i); // named as missing: reads DEFAULTED until a newer value
                    } else {
                        setFeature(record, i, values[i]);
                    }
                    LONGS.set(record, timesAt + 8 * i, eventTimeMs);
                    any = true;
                }
            }
            if (!any) {
                return WriteOutcome.IGNORED_OLDER;
            }
            if (entry == null) {
                LONGS.set(record, 0, eventTimeMs);
                c.insert(c.absentEntry(), c.wrapValueAsData(record));
            } else {
                if (eventTimeMs > (long) LONGS.get(record, 0)) {
                    LONGS.set(record, 0, eventTimeMs);
                }
                c.replaceValue(entry, c.wrapValueAsData(record));
            }
        }
        return WriteOutcome.APPLIED;
    }

    /** The stored row's event time, read in place (Chronicle's bytes are in native order). */
    private static long storedRowTime(MapEntry<CharSequence, byte[]> entry) {
        long raw = entry.value().bytes().readLong(entry.value().offset());
        return ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN ? raw : Long.reverseBytes(raw);
    }

    private void setFeature(byte[] record, int i, double value) {
        record[TIME_BYTES + (i >> 3)] |= (byte) (1 << (i & 7));
        LONGS.set(record, valuesAt + 8 * i, Double.doubleToRawLongBits(value));
    }

    private static void clearFeature(byte[] record, int i) {
        record[TIME_BYTES + (i >> 3)] &= (byte) ~(1 << (i & 7));
    }

    private static boolean has(byte[] record, int i) {
        return (record[TIME_BYTES + (i >> 3)] & (1 << (i & 7))) != 0;
    }

    /**
     * Reads {@code entity} as of {@code nowMs} into {@code row}: values with defaults applied and a status per
     * feature (PRESENT, DEFAULTED, STALE past its TTL, MISSING for an unknown entity). Allocates nothing.
     */
    public void read(CharSequence entity, long nowMs, FeatureRow row) {
        byte[] record = map.getUsing(entity, readScratch.get());
        double[] defaults = this.defaults;
        int n = defaults.length;
        if (record == null) {
            row.found = false;
            row.eventTimeMs = -1;
            for (int i = 0; i < n; i++) {
                row.values[i] = defaults[i];
                row.statuses[i] = FeatureStatus.MISSING;
            }
            return;
        }
        long[] ttlMillis = this.ttlMillis;
        boolean merge = this.merge;
        int valuesAt = this.valuesAt;
        int timesAt = this.timesAt;
        long rowTime = (long) LONGS.get(record, 0);
        row.found = true;
        row.eventTimeMs = rowTime;
        for (int i = 0; i < n; i++) {
            if (!has(record, i)) {
                row.values[i] = defaults[i];
                row.statuses[i] = FeatureStatus.DEFAULTED;
                continue;
            }
            double value = Double.longBitsToDouble((long) LONGS.get(record, valuesAt + 8 * i));
            long time = merge ? (long) LONGS.get(record, timesAt + 8 * i) : rowTime;
            if (ttlMillis[i] > 0 && nowMs - time > ttlMillis[i]) {
                row.values[i] = serveStale ? value : defaults[i];
                row.statuses[i] = FeatureStatus.STALE;
            } else {
                row.values[i] = value;
                row.statuses[i] = FeatureStatus.PRESENT;
            }
        }
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
