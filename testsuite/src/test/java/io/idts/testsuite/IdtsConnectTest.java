package io.idts.testsuite;

import io.idts.channel.IdtsAddress;
import io.idts.channel.ProcessResources;
import io.idts.linux.FileDescriptors;
import io.idts.linux.UnixDomainSocket;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.ConnectTimeoutException;
import io.netty.util.concurrent.ImmediateEventExecutor;
import io.netty.util.concurrent.Promise;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;

import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.nio.channels.ConnectionPendingException;
import java.util.Queue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Connecting, over IDTS, as Netty's {@code SocketConnectionAttemptTest} and {@code SocketConnectTest} check it for
 * TCP (both cast to {@code InetSocketAddress} or open a {@code java.net.Socket}, so they cannot run as they are):
 * a name nobody listens on, an address of the wrong type, a server that never answers the handshake (connect
 * timeout, connect cancellation, a second connect while the first is pending), the addresses after a connect, and
 * the events of a channel closed as soon as it connected. Event loops spinning and not spinning.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
public class IdtsConnectTest extends AbstractIdtsSocketTest {

    private static final long TIMEOUT_SECONDS = 10;
    /** Short, so that the timeout case is quick; only a lower bound on when the connect fails. */
    private static final int CONNECT_TIMEOUT_MILLIS = 200;

