package io.mlserve.featurecache;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Loads a snapshot by its form: a directory or {@code *.parquet} file is Parquet, anything else CSV. */
public final class Snapshots {
    private Snapshots() {
    }

    public static CsvSnapshot.LoadSummary load(Path path, RowTarget table, String eventTimeColumn,
                                               long defaultEventTimeMs) throws IOException {
        if (!Files.exists(path)) {
            throw new IOException(path + ": no such file or directory");
        }
        boolean parquet = Files.isDirectory(path) || path.getFileName().toString().endsWith(".parquet");
        return parquet ? ParquetSnapshot.load(path, table, eventTimeColumn, defaultEventTimeMs)
                : CsvSnapshot.load(path, table, eventTimeColumn, defaultEventTimeMs);
    }
}
