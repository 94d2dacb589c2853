package io.mlserve.server.traininglog;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.LocalDate;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.hadoop.conf.Configuration;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.SimpleGroup;
import org.apache.parquet.hadoop.ParquetWriter;
import org.apache.parquet.hadoop.example.ExampleParquetWriter;
import org.apache.parquet.hadoop.metadata.CompressionCodecName;
import org.apache.parquet.io.LocalOutputFile;

/**
 * One model's training log directory, {@code <model>/date=YYYY-MM-DD/part-<firstEventMs>-<seq>.parquet}: writes a
 * file (under a hidden temporary name, fsynced, then renamed into place, so a reader sees whole files or none and
 * a written file never changes), deletes whole date partitions, and keeps count of what is on disk. Owned by the
 * training log's writer thread.
 */
final class ModelFiles {
    /** What a model has on disk. */
    record Disk(long files, long bytes, LocalDate oldest, LocalDate newest) {
        static final Disk EMPTY = new Disk(0, 0, null, null);
    }

    private static final String PARTITION = "date=";

    private final Path dir;
    /** Per date partition: {files, bytes}. */
    private final TreeMap<LocalDate, long[]> dates = new TreeMap<>();
    private long seq;

    ModelFiles(Path dir) {
        this.dir = dir;
    }

    /** Counts what a previous run left in the directory and deletes what its unfinished writes left behind. */
    void scan() throws IOException {
        if (!Files.isDirectory(dir)) {
            return;
        }
        try (DirectoryStream<Path> parts = Files.newDirectoryStream(dir, PARTITION + "*")) {
            for (Path part : parts) {
                LocalDate date = date(part);
                if (date == null || !Files.isDirectory(part)) {
                    continue;
                }
                long[] count = new long[2];
                boolean others = false;
                try (DirectoryStream<Path> files = Files.newDirectoryStream(part)) {
                    for (Path f : files) {
                        String name = f.getFileName().toString();
                        if (name.startsWith(".") && name.endsWith(".tmp")) {
                            Files.deleteIfExists(f); // a write a crash interrupted: never renamed, never seen
                        } else if (name.endsWith(".parquet")) {
                            count[0]++;
                            count[1] += Files.size(f);
                        } else {
                            others = true;
                        }
                    }
                }
                if (count[0] > 0 || others) {
                    dates.put(date, count);
                } else {
                    Files.delete(part); // left empty by a write that never finished
                }
            }
        }
    }

    private static LocalDate date(Path partition) {
        try {
            return LocalDate.parse(partition.getFileName().toString().substring(PARTITION.length()));
        } catch (DateTimeParseException e) {
            return null;
        }
    }

    /** Writes {@code rows} (all of {@code date} and {@code encoding}) as one new file; returns it. */
    Path write(LocalDate date, RowEncoding encoding, List<LoggedRow> rows) throws IOException {
        Path part = dir.resolve(PARTITION + date);
        boolean created = !Files.isDirectory(part);
        Files.createDirectories(part);
        long first = Long.MAX_VALUE;
        for (LoggedRow r : rows) {
            first = Math.min(first, r.pending().timeMs());
        }
        Path target;
        do {
            target = part.resolve("part-" + first + "-" + seq++ + ".parquet");
        } while (Files.exists(target));
        Path tmp = part.resolve("." + target.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        try {
            try (ParquetWriter<Group> out = ExampleParquetWriter.builder(new LocalOutputFile(tmp))
                    .withType(encoding.schema).withConf(new Configuration(false))
                    .withCompressionCodec(CompressionCodecName.SNAPPY)
                    .withExtraMetaData(Map.of(RowEncoding.METADATA_KEY, encoding.json)).build()) {
                for (LoggedRow r : rows) {
                    out.write(group(encoding, r));
                }
            }
            force(tmp, StandardOpenOption.WRITE);
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException e) {
                throw new IOException("cannot rename " + tmp + " atomically: " + e.getMessage(), e);
            }
            force(part, StandardOpenOption.READ);
            if (created) {
                force(dir, StandardOpenOption.READ);
            }
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e instanceof IOException io ? io : new IOException(e.toString(), e);
        }
        long[] count = dates.computeIfAbsent(date, d -> new long[2]);
        count[0]++;
        count[1] += Files.size(target);
        return target;
    }

    private static Group group(RowEncoding e, LoggedRow r) {
        SimpleGroup g = new SimpleGroup(e.schema);
        g.add(0, r.pending().entity());
        g.add(1, r.pending().timeMs());
        ServedRow s = r.served();
        for (int j = 0; j < e.categorical.length; j++) {
            if (e.servedAsDefault(s.statuses()[s.offset() + j])) {
                continue; // NULL: the view's default was served, not a value
            }
            float v = s.values()[s.offset() + j];
            if (!e.categorical[j]) {
                g.add(2 + j, v);
            } else if (!Float.isNaN(v)) {
                g.add(2 + j, (int) v);
            }
        }
        if (r.labelled()) {
            g.add(e.label, r.label());
            g.add(e.outcomeTime, r.outcomeTimeMs());
        }
        g.add(e.score, r.pending().score());
        g.add(e.model, r.pending().model());
        g.add(e.version, r.pending().version());
        g.add(e.requestId, r.pending().requestId());
        g.add(e.encoding, e.fingerprint);
        return g;
    }

    /** fsync: the file's bytes, or a directory's entries (the rename), survive a crash once this returns. */
    private static void force(Path p, StandardOpenOption mode) throws IOException {
        try (FileChannel c = FileChannel.open(p, mode)) {
            c.force(true);
        }
    }

    /** Deletes every date partition before {@code cutoff}; returns how many. */
    int deleteBefore(LocalDate cutoff) throws IOException {
        int deleted = 0;
        while (!dates.isEmpty() && dates.firstKey().isBefore(cutoff)) {
            LocalDate d = dates.firstKey();
            Path part = dir.resolve(PARTITION + d);
            if (Files.exists(part)) {
                List<Path> all = new ArrayList<>();
                try (Stream<Path> s = Files.walk(part)) {
                    s.sorted(Comparator.reverseOrder()).forEach(all::add);
                }
                for (Path p : all) {
                    Files.deleteIfExists(p);
                }
            }
            dates.remove(d);
            deleted++;
        }
        return deleted;
    }

    /** What is on disk now. */
    Disk disk() {
        long files = 0;
        long bytes = 0;
        for (long[] c : dates.values()) {
            files += c[0];
            bytes += c[1];
        }
        return new Disk(files, bytes, dates.isEmpty() ? null : dates.firstKey(),
                dates.isEmpty() ? null : dates.lastKey());
    }

    LocalDate oldest() {
        return dates.isEmpty() ? null : dates.firstKey();
    }
}
