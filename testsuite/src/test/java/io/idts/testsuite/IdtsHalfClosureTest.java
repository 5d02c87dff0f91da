package io.idts.testsuite;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelConfig;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.ChannelInputShutdownReadComplete;
import io.netty.channel.socket.ChannelOutputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.UncheckedBooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What Netty's {@code SocketHalfClosedTest} checks, over IDTS: Netty's class cannot run as it is (it casts to
 * {@code SocketChannel} and sets {@code SO_LINGER}), so each of its cases is mirrored here for a stream without TCP
 * specifics, with the event loops spinning and not spinning. Every case records the input-shutdown events in the
 * order they fire and checks them exactly: {@link ChannelInputShutdownEvent} once, then
 * {@link ChannelInputShutdownReadComplete} once, after every byte, and neither without {@code ALLOW_HALF_CLOSURE}
 * (the channel closes instead).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
public class IdtsHalfClosureTest extends AbstractIdtsSocketTest {

    /** Bounds every wait: only against hangs, never a timing assertion. */
    private static final long TIMEOUT_SECONDS = 10;
    private static final String INACTIVE = "channelInactive";

    private static void await(CountDownLatch latch, String what) throws InterruptedException {
        assertTrue(latch.await(TIMEOUT_SECONDS, TimeUnit.SECONDS), "timed out waiting for: " + what);
    }

    private static void closeAll(Channel... channels) throws InterruptedException {
        for (Channel channel : channels) {
            if (channel != null) {
                channel.close().sync();
            }
        }
    }

    public IdtsHalfClosureTest() {
        super("half-closure");
    }

    /**
     * SocketHalfClosedTest.testAllDataReadEventTriggeredAfterHalfClosure: auto-read off, the client reads the one
     * byte the server wrote and asks for nothing more; the server then shuts its output down. The client must still
     * learn of it (ChannelInputShutdownEvent, then ChannelInputShutdownReadComplete), as Netty's epoll and kqueue
     * channels do (Netty skips this case for NIO only).
     */
    @Test
    public void testAllDataReadEventTriggeredAfterHalfClosure(TestInfo testInfo) throws Throwable {
        run(testInfo, this::allDataReadEventTriggeredAfterHalfClosure);
    }

