package io.idts.testsuite;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.ChannelInputShutdownReadComplete;
import io.netty.channel.socket.DuplexChannel;
import io.netty.testsuite.transport.TestsuitePermutation.BootstrapFactory;
import io.netty.testsuite.transport.socket.AbstractSocketShutdownOutputByPeerTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Netty's {@link AbstractSocketShutdownOutputByPeerTest} against IDTS, as Netty's
 * {@code EpollDomainSocketShutdownOutputByPeerTest} runs it against Unix-domain sockets: the peer is not a Netty
 * channel but {@link RawIdtsPeer}, a connector written straight against the ring protocol, whose
 * {@code shutdownOutput} raises its producer state to {@code OUTPUT_SHUTDOWN}. The server runs with its event loops
 * spinning and not spinning.
 *
 * <p>Besides Netty's two cases, the same raw peer checks the other direction and a close: it reads what an IDTS
 * channel writes until the channel's {@code shutdownOutput()} ends the stream, and its close ends the stream of an
 * IDTS channel after every byte it wrote.
 */
public class IdtsShutdownOutputByPeerTest extends AbstractSocketShutdownOutputByPeerTest<RawIdtsPeer> {

    private static final long TIMEOUT_MILLIS = 10_000;
    /** The raw peer's rings: the smallest capacity, so that a few KiB fill one. */
    private static final int RING_CAPACITY = 4096;

    @AfterAll
    public static void shutdownIdtsGroups() throws InterruptedException {
        IdtsSocketTestPermutation.INSTANCE.shutdownGroups();
    }

    @Override
    protected List<BootstrapFactory<ServerBootstrap>> newFactories() {
        List<BootstrapFactory<ServerBootstrap>> factories = new ArrayList<>();
        factories.add(IdtsSocketTestPermutation.INSTANCE.serverSocket(IdtsSocketTestPermutation.SPIN_TIME_NANOS));
        factories.add(IdtsSocketTestPermutation.INSTANCE.serverSocket(0));
        return factories;
    }

    @Override
    protected SocketAddress newSocketAddress() {
        return IdtsSocketTestPermutation.newSocketAddress("by-peer");
    }

    @Override
    protected void shutdownOutput(RawIdtsPeer s) throws IOException {
        s.shutdownOutput();
    }

    @Override
    protected void connect(RawIdtsPeer s, SocketAddress address) throws IOException {
        s.connect(address, TIMEOUT_MILLIS);
    }

    @Override
    protected void close(RawIdtsPeer s) {
        s.close();
    }

    @Override
    protected void write(RawIdtsPeer s, int data) throws IOException {
        s.write(data, TIMEOUT_MILLIS);
    }

    @Override
    protected RawIdtsPeer newSocket() {
        return new RawIdtsPeer(RING_CAPACITY);
    }

    /**
     * The server writes more than the raw peer's 4 KiB ring holds (so it waits for space, and the raw peer's reads
     * must wake it), then shuts its output down: the raw peer reads every byte, then the end of the stream.
     */
    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    public void testPeerReadsUntilShutdownOutput(TestInfo testInfo) throws Throwable {
        run(testInfo, this::testPeerReadsUntilShutdownOutput);
    }

