package io.idts.microbench;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
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
    final SocketAddress httpAddress;

    NettyClient(Transport transport, SocketAddress echoAddress, SocketAddress sinkAddress, SocketAddress httpAddress,
                long spinNanos, Boolean zeroCopyReads) {
        this.transport = transport;
        this.echoAddress = echoAddress;
        this.sinkAddress = sinkAddress;
        this.httpAddress = httpAddress;
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

    /**
     * Connection set-ups to the echo server, one at a time on the event loop until the load stops: connect, send
     * {@code size} bytes, wait for all of their echo (the set-up's time, from the connect call), close, and once the
     * close is done the next connect.
     */
    Setups setups(int size) {
        Setups load = new Setups(size, bootstrap.clone(), echoAddress, transport);
        load.start();
        return load;
    }

    /**
     * {@code n} keep-alive HTTP/1.1 connections to the HTTP server, each with one request in flight: a GET, its
     * response aggregated, its time recorded, the next GET; Netty's HTTP codec and aggregator on both ends.
     */
    HttpRequests http(int n) throws Exception {
        HttpRequests load = new HttpRequests(n, transport);
        try {
            load.channels.addAll(connect(httpAddress, n, i -> new ChannelInitializer<Channel>() {
                @Override
                protected void initChannel(Channel ch) {
                    ch.pipeline().addLast(new HttpClientCodec(),
                            new HttpObjectAggregator(ServerHandlers.HTTP_MAX_CONTENT), new HttpRequestHandler(load));
                }
            }));
            for (Channel channel : load.channels) {
                HttpRequestHandler handler = channel.pipeline().get(HttpRequestHandler.class);
                channel.eventLoop().execute(handler::send);
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

    /**
     * One party of a load of requests and answers: sends a request, waits for its whole answer, records the time,
     * sends the next; until the load stops. A closed connection or an exception before then fails the load.
     */
    abstract static class RequestAnswerHandler extends ChannelInboundHandlerAdapter {
        private final Load.Pings load;
        private final String closedMessage;
        private ChannelHandlerContext ctx;
        private long sentNanos;
        private boolean finished;

        RequestAnswerHandler(Load.Pings load, String closedMessage) {
            this.load = load;
            this.closedMessage = closedMessage;
        }

        @Override
        public final void handlerAdded(ChannelHandlerContext ctx) {
            this.ctx = ctx;
        }

        /** Writes the next request, timed from now. */
        final void send() {
            sentNanos = System.nanoTime();
            ctx.writeAndFlush(request(), ctx.voidPromise());
        }

        /** A new request (a new message each time: the write releases it). */
        abstract Object request();

        /** The whole answer came, at {@code now}: recorded, then the next request, unless the load stops. */
        final void answered(long now) {
            load.record(now - sentNanos);
            if (load.stopping()) {
                finish();
            } else {
                send();
            }
        }

        /** The answer is wrong: the load fails and this party stops. */
        final void wrongAnswer(String what) {
            load.fail(new IllegalStateException(what));
            finish();
            ctx.close();
        }

        private void finish() {
            if (!finished) {
                finished = true;
                load.partyStopped();
            }
        }

        @Override
        public final void channelInactive(ChannelHandlerContext ctx) {
            if (!finished && !load.stopping()) {
                load.fail(new IOException(closedMessage));
            }
            finish();
            ctx.fireChannelInactive();
        }

        @Override
        public final void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (!load.stopping()) {
                load.fail(cause);
            }
            finish();
            ctx.close();
        }
    }

    /** Sends a ping, waits for all of its echo, records the round trip, sends the next; until the load stops. */
    static final class PingHandler extends RequestAnswerHandler {
        private final Pings load;
        /**
         * The one request buffer, sent again and again: a ping's write is done before its echo comes back, so the
         * buffer is free by the next ping (the payload cannot be released). A duplicate per ping was the benchmark's
         * own allocation per round trip, and made its JVM collect every few seconds.
         */
        private final ByteBuf request;
        private int received;

        PingHandler(Pings load) {
            super(load, "the server closed a connection in the middle of ping-pongs");
            this.load = load;
            request = load.payload.duplicate();
        }

        @Override
        Object request() {
            received = 0;
            return request.setIndex(load.payload.readerIndex(), load.payload.writerIndex());
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
                wrongAnswer("echo of " + received + " bytes for a ping of " + load.size);
                return;
            }
            answered(now);
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

    /**
     * Connection set-ups, one at a time: connect, echo, close, repeated on the event loop. The set-up's time is from
     * the connect call to the last byte of the echo; its close is not timed but is part of every cycle, as the next
     * connect waits for it (so set-ups per second count whole cycles).
     */
    static final class Setups extends Load.Pings {
        private final Bootstrap bootstrap;
        private final SocketAddress remote;
        private final Transport transport;
        private final EventLoop loop;
        private final ByteBuf raw;
        /** What each connection sends a duplicate of. */
        final ByteBuf payload;
        /** When the current cycle's connect was called (event loop only). */
        private long connectNanos;
        /** The connection of the current cycle, for {@link #close()}; written by the event loop. */
        private volatile Channel current;
        private final ChannelFutureListener onConnect = this::connected;
        private final ChannelFutureListener onClose = f -> next();

        Setups(int size, Bootstrap bootstrap, SocketAddress remote, Transport transport) {
            super(size, 1);
            this.remote = remote;
            this.transport = transport;
            raw = payload(size);
            payload = Unpooled.unreleasableBuffer(raw);
            this.bootstrap = bootstrap.handler(new ChannelInitializer<Channel>() {
                @Override
                protected void initChannel(Channel ch) {
                    ch.pipeline().addLast(new SetupHandler(Setups.this));
                }
            });
            loop = bootstrap.config().group().next();
        }

        void start() {
            loop.execute(this::next);
        }

        /** The next cycle, or the end of the load if it is stopping (or failed). */
        private void next() {
            if (stopping() || failure() != null) {
                partyStopped();
                return;
            }
            connectNanos = System.nanoTime();
            ChannelFuture f = bootstrap.connect(remote);
            current = f.channel();
            f.addListener(onConnect);
        }

        private void connected(ChannelFuture f) {
            if (!f.isSuccess()) {
                fail(new IOException(transport.label + ": connect to " + remote + " failed: " + f.cause(), f.cause()));
                partyStopped();
            }
            // Connected: the handler sends the bytes when the channel is active.
        }

        /** The echo of the current connection is complete: its time is recorded, then it is closed. */
        void echoed(Channel channel) {
            record(System.nanoTime() - connectNanos);
            channel.close().addListener(onClose);
        }

        /** The current connection failed before its echo was complete: the load fails, and stops. */
        void failed(Channel channel, Throwable cause) {
            fail(cause);
            channel.close().addListener(onClose);
        }

        @Override
        void close() {
            Channel channel = current;
            if (channel != null) {
                channel.close().awaitUninterruptibly(10, TimeUnit.SECONDS);
            }
            raw.release();
        }
    }

    /** One set-up's connection: sends the bytes once active, reads their echo, tells the load when all came back. */
    static final class SetupHandler extends ChannelInboundHandlerAdapter {
        private final Setups load;
        private int received;
        private boolean done;

        SetupHandler(Setups load) {
            this.load = load;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            ctx.writeAndFlush(load.payload.duplicate(), ctx.voidPromise());
            ctx.fireChannelActive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            int n = ((ByteBuf) msg).readableBytes();
            ReferenceCountUtil.release(msg);
            received += n;
            if (done || received < load.size) {
                return;
            }
            done = true;
            if (received > load.size) {
                load.failed(ctx.channel(), new IllegalStateException("echo of " + received + " bytes for "
                        + load.size + " sent"));
            } else {
                load.echoed(ctx.channel());
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (!done) {
                done = true;
                load.failed(ctx.channel(), new IOException("the server closed a connection before its echo ("
                        + received + " of " + load.size + " bytes)"));
            }
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            if (!done) {
                done = true;
                load.failed(ctx.channel(), cause);
            } else {
                ctx.close();
            }
        }
    }

    /** Keep-alive HTTP/1.1 connections, each with one request in flight. */
    static final class HttpRequests extends Load.Pings {
        final List<Channel> channels = new ArrayList<>();
        final Transport transport;

        HttpRequests(int n, Transport transport) {
            super(0, n);
            this.transport = transport;
        }

        @Override
        void close() {
            closeAll(channels);
        }
    }

    /**
     * Sends a GET, waits for its whole response (aggregated), checks it, records the request's time and sends the
     * next; until the load stops.
     */
    static final class HttpRequestHandler extends RequestAnswerHandler {

        HttpRequestHandler(HttpRequests load) {
            super(load, "the HTTP server closed a keep-alive connection");
        }

        @Override
        Object request() {
            FullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.GET, "/",
                    Unpooled.EMPTY_BUFFER);
            request.headers().set(HttpHeaderNames.HOST, "localhost");
            return request;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            long now = System.nanoTime();
            FullHttpResponse response = (FullHttpResponse) msg;
            try {
                if (!response.status().equals(HttpResponseStatus.OK)
                        || response.content().readableBytes() != ServerHandlers.HTTP_BODY_SIZE) {
                    wrongAnswer("HTTP response " + response.status() + " with " + response.content().readableBytes()
                            + " bytes, expected 200 OK with " + ServerHandlers.HTTP_BODY_SIZE);
                    return;
                }
            } finally {
                response.release();
            }
            answered(now);
        }
    }
}
