package io.idts.channel;

import io.idts.channel.ring.RingWriter;
import io.idts.linux.FileDescriptors;
import io.idts.linux.UnixDomainSocket;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.ChannelInputShutdownReadComplete;
import io.netty.channel.socket.DuplexChannel;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.BindException;
import java.net.ConnectException;
import java.nio.channels.ClosedChannelException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@link IdtsChannel} and {@link IdtsServerChannel} in one JVM: both ends of each connection live here, each on its
 * own event loop unless a test says otherwise. After every test the groups are shut down and the process must hold
 * exactly the descriptors it held before, and no IDTS memfd mapping.
 */
final class IdtsChannelTest {

    /** Only against hangs: every wait that succeeds in a working transport takes milliseconds. */
    private static final long TIMEOUT_SECONDS = 30;
    private static final int SMALL_RING = 4096;
    private static final AtomicInteger SEQUENCE = new AtomicInteger();

    private EventLoopGroup serverGroup;
    private EventLoopGroup clientGroup;
    private ProcessResources before;
    private IdtsAddress address;
    /** Exceptions that reached the end of a pipeline without a test expecting them. */
    private final List<Throwable> unexpected = new CopyOnWriteArrayList<>();

    @BeforeAll
    static void loadEverythingOnce() throws Exception {
        ProcessResources.warmUpIdts();
    }

    @BeforeEach
    void setUp(TestInfo info) {
        before = ProcessResources.snapshot();
        serverGroup = new IdtsEventLoopGroup(1);
        clientGroup = new IdtsEventLoopGroup(1);
        address = uniqueAddress(info);
    }

