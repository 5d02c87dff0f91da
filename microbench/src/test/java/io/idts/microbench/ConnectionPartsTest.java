package io.idts.microbench;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.local.LocalAddress;
import io.netty.channel.local.LocalChannel;
import io.netty.channel.local.LocalIoHandler;
import io.netty.channel.local.LocalServerChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The set-up and HTTP parts' client loads against the benchmark's own server pipelines, in one process over Netty's
 * local transport: that they do what they say (a new connection per set-up, every response checked), and that a
 * server that answers wrongly fails the load, as it fails the benchmark's run.
 */
class ConnectionPartsTest {

    private static final long DEADLINE_SECONDS = 20;

    /**
     * One event loop thread for the server's channels and one for the client's, as in the benchmark (two processes,
     * one loop each). With both ends on one thread, the local transport stalled after the first response on each
     * HTTP connection: the two ends' reads and writes then run inside each other, which no real transport does.
     */
    private EventLoopGroup serverGroup;
    private EventLoopGroup clientGroup;
    private Channel server;

    @BeforeEach
    void startLoops() {
        serverGroup = new MultiThreadIoEventLoopGroup(1, LocalIoHandler.newFactory());
        clientGroup = new MultiThreadIoEventLoopGroup(1, LocalIoHandler.newFactory());
    }