    private void testPeerReadsUntilShutdownOutput(ServerBootstrap sb) throws Throwable {
        byte[] data = new byte[3 * RING_CAPACITY + 123];
        ThreadLocalRandom.current().nextBytes(data);
        CountDownLatch shutdownDone = new CountDownLatch(1);
        Queue<Throwable> errors = new ConcurrentLinkedQueue<>();
        Channel sc = sb.childHandler(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelActive(ChannelHandlerContext ctx) {
                ctx.writeAndFlush(ctx.alloc().buffer(data.length).writeBytes(data)).addListener(f -> {
                    if (!f.isSuccess()) {
                        errors.add(f.cause());
                    }
                    ((DuplexChannel) ctx.channel()).shutdownOutput().addListener(s -> {
                        if (!s.isSuccess()) {
                            errors.add(s.cause());
                        }
                        shutdownDone.countDown();
                    });
                });
            }

            @Override
            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                errors.add(cause);
                ctx.close();
            }
        }).bind().sync().channel();
        RawIdtsPeer peer = newSocket();
        try {
            peer.connect(sc.localAddress(), TIMEOUT_MILLIS);
            ByteArrayOutputStream received = new ByteArrayOutputStream();
            byte[] chunk = new byte[1000];
            int n;
            while ((n = peer.read(chunk, 0, chunk.length, TIMEOUT_MILLIS)) >= 0) {
                received.write(chunk, 0, n);
            }
            assertArrayEquals(data, received.toByteArray(), "bytes before the end of the stream");
            assertTrue(shutdownDone.await(TIMEOUT_MILLIS, TimeUnit.MILLISECONDS), "shutdownOutput() completed");
            assertEquals(-1, peer.read(chunk, 0, 1, TIMEOUT_MILLIS), "the end of the stream stays");
            assertTrue(errors.isEmpty(), () -> "errors on the server side: " + errors);
        } finally {
            peer.close();
            sc.close().sync();
        }
    }

    /**
     * The raw peer writes more than its 4 KiB ring holds and closes (state CLOSED, descriptors closed): the IDTS
     * channel receives every byte, then the end of the stream: with ALLOW_HALF_CLOSURE one ChannelInputShutdownEvent
     * then one ChannelInputShutdownReadComplete, without it channelInactive.
     */
    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    public void testPeerCloseEndsTheStream(TestInfo testInfo) throws Throwable {
        run(testInfo, sb -> {
            testPeerCloseEndsTheStream(sb, true);
            testPeerCloseEndsTheStream(sb, false);
        });
    }

    private void testPeerCloseEndsTheStream(ServerBootstrap sb, boolean allowHalfClosure) throws Throwable {
        byte[] data = new byte[2 * RING_CAPACITY + 77];
        ThreadLocalRandom.current().nextBytes(data);
        ByteArrayOutputStream received = new ByteArrayOutputStream();
        Queue<Object> events = new ConcurrentLinkedQueue<>();
        CountDownLatch done = new CountDownLatch(1);
        Channel sc = sb.childOption(ChannelOption.ALLOW_HALF_CLOSURE, allowHalfClosure)
                .childHandler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        ByteBuf buf = (ByteBuf) msg;
                        try {
                            synchronized (received) {
                                buf.readBytes(received, buf.readableBytes());
                            }
                        } catch (IOException e) {
                            events.add(e);
                        } finally {
                            buf.release();
                        }
                    }

                    @Override
                    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                        events.add(evt);
                        if (evt == ChannelInputShutdownReadComplete.INSTANCE) {
                            ctx.close();
                        }
                    }

                    @Override
                    public void channelInactive(ChannelHandlerContext ctx) {
                        events.add("inactive");
                        done.countDown();
                    }

                    @Override
                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                        events.add(cause);
                    }
                }).bind().sync().channel();
        RawIdtsPeer peer = newSocket();
        try {
            peer.connect(sc.localAddress(), TIMEOUT_MILLIS);
            peer.write(data, 0, data.length, TIMEOUT_MILLIS);
            peer.close();
            assertTrue(done.await(TIMEOUT_MILLIS, TimeUnit.MILLISECONDS),
                    () -> "the server's channel did not close after the raw peer closed; events: " + events);
            synchronized (received) {
                assertArrayEquals(data, received.toByteArray(), "bytes before the end of the stream");
            }
            List<Object> expected = new ArrayList<>();
            if (allowHalfClosure) {
                expected.add(ChannelInputShutdownEvent.INSTANCE);
                expected.add(ChannelInputShutdownReadComplete.INSTANCE);
            }
            expected.add("inactive");
            assertEquals(expected, new ArrayList<>(events), "events with ALLOW_HALF_CLOSURE " + allowHalfClosure);
        } finally {
            peer.close();
            sc.close().sync();
        }
    }
}
