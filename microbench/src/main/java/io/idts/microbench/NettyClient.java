package io.idts.microbench;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.util.ReferenceCountUtil;

import java.io.IOException;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The client side of one Netty transport: one event loop thread, and the connections of the loads it runs, all on
 * that thread.
 */
final class NettyClient implements AutoCloseable {

    /** Connects in flight at once while opening many connections. */
    private static final int CONNECT_BATCH = 100;
    /** Writes one connection makes in one go before it lets the event loop turn (other connections, tasks). */
    private static final int WRITES_PER_TURN = 256;

    private final Transport transport;
    private final EventLoopGroup group;
    private final Bootstrap bootstrap;
    final SocketAddress echoAddress;
    final SocketAddress sinkAddress;

    NettyClient(Transport transport, SocketAddress echoAddress, SocketAddress sinkAddress, long spinNanos,
                Boolean zeroCopyReads) {
        this.transport = transport;
        this.echoAddress = echoAddress;
        this.sinkAddress = sinkAddress;
        group = NettyTransports.newClientGroup(transport, "bench-client-" + transport.key);
        bootstrap = new Bootstrap().group(group).channel(NettyTransports.channelClass(transport));
        NettyTransports.configureClient(bootstrap, transport, spinNanos, zeroCopyReads);
    }

    /** Opens {@code n} connections to the echo server, then starts a ping loop on each. */
    Pings pings(int size, int n) throws Exception {
        Pings load = new Pings(size, n);
        try {
            load.channels.addAll(connect(echoAddress, n, ch -> new PingHandler(load)));
            for (Channel channel : load.channels) {
                PingHandler handler = channel.pipeline().get(PingHandler.class);
                channel.eventLoop().execute(handler::send);
            }
            return load;
        } catch (Exception e) {
            load.close();
            throw e;
        }
    }

    /** Opens {@code n} connections to the sink, then streams {@code size}-byte writes on each. */
    Streams stream(int size, int n) throws Exception {
        Streams load = new Streams(size, n);
        try {
            load.channels.addAll(connect(sinkAddress, n, ch -> new StreamHandler(load)));
            for (Channel channel : load.channels) {
                StreamHandler handler = channel.pipeline().get(StreamHandler.class);
                channel.eventLoop().execute(handler::writeMore);
            }
            return load;
        } catch (Exception e) {
            load.close();
            throw e;
        }
    }

    private List<Channel> connect(SocketAddress remote, int n, Function<Integer, ChannelHandler> handlers)
            throws Exception {
        List<Channel> channels = new ArrayList<>(n);
        try {
            for (int start = 0; start < n; start += CONNECT_BATCH) {
                List<ChannelFuture> batch = new ArrayList<>();
                for (int i = start; i < Math.min(n, start + CONNECT_BATCH); i++) {
                    batch.add(bootstrap.clone().handler(handlers.apply(i)).connect(remote));
                }
                for (ChannelFuture f : batch) {
                    if (!f.await(60, TimeUnit.SECONDS)) {
                        throw new IOException(transport.label + ": connect to " + remote + " timed out");
                    }
                    if (!f.isSuccess()) {
                        throw new IOException(transport.label + ": connect to " + remote + " failed: " + f.cause(),
                                f.cause());
                    }
                    channels.add(f.channel());
                }
            }
            return channels;
        } catch (Exception e) {
            closeAll(channels);
            throw e;
        }
    }

    static void closeAll(List<Channel> channels) {
        List<ChannelFuture> closing = new ArrayList<>(channels.size());
        for (Channel channel : channels) {
            closing.add(channel.close());
        }
        for (ChannelFuture f : closing) {
            f.awaitUninterruptibly(10, TimeUnit.SECONDS);
        }
        channels.clear();
    }

    @Override
    public void close() {
        NettyTransports.shutdown(group);
    }

    /**
     * A direct buffer of {@code size} random bytes ({@link StreamChecksum#payload}, which the receivers check against);
     * every message sent is a duplicate of it.
     */
    static ByteBuf payload(int size) {
        return Unpooled.directBuffer(size).writeBytes(StreamChecksum.payload(size));
    }