    @AfterEach
    void tearDown() throws Exception {
        try {
            assertTrue(unexpected.isEmpty(), "unexpected exceptions: " + unexpected);
        } finally {
            clientGroup.shutdownGracefully(100, 5000, TimeUnit.MILLISECONDS);
            assertTrue(ProcessResources.shutDown(serverGroup), "server group terminated");
            assertTrue(ProcessResources.shutDown(clientGroup), "client group terminated");
            before.assertNoneLeaked("after the event loop groups shut down");
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Data transfer.

    @ParameterizedTest
    @ValueSource(ints = { 1, 100, 4095, 4096, 4097, 65_536, 1_000_003, 5 * 1024 * 1024 })
    void echoesOneWriteOfAnySizeThroughASmallRing(int size) throws Exception {
        bindEchoServer();
        PatternReceiver receiver = new PatternReceiver(size);
        Channel client = connect(clientGroup, b -> b.option(IdtsChannelOption.RING_CAPACITY, SMALL_RING), receiver);
        ByteBuf data = client.alloc().directBuffer(size);
        StreamPattern.write(data, 0, size);
        ChannelFuture write = client.writeAndFlush(data);
        assertEquals(size, await(receiver.done()), "bytes echoed");
        assertTrue(write.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        assertTrue(write.isSuccess(), () -> "write failed: " + write.cause());
        assertNull(receiver.failure());
        assertTrue(receiver.exceptions().isEmpty(), receiver.exceptions().toString());
    }

    @ParameterizedTest
    @ValueSource(ints = { SMALL_RING, 64 * 1024, 1024 * 1024 })
    void echoesManyWritesOfMixedSizes(int ringCapacity) throws Exception {
        bindEchoServer();
        long total = 16L * 1024 * 1024;
        PatternSender sender = new PatternSender(total, StreamPattern.MAX_CHUNK, 42);
        PatternReceiver receiver = new PatternReceiver(total);
        connect(clientGroup, b -> b.option(IdtsChannelOption.RING_CAPACITY, ringCapacity)
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(256 * 1024, 512 * 1024)),
                sender, receiver);
        assertEquals(total, await(receiver.done()));
        assertTrue(sender.writes() > 100, "writes: " + sender.writes());
    }

    /**
     * With {@code WRITE_SPIN_COUNT} 1 a flush that finds space freed behind it yields to the loop and goes on at the
     * loop's next poll; a spinning server drains the small ring as it fills, so the flushes yield again and again:
     * nothing may be lost, reordered or left behind.
     */
    @Test
    void aFlushThatYieldsAfterWriteSpinCountRefillsGoesOnWithoutLosingBytes() throws Exception {
        bind(serverGroup, b -> b.childOption(IdtsChannelOption.SPIN_TIME_NANOS, 1_000_000L),
                new EchoServerMain.EchoHandler());
        long total = 8L * 1024 * 1024;
        PatternReceiver receiver = new PatternReceiver(total);
        Channel client = connect(clientGroup, b -> b.option(ChannelOption.WRITE_SPIN_COUNT, 1)
                .option(IdtsChannelOption.RING_CAPACITY, SMALL_RING), receiver);
        assertEquals(1, client.config().getWriteSpinCount());
        ByteBuf data = client.alloc().directBuffer((int) total);
        StreamPattern.write(data, 0, (int) total);
        ChannelFuture write = client.writeAndFlush(data);
        assertEquals(total, await(receiver.done()), "bytes echoed");
        assertTrue(write.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        assertTrue(write.isSuccess(), () -> "write failed: " + write.cause());
        assertNull(receiver.failure());
    }

    /**
     * A sender that writes again whenever its channel becomes writable, into a ring its peer drains as fast: its
     * flushes never run out of space, so each one yields after {@code WRITE_SPIN_COUNT} passes. The channel must still
     * read between them. The server sends one byte at a time, the next only once the client read the last; a flush
     * that went on in a task kept the loop in its tasks for up to Netty's task quantum (a second) per byte.
     */
    @Test
    void aWriterThatRefillsAsItsRingDrainsDoesNotKeepItsChannelFromReading() throws Exception {
        int rounds = 50;
        CompletableFuture<ChannelHandlerContext> serverChild = new CompletableFuture<>();
        bind(serverGroup, b -> { }, new ChannelInboundHandlerAdapter() {
            @Override
            public void channelActive(ChannelHandlerContext ctx) {
                serverChild.complete(ctx);
                ctx.fireChannelActive();
            }

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ReferenceCountUtil.release(msg); // drains as fast as the client writes
            }
        });
        CompletableFuture<Integer> allRead = new CompletableFuture<>();
        PatternSender sender = new PatternSender(Long.MAX_VALUE, 64, 13);
        // A low water mark: the sender refills in small batches, so a flush pass is short.
        Channel client = connect(clientGroup, b -> b.option(ChannelOption.WRITE_BUFFER_WATER_MARK,
                new WriteBufferWaterMark(4096, 8192)), sender, new ChannelInboundHandlerAdapter() {
            private int read;

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                read += ((ByteBuf) msg).readableBytes();
                ReferenceCountUtil.release(msg);
                if (read < rounds) {
                    sendOneByte(serverChild.join());
                } else {
                    allRead.complete(read);
                }
            }
        });
        sendOneByte(await(serverChild));
        assertEquals(rounds, await(allRead), "bytes read one at a time while the client streamed");
        assertTrue(sender.sent() > 0);
        assertTrue(client.close().await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
    }

    private static void sendOneByte(ChannelHandlerContext ctx) {
        ctx.executor().execute(() -> ctx.writeAndFlush(ctx.alloc().directBuffer(1).writeByte('p')));
    }

    @Test
    void echoesWithSpinningEventLoops() throws Exception {
        bind(serverGroup, b -> b.childOption(IdtsChannelOption.SPIN_TIME_NANOS, 50_000L),
                new EchoServerMain.EchoHandler());
        long total = 8L * 1024 * 1024;
        PatternReceiver receiver = new PatternReceiver(total);
        Channel client = connect(clientGroup, b -> b.option(IdtsChannelOption.SPIN_TIME_NANOS, 50_000L)
                .option(IdtsChannelOption.RING_CAPACITY, 64 * 1024), new PatternSender(total, 100_000, 9), receiver);
        assertEquals(50_000L, client.config().getOption(IdtsChannelOption.SPIN_TIME_NANOS));
        assertEquals(64 * 1024, client.config().getOption(IdtsChannelOption.RING_CAPACITY));
        assertEquals(total, await(receiver.done()));
    }

    @Test
    void idtsOptionsAreValidated() {
        IdtsChannelConfig config = new IdtsChannel().config();
        for (int bad : new int[] { 0, -4096, 2048, 4095, 5000, 3 << 12, 1 << 29 }) {
            assertThrows(IllegalArgumentException.class, () -> config.setOption(IdtsChannelOption.RING_CAPACITY, bad),
                    "ring capacity " + bad);
        }
        assertTrue(config.setOption(IdtsChannelOption.RING_CAPACITY, 4096));
        assertEquals(4096, config.getOption(IdtsChannelOption.RING_CAPACITY));
        assertTrue(config.setOption(IdtsChannelOption.RING_CAPACITY, 1 << 28));
        assertEquals(1 << 28, config.getRingCapacity());
        assertEquals(IdtsChannelOption.SPIN_ADAPTIVE, config.getSpinTimeNanos(), "the default spin");
        assertThrows(IllegalArgumentException.class, () -> config.setOption(IdtsChannelOption.SPIN_TIME_NANOS, -2L));
        assertThrows(IllegalArgumentException.class,
                () -> config.setOption(IdtsChannelOption.SPIN_TIME_NANOS, Long.MIN_VALUE));
        assertTrue(config.setOption(IdtsChannelOption.SPIN_TIME_NANOS, 0L));
        assertTrue(config.setOption(IdtsChannelOption.SPIN_TIME_NANOS, IdtsChannelOption.SPIN_ADAPTIVE));
        assertTrue(config.setOption(IdtsChannelOption.SPIN_TIME_NANOS, 50_000L));
        assertTrue(config.setOption(ChannelOption.ALLOW_HALF_CLOSURE, true));
        assertEquals(Boolean.TRUE, config.getOption(ChannelOption.ALLOW_HALF_CLOSURE));
        assertTrue(config.getOptions().containsKey(IdtsChannelOption.RING_CAPACITY));
        assertTrue(config.getOptions().containsKey(IdtsChannelOption.SPIN_TIME_NANOS));
    }

    @Test
    void echoesWhenBothEndsShareOneEventLoop() throws Exception {
        // One thread plays both ends: a writer waiting for ring space must never wait for its own loop.
        bindEchoServer();
        long total = 8L * 1024 * 1024;
        PatternReceiver receiver = new PatternReceiver(total);
        connect(serverGroup, b -> b.option(IdtsChannelOption.RING_CAPACITY, SMALL_RING),
                new PatternSender(total, StreamPattern.MAX_CHUNK, 7), receiver);
        assertEquals(total, await(receiver.done()));
    }

    @Test
    void transfersBothWaysAtOnce() throws Exception {
        long total = 8L * 1024 * 1024;
        PatternReceiver serverReceiver = new PatternReceiver(total);
        bind(serverGroup, b -> b.childOption(ChannelOption.ALLOW_HALF_CLOSURE, true),
                pipeline(new PatternSender(total, 100_000, 3), serverReceiver));
        PatternReceiver clientReceiver = new PatternReceiver(total);
        connect(clientGroup, b -> b.option(IdtsChannelOption.RING_CAPACITY, SMALL_RING),
                new PatternSender(total, 100_000, 4), clientReceiver);
        assertEquals(total, await(clientReceiver.done()));
        assertEquals(total, await(serverReceiver.done()));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Half-closure.

    @Test
    void shutdownOutputIsEndOfInputForAPeerThatAllowsHalfClosure() throws Exception {
        EventLog serverLog = new EventLog(true);
        bind(serverGroup, b -> b.childOption(ChannelOption.ALLOW_HALF_CLOSURE, true), serverLog);
        EventLog clientLog = new EventLog(false);
        DuplexChannel client = (DuplexChannel) connect(clientGroup, b -> { }, clientLog);

        assertTrue(client.writeAndFlush(ascii("hello")).await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        ChannelFuture shutdown = client.shutdownOutput();
        assertTrue(shutdown.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        assertTrue(shutdown.isSuccess(), () -> "shutdownOutput failed: " + shutdown.cause());
        assertTrue(client.isOutputShutdown());
        assertFalse(client.isInputShutdown());

        // The server replies once it has seen everything and the end: the client's input still works.
        assertEquals("bye:hello", clientLog.awaitText("bye:hello".length()));
        assertEquals(List.of("read", "inputShutdown", "inputShutdownReadComplete"),
                withoutReadCompletes(serverLog.eventsUntil("inputShutdownReadComplete")), "server events in order");

        DuplexChannel serverChild = (DuplexChannel) await(serverLog.channel);
        assertTrue(serverChild.isActive(), "the half-closed server channel must stay open");
        assertTrue(serverChild.isInputShutdown());
        assertFalse(serverChild.isOutputShutdown());
        assertTrue(client.isActive());

        ChannelFuture late = client.writeAndFlush(ascii("late"));
        assertTrue(late.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        assertFalse(late.isSuccess(), "a write after shutdownOutput must fail");
        assertTrue(late.cause() instanceof ClosedChannelException, () -> "cause: " + late.cause());

        client.close().sync();
    }

    @Test
    void shutdownOutputClosesAPeerThatDoesNotAllowHalfClosure() throws Exception {
        EventLog serverLog = new EventLog(false);
        bind(serverGroup, b -> b.childOption(ChannelOption.ALLOW_HALF_CLOSURE, false), serverLog);
        EventLog clientLog = new EventLog(false);
        DuplexChannel client = (DuplexChannel) connect(clientGroup, b -> { }, clientLog);

        client.writeAndFlush(ascii("hello"));
        assertTrue(client.shutdownOutput().await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        Channel serverChild = await(serverLog.channel);
        assertTrue(serverChild.closeFuture().await(TIMEOUT_SECONDS, TimeUnit.SECONDS),
                "the server channel must close at the end of its input");
        assertEquals("hello", serverLog.text(), "bytes before the end are delivered");
        assertFalse(serverLog.events.contains("inputShutdown"), serverLog.events.toString());
        assertFalse(serverLog.events.contains("inputShutdownReadComplete"), serverLog.events.toString());
        // The server closed, so the client's input ended too; without half-closure it closes as well.
        assertTrue(client.closeFuture().await(TIMEOUT_SECONDS, TimeUnit.SECONDS), "client must close at EOF");
    }

    @Test
    void shutdownInputDiscardsWhatThePeerWritesAndKeepsTheOutputOpen() throws Exception {
        EventLog serverLog = new EventLog(false);
        bind(serverGroup, b -> { }, serverLog);
        EventLog clientLog = new EventLog(false);
        Channel client = connect(clientGroup, b -> b.option(IdtsChannelOption.RING_CAPACITY, SMALL_RING),
                clientLog);
        DuplexChannel serverChild = (DuplexChannel) await(serverLog.channel);

        ChannelFuture shutdown = serverChild.shutdownInput();
        assertTrue(shutdown.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        assertTrue(shutdown.isSuccess(), () -> "shutdownInput failed: " + shutdown.cause());
        assertTrue(serverChild.isInputShutdown());
        assertFalse(serverChild.isOutputShutdown());

        // Far more than the ring holds: the writes complete only if the server keeps draining (and dropping) them,
        // also after its loop went to sleep with the ring full.
        int size = 256 * SMALL_RING;
        ByteBuf data = Unpooled.directBuffer(size);
        StreamPattern.write(data, 0, size);
        ChannelFuture write = client.writeAndFlush(data);
        assertTrue(write.await(TIMEOUT_SECONDS, TimeUnit.SECONDS), "writes to a peer whose input is shut down hang");
        assertTrue(write.isSuccess(), () -> "write failed: " + write.cause());
        assertEquals("", serverLog.text(), "nothing may be read after shutdownInput");

        assertTrue(serverChild.isActive());
        serverChild.writeAndFlush(ascii("still-open"));
        assertEquals("still-open", clientLog.awaitText("still-open".length()));
        assertTrue(client.isActive());
    }

    // ---------------------------------------------------------------------------------------------------------
    // Closing.

    @Test
    void closeDeliversEveryWriteThatSucceededAndFailsTheRest() throws Exception {
        EventLog serverLog = new EventLog(true);
        serverLog.recordBytes = false;
        PatternReceiver serverReceiver = new PatternReceiver(Long.MAX_VALUE);
        bind(serverGroup, b -> b.childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true), pipeline(serverLog, serverReceiver));
        Channel client = connect(clientGroup, b -> b.option(IdtsChannelOption.RING_CAPACITY, SMALL_RING),
                new ChannelInboundHandlerAdapter());
        Channel serverChild = await(serverLog.channel);

        // While the server reads nothing: write far more than the ring holds, flush, close, all in one go.
        int count = 100;
        List<ChannelFuture> writes = new ArrayList<>();
        int[] sizes = new int[count];
        client.eventLoop().submit(() -> {
            long position = 0;
            for (int i = 0; i < count; i++) {
                sizes[i] = 1000 + 37 * i;
                ByteBuf buf = client.alloc().directBuffer(sizes[i]);
                StreamPattern.write(buf, position, sizes[i]);
                position += sizes[i];
                writes.add(client.write(buf));
            }
            client.flush();
            client.close();
        }).sync();

        long succeeded = 0;
        int firstFailure = -1;
        for (int i = 0; i < count; i++) {
            ChannelFuture write = writes.get(i);
            assertTrue(write.await(TIMEOUT_SECONDS, TimeUnit.SECONDS), "write " + i + " never completed");
            if (write.isSuccess()) {
                assertEquals(-1, firstFailure, "write " + i + " succeeded after write " + firstFailure + " failed");
                succeeded += sizes[i];
            } else {
                assertInstanceOf(ClosedChannelException.class, write.cause(), "write " + i);
                if (firstFailure < 0) {
                    firstFailure = i;
                }
            }
        }
        assertTrue(succeeded > 0, "the ring takes the first writes at once");
        assertTrue(firstFailure > 0, "a " + SMALL_RING + "-byte ring cannot take all the writes");

        serverChild.config().setAutoRead(true);
        assertEquals(List.of("inputShutdown", "inputShutdownReadComplete"), serverLog.takeEvents(2),
                "the server sees the end of the stream");
        long received = serverReceiver.received();
        assertNull(serverReceiver.failure(), "bytes delivered in order");
        assertTrue(received >= succeeded, "received " + received + " < " + succeeded + " acknowledged");
        // Part of the first failed write may have reached the ring before the close; nothing after it.
        assertTrue(received <= succeeded + sizes[firstFailure], "received " + received + " bytes, but only "
                + succeeded + " + part of " + sizes[firstFailure] + " were written");
    }

    @Test
    void serverChannelCloseReleasesItsAddress() throws Exception {
        Channel first = bindEchoServer();
        assertTrue(first.close().await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        assertFalse(first.isOpen());
        Channel second = bindEchoServer();
        assertTrue(second.isActive());
        PatternReceiver receiver = new PatternReceiver(1000);
        connect(clientGroup, b -> { }, new PatternSender(1000, 100, 5), receiver);
        assertEquals(1000, await(receiver.done()));
    }

    @Test
    void groupShutdownReleasesEveryDescriptorAndMapping() throws Exception {
        bindEchoServer();
        List<PatternReceiver> receivers = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            PatternReceiver receiver = new PatternReceiver(100_000);
            connect(clientGroup, b -> { }, new PatternSender(100_000, 10_000, i), receiver);
            receivers.add(receiver);
        }
        for (PatternReceiver receiver : receivers) {
            assertEquals(100_000, await(receiver.done()));
        }
        // The check below can fail: while connected, this process holds both ends' mappings and descriptors.
        assertTrue(ProcessResources.idtsMappings().size() >= before.mappings().size() + 10,
                ProcessResources.idtsMappings().toString());
        assertTrue(FileDescriptors.openCount() > before.openCount() + 10, "descriptors while connected");
        // The channels stay open: shutting the groups down (in tearDown) must release everything.
    }

    @Test
    void shutdownRequestedByATaskOfTheLoopClosesItsChannels() throws Exception {
        // A handler that shuts its own group down (a "quit" command, a fatal error) calls shutdownGracefully on the
        // loop thread, between the loop's shutdown check and its confirmShutdown(). With a quiet period of zero,
        // Netty's SingleThreadIoEventLoop then ends without calling IoHandler.prepareToDestroy(), so the channels
        // must still be closed when the IoHandler is destroyed.
        bindEchoServer();
        PatternReceiver receiver = new PatternReceiver(100_000);
        connect(clientGroup, b -> { }, new PatternSender(100_000, 10_000, 8), receiver);
        assertEquals(100_000, await(receiver.done()));
        assertTrue(ProcessResources.idtsMappings().size() >= before.mappings().size() + 2,
                ProcessResources.idtsMappings().toString());
        for (EventLoopGroup group : List.of(clientGroup, serverGroup)) {
            for (io.netty.util.concurrent.EventExecutor loop : group) {
                loop.execute(() -> loop.shutdownGracefully(0, 5, TimeUnit.SECONDS));
            }
            assertTrue(group.terminationFuture().await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        }
        before.assertNoneLeaked("after the groups shut down from their own loops");
    }

    // ---------------------------------------------------------------------------------------------------------
    // Connecting and binding.

    @Test
    void connectToANameNobodyListensOnIsRefused() throws Exception {
        ChannelFuture connect = new Bootstrap().group(clientGroup).channel(IdtsChannel.class)
                .handler(new ChannelInboundHandlerAdapter()).connect(address);
        assertTrue(connect.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        assertFalse(connect.isSuccess());
        Throwable cause = connect.cause();
        assertInstanceOf(ConnectException.class, cause);
        assertFalse(cause instanceof ConnectTimeoutException, cause.toString());
        assertTrue(cause.getMessage().contains(address.toString()), "message names the address: " + cause);
        assertTrue(connect.channel().closeFuture().await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        assertFalse(connect.channel().isOpen());
    }

    @Test
    void connectTimesOutWhenTheServerNeverAnswers() throws Exception {
        // A plain socket on the entry: the kernel completes the connect, but nobody answers the handshake.
        Files.createDirectories(address.rendezvousDirectory());
        int listenFd = UnixDomainSocket.listenOnPath(address.socketPath(), 16);
        try {
            ChannelFuture connect = new Bootstrap().group(clientGroup).channel(IdtsChannel.class)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, 500)
                    .handler(new ChannelInboundHandlerAdapter()).connect(address);
            assertTrue(connect.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
            assertFalse(connect.isSuccess());
            assertInstanceOf(ConnectTimeoutException.class, connect.cause());
            assertTrue(connect.cause().getMessage().contains(address.toString()), connect.cause().toString());
            assertTrue(connect.channel().closeFuture().await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        } finally {
            FileDescriptors.close(listenFd);
            Files.delete(Paths.get(address.socketPath()));
        }
    }

    @Test
    void bindingATakenAddressFails() throws Exception {
        Channel first = bindEchoServer();
        ChannelFuture second = new ServerBootstrap().group(serverGroup).channel(IdtsServerChannel.class)
                .childHandler(new EchoServerMain.EchoHandler()).bind(address);
        assertTrue(second.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        assertFalse(second.isSuccess());
        assertInstanceOf(BindException.class, second.cause());
        assertTrue(second.cause().getMessage().contains(address.toString()), second.cause().toString());
        assertTrue(second.channel().closeFuture().await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        // The first server is unharmed.
        assertTrue(first.isActive());
        PatternReceiver receiver = new PatternReceiver(1000);
        connect(clientGroup, b -> { }, new PatternSender(1000, 100, 6), receiver);
        assertEquals(1000, await(receiver.done()));
    }

    @Test
    void addressesOfAConnection() throws Exception {
        EventLog serverLog = new EventLog(false);
        Channel server = bind(serverGroup, b -> { }, serverLog);
        assertEquals(address, server.localAddress());
        Channel client = connect(clientGroup, b -> { }, new ChannelInboundHandlerAdapter());
        Channel serverChild = await(serverLog.channel);
        assertEquals(address, client.remoteAddress());
        assertNotNull(client.localAddress());
        assertEquals(address, serverChild.localAddress());
        assertEquals(client.localAddress(), serverChild.remoteAddress());
        assertSame(server, serverChild.parent());
    }

    // ---------------------------------------------------------------------------------------------------------
    // Flow control.

    @Test
    void withoutAutoReadEachReadCallReadsOnce() throws Exception {
        EventLog serverLog = new EventLog(false);
        bind(serverGroup, b -> b.childOption(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.RECVBUF_ALLOCATOR, new FixedRecvByteBufAllocator(100)
                        .maxMessagesPerRead(1)), serverLog);
        Channel client = connect(clientGroup, b -> { }, new ChannelInboundHandlerAdapter());
        Channel serverChild = await(serverLog.channel);

        assertTrue(client.writeAndFlush(ascii("a".repeat(100) + "b".repeat(100) + "c".repeat(100)))
                .await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        // The bytes are in the ring; nothing reads them until read() is called.
        Thread.sleep(200);
        assertEquals(List.of(), List.copyOf(serverLog.events), "read without read()");

        for (String expected : List.of("a", "b", "c")) {
            serverChild.read();
            assertEquals(List.of("read", "readComplete"), serverLog.takeEvents(2), "events of one read()");
            Thread.sleep(100);
            assertEquals(List.of(), List.copyOf(serverLog.events), "events beyond one read per read()");
            assertTrue(serverLog.text().endsWith(expected.repeat(100)), serverLog.text());
        }
        assertEquals(300, serverLog.text().length());
    }

    @Test
    void writabilityFollowsTheWaterMarksWhenThePeerStopsReading() throws Exception {
        EventLog serverLog = new EventLog(false);
        serverLog.recordBytes = false;
        PatternReceiver serverReceiver = new PatternReceiver(Long.MAX_VALUE);
        bind(serverGroup, b -> b.childOption(ChannelOption.AUTO_READ, false), pipeline(serverLog, serverReceiver));
        BlockingQueue<Boolean> writability = new LinkedBlockingQueue<>();
        Channel client = connect(clientGroup, b -> b.option(IdtsChannelOption.RING_CAPACITY, SMALL_RING)
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(1024, 4096)),
                new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
                        writability.add(ctx.channel().isWritable());
                    }
                });
        Channel serverChild = await(serverLog.channel);

        long written = client.eventLoop().submit(() -> {
            long position = 0;
            for (int i = 0; i < 1000 && client.isWritable(); i++) {
                ByteBuf buf = client.alloc().directBuffer(1024);
                StreamPattern.write(buf, position, 1024);
                position += 1024;
                client.writeAndFlush(buf);
            }
            return position;
        }).get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        assertFalse(client.isWritable(), "still writable after " + written + " bytes to a peer that does not read");
        assertTrue(written > SMALL_RING, "the ring takes " + SMALL_RING + " bytes before the outbound buffer fills: "
                + written);
        assertEquals(Boolean.FALSE, writability.poll(TIMEOUT_SECONDS, TimeUnit.SECONDS));

        serverChild.config().setAutoRead(true);
        assertEquals(Boolean.TRUE, writability.poll(TIMEOUT_SECONDS, TimeUnit.SECONDS),
                "writable again once the peer reads");
        assertTrue(client.isWritable());
        assertEquals(written, await(serverReceiver.reached(written)));
        assertNull(serverReceiver.failure());
    }

    /**
     * One flush of many buffers (as after a wait for space, when the outbound buffer holds up to its high water mark)
     * publishes every 64 KiB as it copies them, not only at its end: a reader that drained the ring meanwhile would
     * otherwise sleep while the bytes it waits for sit in the ring unpublished.
     */
    @Test
    void aLongFlushPublishesAsItCopiesNotOnlyAtItsEnd() throws Exception {
        EventLog serverLog = new EventLog(false);
        serverLog.recordBytes = false;
        int writes = 16;
        int size = 64 * 1024;
        PatternReceiver serverReceiver = new PatternReceiver((long) writes * size);
        bind(serverGroup, b -> b.childOption(ChannelOption.AUTO_READ, false), pipeline(serverLog, serverReceiver));
        Channel client = connect(clientGroup, b -> b.option(IdtsChannelOption.RING_CAPACITY, 4 << 20)
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(2 << 20, 4 << 20)));
        Channel serverChild = await(serverLog.channel);
        RingWriter writer = ((AbstractIdtsChannel) client).writer;

        long publications = client.eventLoop().submit(() -> {
            long before = writer.publications();
            for (int i = 0; i < writes; i++) {
                ByteBuf buf = client.alloc().directBuffer(size);
                StreamPattern.write(buf, (long) i * size, size);
                client.write(buf);
            }
            client.flush();
            return writer.publications() - before;
        }).get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        assertEquals(writes, publications, "one flush of " + writes + " buffers of 64 KiB into a 4 MiB ring");

        serverChild.config().setAutoRead(true);
        assertEquals((long) writes * size, await(serverReceiver.done()));
        assertNull(serverReceiver.failure());
    }

    /**
     * The default adaptive spin: a ping-pong makes both loops spin (the waits are short), and once the traffic stops
     * they block again within a few turns. Spinning on would cost each loop a whole core.
     */
    @Test
    void anIdleChannelCostsNoCpuAfterAPingPongWithTheDefaultSpin() throws Exception {
        bindEchoServer();
        int pings = 20_000;
        CompletableFuture<Integer> done = new CompletableFuture<>();
        Channel client = connect(clientGroup, b -> { }, new ChannelInboundHandlerAdapter() {
            private int received;
            private int echoes;

            @Override
            public void channelActive(ChannelHandlerContext ctx) {
                ctx.writeAndFlush(Unpooled.wrappedBuffer(new byte[64]));
            }

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                received += ((ByteBuf) msg).readableBytes();
                ReferenceCountUtil.release(msg);
                if (received == 64) {
                    received = 0;
                    if (++echoes == pings) {
                        done.complete(echoes);
                    } else {
                        ctx.writeAndFlush(Unpooled.wrappedBuffer(new byte[64]));
                    }
                }
            }
        });
        assertEquals(IdtsChannelOption.SPIN_ADAPTIVE, client.config().getOption(IdtsChannelOption.SPIN_TIME_NANOS));
        assertEquals(pings, done.get(TIMEOUT_SECONDS, TimeUnit.SECONDS));

        ThreadMXBean threads = ManagementFactory.getThreadMXBean();
        long clientThread = clientGroup.next().submit(() -> Thread.currentThread().getId()).get();
        long serverThread = serverGroup.next().submit(() -> Thread.currentThread().getId()).get();
        Thread.sleep(100); // the spins that the last pings started run out
        long clientBefore = threads.getThreadCpuTime(clientThread);
        long serverBefore = threads.getThreadCpuTime(serverThread);
        Thread.sleep(1000);
        long clientCpu = threads.getThreadCpuTime(clientThread) - clientBefore;
        long serverCpu = threads.getThreadCpuTime(serverThread) - serverBefore;
        // A loop that kept spinning would use about 1000 ms of CPU; a blocked one, none but timers.
        long limit = TimeUnit.MILLISECONDS.toNanos(50);
        assertTrue(clientCpu < limit && serverCpu < limit, "CPU of the idle loops over 1 s: client "
                + clientCpu / 1_000_000 + " ms, server " + serverCpu / 1_000_000 + " ms");
        assertTrue(client.isActive());
    }

    // ---------------------------------------------------------------------------------------------------------
    // Helpers.

    /** An address no other test (in this or another process) uses: pid, sequence and test name. */
    static IdtsAddress uniqueAddress(TestInfo info) {
        String name = info.getTestMethod().map(m -> m.getName()).orElse("x");
        String service = "t-" + ProcessHandle.current().pid() + '-' + SEQUENCE.incrementAndGet() + '-' + name;
        return IdtsAddress.of(service.substring(0, Math.min(service.length(), IdtsAddress.MAX_SERVICE_LENGTH)));
    }

    private Channel bindEchoServer() throws InterruptedException {
        return bind(serverGroup, b -> { }, new EchoServerMain.EchoHandler());
    }

    private Channel bind(EventLoopGroup group, Consumer<ServerBootstrap> options, ChannelHandler childHandler)
            throws InterruptedException {
        ServerBootstrap bootstrap = new ServerBootstrap().group(group).channel(IdtsServerChannel.class)
                .childHandler(withUnexpectedExceptions(childHandler));
        options.accept(bootstrap);
        ChannelFuture bind = bootstrap.bind(address);
        assertTrue(bind.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        assertTrue(bind.isSuccess(), () -> "bind to " + address + " failed: " + bind.cause());
        return bind.channel();
    }

    private Channel connect(EventLoopGroup group, Consumer<Bootstrap> options, ChannelHandler... handlers)
            throws InterruptedException {
        Bootstrap bootstrap = new Bootstrap().group(group).channel(IdtsChannel.class)
                .handler(withUnexpectedExceptions(pipeline(handlers)));
        options.accept(bootstrap);
        ChannelFuture connect = bootstrap.connect(address);
        assertTrue(connect.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        assertTrue(connect.isSuccess(), () -> "connect to " + address + " failed: " + connect.cause());
        return connect.channel();
    }

    static ChannelHandler pipeline(ChannelHandler... handlers) {
        if (handlers.length == 1) {
            return handlers[0];
        }
        return new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.pipeline().addLast(handlers);
            }
        };
    }

    /** Adds a last handler that records the exceptions nobody handled. */
    private ChannelHandler withUnexpectedExceptions(ChannelHandler handler) {
        return new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                ch.pipeline().addLast(handler);
                ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                        unexpected.add(cause);
                    }
                });
            }
        };
    }

    /** {@code events} without "readComplete", and each run of "read" as one. */
    private static List<String> withoutReadCompletes(List<String> events) {
        List<String> result = new ArrayList<>();
        for (String event : events) {
            if ("readComplete".equals(event)
                    || "read".equals(event) && !result.isEmpty() && "read".equals(result.get(result.size() - 1))) {
                continue;
            }
            result.add(event);
        }
        return result;
    }

    private static ByteBuf ascii(String text) {
        return Unpooled.copiedBuffer(text, StandardCharsets.US_ASCII);
    }

    private static <T> T await(CompletableFuture<T> future) throws Exception {
        try {
            return future.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof AssertionError) {
                throw (AssertionError) cause;
            }
            throw e;
        }
    }

    /**
     * Records what a channel sees: "read" per channelRead (and its bytes, as ASCII), "readComplete",
     * "inputShutdown", "inputShutdownReadComplete", "inactive". With {@code replyAtEnd} it writes
     * {@code "bye:" + everything read} at ChannelInputShutdownReadComplete.
     */
    @ChannelHandler.Sharable
    private static final class EventLog extends ChannelInboundHandlerAdapter {
        final BlockingQueue<String> events = new LinkedBlockingQueue<>();
        final CompletableFuture<Channel> channel = new CompletableFuture<>();
        private final StringBuffer text = new StringBuffer();
        private final boolean replyAtEnd;
        volatile boolean recordBytes = true;

        EventLog(boolean replyAtEnd) {
            this.replyAtEnd = replyAtEnd;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            channel.complete(ctx.channel());
            ctx.fireChannelActive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!recordBytes) {
                ctx.fireChannelRead(msg);
                return;
            }
            try {
                text.append(((ByteBuf) msg).toString(StandardCharsets.US_ASCII));
                events.add("read");
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            if (recordBytes) {
                events.add("readComplete");
            }
            ctx.fireChannelReadComplete();
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt == ChannelInputShutdownEvent.INSTANCE) {
                events.add("inputShutdown");
            } else if (evt == ChannelInputShutdownReadComplete.INSTANCE) {
                events.add("inputShutdownReadComplete");
                if (replyAtEnd) {
                    ctx.writeAndFlush(ascii("bye:" + text));
                }
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            events.add("inactive");
            ctx.fireChannelInactive();
        }

        String text() {
            return text.toString();
        }

        String awaitText(int length) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_SECONDS);
            while (text.length() < length && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            return text();
        }

        /** The events up to and including {@code last}. */
        List<String> eventsUntil(String last) throws InterruptedException {
            List<String> taken = new ArrayList<>();
            while (taken.isEmpty() || !taken.get(taken.size() - 1).equals(last)) {
                String event = events.poll(TIMEOUT_SECONDS, TimeUnit.SECONDS);
                if (event == null) {
                    fail("only events " + taken + " within " + TIMEOUT_SECONDS + " s; wanted " + last);
                }
                taken.add(event);
            }
            return taken;
        }

        /** The next {@code n} events. */
        List<String> takeEvents(int n) throws InterruptedException {
            List<String> taken = new ArrayList<>();
            while (taken.size() < n) {
                String event = events.poll(TIMEOUT_SECONDS, TimeUnit.SECONDS);
                if (event == null) {
                    fail("only events " + taken + " within " + TIMEOUT_SECONDS + " s; wanted " + n);
                }
                taken.add(event);
            }
            return taken;
        }
    }
}