    /** A handler that records that channelActive was (wrongly) called. */
    @ChannelHandler.Sharable
    private static final class NeverActive extends ChannelInboundHandlerAdapter {
        final Queue<Object> events = new ConcurrentLinkedQueue<>();

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            events.add("channelActive");
        }
    }

    private static void assertClosed(Channel channel) throws InterruptedException {
        assertTrue(channel.closeFuture().await(TIMEOUT_SECONDS, TimeUnit.SECONDS), "channel not closed: " + channel);
        assertFalse(channel.isOpen());
        assertFalse(channel.isActive());
    }

    public IdtsConnectTest() {
        super("connect");
    }

    /** SocketConnectionAttemptTest.testConnectRefused and ...HalfClosure: nobody listens on the name. */
    @Test
    public void testConnectRefused(TestInfo testInfo) throws Throwable {
        run(testInfo, (sb, cb) -> {
            testConnectRefused(cb, false);
            testConnectRefused(cb, true);
        });
    }

    private void testConnectRefused(Bootstrap cb, boolean halfClosure) throws Throwable {
        IdtsAddress nobody = IdtsSocketTestPermutation.newSocketAddress("nobody-listens");
        NeverActive handler = new NeverActive();
        ChannelFuture future = cb.handler(handler).option(ChannelOption.ALLOW_HALF_CLOSURE, halfClosure)
                .connect(nobody);
        assertTrue(future.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        assertInstanceOf(ConnectException.class, future.cause());
        String message = future.cause().getMessage();
        assertNotNull(message);
        assertTrue(message.contains(nobody.toString()), "the message does not name the address " + nobody + ": "
                + message);
        assertClosed(future.channel());
        assertTrue(handler.events.isEmpty(), "channelActive was called: " + handler.events);
    }

    /** An address that is not an IdtsAddress: a clear IllegalArgumentException, and the channel closes. */
    @Test
    public void testBadAddressType(TestInfo testInfo) throws Throwable {
        run(testInfo, this::testBadAddressType);
    }

    private void testBadAddressType(ServerBootstrap sb, Bootstrap cb) throws Throwable {
        InetSocketAddress tcp = new InetSocketAddress("127.0.0.1", 9);
        NeverActive handler = new NeverActive();
        cb.handler(handler);

        ChannelFuture connect = cb.connect(tcp);
        assertTrue(connect.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        assertInstanceOf(IllegalArgumentException.class, connect.cause());
        assertTrue(connect.cause().getMessage().contains("IdtsAddress"), connect.cause().getMessage());
        assertClosed(connect.channel());

        ChannelFuture connectFromTcp = cb.connect(IdtsSocketTestPermutation.newSocketAddress("bad-local"), tcp);
        assertTrue(connectFromTcp.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        assertInstanceOf(IllegalArgumentException.class, connectFromTcp.cause());
        assertTrue(connectFromTcp.cause().getMessage().contains("IdtsAddress"), connectFromTcp.cause().getMessage());
        assertClosed(connectFromTcp.channel());
        assertTrue(handler.events.isEmpty(), "channelActive was called: " + handler.events);

        ChannelFuture bind = sb.childHandler(new ChannelInboundHandlerAdapter()).bind(tcp);
        assertTrue(bind.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        assertInstanceOf(IllegalArgumentException.class, bind.cause());
        assertTrue(bind.cause().getMessage().contains("IdtsAddress"), bind.cause().getMessage());
        assertClosed(bind.channel());
    }

    /**
     * SocketConnectionAttemptTest.testConnectTimeout: the name is taken by a plain abstract socket that accepts
     * nothing and answers nothing, so the handshake never completes. CONNECT_TIMEOUT_MILLIS fails the connect with a
     * ConnectTimeoutException naming the address, closes the channel, and leaves no descriptor or mapping behind.
     */
    @Test
    public void testConnectTimeout(TestInfo testInfo) throws Throwable {
        run(testInfo, (sb, cb) -> testConnectTimeout(cb));
    }

    private void testConnectTimeout(Bootstrap cb) throws Throwable {
        ProcessResources before = ProcessResources.snapshot();
        IdtsAddress silent = IdtsSocketTestPermutation.newSocketAddress("silent");
        int listener = UnixDomainSocket.listen(RawIdtsPeer.abstractSocketName(silent), 8);
        try {
            NeverActive handler = new NeverActive();
            ChannelFuture future = cb.handler(handler).option(ChannelOption.CONNECT_TIMEOUT_MILLIS,
                    CONNECT_TIMEOUT_MILLIS).connect(silent);
            assertTrue(future.await(TIMEOUT_SECONDS, TimeUnit.SECONDS), "the connect timeout did not fire");
            assertInstanceOf(ConnectTimeoutException.class, future.cause());
            assertTrue(future.cause().getMessage().contains(silent.toString()), future.cause().getMessage());
            assertClosed(future.channel());
            assertTrue(handler.events.isEmpty(), "channelActive was called: " + handler.events);
        } finally {
            FileDescriptors.close(listener);
        }
        before.assertNoneLeaked("after a connect timed out");
    }

    /**
     * SocketConnectionAttemptTest.testConnectCancellation: a connect that waits for the handshake can be cancelled,
     * as with Netty's NIO and epoll channels (only OIO cannot): cancel() succeeds, the future is cancelled and the
     * channel closes.
     */
    @Test
    public void testConnectCancellation(TestInfo testInfo) throws Throwable {
        run(testInfo, (sb, cb) -> testConnectCancellation(cb));
    }

    private void testConnectCancellation(Bootstrap cb) throws Throwable {
        ProcessResources before = ProcessResources.snapshot();
        IdtsAddress silent = IdtsSocketTestPermutation.newSocketAddress("silent");
        int listener = UnixDomainSocket.listen(RawIdtsPeer.abstractSocketName(silent), 8);
        ChannelFuture future = null;
        try {
            NeverActive handler = new NeverActive();
            future = cb.handler(handler).option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 30_000).connect(silent);
            assertFalse(future.await(100), "the connect to a silent listener completed: " + future.cause());
            assertTrue(future.cancel(true), "cancel() of a pending connect returned false");
            assertTrue(future.isCancelled());
            assertClosed(future.channel());
            assertTrue(handler.events.isEmpty(), "channelActive was called: " + handler.events);
        } finally {
            if (future != null) {
                future.channel().close().sync();
            }
            FileDescriptors.close(listener);
        }
        before.assertNoneLeaked("after a connect was cancelled");
    }

    /** A second connect while the first waits for the handshake fails with ConnectionPendingException. */
    @Test
    public void testConnectWhilePending(TestInfo testInfo) throws Throwable {
        run(testInfo, (sb, cb) -> testConnectWhilePending(cb));
    }

    private void testConnectWhilePending(Bootstrap cb) throws Throwable {
        IdtsAddress silent = IdtsSocketTestPermutation.newSocketAddress("silent");
        int listener = UnixDomainSocket.listen(RawIdtsPeer.abstractSocketName(silent), 8);
        Channel cc = null;
        try {
            cc = cb.handler(new NeverActive()).option(ChannelOption.CONNECT_TIMEOUT_MILLIS, CONNECT_TIMEOUT_MILLIS)
                    .register().sync().channel();
            ChannelFuture first = cc.connect(silent);
            ChannelFuture second = cc.connect(silent);
            assertTrue(second.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
            assertInstanceOf(ConnectionPendingException.class, second.cause());
            assertTrue(first.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
            assertInstanceOf(ConnectTimeoutException.class, first.cause());
            assertClosed(cc);
        } finally {
            if (cc != null) {
                cc.close().sync();
            }
            FileDescriptors.close(listener);
        }
    }

    /**
     * SocketConnectTest.testLocalAddressAfterConnect: no addresses before the connect; afterwards the client's remote
     * address is the server's, and the two ends agree on each other's addresses.
     */
    @Test
    public void testAddressesAfterConnect(TestInfo testInfo) throws Throwable {
        run(testInfo, this::testAddressesAfterConnect);
    }

    private void testAddressesAfterConnect(ServerBootstrap sb, Bootstrap cb) throws Throwable {
        Promise<Channel> child = ImmediateEventExecutor.INSTANCE.newPromise();
        Channel serverChannel = sb.childHandler(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelActive(ChannelHandlerContext ctx) {
                child.setSuccess(ctx.channel());
            }
        }).bind().sync().channel();
        Channel clientChannel = null;
        try {
            clientChannel = cb.handler(new ChannelInboundHandlerAdapter()).register().sync().channel();
            assertNull(clientChannel.localAddress());
            assertNull(clientChannel.remoteAddress());
            clientChannel.connect(serverChannel.localAddress()).sync();
            assertNotNull(clientChannel.localAddress());
            assertEquals(serverChannel.localAddress(), clientChannel.remoteAddress());
            Channel accepted = child.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            assertEquals(serverChannel.localAddress(), accepted.localAddress());
            assertEquals(clientChannel.localAddress(), accepted.remoteAddress());
        } finally {
            if (clientChannel != null) {
                clientChannel.close().sync();
            }
            serverChannel.close().sync();
        }
    }

    /** SocketConnectTest.testChannelEventsFiredWhenClosedDirectly: active, then inactive, once each. */
    @Test
    public void testChannelEventsFiredWhenClosedDirectly(TestInfo testInfo) throws Throwable {
        run(testInfo, this::testChannelEventsFiredWhenClosedDirectly);
    }

    private void testChannelEventsFiredWhenClosedDirectly(ServerBootstrap sb, Bootstrap cb) throws Throwable {
        BlockingQueue<Integer> events = new LinkedBlockingQueue<>();
        Channel sc = sb.childHandler(new ChannelInboundHandlerAdapter()).bind().sync().channel();
        Channel cc = null;
        try {
            cb.handler(new ChannelInboundHandlerAdapter() {
                @Override
                public void channelActive(ChannelHandlerContext ctx) {
                    events.add(0);
                }

                @Override
                public void channelInactive(ChannelHandlerContext ctx) {
                    events.add(1);
                }
            });
            cc = cb.connect(sc.localAddress()).addListener(ChannelFutureListener.CLOSE).sync().channel();
            assertEquals(0, events.poll(TIMEOUT_SECONDS, TimeUnit.SECONDS), "channelActive first");
            assertEquals(1, events.poll(TIMEOUT_SECONDS, TimeUnit.SECONDS), "then channelInactive");
            assertClosed(cc);
            assertNull(events.poll(50, TimeUnit.MILLISECONDS), "no further event");
        } finally {
            if (cc != null) {
                cc.close().sync();
            }
            sc.close().sync();
        }
    }
}
