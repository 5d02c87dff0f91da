package io.idts.testsuite;

import io.idts.channel.IdtsChannelOption;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;

import java.nio.channels.AlreadyConnectedException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Many connects over IDTS: Netty's {@code SocketMultipleConnectTest} (a second connect of a connected channel fails
 * with {@link AlreadyConnectedException}; Netty runs it for NIO only), and {@value #CLIENTS} clients connecting to one
 * server at once from every loop of the worker group, each echoing its own bytes. Event loops spinning and not.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
public class IdtsMultipleConnectTest extends AbstractIdtsSocketTest {

    private static final long TIMEOUT_SECONDS = 30;
    static final int CLIENTS = 200;
    private static final int MESSAGE_SIZE = 256;
    /** Small rings: 200 connections need no more than a few MiB of shared memory. */
    private static final int RING_CAPACITY = 4096;

    public IdtsMultipleConnectTest() {
        super("multi-connect");
    }

    /** SocketMultipleConnectTest.testMultipleConnect. */
    @Test
    public void testMultipleConnect(TestInfo testInfo) throws Throwable {
        run(testInfo, this::testMultipleConnect);
    }

    private void testMultipleConnect(ServerBootstrap sb, Bootstrap cb) throws Exception {
        Channel sc = null;
        Channel cc = null;
        try {
            sc = sb.childHandler(new ChannelInboundHandlerAdapter()).bind().syncUninterruptibly().channel();
            cc = cb.handler(new ChannelInboundHandlerAdapter()).register().syncUninterruptibly().channel();
            cc.connect(sc.localAddress()).syncUninterruptibly();
            ChannelFuture connectFuture2 = cc.connect(sc.localAddress()).await();
            assertInstanceOf(AlreadyConnectedException.class, connectFuture2.cause());
            assertTrue(cc.isActive(), "a failed second connect leaves the first connection up");
        } finally {
            if (cc != null) {
                cc.close().sync();
            }
            if (sc != null) {
                sc.close().sync();
            }
        }
    }

    /**
     * {@value #CLIENTS} connects issued at once, spread over the worker loops; every one succeeds, and every client
     * gets back exactly the {@value #MESSAGE_SIZE} random bytes it sent, which carry its index.
     */
    @Test
    public void testManyConcurrentConnects(TestInfo testInfo) throws Throwable {
        run(testInfo, this::testManyConcurrentConnects);
    }

    private void testManyConcurrentConnects(ServerBootstrap sb, Bootstrap cb) throws Throwable {
        Channel sc = sb.childHandler(new EchoServer()).bind().sync().channel();
        List<ChannelFuture> connects = new ArrayList<>(CLIENTS);
        List<CompletableFuture<byte[]>> echoes = new ArrayList<>(CLIENTS);
        List<byte[]> messages = new ArrayList<>(CLIENTS);
        List<EchoClient> handlers = new ArrayList<>(CLIENTS);
        try {
            cb.option(IdtsChannelOption.RING_CAPACITY, RING_CAPACITY);
            for (int i = 0; i < CLIENTS; i++) {
                byte[] message = new byte[MESSAGE_SIZE];
                ThreadLocalRandom.current().nextBytes(message);
                message[0] = (byte) (i >>> 8);
                message[1] = (byte) i;
                messages.add(message);
                CompletableFuture<byte[]> echo = new CompletableFuture<>();
                echoes.add(echo);
                EchoClient handler = new EchoClient(message, echo);
                handlers.add(handler);
                connects.add(cb.handler(handler).connect(sc.localAddress()));
            }
            Set<EventLoop> loops = new HashSet<>();
            for (int i = 0; i < CLIENTS; i++) {
                ChannelFuture connect = connects.get(i);
                assertTrue(connect.await(TIMEOUT_SECONDS, TimeUnit.SECONDS), "connect " + i + " did not complete");
                assertTrue(connect.isSuccess(), () -> "connect failed: " + connect.cause());
                loops.add(connect.channel().eventLoop());
            }
            assertTrue(loops.size() > 1, "the clients ran on one event loop only");
            try {
                CompletableFuture.allOf(echoes.toArray(new CompletableFuture<?>[0]))
                        .get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                List<String> missing = new ArrayList<>();
                for (int i = 0; i < CLIENTS; i++) {
                    if (!echoes.get(i).isDone()) {
                        missing.add(i + ": " + handlers.get(i));
                    }
                }
                throw new AssertionError(missing.size() + " of " + CLIENTS + " clients got no full echo within "
                        + TIMEOUT_SECONDS + " s: " + missing, e);
            }
            for (int i = 0; i < CLIENTS; i++) {
                byte[] echoed = echoes.get(i).getNow(null);
                assertArrayEquals(messages.get(i), echoed, "client " + i + " got back other bytes");
            }
        } finally {
            List<Future<?>> closes = new ArrayList<>();
            for (ChannelFuture connect : connects) {
                closes.add(connect.channel().close());
            }
            for (Future<?> close : closes) {
                close.await(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            }
            sc.close().sync();
        }
    }

    @ChannelHandler.Sharable
    private static final class EchoServer extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.writeAndFlush(msg);
        }
    }

    /** Writes its message when active and completes {@code echo} with the first message-size bytes back. */
    private static final class EchoClient extends ChannelInboundHandlerAdapter {
        private final byte[] message;
        private final CompletableFuture<byte[]> echo;
        private final byte[] received;
        private volatile int length;
        private volatile Channel channel;
        private volatile boolean written;

        EchoClient(byte[] message, CompletableFuture<byte[]> echo) {
            this.message = message;
            this.echo = echo;
            received = new byte[message.length];
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            channel = ctx.channel();
            ctx.writeAndFlush(ctx.alloc().buffer(message.length).writeBytes(message)).addListener(f -> {
                written = f.isSuccess();
                if (!f.isSuccess()) {
                    echo.completeExceptionally(f.cause());
                }
            });
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            try {
                int n = buf.readableBytes();
                if (length + n > received.length) {
                    echo.completeExceptionally(new AssertionError("more bytes back than sent: "
                            + ByteBufUtil.hexDump(buf)));
                    return;
                }
                buf.readBytes(received, length, n);
                length += n;
                if (length == received.length) {
                    echo.complete(Arrays.copyOf(received, length));
                }
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            echo.completeExceptionally(new AssertionError("closed after " + length + " bytes back"));
        }

        @Override
        public String toString() {
            return "client " + channel + (written ? ", wrote its " : ", did not write its ") + message.length
                    + " bytes, got " + length + " back";
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            echo.completeExceptionally(cause);
            ctx.close();
        }
    }
}
