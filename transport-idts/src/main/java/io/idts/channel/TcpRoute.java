package io.idts.channel;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelOutboundBuffer;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.ChannelPromise;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.util.ReferenceCountUtil;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.Map;

/**
 * The TCP route of an {@link IdtsChannel}: a Netty {@link EpollSocketChannel} on the channel's own event loop that
 * carries its bytes when the peer cannot be reached through IDTS. The IDTS channel stays the one the user holds, with
 * the user's pipeline; this handler sits alone in the TCP channel's pipeline and passes everything across, on the
 * same thread: what the TCP channel reads goes up the IDTS channel's pipeline, what the IDTS channel writes goes into
 * the TCP channel's outbound buffer, and closure, half-closure, read demand and writability are mirrored.
 *
 * <p>The TCP channel reads as the IDTS channel does: its {@code AUTO_READ} follows the IDTS channel's, and a
 * {@code read()} of the IDTS channel is one of the TCP channel. Writes move from the IDTS channel's outbound buffer only while the
 * TCP channel is writable, so the IDTS channel's write-buffer water marks see the backlog, and its write promises
 * complete once the bytes are the TCP channel's (a failure of the TCP write then reaches the pipeline as an
 * exception and closes both).
 */
final class TcpRoute extends ChannelInboundHandlerAdapter {

    private final AbstractIdtsChannel channel;
    private final ChannelPipeline pipeline;
    private Channel tcp;
    private ChannelFuture connect;

    private TcpRoute(AbstractIdtsChannel channel) {
        this.channel = channel;
        this.pipeline = channel.pipeline();
    }

    /**
     * Starts connecting {@code channel} to {@code address} over TCP, on its event loop, within {@code timeoutMillis}
     * (see {@link #reportConnect()}). An unresolved address is resolved first, as {@code Bootstrap} resolves any
     * address.
     */
    static TcpRoute connect(AbstractIdtsChannel channel, InetSocketAddress address, int timeoutMillis) {
        TcpRoute route = new TcpRoute(channel);
        IdtsChannelConfig config = channel.config();
        Bootstrap bootstrap = new Bootstrap()
                .group(channel.eventLoop())
                .channel(EpollSocketChannel.class)
                .option(ChannelOption.AUTO_READ, config.isAutoRead())
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .option(ChannelOption.ALLOCATOR, config.getAllocator())
                .option(ChannelOption.RCVBUF_ALLOCATOR, config.getRecvByteBufAllocator())
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, config.getWriteBufferWaterMark())
                .option(ChannelOption.MESSAGE_SIZE_ESTIMATOR, config.getMessageSizeEstimator())
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, timeoutMillis)
                .handler(route);
        for (Map.Entry<ChannelOption<?>, Object> option : config.tcpOptions().entrySet()) {
            @SuppressWarnings("unchecked")
            ChannelOption<Object> key = (ChannelOption<Object>) option.getKey();
            bootstrap.option(key, option.getValue());
        }
        route.connect = bootstrap.connect(address);
        route.tcp = route.connect.channel();
        return route;
    }

    /**
     * Reports the outcome of the connect to {@link AbstractIdtsChannel#tcpConnected()} or
     * {@link AbstractIdtsChannel#tcpConnectFailed(Throwable)}; called once the IDTS channel holds this route, as a connect
     * to a local address may be done already.
     */
    void reportConnect() {
        connect.addListener(f -> {
            if (f.isSuccess()) {
                channel.tcpConnected();
            } else {
                channel.tcpConnectFailed(f.cause());
            }
        });
    }

    /** The TCP channel's local address: an {@link InetSocketAddress} once connected. */
    SocketAddress localAddress() {
        return tcp.localAddress();
    }

    /** The TCP channel's remote address: an {@link InetSocketAddress} once connected. */
    SocketAddress remoteAddress() {
        return tcp.remoteAddress();
    }

    /** The IDTS channel's read demand: the TCP channel reads once more. */
    void read() {
        tcp.read();
    }

    /**
     * Moves the IDTS channel's pending writes into the TCP channel, while it is writable, and flushes them. What stays
     * is moved when the TCP channel becomes writable again ({@link #channelWritabilityChanged}).
     */
    void write(ChannelOutboundBuffer in) {
        Channel tcp = this.tcp;
        // Straight to the TCP channel's unsafe, on its event loop: its pipeline holds no outbound handler to pass.
        Channel.Unsafe unsafe = tcp.unsafe();
        ChannelPromise voidPromise = tcp.voidPromise();
        for (;;) {
            boolean moved = false;
            for (;;) {
                Object msg = in.current();
                if (msg == null || !tcp.isWritable()) {
                    break;
                }
                // The outbound buffer releases its reference as it removes the message; the TCP channel owns this one.
                ReferenceCountUtil.retain(msg);
                unsafe.write(msg, voidPromise);
                in.remove();
                moved = true;
            }
            if (!moved) {
                return;
            }
            // Flushing may drain the TCP channel below its low water mark at once; its writability event then comes
            // while this channel is still flushing, where it cannot flush again: go on here instead.
            unsafe.flush();
        }
    }

    void setAutoRead(boolean autoRead) {
        tcp.config().setAutoRead(autoRead);
    }

    void shutdownOutput() {
        ((DuplexChannel) tcp).shutdownOutput();
    }

    void shutdownInput() {
        ((DuplexChannel) tcp).shutdownInput();
    }

    void close() {
        tcp.close();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (!channel.isOpen()) {
            ReferenceCountUtil.release(msg);
            return;
        }
        pipeline.fireChannelRead(msg);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext ctx) {
        if (!channel.isOpen()) {
            return;
        }
        pipeline.fireChannelReadComplete();
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        ReferenceCountUtil.release(evt);
        if (evt == ChannelInputShutdownEvent.INSTANCE) {
            // The peer shut its output down or closed: the IDTS channel half-closes or closes, as its option says.
            channel.tcpInputEnded();
        }
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        if (tcp.isWritable()) {
            channel.tcpWritable();
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (channel.isOpen()) {
            pipeline.fireExceptionCaught(cause);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        channel.tcpClosed();
    }
}
