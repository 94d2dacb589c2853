package io.mlserve.server.http;

import io.mlserve.server.metrics.ServerMetrics;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufOutputStream;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.io.IOException;

/** Serves {@code GET /metrics} in Prometheus text format on the metrics port. */
@ChannelHandler.Sharable
public final class MetricsHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
    private final ServerMetrics metrics;
    private final io.mlserve.security.Guard guard;

    public MetricsHandler(ServerMetrics metrics) {
        this(metrics, null);
    }

    /** @param guard checks the scraper's token for the metrics role; null: the endpoint is open */
    public MetricsHandler(ServerMetrics metrics, io.mlserve.security.Guard guard) {
        this.metrics = metrics;
        this.guard = guard;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest req) throws IOException {
        boolean keepAlive = HttpUtil.isKeepAlive(req);
        String path = new QueryStringDecoder(req.uri()).path();
        if (!path.equals("/metrics")) {
            RestHandler.send(ctx, RestHandler.error(404, "metrics are served at /metrics"), keepAlive);
            return;
        }
        if (guard != null) {
            try {
                guard.check(req.headers().get(io.netty.handler.codec.http.HttpHeaderNames.AUTHORIZATION),
                        io.mlserve.security.Role.METRICS, "GET /metrics",
                        String.valueOf(ctx.channel().remoteAddress()));
            } catch (io.mlserve.security.Guard.Denied d) {
                RestHandler.send(ctx, RestHandler.denied(d), keepAlive);
                return;
            }
        }
        ByteBuf buf = ctx.alloc().buffer(16 * 1024);
        try (ByteBufOutputStream out = new ByteBufOutputStream(buf)) {
            metrics.writeTo(out);
        } catch (IOException | RuntimeException e) {
            buf.release();
            throw e;
        }
        RestHandler.send(ctx, RestHandler.response(200, buf, metrics.contentType()), keepAlive);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.close();
    }
}