    @AfterEach
    void stopLoops() {
        if (server != null) {
            server.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
        }
        for (EventLoopGroup group : new EventLoopGroup[] { clientGroup, serverGroup }) {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void everySetUpIsANewConnectionThatEchoesAndCloses() throws Exception {
        ConnectionCounter counter = new ConnectionCounter();
        LocalAddress address = serve("setups", counter, ServerHandlers.ECHO);
        NettyClient.Setups load = setups(address);
        load.beginMeasure();
        load.start();
        awaitProgress(load, 20);
        load.stop("set-ups");
        long setUps = load.histogram.getTotalCount();
        assertTrue(setUps >= 20, "set-ups: " + setUps);
        load.close();
        // One connection per set-up (every set-up begun is finished before the load stops), each closed again.
        assertEquals(setUps, counter.accepted.get(), "connections accepted for " + setUps + " set-ups");
        awaitEqual(counter.accepted, counter.closed);
        assertTrue(load.histogram.getMinValue() > 0, "a set-up's time");
    }

    @Test
    void aSetUpWhoseEchoIsTooLongFailsTheLoad() throws Exception {
        LocalAddress address = serve("doubling", null, new DoublingEcho());
        NettyClient.Setups load = setups(address);
        load.start();
        awaitFailure(load);
        Exception e = assertThrows(IllegalStateException.class, () -> load.stop("set-ups"));
        assertTrue(e.getMessage().contains("echo of 2 bytes for 1 sent"), e.getMessage());
        load.close();
    }

    @Test
    void aServerThatClosesBeforeTheEchoFailsTheLoad() throws Exception {
        LocalAddress address = serve("closing", null, new ClosingOnActive());
        NettyClient.Setups load = setups(address);
        load.start();
        awaitFailure(load);
        // Mostly "closed a connection before its echo"; the write of the byte may fail first, as the channel closes.
        Exception e = assertThrows(IllegalStateException.class, () -> load.stop("set-ups"));
        assertTrue(e.getMessage().startsWith("set-ups failed"), e.getMessage());
        load.close();
    }

    @Test
    void httpRequestsGoThroughNettysCodecOnBothEnds() throws Exception {
        LocalAddress address = serve("http", null, ServerHandlers.HTTP);
        NettyClient.HttpRequests load = http(address, 3);
        load.beginMeasure();
        for (Channel ch : load.channels) {
            ch.eventLoop().execute(ch.pipeline().get(NettyClient.HttpRequestHandler.class)::send);
        }
        awaitProgress(load, 30);
        load.stop("HTTP");
        assertNull(load.failure());
        assertTrue(load.histogram.getTotalCount() >= 30, "requests: " + load.histogram.getTotalCount());
        // Keep-alive: the three connections carried every request.
        for (Channel ch : load.channels) {
            assertTrue(ch.isActive(), "a keep-alive connection closed");
        }
        load.close();
    }

    @Test
    void aWrongHttpAnswerFailsTheLoad() throws Exception {
        LocalAddress address = serve("http-404", null, new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(1024), new NotFound());
            }
        });
        NettyClient.HttpRequests load = http(address, 1);
        Channel ch = load.channels.get(0);
        ch.eventLoop().execute(ch.pipeline().get(NettyClient.HttpRequestHandler.class)::send);
        awaitFailure(load);
        Exception e = assertThrows(IllegalStateException.class, () -> load.stop("HTTP"));
        assertTrue(e.getMessage().contains("404"), e.getMessage());
        load.close();
    }

    private LocalAddress serve(String name, ConnectionCounter counter, ChannelHandler handler) throws Exception {
        LocalAddress address = new LocalAddress("idts-bench-" + name + "-" + System.nanoTime());
        server = new ServerBootstrap().group(serverGroup).channel(LocalServerChannel.class)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        if (counter != null) {
                            ch.pipeline().addLast(counter);
                        }
                        ch.pipeline().addLast(handler);
                    }
                }).bind(address).sync().channel();
        return address;
    }

    private NettyClient.Setups setups(LocalAddress address) {
        return new NettyClient.Setups(Settings.SETUP_ECHO_SIZE,
                new Bootstrap().group(clientGroup).channel(LocalChannel.class), address, Transport.EPOLL_TCP);
    }

    private NettyClient.HttpRequests http(LocalAddress address, int n) throws Exception {
        NettyClient.HttpRequests load = new NettyClient.HttpRequests(n, Transport.EPOLL_TCP);
        for (int i = 0; i < n; i++) {
            ChannelFuture f = new Bootstrap().group(clientGroup).channel(LocalChannel.class)
                    .handler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ch.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(64 * 1024),
                                    new NettyClient.HttpRequestHandler(load));
                        }
                    }).connect(address).sync();
            load.channels.add(f.channel());
        }
        return load;
    }

    private static void awaitProgress(Load load, long n) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(DEADLINE_SECONDS);
        while (load.progress() < n) {
            load.check("the load");
            assertTrue(System.nanoTime() - deadline < 0, "progress " + load.progress() + " of " + n);
            Thread.sleep(1);
        }
    }

    private static void awaitFailure(Load load) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(DEADLINE_SECONDS);
        while (load.failure() == null) {
            assertTrue(System.nanoTime() - deadline < 0, "the load did not fail");
            Thread.sleep(1);
        }
    }

    private static void awaitEqual(AtomicInteger expected, AtomicInteger actual) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(DEADLINE_SECONDS);
        while (expected.get() != actual.get() && System.nanoTime() - deadline < 0) {
            Thread.sleep(1);
        }
        assertEquals(expected.get(), actual.get(), "connections accepted and closed");
    }

    /** Counts the server's connections as they open and close. */
    @Sharable
    private static final class ConnectionCounter extends ChannelInboundHandlerAdapter {
        final AtomicInteger accepted = new AtomicInteger();
        final AtomicInteger closed = new AtomicInteger();

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            accepted.incrementAndGet();
            ctx.fireChannelActive();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            closed.incrementAndGet();
            ctx.fireChannelInactive();
        }
    }

    /** Echoes every byte twice: the set-up's client gets more than it sent. */
    @Sharable
    private static final class DoublingEcho extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf in = (ByteBuf) msg;
            ByteBuf out = Unpooled.buffer(in.readableBytes() * 2).writeBytes(in, in.readerIndex(), in.readableBytes())
                    .writeBytes(in);
            ReferenceCountUtil.release(in);
            ctx.writeAndFlush(out);
        }
    }

    /** Closes every connection as soon as it is accepted. */
    @Sharable
    private static final class ClosingOnActive extends ChannelInboundHandlerAdapter {
        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            ctx.close();
        }
    }

    /** Answers every request with 404 and no body. */
    private static final class NotFound extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            DefaultFullHttpResponse response = new DefaultFullHttpResponse(request.protocolVersion(),
                    HttpResponseStatus.NOT_FOUND, Unpooled.EMPTY_BUFFER);
            response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, 0);
            ctx.writeAndFlush(response);
        }
    }
}
