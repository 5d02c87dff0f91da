package io.idts.testsuite;

import io.idts.channel.ProcessResources;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What Netty's {@code SocketCloseForciblyTest} checks, over IDTS (Netty's class casts the accepted channel to
 * {@code SocketChannel} to set {@code SO_LINGER}): {@code unsafe().closeForcibly()} on one end, and the other end
 * sees the end of the stream and closes (channelInactive), without an exception (a forcible close is still a close,
 * not a dead peer), without a hang, and with no descriptor or shared mapping left behind by either end.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
public class IdtsCloseForciblyTest extends AbstractIdtsSocketTest {

    private static final long TIMEOUT_SECONDS = 10;
    private static final String ACTIVE = "channelActive";
    private static final String INACTIVE = "channelInactive";

    public IdtsCloseForciblyTest() {
        super("close-forcibly");
    }

    /**
     * Netty's case: the server's parent handler takes the accepted channel, before it is registered, and closes it
     * forcibly. The client's connect succeeded (the handshake was over), then its channel closes by itself.
     */
    @Test
    public void testCloseForcibly(TestInfo testInfo) throws Throwable {
        run(testInfo, this::testCloseForcibly);
    }

    private void testCloseForcibly(ServerBootstrap sb, Bootstrap cb) throws Throwable {
        ProcessResources before = ProcessResources.snapshot();
        AtomicReference<Channel> child = new AtomicReference<>();
        sb.handler(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                Channel childChannel = (Channel) msg;
                child.set(childChannel);
                childChannel.unsafe().closeForcibly();
            }
        }).childHandler(new ChannelInboundHandlerAdapter());
        EventRecorder client = new EventRecorder();
        cb.handler(client);

        Channel sc = sb.bind().sync().channel();
        Channel cc = cb.connect(sc.localAddress()).channel();
        try {
            assertTrue(client.inactive.await(TIMEOUT_SECONDS, TimeUnit.SECONDS),
                    "the client did not close after the server closed its channel forcibly; events " + client.events);
            assertTrue(cc.closeFuture().await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
            assertNotNull(child.get());
            assertFalse(child.get().isOpen());
            assertEquals(List.of(ACTIVE, INACTIVE), new ArrayList<>(client.events));
        } finally {
            cc.close().sync();
            sc.close().sync();
        }
        before.assertNoneLeaked("after a forcible close of an accepted channel");
    }

    /**
     * A registered, active channel that wrote 10000 bytes is closed forcibly on its event loop, on the server or on
     * the client end: the other end receives every byte, then closes. A later close() of the forcibly closed channel
     * completes its close future and deregisters it.
     */
    @Test
    public void testCloseForciblyAfterWrites(TestInfo testInfo) throws Throwable {
        run(testInfo, (sb, cb) -> {
            testCloseForciblyAfterWrites(sb, cb, true);
            testCloseForciblyAfterWrites(sb, cb, false);
        });
    }

    private void testCloseForciblyAfterWrites(ServerBootstrap sb, Bootstrap cb, boolean serverCloses)
            throws Throwable {
        final int bytes = 10_000;
        ProcessResources before = ProcessResources.snapshot();
        EventRecorder server = new EventRecorder();
        EventRecorder client = new EventRecorder();
        EventRecorder closer = serverCloses ? server : client;
        closer.writeThenCloseForcibly = bytes;
        sb.handler(new ChannelInboundHandlerAdapter()).childHandler(server);
        cb.handler(client);

        Channel sc = sb.bind().sync().channel();
        Channel cc = cb.connect(sc.localAddress()).sync().channel();
        EventRecorder other = serverCloses ? client : server;
        try {
            assertTrue(other.inactive.await(TIMEOUT_SECONDS, TimeUnit.SECONDS), "the "
                    + (serverCloses ? "client" : "server") + " end did not close; its events " + other.events);
            assertEquals(bytes, other.received, "bytes received before the end of the stream");
            assertEquals(List.of(ACTIVE, INACTIVE), new ArrayList<>(other.events));
            Channel closed = closer.channel;
            assertTrue(closer.forciblyClosed.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
            assertFalse(closed.isOpen());
            assertFalse(closed.isActive());
            // closeForcibly() fires no events; close() afterwards completes the close future and deregisters.
            assertEquals(List.of(ACTIVE), new ArrayList<>(closer.events));
            assertTrue(closed.close().await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
            assertTrue(closed.closeFuture().isDone());
        } finally {
            cc.close().sync();
            sc.close().sync();
        }
        before.assertNoneLeaked("after a forcible close of the " + (serverCloses ? "server's" : "client's")
                + " channel");
    }

    @ChannelHandler.Sharable
    private static final class EventRecorder extends ChannelInboundHandlerAdapter {
        final Queue<Object> events = new ConcurrentLinkedQueue<>();
        final CountDownLatch inactive = new CountDownLatch(1);
        final CountDownLatch forciblyClosed = new CountDownLatch(1);
        volatile int writeThenCloseForcibly;
        volatile int received;
        volatile Channel channel;

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            channel = ctx.channel();
            events.add(ACTIVE);
            int bytes = writeThenCloseForcibly;
            if (bytes > 0) {
                ByteBuf buf = ctx.alloc().buffer(bytes).writeZero(bytes);
                ctx.writeAndFlush(buf).addListener(f -> {
                    if (!f.isSuccess()) {
                        events.add(f.cause());
                    }
                    ctx.channel().unsafe().closeForcibly();
                    forciblyClosed.countDown();
                });
            }
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            received += ((ByteBuf) msg).readableBytes();
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            events.add(INACTIVE);
            inactive.countDown();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            events.add(cause);
        }
    }
}
