package io.mlserve.app;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * {@code mlserve serve} in its own JVM — this JVM's classpath and module flags — on ports chosen here, waited for
 * until it is ready: how the demo, the scenario and the end-to-end tests drive the real server only through its
 * public ports, as an outside client would.
 */
public final class ServerProcess implements AutoCloseable {
    private final Process process;
    private final Path log;
    public final int httpPort;
    public final int grpcPort;
    public final int metricsPort;

    private ServerProcess(Process process, Path log, int http, int grpc, int metrics) {
        this.process = process;
        this.log = log;
        this.httpPort = http;
        this.grpcPort = grpc;
        this.metricsPort = metrics;
    }

    /**
     * Starts {@code serve} with {@code args} (ports are added), its output in {@code log}, and waits up to
     * {@code readySeconds} for {@code /v2/health/ready}.
     */
    public static ServerProcess start(Path log, int readySeconds, String... args) throws Exception {
        int http = freePort();
        int grpc = freePort();
        int metrics = freePort();
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (arg.startsWith("--add-") || arg.startsWith("-D")) {
                cmd.add(arg);
            }
        }
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(), "serve",
                "--host", "127.0.0.1", "--http-port", Integer.toString(http), "--grpc-port", Integer.toString(grpc),
                "--metrics-port", Integer.toString(metrics)));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        ServerProcess s = new ServerProcess(p, log, http, grpc, metrics);
        s.awaitReady(readySeconds);
        return s;
    }

    private void awaitReady(int seconds) throws Exception {
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("the server exited with " + process.exitValue() + ": see " + log);
            }
            try {
                HttpResponse<Void> r = client.send(HttpRequest.newBuilder(URI.create(http() + "/v2/health/ready"))
                        .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.discarding());
                if (r.statusCode() == 200) {
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            }
            Thread.sleep(200);
        }
        close();
        throw new IllegalStateException("the server was not ready within " + seconds + " s: see " + log);
    }

    public String http() {
        return "http://127.0.0.1:" + httpPort;
    }

    public String grpc() {
        return "127.0.0.1:" + grpcPort;
    }

    /** The server's operating-system process id. */
    public long pid() {
        return process.pid();
    }

    public boolean alive() {
        return process.isAlive();
    }

    public Path log() {
        return log;
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** SIGTERM, then up to a minute for a graceful stop (the training log flushes), then SIGKILL. */
    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }
}