    /** Ping-pongs over Netty connections. */
    static final class Pings extends Load.Pings {
        final List<Channel> channels = new ArrayList<>();
        private final ByteBuf raw;
        /** What the handlers send duplicates of: the transports' release of a sent message leaves it intact. */
        final ByteBuf payload;

        Pings(int size, int n) {
            super(size, n);
            raw = payload(size);
            payload = Unpooled.unreleasableBuffer(raw);
        }

        @Override
        void close() {
            closeAll(channels);
            raw.release();
        }
    }

    /** One-way streams over Netty connections. */
    static final class Streams extends Load.Stream {
        final List<Channel> channels = new ArrayList<>();
        private final ByteBuf raw;
        final ByteBuf payload;

        Streams(int size, int n) {
            super(size, n);
            raw = payload(size);
            payload = Unpooled.unreleasableBuffer(raw);
        }

        @Override
        void onStopping() {
            // A connection waiting for writability would only notice the stop at its next write.
            for (Channel channel : channels) {
                StreamHandler handler = channel.pipeline().get(StreamHandler.class);
                if (handler != null) { // null: closed already, and finished when it went inactive
                    channel.eventLoop().execute(handler::writeMore);
                }
            }
        }

        @Override
        void close() {
            closeAll(channels);
            raw.release();
        }
    }

    /** Sends a ping, waits for all of its echo, records the round trip, sends the next; until the load stops. */
    static final class PingHandler extends ChannelInboundHandlerAdapter {
        private final Pings load;
        private ChannelHandlerContext ctx;
        private int received;
        private long sentNanos;
        private boolean finished;

        PingHandler(Pings load) {
            this.load = load;
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            this.ctx = ctx;
        }

        void send() {
            received = 0;
            sentNanos = System.nanoTime();
            ctx.writeAndFlush(load.payload.duplicate(), ctx.voidPromise());
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            int n = ((ByteBuf) msg).readableBytes();
            ReferenceCountUtil.release(msg);
            received += n;
            if (received < load.size) {
                return;
            }
            long now = System.nanoTime();
            if (received > load.size) {
                load.fail(new IllegalStateException("echo of " + received + " bytes for a ping of " + load.size));
                finish();
                ctx.close();
                return;
            }
            load.record(now - sentNanos);
            if (load.stopping()) {
                finish();
            } else {
                send();
            }
        }

        private void finish() {
            if (!finished) {
                finished = true;
                load.partyStopped();
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (!finished && !load.stopping()) {
                load.fail(new IOException("the server closed a connection in the middle of ping-pongs"));
            }
            finish();
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (!load.stopping()) {
                load.fail(cause);
            }
            finish();
            ctx.close();
        }
    }

    /** Writes {@code size}-byte messages, each flushed, as long as the channel is writable; until the load stops. */
    static final class StreamHandler extends ChannelInboundHandlerAdapter {
        private final Streams load;
        private ChannelHandlerContext ctx;
        private boolean finished;
        private boolean turnScheduled;

        StreamHandler(Streams load) {
            this.load = load;
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            this.ctx = ctx;
        }

        void writeMore() {
            turnScheduled = false;
            if (finished) {
                return;
            }
            if (load.stopping()) {
                finish();
                return;
            }
            Channel channel = ctx.channel();
            int writes = 0;
            while (channel.isWritable()) {
                if (++writes > WRITES_PER_TURN) {
                    // Still writable: let the event loop turn (other connections, its tasks), then go on.
                    if (!turnScheduled) {
                        turnScheduled = true;
                        ctx.executor().execute(this::writeMore);
                    }
                    break;
                }
                ctx.writeAndFlush(load.payload.duplicate(), ctx.voidPromise());
                load.progressed(load.size);
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (ctx.channel().isWritable()) {
                writeMore();
            }
            ctx.fireChannelWritabilityChanged();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
        }

        private void finish() {
            if (!finished) {
                finished = true;
                load.partyStopped();
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (!finished && !load.stopping()) {
                load.fail(new IOException("the server closed a connection in the middle of a stream"));
            }
            finish();
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (!load.stopping()) {
                load.fail(cause);
            }
            finish();
            ctx.close();
        }
    }
}
