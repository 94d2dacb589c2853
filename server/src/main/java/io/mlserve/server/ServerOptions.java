package io.mlserve.server;

import io.mlserve.runtime.SessionConfig;
import java.nio.file.Path;

/**
 * Everything the server needs to start, validated here so a bad value fails at start-up with one line.
 *
 * @param host             address to bind (0.0.0.0 = all interfaces)
 * @param httpPort         REST v2 + health; 0 = any free port
 * @param grpcPort         Open Inference Protocol gRPC; 0 = any free port
 * @param metricsPort      Prometheus /metrics; 0 = any free port
 * @param modelRepository  root of {@code <model>/<version>/model.onnx}
 * @param sessionDefaults  ONNX Runtime settings a model's config.json may override
 * @param maxMessageBytes  largest gRPC message or HTTP body accepted
 * @param compute          where models run: POOL (compute threads; network threads stay free) or INLINE
 *                         (on the network thread that read the request: no hand-off, but a running model
 *                         blocks every connection on that thread)
 * @param computeThreads   size of the compute pool (0 = one per core)
 * @param eventLoopThreads Netty worker threads shared by gRPC and HTTP (0 = one per core)
 * @param shutdownGraceSeconds how long in-flight calls may take to finish on shutdown
 */
public record ServerOptions(String host, int httpPort, int grpcPort, int metricsPort, Path modelRepository,
                            SessionConfig sessionDefaults, int maxMessageBytes, Compute compute, int computeThreads,
                            int eventLoopThreads, int shutdownGraceSeconds) {

    /** Where inference runs. */
    public enum Compute { POOL, INLINE }

    public static final int DEFAULT_HTTP_PORT = 8000;
    public static final int DEFAULT_GRPC_PORT = 8001;
    public static final int DEFAULT_METRICS_PORT = 8002;
    public static final int DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

    public ServerOptions {
        checkPort("--http-port", httpPort);
        checkPort("--grpc-port", grpcPort);
        checkPort("--metrics-port", metricsPort);
        if (maxMessageBytes < 1024) {
            throw new IllegalArgumentException("--max-message-bytes must be at least 1024, got " + maxMessageBytes);
        }
        if (computeThreads < 0) {
            throw new IllegalArgumentException("--compute-threads must be >= 0, got " + computeThreads);
        }
        if (eventLoopThreads < 0) {
            throw new IllegalArgumentException("--event-loop-threads must be >= 0, got " + eventLoopThreads);
        }
        if (shutdownGraceSeconds < 0) {
            throw new IllegalArgumentException("--shutdown-grace-secs must be >= 0, got " + shutdownGraceSeconds);
        }
    }

    /** Defaults for a repository, with every port set to 0 (tests and embedded use). */
    public static ServerOptions ephemeral(Path repository) {
        return new ServerOptions("127.0.0.1", 0, 0, 0, repository, SessionConfig.DEFAULT, DEFAULT_MAX_MESSAGE_BYTES,
                Compute.POOL, 0, 0, 30);
    }

    public ServerOptions withMaxMessageBytes(int bytes) {
        return new ServerOptions(host, httpPort, grpcPort, metricsPort, modelRepository, sessionDefaults, bytes,
                compute, computeThreads, eventLoopThreads, shutdownGraceSeconds);
    }

    public ServerOptions withComputeThreads(int n) {
        return new ServerOptions(host, httpPort, grpcPort, metricsPort, modelRepository, sessionDefaults,
                maxMessageBytes, compute, n, eventLoopThreads, shutdownGraceSeconds);
    }

    public ServerOptions withCompute(Compute c) {
        return new ServerOptions(host, httpPort, grpcPort, metricsPort, modelRepository, sessionDefaults,
                maxMessageBytes, c, computeThreads, eventLoopThreads, shutdownGraceSeconds);
    }

    private static void checkPort(String flag, int port) {
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException(flag + " must be 0..65535 (0 = any free port), got " + port);
        }
    }
}
