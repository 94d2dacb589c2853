package io.mlserve.bench;

import io.mlserve.app.PluginCommand;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;

/**
 * {@code mlserve demo}: the closed loop, end to end, on a simulated clock (the bench module's scenario at a
 * demo size): data generated, v1 trained with Spark, the server started, a year of traffic replayed with its
 * drifts, drift detected, a retrain, a canary, a promotion or a rollback; a progress line, a timeline, a table and a
 * chart. Everything embedded: file registry, Chronicle Map, Spark local, drift in process; no Kafka needed. Added
 * to {@code mlserve} as a {@link PluginCommand}.
 */
@Command(name = "demo", description = "The closed loop end to end on a simulated clock (a few minutes): generate "
        + "data, train v1 with Spark, serve, replay a year with drifts, detect, retrain, canary, promote or roll back; "
        + "prints a timeline and a summary table and writes a chart. --full for the paper's 1M records; "
        + "'mlserve demo --help' for the rest. (The old serve-the-example demo is 'mlserve example'.)")
public final class DemoCommand implements PluginCommand {
    @Unmatched
    List<String> args = new ArrayList<>();

    @Override
    public Integer call() {
        List<String> all = new ArrayList<>(List.of("loop-demo"));
        if (args.stream().noneMatch(a -> a.startsWith("--work"))) {
            all.addAll(List.of("--work", "data/demo"));
        }
        all.addAll(args);
        return BenchMain.run(all.toArray(new String[0]));
    }
}
