package io.mlserve.bench;

import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.mlserve.proto.inference.GRPCInferenceServiceGrpc;
import io.mlserve.proto.inference.ModelInferRequest;
import io.mlserve.proto.inference.ModelInferResponse;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * The transport ceiling: bare grpc-java answering ModelInfer with a canned response of the same shape
 * mlserve returns, on the same Netty transport and threading, with no model, no checks and no metrics.
 * Whatever mlserve achieves is measured as a share of this.
 */
public final class EchoServer implements AutoCloseable {
    private final Server server;
    private final MultiThreadIoEventLoopGroup boss;
    private final MultiThreadIoEventLoopGroup group;

    public EchoServer(ModelInferResponse canned, int eventLoopThreads) throws IOException {
        boolean epoll = Epoll.isAvailable();
        // the same thread layout as mlserve: one acceptor, eventLoopThreads network threads
        boss = new MultiThreadIoEventLoopGroup(1, epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        group = new MultiThreadIoEventLoopGroup(eventLoopThreads,
                epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory());
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .channelType(epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class)
                .bossEventLoopGroup(boss).workerEventLoopGroup(group).directExecutor()
                .maxInboundMessageSize(64 << 20)
                .addService(new GRPCInferenceServiceGrpc.GRPCInferenceServiceImplBase() {
                    @Override
                    public void modelInfer(ModelInferRequest request, StreamObserver<ModelInferResponse> out) {
                        out.onNext(canned.toBuilder().setId(request.getId()).build());
                        out.onCompleted();
                    }
                }).build().start();
    }

    public int port() {
        return server.getPort();
    }

    /**
     * Runs an echo server in a process of its own until killed: args = the canned response (a serialized
     * ModelInferResponse file), the file to write the port to, and the number of network threads.
     */
    public static void main(String[] args) throws Exception {
        ModelInferResponse canned = ModelInferResponse.parseFrom(java.nio.file.Files.readAllBytes(
                java.nio.file.Path.of(args[0])));
        EchoServer echo = new EchoServer(canned, Integer.parseInt(args[2]));
        java.nio.file.Path port = java.nio.file.Path.of(args[1]);
        java.nio.file.Files.writeString(port.resolveSibling(port.getFileName() + ".tmp"), Integer.toString(echo.port()));
        java.nio.file.Files.move(port.resolveSibling(port.getFileName() + ".tmp"), port,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        Thread.currentThread().join();
    }

    @Override
    public void close() throws InterruptedException {
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        boss.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
    }
}
