package io.mlserve.app;

import io.mlserve.featurecache.CsvSnapshot;
import io.mlserve.featurecache.FeatureStore;
import io.mlserve.featurecache.FeatureStoreListener;
import io.mlserve.featurecache.FeatureTable;
import io.mlserve.featurecache.Snapshots;
import io.mlserve.server.config.ServerConfigFile;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code mlserve features ...}: offline work on the feature tables. */
@Command(name = "features", mixinStandardHelpOptions = true, description = "Feature store tools.",
        subcommands = {FeaturesCommand.Load.class})
public final class FeaturesCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** {@code mlserve features load}: bulk-load a CSV snapshot into a view's table. */
    @Command(name = "load", mixinStandardHelpOptions = true,
            description = "Bulk-load a CSV or Parquet snapshot (the view's entity key, an event time column in "
                    + "epoch ms, feature columns by name) into a feature view. Safe while a server has the table open.")
    static final class Load implements Callable<Integer> {
        @Option(names = "--config", required = true, description = "The server config file naming the view.")
        Path config;

        @Option(names = "--view", required = true, description = "Feature view to load into.")
        String view;

        @Option(names = {"--file", "--csv", "--parquet"}, required = true,
                description = "The snapshot: a CSV file, a .parquet file, or a directory of Parquet part files.")
        Path csv;

        @Option(names = "--data-dir", description = "Where the tables are (default: the config's data_dir, else ./data).")
        Path dataDir;

        @Option(names = "--event-time-column", defaultValue = "event_time",
                description = "Column with each row's event time in epoch ms (default: ${DEFAULT-VALUE}); "
                        + "without it every row is stamped with the load time.")
        String eventTimeColumn;

        @Override
        public Integer call() throws Exception {
            ServerConfigFile file = ServerConfigFile.read(config);
            Path data = dataDir != null ? dataDir : file.dataDir() != null ? file.dataDir() : Path.of("data");
            try (FeatureStore store = FeatureStore.open(data, file.featureViews(), FeatureStoreListener.NONE)) {
                FeatureTable table = store.table(view);
                CsvSnapshot.LoadSummary s = Snapshots.load(csv, table, eventTimeColumn, System.currentTimeMillis());
                System.out.printf(Locale.ROOT, "loaded %s into view '%s' (%s): %d rows, %d applied, %d older ignored, "
                                + "%.1f s, %.0f rows/s; the table now holds %d entities%n", csv, view, data, s.rows(),
                        s.applied(), s.ignoredOlder(), s.seconds(), s.rows() / Math.max(1e-9, s.seconds()), table.size());
            }
            return 0;
        }
    }
}
