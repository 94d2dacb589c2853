package io.mlserve.server.cli;

import java.lang.reflect.InvocationTargetException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;

/**
 * {@code mlserve bench ...}: hands over to the bench module (load generator, baselines), which the
 * launcher puts on the classpath; kept here so {@code mlserve --help} lists every command.
 */
@Command(name = "bench", description = "Benchmarks: load (gRPC load generator), transport (vs a bare gRPC echo "
        + "server), batching, features (vs Redis), predict, retrain, drift, drift-eval, swap, soak, scenario, score, "
        + "jmh. Run 'mlserve bench --help' "
        + "for their flags.")
public final class BenchCommand implements Callable<Integer> {
    static final String BENCH_MAIN = "io.mlserve.bench.BenchMain";

    @Unmatched
    List<String> args = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        return invoke(args);
    }

    /** Runs {@code mlserve bench ARGS} (the bench module's entry). */
    static int invoke(List<String> args) throws Exception {
        Class<?> main;
        try {
            main = Class.forName(BENCH_MAIN);
        } catch (ClassNotFoundException e) {
            System.err.println("the bench module is not on the classpath; run it through ./mlserve bench");
            return 2;
        }
        try {
            Object code = main.getMethod("run", String[].class).invoke(null, (Object) args.toArray(new String[0]));
            return (Integer) code;
        } catch (InvocationTargetException e) {
            throw e.getCause() instanceof Exception ex ? ex : e;
        }
    }
}
