package io.idts.channel;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.util.NetUtil;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The accept queue of {@link IdtsServerChannel}: as a listening socket, it completes handshakes while it does not
 * read, holds up to {@code SO_BACKLOG} connections for a later {@code read()}, and closes those it still holds when
 * it closes.
 */
final class IdtsServerChannelTest {

    private static final long TIMEOUT_SECONDS = 30;
    /** How long a connect that must not complete is given to do so anyway. */
    private static final long NOT_DONE_MILLIS = 300;

    private EventLoopGroup serverGroup;
    private EventLoopGroup clientGroup;
    private ProcessResources before;
    private IdtsAddress address;
    private final BlockingQueue<Channel> children = new LinkedBlockingQueue<>();

    @BeforeAll
    static void loadEverythingOnce() throws Exception {
        ProcessResources.warmUpIdts();
    }

    @BeforeEach
    void setUp(TestInfo info) {
        before = ProcessResources.snapshot();
        serverGroup = new IdtsEventLoopGroup(1);
        clientGroup = new IdtsEventLoopGroup(1);
        address = IdtsChannelTest.uniqueAddress(info);
    }

    @AfterEach
    void tearDown() throws Exception {
        assertTrue(ProcessResources.shutDown(clientGroup), "client group terminated");
        assertTrue(ProcessResources.shutDown(serverGroup), "server group terminated");
        before.assertNoneLeaked("after the event loop groups shut down");
    }

    @Test
    void connectCompletesWhileTheServerDoesNotReadAndTheChildComesWithRead() throws Exception {
        Channel server = bind(b -> b.option(ChannelOption.AUTO_READ, false));
        Channel client = connect(TIMEOUT_SECONDS * 1000).sync().channel();
        assertTrue(client.writeAndFlush(Unpooled.copiedBuffer("early", StandardCharsets.US_ASCII))
                .await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        assertNull(children.poll(NOT_DONE_MILLIS, TimeUnit.MILLISECONDS), "no child before read()");

        server.read();
        Channel child = children.poll(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        assertNotNull(child, "child after read()");
        assertEquals(client.localAddress(), child.remoteAddress());
        BlockingQueue<String> received = new LinkedBlockingQueue<>();
        child.pipeline().addLast(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                received.add(((ByteBuf) msg).toString(StandardCharsets.US_ASCII));
                ReferenceCountUtil.release(msg);
            }
        });
        child.config().setAutoRead(true);
        assertEquals("early", received.poll(TIMEOUT_SECONDS, TimeUnit.SECONDS), "bytes written while queued");
        client.close().sync();
    }

    @Test
    void backlogBoundsTheConnectionsWaitingToBeRead() throws Exception {
        Channel server = bind(b -> b.option(ChannelOption.AUTO_READ, false).option(ChannelOption.SO_BACKLOG, 1));
        assertEquals(1, server.config().getOption(ChannelOption.SO_BACKLOG));
        Channel first = connect(TIMEOUT_SECONDS * 1000).sync().channel();
        ChannelFuture second = connect(TIMEOUT_SECONDS * 1000);
        assertFalse(second.await(NOT_DONE_MILLIS), "second connect completed beyond a backlog of 1");

        server.read();
        Channel firstChild = children.poll(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        assertNotNull(firstChild);
        assertEquals(first.localAddress(), firstChild.remoteAddress());
        // Reading the first made room: the second completes its handshake and waits in its place.
        assertTrue(second.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        assertTrue(second.isSuccess(), () -> "second connect failed: " + second.cause());
        server.read();
        Channel secondChild = children.poll(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        assertNotNull(secondChild);
        assertEquals(second.channel().localAddress(), secondChild.remoteAddress());
        first.close().sync();
        second.channel().close().sync();
    }

    @Test
    void closingTheServerClosesTheConnectionsItHadNotHandedOver() throws Exception {
        Channel server = bind(b -> b.option(ChannelOption.AUTO_READ, false));
        Channel client = connect(TIMEOUT_SECONDS * 1000).sync().channel();
        server.close().sync();
        assertTrue(client.closeFuture().await(TIMEOUT_SECONDS, TimeUnit.SECONDS), "client closed");
        assertNull(children.poll(), "no child reached the pipeline");
    }

    @Test
    void backlogOption() {
        IdtsServerChannelConfig config = new IdtsServerChannel().config();
        assertEquals(NetUtil.SOMAXCONN, config.getBacklog());
        assertTrue(config.setOption(ChannelOption.SO_BACKLOG, 0));
        assertEquals(0, config.getOption(ChannelOption.SO_BACKLOG));
        assertTrue(config.getOptions().containsKey(ChannelOption.SO_BACKLOG));
        assertThrows(IllegalArgumentException.class, () -> config.setBacklog(-1));
    }

    private Channel bind(Consumer<ServerBootstrap> options) throws InterruptedException {
        ServerBootstrap b = new ServerBootstrap().group(serverGroup).channel(IdtsServerChannel.class)
                .childOption(ChannelOption.AUTO_READ, false)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        children.add(ch);
                    }
                });
        options.accept(b);
        return b.bind(address).sync().channel();
    }

    private ChannelFuture connect(long timeoutMillis) {
        return new Bootstrap().group(clientGroup).channel(IdtsChannel.class)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) timeoutMillis)
                .handler(new ChannelInboundHandlerAdapter())
                .connect(address);
    }
}
