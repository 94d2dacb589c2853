package io.mlserve.bench;

import io.mlserve.app.PluginCommand;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;

/**
 * {@code mlserve bench ...}: this module's entry, added to the {@code mlserve} command line as a
 * {@link PluginCommand} (see {@code META-INF/services}) so {@code mlserve --help} lists it beside the built-in commands.
 */
@Command(name = "bench", description = "Benchmarks: load (gRPC load generator), transport (vs a bare gRPC echo "
        + "server), batching, features (vs Redis), predict, retrain, drift, drift-eval, swap, soak, scenario, score, "
        + "served, jmh. Run 'mlserve bench --help' for their flags.")
public final class BenchCommand implements PluginCommand {
    @Unmatched
    List<String> args = new ArrayList<>();

    @Override
    public Integer call() {
        return BenchMain.run(args.toArray(new String[0]));
    }
}
