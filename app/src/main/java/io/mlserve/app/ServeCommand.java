package io.mlserve.app;

import io.mlserve.server.MlServer;
import io.mlserve.server.ServerOptions;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code mlserve serve}: serve a model repository until SIGTERM/SIGINT, then drain and exit 0. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serve the ONNX models of a model repository over gRPC (OIP), REST v2 and /metrics.")
public final class ServeCommand implements Callable<Integer> {
    @Option(names = "--model-repository",
            description = "Directory laid out as <model>/<version>/model.onnx, with optional <model>/config.json "
                    + "(or model_repository in --config).")
    Path repository;

    @Mixin
    ServerFlags flags = new ServerFlags();

    @Override
    public Integer call() throws Exception {
        ServerOptions options = flags.toOptions(repository);
        runUntilSignalled(MlServer.start(options), options.shutdownGraceSeconds());
        return 0;
    }

    /** Blocks until SIGTERM or SIGINT, then drains (calls in flight finish, sessions close) and exits 0. */
    static void runUntilSignalled(MlServer server, int graceSeconds) throws InterruptedException {
        TerminationSignals.onTerminate(() -> server.shutdown(graceSeconds));
        server.awaitTermination();
        Thread.currentThread().join();
    }
}
