package io.mlserve.bench;

import io.mlserve.examples.ChurnExample;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.proto.inference.ModelInferResponse;
import io.mlserve.server.MlServer;
import io.mlserve.server.ServerOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/** {@code mlserve bench ...}: the load generator and the measured comparisons recorded in bench/RESULTS.md. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "mlserve benchmarks.",
        subcommands = {BenchMain.Load.class, BenchMain.Transport.class, BatchingBench.class, FeatureBench.class,
            PredictBench.class, RetrainBench.class, DriftBench.class, DriftEvalBench.class, DriftSeqBench.class, SwapBench.class,
            SoakBench.class, ScenarioBench.class, ScenarioBench.Demo.class, ScoreBench.class, ServedBench.class,
            ExplainBench.class,
            BenchMain.Jmh.class})
public final class BenchMain implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** Entry used by {@code mlserve bench}. */
    public static int run(String[] args) {
        return new CommandLine(new BenchMain()).execute(args);
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** Options every load run shares. */
    static final class LoadFlags {
        @Option(names = "--rows", defaultValue = "1", description = "Rows per request (default: ${DEFAULT-VALUE}).")
        int rows;

        @Option(names = "--typed", description = "Send typed contents instead of raw_input_contents.")
        boolean typed;

        @Option(names = "--concurrency", defaultValue = "64",
                description = "Closed loop: calls kept outstanding (default: ${DEFAULT-VALUE}).")
        int concurrency;

        @Option(names = "--rate", defaultValue = "0",
                description = "Open loop: calls started per second (latency from scheduled start); 0 = closed loop.")
        double rate;

        @Option(names = "--max-outstanding", defaultValue = "20000",
                description = "Open loop: calls in flight beyond this are not sent and count as CLIENT_BACKLOG.")
        int maxOutstanding;

        @Option(names = "--connections", defaultValue = "4", description = "HTTP/2 connections (default: ${DEFAULT-VALUE}).")
        int connections;

        @Option(names = "--duration", defaultValue = "10", description = "Seconds measured (default: ${DEFAULT-VALUE}).")
        double duration;

        @Option(names = "--warmup", defaultValue = "3", description = "Seconds of unrecorded load first (default: ${DEFAULT-VALUE}).")
        double warmup;

        @Option(names = "--json", description = "Write the results as JSON to this file.")
        Path json;

        LoadResult measure(LoadGenerator g, String label, ModelInferRequest request) throws InterruptedException {
            return rate > 0 ? g.openLoop(label, request, rate, warmup, duration, maxOutstanding)
                    : g.closedLoop(label, request, concurrency, warmup, duration);
        }
    }

    static void writeJson(Path file, List<LoadResult> results, String extra) throws IOException {
        if (file == null) {
            return;
        }
        StringBuilder sb = new StringBuilder("{\"machine\":").append(Machine.json()).append(extra).append(",\"results\":[");
        for (int i = 0; i < results.size(); i++) {
            sb.append(i == 0 ? "" : ",").append(results.get(i).toJson());
        }
        Files.writeString(file, sb.append("]}\n").toString());
    }

    @Command(name = "jmh", description = "JMH micro-benchmarks (arguments go to JMH; e.g. 'jmh SchedulerOverhead -rf json').")
    static final class Jmh implements Callable<Integer> {
        @CommandLine.Unmatched
        List<String> args = new ArrayList<>();

        @Override
        public Integer call() throws Exception {
            org.openjdk.jmh.Main.main(args.toArray(new String[0]));
            return 0;
        }
    }

    @Command(name = "load", mixinStandardHelpOptions = true,
            description = "Drive ModelInfer load against a running server; prints throughput and p50/p95/p99/p99.9.")
    static final class Load implements Callable<Integer> {
        @Option(names = "--target", defaultValue = "127.0.0.1:8001", description = "host:port of the gRPC endpoint.")
        String target;

        @Option(names = "--model", defaultValue = "churn", description = "Model to call (default: ${DEFAULT-VALUE}).")
        String model;

        @CommandLine.Mixin
        LoadFlags flags = new LoadFlags();

        @Override
        public Integer call() throws Exception {
            int colon = target.lastIndexOf(':');
            try (LoadGenerator g = new LoadGenerator(target.substring(0, colon),
                    Integer.parseInt(target.substring(colon + 1)), flags.connections)) {
                ModelInferRequest req = g.requestFor(model, flags.rows, !flags.typed);
                LoadResult r = flags.measure(g, model, req);
                System.out.println(r.summary());
                writeJson(flags.json, List.of(r), "");
            }
            return 0;
        }
    }

    @Command(name = "transport", mixinStandardHelpOptions = true,
            description = "ModelInfer on the demo model vs a bare grpc-java echo server with the same payload, "
                    + "same machine, same run: the share of the transport ceiling mlserve reaches.")
    static final class Transport implements Callable<Integer> {
        @CommandLine.Mixin
        LoadFlags flags = new LoadFlags();

        @Option(names = "--rounds", defaultValue = "3",
                description = "Rounds of echo / mlserve, interleaved so drift hits both alike "
                        + "(default: ${DEFAULT-VALUE}).")
        int rounds;

        @Override
        public Integer call() throws Exception {
            // the churn example's repository: the demo model
            Path repo = ChurnExample.writeTo(Files.createTempDirectory("mlserve-bench")).resolveSibling("models");
            ModelInferResponse canned;
            ModelInferRequest request;
            // the echo server answers with exactly what mlserve answers, captured from a real call
            try (MlServer s = MlServer.start(ServerOptions.ephemeral(repo));
                 LoadGenerator g = new LoadGenerator("127.0.0.1", s.grpcPort(), 1)) {
                request = g.requestFor(ChurnExample.MODEL, flags.rows, !flags.typed);
                canned = g.callOnce(request);
            }
            int cores = Runtime.getRuntime().availableProcessors();
            // one unrecorded pass of each, so JIT warm-up of client and server does not favour later runs
            echo(canned, request, cores, "warm-up");
            mlserve(repo, request, "warm-up");
            List<LoadResult> results = new ArrayList<>();
            double[] ratio = new double[rounds];
            for (int r = 0; r < rounds; r++) {
                LoadResult e = echo(canned, request, cores, "grpc-echo #" + (r + 1));
                LoadResult m = mlserve(repo, request, "mlserve #" + (r + 1));
                results.addAll(List.of(e, m));
                ratio[r] = m.throughput() / e.throughput();
                System.out.println(e.summary());
                System.out.println(m.summary());
            }
            double median = median(ratio);
            System.out.printf(Locale.ROOT, "%nrequest %d bytes, response %d bytes, %d rounds%n",
                    request.getSerializedSize(), canned.getSerializedSize(), rounds);
            System.out.printf(Locale.ROOT, "median throughput ratio mlserve/echo: %.2f%n", median);
            writeJson(flags.json, results, String.format(Locale.ROOT, ",\"median_ratio\":%.3f", median));
            return 0;
        }

        private static double median(double[] v) {
            double[] s = v.clone();
            java.util.Arrays.sort(s);
            return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
        }

        private LoadResult echo(ModelInferResponse canned, ModelInferRequest request, int threads, String label)
                throws Exception {
            try (EchoServer echo = new EchoServer(canned, threads);
                 LoadGenerator g = new LoadGenerator("127.0.0.1", echo.port(), flags.connections)) {
                return flags.measure(g, label, request);
            }
        }

        private LoadResult mlserve(Path repo, ModelInferRequest request, String label) throws Exception {
            MlServer s = MlServer.start(ServerOptions.ephemeral(repo));
            try (LoadGenerator g = new LoadGenerator("127.0.0.1", s.grpcPort(), flags.connections)) {
                return flags.measure(g, label, request);
            } finally {
                s.shutdown(5);
            }
        }
    }
}