    private void allDataReadEventTriggeredAfterHalfClosure(ServerBootstrap sb, Bootstrap cb) throws Throwable {
        final int totalServerBytesWritten = 1;
        CountDownLatch clientReadAllData = new CountDownLatch(1);
        CountDownLatch clientInputShutdownReadComplete = new CountDownLatch(1);
        Queue<Object> clientEvents = new ConcurrentLinkedQueue<>();
        AtomicReference<Channel> serverChild = new AtomicReference<>();
        Channel serverChannel = null;
        Channel clientChannel = null;
        try {
            cb.option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                    .option(ChannelOption.AUTO_CLOSE, false)
                    .option(ChannelOption.AUTO_READ, false);
            sb.childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                    .childOption(ChannelOption.AUTO_CLOSE, false);
            sb.childHandler(new ChannelInboundHandlerAdapter() {
                @Override
                public void channelActive(ChannelHandlerContext ctx) {
                    serverChild.set(ctx.channel());
                    ByteBuf buf = ctx.alloc().buffer(totalServerBytesWritten);
                    buf.writerIndex(buf.capacity());
                    ctx.writeAndFlush(buf);
                }

                @Override
                public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                    ctx.close();
                }
            });
            cb.handler(new ChannelInboundHandlerAdapter() {
                private int bytesRead;

                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                    ByteBuf buf = (ByteBuf) msg;
                    bytesRead += buf.readableBytes();
                    buf.release();
                }

                @Override
                public void channelReadComplete(ChannelHandlerContext ctx) {
                    if (bytesRead == totalServerBytesWritten) {
                        // Bounce through the loop so that the read is over; and ask for no more reads.
                        ctx.executor().execute(clientReadAllData::countDown);
                    } else {
                        ctx.read();
                    }
                }

                @Override
                public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                    clientEvents.add(evt);
                    if (evt == ChannelInputShutdownReadComplete.INSTANCE) {
                        clientInputShutdownReadComplete.countDown();
                        ctx.close();
                    }
                }

                @Override
                public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                    clientEvents.add(cause);
                    ctx.close();
                }
            });

            serverChannel = sb.bind().sync().channel();
            clientChannel = cb.connect(serverChannel.localAddress()).sync().channel();
            clientChannel.read();
            await(clientReadAllData, "the client to read the server's byte");

            ((DuplexChannel) serverChild.get()).shutdownOutput().sync();

            await(clientInputShutdownReadComplete, "ChannelInputShutdownReadComplete on the client (auto-read off, "
                    + "no read pending) after the server shut its output down; events so far: " + clientEvents);
            assertTrue(clientChannel.closeFuture().await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
            assertEquals(Arrays.asList(ChannelInputShutdownEvent.INSTANCE, ChannelInputShutdownReadComplete.INSTANCE),
                    new ArrayList<>(clientEvents));
        } finally {
            closeAll(clientChannel, serverChannel);
        }
    }

    /**
     * The same situation without half-closure: auto-read off, the client read what it asked for and asks for nothing
     * more, then the server closes. Netty's epoll and kqueue channels close the client (they watch for the peer's
     * end of stream whatever the read interest); the client must not stay open, and hold its ring, forever.
     */
    @Test
    public void testPeerCloseNoticedWithoutReadPending(TestInfo testInfo) throws Throwable {
        run(testInfo, this::testPeerCloseNoticedWithoutReadPending);
    }

    private void testPeerCloseNoticedWithoutReadPending(ServerBootstrap sb, Bootstrap cb) throws Throwable {
        CountDownLatch clientReadAllData = new CountDownLatch(1);
        CountDownLatch clientInactive = new CountDownLatch(1);
        Queue<Object> clientEvents = new ConcurrentLinkedQueue<>();
        AtomicReference<Channel> serverChild = new AtomicReference<>();
        Channel serverChannel = null;
        Channel clientChannel = null;
        try {
            cb.option(ChannelOption.ALLOW_HALF_CLOSURE, false).option(ChannelOption.AUTO_READ, false);
            sb.childHandler(new ChannelInboundHandlerAdapter() {
                @Override
                public void channelActive(ChannelHandlerContext ctx) {
                    serverChild.set(ctx.channel());
                    ctx.writeAndFlush(ctx.alloc().buffer(1).writeByte(42));
                }
            });
            cb.handler(new ChannelInboundHandlerAdapter() {
                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                    ReferenceCountUtil.release(msg);
                }

                @Override
                public void channelReadComplete(ChannelHandlerContext ctx) {
                    ctx.executor().execute(clientReadAllData::countDown);
                }

                @Override
                public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                    clientEvents.add(evt);
                }

                @Override
                public void channelInactive(ChannelHandlerContext ctx) {
                    clientEvents.add(INACTIVE);
                    clientInactive.countDown();
                }
            });

            serverChannel = sb.bind().sync().channel();
            clientChannel = cb.connect(serverChannel.localAddress()).sync().channel();
            clientChannel.read();
            await(clientReadAllData, "the client to read the server's byte");

            serverChild.get().close().sync();

            await(clientInactive, "the client (auto-read off, no read pending, no half-closure) to close after the "
                    + "server closed; events so far: " + clientEvents);
            assertEquals(List.of(INACTIVE), new ArrayList<>(clientEvents));
        } finally {
            closeAll(clientChannel, serverChannel);
        }
    }

    /**
     * SocketHalfClosedTest.testHalfClosureReceiveDataOnFinalWait2StateWhenSoLingerSet, without SO_LINGER: the server
     * shuts its output down as soon as it is active; the client, on ChannelInputShutdownEvent, writes 16 bytes, and
     * the server, whose own output is shut down, still receives them all.
     */
    @Test
    public void testWritesAfterPeerShutdownOutputAreReceived(TestInfo testInfo) throws Throwable {
        run(testInfo, this::testWritesAfterPeerShutdownOutputAreReceived);
    }

    private void testWritesAfterPeerShutdownOutputAreReceived(ServerBootstrap sb, Bootstrap cb) throws Throwable {
        final int replyBytes = 16;
        CountDownLatch serverReadAll = new CountDownLatch(1);
        CountDownLatch serverInactive = new CountDownLatch(1);
        AtomicInteger serverBytes = new AtomicInteger();
        AtomicReference<Boolean> serverOutputShutdownWhenRead = new AtomicReference<>();
        Queue<Object> clientEvents = new ConcurrentLinkedQueue<>();
        Queue<Object> clientWriteResults = new ConcurrentLinkedQueue<>();
        Channel serverChannel = null;
        Channel clientChannel = null;
        try {
            sb.childHandler(new ChannelInboundHandlerAdapter() {
                @Override
                public void channelActive(ChannelHandlerContext ctx) {
                    ((DuplexChannel) ctx.channel()).shutdownOutput();
                }

                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                    serverOutputShutdownWhenRead.compareAndSet(null,
                            ((DuplexChannel) ctx.channel()).isOutputShutdown());
                    if (serverBytes.addAndGet(((ByteBuf) msg).readableBytes()) == replyBytes) {
                        serverReadAll.countDown();
                    }
                    ReferenceCountUtil.release(msg);
                }

                @Override
                public void channelInactive(ChannelHandlerContext ctx) {
                    serverInactive.countDown();
                }
            });
            cb.option(ChannelOption.ALLOW_HALF_CLOSURE, true).handler(new ChannelInboundHandlerAdapter() {
                @Override
                public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                    clientEvents.add(evt);
                    if (evt == ChannelInputShutdownEvent.INSTANCE) {
                        ctx.writeAndFlush(ctx.alloc().buffer().writeZero(replyBytes)).addListener(
                                f -> clientWriteResults.add(f.isSuccess() ? "success" : f.cause()));
                    } else if (evt == ChannelInputShutdownReadComplete.INSTANCE) {
                        ctx.close();
                    }
                }
            });

            serverChannel = sb.bind().sync().channel();
            clientChannel = cb.connect(serverChannel.localAddress()).sync().channel();
            await(serverReadAll, "the server to receive the client's " + replyBytes + " bytes (received "
                    + serverBytes + "; client events " + clientEvents + ")");
            assertTrue(clientChannel.closeFuture().await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
            // The client closed after its write: the server (no half-closure) sees the end and closes.
            await(serverInactive, "the server child to close after the client closed");
            assertEquals(replyBytes, serverBytes.get());
            assertEquals(Boolean.TRUE, serverOutputShutdownWhenRead.get());
            assertEquals(Arrays.asList(ChannelInputShutdownEvent.INSTANCE, ChannelInputShutdownReadComplete.INSTANCE),
                    new ArrayList<>(clientEvents));
            assertEquals(List.of("success"), new ArrayList<>(clientWriteResults));
        } finally {
            closeAll(clientChannel, serverChannel);
        }
    }

    /**
     * SocketHalfClosedTest.testHalfClosureOnlyOneEventWhenAutoRead: auto-read on, the server ends its output (by
     * shutdownOutput(), and by close(), which Netty's version ends up doing); the client gets exactly one
     * ChannelInputShutdownEvent and one ChannelInputShutdownReadComplete, in that order, and no second pair during
     * the 100 ms it keeps the channel open afterwards.
     */
    @Test
    public void testHalfClosureOnlyOneEventWhenAutoRead(TestInfo testInfo) throws Throwable {
        run(testInfo, (sb, cb) -> {
            testHalfClosureOnlyOneEventWhenAutoRead(sb, cb, false);
            testHalfClosureOnlyOneEventWhenAutoRead(sb, cb, true);
        });
    }

    private void testHalfClosureOnlyOneEventWhenAutoRead(ServerBootstrap sb, Bootstrap cb, boolean serverCloses)
            throws Throwable {
        Channel serverChannel = null;
        Channel clientChannel = null;
        Queue<Object> clientEvents = new ConcurrentLinkedQueue<>();
        try {
            cb.option(ChannelOption.ALLOW_HALF_CLOSURE, true).option(ChannelOption.AUTO_READ, true);
            sb.childHandler(new ChannelInboundHandlerAdapter() {
                @Override
                public void channelActive(ChannelHandlerContext ctx) {
                    if (serverCloses) {
                        ctx.close();
                    } else {
                        ((DuplexChannel) ctx.channel()).shutdownOutput();
                    }
                }

                @Override
                public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                    ctx.close();
                }
            });
            cb.handler(new ChannelInboundHandlerAdapter() {
                @Override
                public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                    clientEvents.add(evt);
                    if (evt == ChannelInputShutdownReadComplete.INSTANCE) {
                        ctx.executor().schedule(() -> ctx.close(), 100, TimeUnit.MILLISECONDS);
                    }
                }

                @Override
                public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                    clientEvents.add(cause);
                    ctx.close();
                }
            });

            serverChannel = sb.bind().sync().channel();
            clientChannel = cb.connect(serverChannel.localAddress()).sync().channel();
            assertTrue(clientChannel.closeFuture().await(TIMEOUT_SECONDS, TimeUnit.SECONDS),
                    "the client did not close; events: " + clientEvents);
            assertEquals(Arrays.asList(ChannelInputShutdownEvent.INSTANCE, ChannelInputShutdownReadComplete.INSTANCE),
                    new ArrayList<>(clientEvents), "server " + (serverCloses ? "closes" : "shuts its output down"));
        } finally {
            closeAll(clientChannel, serverChannel);
        }
    }

    /**
     * SocketHalfClosedTest.testAllDataReadAfterHalfClosure: the server writes 16 KiB and shuts its output down once
     * the write completed; the client, reading one byte per buffer and two buffers per read loop, auto-read on and
     * off, reads all 16 KiB before ChannelInputShutdownEvent, with few read-completes that carried no data.
     */
    @Test
    public void testAllDataReadAfterHalfClosure(TestInfo testInfo) throws Throwable {
        run(testInfo, (sb, cb) -> {
            testAllDataReadAfterHalfClosure(true, sb, cb);
            testAllDataReadAfterHalfClosure(false, sb, cb);
        });
    }

    private void testAllDataReadAfterHalfClosure(boolean autoRead, ServerBootstrap sb, Bootstrap cb)
            throws Throwable {
        final int totalServerBytesWritten = 1024 * 16;
        final int numReadsPerReadLoop = 2;
        CountDownLatch clientReadAllData = new CountDownLatch(1);
        CountDownLatch clientClosed = new CountDownLatch(1);
        AtomicInteger clientReadCompletes = new AtomicInteger();
        AtomicInteger clientZeroDataReadCompletes = new AtomicInteger();
        AtomicInteger bytesReadAtInputShutdown = new AtomicInteger(-1);
        Queue<Object> clientEvents = new ConcurrentLinkedQueue<>();
        Queue<Object> serverResults = new ConcurrentLinkedQueue<>();
        Channel serverChannel = null;
        Channel clientChannel = null;
        try {
            cb.option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                    .option(ChannelOption.AUTO_READ, autoRead)
                    .option(ChannelOption.RECVBUF_ALLOCATOR, new OneByteReadsAllocator(numReadsPerReadLoop));
            sb.childHandler(new ChannelInboundHandlerAdapter() {
                @Override
                public void channelActive(ChannelHandlerContext ctx) {
                    ByteBuf buf = ctx.alloc().buffer(totalServerBytesWritten);
                    buf.writerIndex(buf.capacity());
                    ctx.writeAndFlush(buf).addListener((ChannelFutureListener) future -> {
                        serverResults.add(future.isSuccess() ? "written" : future.cause());
                        ((DuplexChannel) future.channel()).shutdownOutput().addListener(
                                f -> serverResults.add(f.isSuccess() ? "shutdownOutput" : f.cause()));
                    });
                }

                @Override
                public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                    serverResults.add(cause);
                    ctx.close();
                }
            });
            cb.handler(new ChannelInboundHandlerAdapter() {
                private int bytesRead;
                private int bytesSinceReadComplete;

                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                    ByteBuf buf = (ByteBuf) msg;
                    bytesRead += buf.readableBytes();
                    bytesSinceReadComplete += buf.readableBytes();
                    buf.release();
                }

                @Override
                public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                    clientEvents.add(evt);
                    if (evt == ChannelInputShutdownEvent.INSTANCE) {
                        bytesReadAtInputShutdown.set(bytesRead);
                    } else if (evt == ChannelInputShutdownReadComplete.INSTANCE) {
                        ctx.close();
                    }
                }

                @Override
                public void channelReadComplete(ChannelHandlerContext ctx) {
                    if (bytesSinceReadComplete == 0) {
                        clientZeroDataReadCompletes.incrementAndGet();
                    } else {
                        bytesSinceReadComplete = 0;
                    }
                    clientReadCompletes.incrementAndGet();
                    if (bytesRead == totalServerBytesWritten) {
                        clientReadAllData.countDown();
                    }
                    if (!autoRead) {
                        ctx.read();
                    }
                }

                @Override
                public void channelInactive(ChannelHandlerContext ctx) {
                    clientClosed.countDown();
                }

                @Override
                public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                    clientEvents.add(cause);
                    ctx.close();
                }
            });

            serverChannel = sb.bind().sync().channel();
            clientChannel = cb.connect(serverChannel.localAddress()).sync().channel();
            clientChannel.read();

            await(clientReadAllData, "the client to read all " + totalServerBytesWritten + " bytes (auto-read "
                    + autoRead + ")");
            await(clientClosed, "the client to close on ChannelInputShutdownReadComplete; events: " + clientEvents);
            assertEquals(Arrays.asList(ChannelInputShutdownEvent.INSTANCE, ChannelInputShutdownReadComplete.INSTANCE),
                    new ArrayList<>(clientEvents), "auto-read " + autoRead);
            assertEquals(totalServerBytesWritten, bytesReadAtInputShutdown.get(),
                    "bytes read when ChannelInputShutdownEvent fired");
            assertTrue(totalServerBytesWritten > clientReadCompletes.get(),
                    "too many read complete events: " + clientReadCompletes.get());
            assertTrue(clientZeroDataReadCompletes.get() <= 2, "too many readComplete with no data: "
                    + clientZeroDataReadCompletes.get() + " readComplete: " + clientReadCompletes.get());
            assertEquals(List.of("written", "shutdownOutput"), new ArrayList<>(serverResults));
        } finally {
            closeAll(clientChannel, serverChannel);
        }
    }

    /**
     * SocketHalfClosedTest.testAllDataReadClosure: the server writes 16 KiB and closes once the write completed; the
     * client, auto-read on and off, half-closure allowed or not, reads everything, then gets the input-shutdown
     * events (and stays open until it closes itself) or closes.
     */
    @Test
    public void testAllDataReadClosure(TestInfo testInfo) throws Throwable {
        run(testInfo, (sb, cb) -> {
            testAllDataReadClosure(true, false, sb, cb);
            testAllDataReadClosure(true, true, sb, cb);
            testAllDataReadClosure(false, false, sb, cb);
            testAllDataReadClosure(false, true, sb, cb);
        });
    }

    private void testAllDataReadClosure(boolean autoRead, boolean allowHalfClosed, ServerBootstrap sb,
                                        Bootstrap cb) throws Throwable {
        final int totalServerBytesWritten = 1024 * 16;
        final int numReadsPerReadLoop = 2;
        CountDownLatch clientReadAllData = new CountDownLatch(1);
        CountDownLatch clientInactive = new CountDownLatch(1);
        AtomicInteger clientReadCompletes = new AtomicInteger();
        AtomicInteger bytesReadAtEnd = new AtomicInteger(-1);
        AtomicReference<Boolean> openAtReadComplete = new AtomicReference<>();
        Queue<Object> clientEvents = new ConcurrentLinkedQueue<>();
        Channel serverChannel = null;
        Channel clientChannel = null;
        try {
            cb.option(ChannelOption.ALLOW_HALF_CLOSURE, allowHalfClosed)
                    .option(ChannelOption.AUTO_READ, autoRead)
                    .option(ChannelOption.RECVBUF_ALLOCATOR, new OneByteReadsAllocator(numReadsPerReadLoop));
            sb.childHandler(new ChannelInboundHandlerAdapter() {
                @Override
                public void channelActive(ChannelHandlerContext ctx) {
                    ByteBuf buf = ctx.alloc().buffer(totalServerBytesWritten);
                    buf.writerIndex(buf.capacity());
                    ctx.writeAndFlush(buf).addListener(ChannelFutureListener.CLOSE);
                }

                @Override
                public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                    ctx.close();
                }
            });
            cb.handler(new ChannelInboundHandlerAdapter() {
                private int bytesRead;

                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                    ByteBuf buf = (ByteBuf) msg;
                    bytesRead += buf.readableBytes();
                    buf.release();
                }

                @Override
                public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                    clientEvents.add(evt);
                    if (evt == ChannelInputShutdownEvent.INSTANCE) {
                        bytesReadAtEnd.set(bytesRead);
                    } else if (evt == ChannelInputShutdownReadComplete.INSTANCE) {
                        openAtReadComplete.set(ctx.channel().isOpen());
                        ctx.close();
                    }
                }

                @Override
                public void channelInactive(ChannelHandlerContext ctx) {
                    clientEvents.add(INACTIVE);
                    if (!allowHalfClosed) {
                        bytesReadAtEnd.set(bytesRead);
                    }
                    clientInactive.countDown();
                }

                @Override
                public void channelReadComplete(ChannelHandlerContext ctx) {
                    clientReadCompletes.incrementAndGet();
                    if (bytesRead == totalServerBytesWritten) {
                        clientReadAllData.countDown();
                    }
                    if (!autoRead) {
                        ctx.read();
                    }
                }

                @Override
                public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                    clientEvents.add(cause);
                    ctx.close();
                }
            });

            serverChannel = sb.bind().sync().channel();
            clientChannel = cb.connect(serverChannel.localAddress()).sync().channel();
            clientChannel.read();

            String when = "auto-read " + autoRead + ", half-closure " + allowHalfClosed;
            await(clientReadAllData, "the client to read all bytes, " + when);
            await(clientInactive, "the client to close, " + when + "; events: " + clientEvents);
            List<Object> expected = allowHalfClosed
                    ? Arrays.asList(ChannelInputShutdownEvent.INSTANCE, ChannelInputShutdownReadComplete.INSTANCE,
                            INACTIVE)
                    : List.of(INACTIVE);
            assertEquals(expected, new ArrayList<>(clientEvents), when);
            assertEquals(totalServerBytesWritten, bytesReadAtEnd.get(), "bytes read at the end, " + when);
            if (allowHalfClosed) {
                assertEquals(Boolean.TRUE, openAtReadComplete.get(),
                        "with half-closure the channel stays open until closed, " + when);
            }
            assertTrue(totalServerBytesWritten / numReadsPerReadLoop + 10 > clientReadCompletes.get(),
                    "too many read complete events: " + clientReadCompletes.get());
        } finally {
            closeAll(clientChannel, serverChannel);
        }
    }

    /**
     * SocketHalfClosedTest.testAutoCloseFalseDoesShutdownOutput, half-closure on and off, the client or the server
     * leading: the leader writes 100 bytes; the follower reads them, replies 100 bytes and closes. The leader then
     * writes again: with AUTO_CLOSE off the failed write shuts the leader's output down (ChannelOutputShutdownEvent)
     * instead of closing it, and the leader still reads the follower's reply.
     *
     * <p>Netty's version blocks the leader's event loop until the follower closed, so that the leader sees nothing
     * of the close before its second write. Here the leader has auto-read off until then instead, which holds the
     * same without blocking a loop the follower may share.
     */
    @Test
    public void testAutoCloseFalseDoesShutdownOutput(TestInfo testInfo) throws Throwable {
        run(testInfo, (sb, cb) -> {
            testAutoCloseFalseDoesShutdownOutput(false, false, sb, cb);
            testAutoCloseFalseDoesShutdownOutput(false, true, sb, cb);
            testAutoCloseFalseDoesShutdownOutput(true, false, sb, cb);
            testAutoCloseFalseDoesShutdownOutput(true, true, sb, cb);
        });
    }

    private void testAutoCloseFalseDoesShutdownOutput(boolean allowHalfClosed, boolean clientIsLeader,
                                                      ServerBootstrap sb, Bootstrap cb) throws Throwable {
        final int expectedBytes = 100;
        CountDownLatch doneLatch = new CountDownLatch(2);
        AtomicReference<Throwable> causeRef = new AtomicReference<>();
        Channel serverChannel = null;
        Channel clientChannel = null;
        String when = "half-closure " + allowHalfClosed + ", " + (clientIsLeader ? "client" : "server") + " leads";
        try {
            cb.option(ChannelOption.ALLOW_HALF_CLOSURE, allowHalfClosed)
                    .option(ChannelOption.AUTO_CLOSE, false)
                    .option(ChannelOption.AUTO_READ, !clientIsLeader);
            sb.childOption(ChannelOption.ALLOW_HALF_CLOSURE, allowHalfClosed)
                    .childOption(ChannelOption.AUTO_CLOSE, false)
                    .childOption(ChannelOption.AUTO_READ, clientIsLeader);

            AutoCloseFalseLeader leader = new AutoCloseFalseLeader(expectedBytes, doneLatch, causeRef);
            AutoCloseFalseFollower follower = new AutoCloseFalseFollower(expectedBytes, leader, doneLatch, causeRef);
            sb.childHandler(new ChannelInitializer<Channel>() {
                @Override
                protected void initChannel(Channel ch) {
                    ch.pipeline().addLast(clientIsLeader ? follower : leader);
                }
            });
            cb.handler(new ChannelInitializer<Channel>() {
                @Override
                protected void initChannel(Channel ch) {
                    ch.pipeline().addLast(clientIsLeader ? leader : follower);
                }
            });

            serverChannel = sb.bind().sync().channel();
            clientChannel = cb.connect(serverChannel.localAddress()).sync().channel();

            await(doneLatch, "the leader to read the reply and see its output shut down, " + when);
            assertNull(causeRef.get(), when);
            assertTrue(leader.seenOutputShutdown, when);
            assertInstanceOf(IOException.class, leader.secondWriteCause, when);
            assertTrue(leader.outputShutdownAfterSecondWrite, when);
            assertTrue(leader.openAfterSecondWrite, "AUTO_CLOSE off: the leader stays open, " + when);
        } finally {
            closeAll(clientChannel, serverChannel);
        }
    }

    private static final class AutoCloseFalseFollower extends SimpleChannelInboundHandler<ByteBuf> {
        private final int expectedBytes;
        private final AutoCloseFalseLeader leader;
        private final CountDownLatch doneLatch;
        private final AtomicReference<Throwable> causeRef;
        private int bytesRead;

        AutoCloseFalseFollower(int expectedBytes, AutoCloseFalseLeader leader, CountDownLatch doneLatch,
                               AtomicReference<Throwable> causeRef) {
            this.expectedBytes = expectedBytes;
            this.leader = leader;
            this.doneLatch = doneLatch;
            this.causeRef = causeRef;
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            checkPrematureClose();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
            checkPrematureClose();
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, ByteBuf msg) {
            bytesRead += msg.readableBytes();
            if (bytesRead >= expectedBytes) {
                // Reply, and close our end at once.
                ByteBuf buf = ctx.alloc().buffer(expectedBytes);
                buf.writerIndex(buf.writerIndex() + expectedBytes);
                ctx.writeAndFlush(buf).addListener(future -> ctx.close().addListener(f -> leader.followerClosed()));
            }
        }

        private void checkPrematureClose() {
            if (bytesRead < expectedBytes) {
                causeRef.set(new IllegalStateException("follower premature close"));
                doneLatch.countDown();
            }
        }
    }

    private static final class AutoCloseFalseLeader extends SimpleChannelInboundHandler<ByteBuf> {
        private final int expectedBytes;
        private final CountDownLatch doneLatch;
        private final AtomicReference<Throwable> causeRef;
        private volatile ChannelHandlerContext ctx;
        private ByteBuf secondWrite;
        private int bytesRead;
        volatile boolean seenOutputShutdown;
        volatile Throwable secondWriteCause;
        volatile boolean outputShutdownAfterSecondWrite;
        volatile boolean openAfterSecondWrite;

        AutoCloseFalseLeader(int expectedBytes, CountDownLatch doneLatch, AtomicReference<Throwable> causeRef) {
            this.expectedBytes = expectedBytes;
            this.doneLatch = doneLatch;
            this.causeRef = causeRef;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            this.ctx = ctx;
            ByteBuf buf = ctx.alloc().buffer(expectedBytes);
            buf.writerIndex(buf.writerIndex() + expectedBytes);
            secondWrite = buf.retainedDuplicate();
            ctx.writeAndFlush(buf);
        }

        /** Called from the follower's loop once its channel closed. */
        void followerClosed() {
            ctx.executor().execute(() -> {
                // This write must fail, and with AUTO_CLOSE off only shut the output down.
                ByteBuf buf = secondWrite;
                secondWrite = null;
                if (buf == null) {
                    return; // closed meanwhile: channelInactive reported it
                }
                ctx.writeAndFlush(buf).addListener(future -> {
                    if (future.cause() == null) {
                        causeRef.set(new IllegalStateException("second write should have failed!"));
                        doneLatch.countDown();
                    } else {
                        secondWriteCause = future.cause();
                    }
                });
                outputShutdownAfterSecondWrite = ((DuplexChannel) ctx.channel()).isOutputShutdown();
                openAfterSecondWrite = ctx.channel().isOpen();
                // Now read the follower's reply.
                ctx.channel().config().setAutoRead(true);
            });
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, ByteBuf msg) {
            bytesRead += msg.readableBytes();
            if (bytesRead >= expectedBytes) {
                doneLatch.countDown();
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ChannelOutputShutdownEvent) {
                seenOutputShutdown = true;
                doneLatch.countDown();
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (secondWrite != null) {
                secondWrite.release();
                secondWrite = null;
            }
            checkPrematureClose();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
            checkPrematureClose();
        }

        private void checkPrematureClose() {
            if (bytesRead < expectedBytes || !seenOutputShutdown) {
                causeRef.set(new IllegalStateException("leader premature close"));
                doneLatch.countDown();
            }
        }
    }

    /**
     * Both ends shut their output down. With ALLOW_HALF_CLOSURE on both, the client writes and shuts down, the
     * server answers on ChannelInputShutdownEvent and shuts down too: each receives every byte, gets each input
     * event once, ends with input and output shut down and stays open (as a socket does) until closed. Without
     * half-closure, the client's shutdownOutput() alone closes the server's channel, and that close closes the
     * client's.
     */
    @Test
    public void testShutdownOutputBothSides(TestInfo testInfo) throws Throwable {
        run(testInfo, (sb, cb) -> {
            testShutdownOutputBothSides(true, sb, cb);
            testShutdownOutputBothSides(false, sb, cb);
        });
    }

    private void testShutdownOutputBothSides(boolean allowHalfClosure, ServerBootstrap sb, Bootstrap cb)
            throws Throwable {
        byte[] ping = "ping from the client".getBytes(StandardCharsets.US_ASCII);
        byte[] pong = "pong from the server".getBytes(StandardCharsets.US_ASCII);
        EndRecorder server = new EndRecorder(pong);
        EndRecorder client = new EndRecorder(null);
        Channel serverChannel = null;
        Channel clientChannel = null;
        String when = "half-closure " + allowHalfClosure;
        try {
            cb.option(ChannelOption.ALLOW_HALF_CLOSURE, allowHalfClosure).handler(client);
            sb.childOption(ChannelOption.ALLOW_HALF_CLOSURE, allowHalfClosure).childHandler(server);

            serverChannel = sb.bind().sync().channel();
            clientChannel = cb.connect(serverChannel.localAddress()).sync().channel();
            clientChannel.writeAndFlush(clientChannel.alloc().buffer().writeBytes(ping)).sync();
            ((DuplexChannel) clientChannel).shutdownOutput().sync();
            assertTrue(((DuplexChannel) clientChannel).isOutputShutdown());

            if (allowHalfClosure) {
                await(client.readComplete, "the client's ChannelInputShutdownReadComplete; client events: "
                        + client.events + ", server events: " + server.events);
                await(server.readComplete, "the server's ChannelInputShutdownReadComplete");
                Channel child = server.channel;
                assertNotNull(child);
                for (Channel ch : new Channel[] { clientChannel, child }) {
                    DuplexChannel duplex = (DuplexChannel) ch;
                    assertTrue(duplex.isInputShutdown() && duplex.isOutputShutdown() && duplex.isShutdown(),
                            "both directions shut down: " + ch);
                    assertTrue(ch.isOpen() && ch.isActive(), "half-closed both ways but not closed: " + ch);
                }
                // Writing after one's own shutdownOutput fails at once.
                ChannelFuture late = clientChannel.writeAndFlush(clientChannel.alloc().buffer().writeByte(1));
                assertTrue(late.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
                assertFalse(late.isSuccess());
                assertEquals(1, client.inactive.getCount(), "the client closed before close()");
                clientChannel.close().sync();
                child.close().sync();
                await(client.inactive, "client channelInactive");
                await(server.inactive, "server channelInactive");
                assertEquals(Arrays.asList(ChannelInputShutdownEvent.INSTANCE,
                        ChannelInputShutdownReadComplete.INSTANCE, INACTIVE), new ArrayList<>(client.events));
                assertEquals(Arrays.asList(ChannelInputShutdownEvent.INSTANCE,
                        ChannelInputShutdownReadComplete.INSTANCE, INACTIVE), new ArrayList<>(server.events));
            } else {
                // Nobody calls close(): the server closes on the end of its input, the client on the end of its.
                await(server.inactive, "the server to close on the client's shutdownOutput; events " + server.events);
                await(client.inactive, "the client to close when the server closed; events " + client.events);
                assertEquals(List.of(INACTIVE), new ArrayList<>(client.events));
                assertEquals(List.of(INACTIVE), new ArrayList<>(server.events));
            }
            assertEquals(new String(ping, StandardCharsets.US_ASCII), server.received(), when);
            assertEquals(allowHalfClosure ? new String(pong, StandardCharsets.US_ASCII) : "", client.received(),
                    when);
        } finally {
            closeAll(clientChannel, serverChannel);
        }
    }

    /** Records what a channel received and its end events; with {@code reply}, answers the end of its input. */
    @io.netty.channel.ChannelHandler.Sharable
    private static final class EndRecorder extends ChannelInboundHandlerAdapter {
        private final byte[] reply;
        private final StringBuffer received = new StringBuffer();
        final Queue<Object> events = new ConcurrentLinkedQueue<>();
        final CountDownLatch readComplete = new CountDownLatch(1);
        final CountDownLatch inactive = new CountDownLatch(1);
        volatile Channel channel;

        EndRecorder(byte[] reply) {
            this.reply = reply;
        }

        String received() {
            return received.toString();
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            channel = ctx.channel();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            received.append(((ByteBuf) msg).toString(StandardCharsets.US_ASCII));
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (!(evt instanceof ChannelInputShutdownEvent || evt instanceof ChannelInputShutdownReadComplete)) {
                return;
            }
            events.add(evt);
            if (evt == ChannelInputShutdownEvent.INSTANCE && reply != null) {
                ctx.writeAndFlush(ctx.alloc().buffer().writeBytes(reply))
                        .addListener(f -> ((DuplexChannel) ctx.channel()).shutdownOutput());
            }
            if (evt == ChannelInputShutdownReadComplete.INSTANCE) {
                readComplete.countDown();
            }
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

    /** Netty's TestNumReadsRecvByteBufAllocator: one-byte buffers, {@code numReads} reads per read loop. */
    private static final class OneByteReadsAllocator implements RecvByteBufAllocator {
        private final int numReads;

        OneByteReadsAllocator(int numReads) {
            this.numReads = numReads;
        }

        @Override
        public ExtendedHandle newHandle() {
            return new ExtendedHandle() {
                private int attemptedBytesRead;
                private int lastBytesRead;
                private int numMessagesRead;

                @Override
                public ByteBuf allocate(ByteBufAllocator alloc) {
                    return alloc.ioBuffer(guess(), guess());
                }

                @Override
                public int guess() {
                    return 1;
                }

                @Override
                public void reset(ChannelConfig config) {
                    numMessagesRead = 0;
                }

                @Override
                public void incMessagesRead(int numMessages) {
                    numMessagesRead += numMessages;
                }

                @Override
                public void lastBytesRead(int bytes) {
                    lastBytesRead = bytes;
                }

                @Override
                public int lastBytesRead() {
                    return lastBytesRead;
                }

                @Override
                public void attemptedBytesRead(int bytes) {
                    attemptedBytesRead = bytes;
                }

                @Override
                public int attemptedBytesRead() {
                    return attemptedBytesRead;
                }

                @Override
                public boolean continueReading() {
                    return numMessagesRead < numReads;
                }

                @Override
                public boolean continueReading(UncheckedBooleanSupplier maybeMoreDataSupplier) {
                    return continueReading() && maybeMoreDataSupplier.get();
                }

                @Override
                public void readComplete() {
                    // Nothing to adjust.
                }
            };
        }
    }
}
