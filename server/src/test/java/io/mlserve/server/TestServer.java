package io.mlserve.server;

import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.mlserve.proto.inference.GRPCInferenceServiceGrpc;
import io.mlserve.runtime.onnx.OnnxModelBuilder;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** A model repository in a temp directory and a server on free loopback ports, for integration tests. */
public final class TestServer implements AutoCloseable {
    public final Path repository;
    public MlServer server;
    private ManagedChannel channel;
    private final HttpClient http = HttpClient.newHttpClient();

    public TestServer(Path repository) {
        this.repository = repository;
    }

    /** Writes {@code model} as {@code <name>/<version>/model.onnx}. */
    public TestServer model(String name, long version, OnnxModelBuilder model) throws IOException {
        model.writeTo(repository.resolve(name).resolve(Long.toString(version)).resolve("model.onnx"));
        return this;
    }

    /**
     * Publishes a version the way the trainer does: written beside ({@code <v>.tmp-*}), checksummed into its
     * metadata.json, renamed into place.
     */
    public static Path publish(Path repo, String model, long version, byte[] onnx) throws IOException {
        Path tmp = Files.createDirectories(repo.resolve(model).resolve(version + ".tmp-" + System.nanoTime()));
        Files.write(tmp.resolve("model.onnx"), onnx);
        io.mlserve.registry.VersionChecksum.writeMetadata(tmp, "model.onnx");
        return Files.move(tmp, repo.resolve(model).resolve(Long.toString(version)));
    }

    public TestServer config(String name, String json) throws IOException {
        Files.createDirectories(repository.resolve(name));
        Files.writeString(repository.resolve(name).resolve("config.json"), json);
        return this;
    }

    public TestServer start() throws IOException {
        return start(ServerOptions.ephemeral(repository));
    }

    public TestServer start(ServerOptions options) throws IOException {
        server = MlServer.start(options);
        return this;
    }

    public ManagedChannel channel() {
        if (channel == null) {
            channel = NettyChannelBuilder.forAddress("127.0.0.1", server.grpcPort()).usePlaintext()
                    .maxInboundMessageSize(256 * 1024 * 1024).build();
        }
        return channel;
    }

    public GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub() {
        return GRPCInferenceServiceGrpc.newBlockingStub(channel()).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    public HttpResponse<String> get(int port, String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    public HttpResponse<String> post(int port, String path, String body) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    public HttpResponse<String> send(String method, int port, String path, String body)
            throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .header("Content-Type", "application/json")
                .method(method, HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    }

    @Override
    public void close() {
        if (channel != null) {
            channel.shutdownNow();
        }
        if (server != null) {
            server.shutdown(5);
        }
    }
}
