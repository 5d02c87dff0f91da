package io.idts.channel.host;

import com.sun.jna.Function;
import com.sun.jna.Platform;
import io.idts.channel.ChildJvm;
import io.idts.channel.EchoServerMain;
import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsChannel;
import io.idts.channel.IdtsChannelOption;
import io.idts.channel.IdtsEventLoopGroup;
import io.idts.channel.IdtsServerChannel;
import io.idts.channel.IdtsServerChannelConfig;
import io.idts.channel.ProcessResources;
import io.idts.channel.ring.RegionLayout;
import io.idts.linux.FileDescriptors;
import io.idts.linux.MemFd;
import io.idts.linux.NotificationSocket;
import io.idts.linux.ReceivedMessage;
import io.idts.linux.SharedMapping;
import io.idts.linux.UnixDomainSocket;
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
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.ConnectException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The acceptor's half of the host handshake against a hostile connector: every malformed HELLO, descriptor or region
 * is refused with its reply code, no child channel reaches the pipeline, nothing the connector sent stays open, and
 * the server keeps accepting well-behaved clients.
 */
class HostListenerTest {

    private static final int CAPACITY = RegionLayout.MIN_RING_CAPACITY;
    private static final AtomicInteger SEQUENCE = new AtomicInteger();
    private static final int O_RDONLY = 0;
    /** Handshake slots of the flooded server; a process may hold a quarter of them (the default bound, 64). */
    private static final int FLOOD_BACKLOG = 256;
    /** Silent connections the flooding process keeps: far more than the slots, so that they queue in the kernel. */
    private static final int FLOOD_CONNECTIONS = 2000;
    private static final Duration CHILD_STARTUP_TIMEOUT = Duration.ofSeconds(60);
    /** Descriptors the child server may open beyond those it has when ready. */
    private static final int DESCRIPTOR_HEADROOM = 24;
    /** Against hangs: a queued connect completes in milliseconds once the server accepts it. */
    private static final int QUEUED_CONNECT_TIMEOUT_MILLIS = 30_000;
    private static final int O_CLOEXEC = 02000000;

    private ProcessResources before;
    private EventLoopGroup group;
    private IdtsAddress address;
    private Channel server;
    private final AtomicInteger accepted = new AtomicInteger();

    @BeforeAll
    static void warmUp() throws Exception {
        ProcessResources.warmUpIdts();
    }

    @BeforeEach
    void setUp() throws Exception {
        before = ProcessResources.snapshot();
        group = new IdtsEventLoopGroup(1);
        address = IdtsAddress.of("hostile-" + ProcessHandle.current().pid() + '-' + SEQUENCE.incrementAndGet());
        server = new ServerBootstrap().group(group).channel(IdtsServerChannel.class)
                .childHandler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelActive(ChannelHandlerContext ctx) {
                        accepted.incrementAndGet();
                        ctx.fireChannelActive();
                    }

                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        ctx.writeAndFlush(msg);
                    }
                }).bind(address).sync().channel();
    }

    @AfterEach
    void tearDown() throws Exception {
        server.close().sync();
        assertTrue(ProcessResources.shutDown(group), "group terminated");
        before.assertNoneLeaked("after the server shut down");
    }

    @Test
    void helloWithWrongMagicIsRefused() throws Exception {
        byte[] hello = HostHandshake.encodeHello("attacker");
        ByteBuffer.wrap(hello).order(ByteOrder.nativeOrder()).putInt(HostHandshake.HELLO_MAGIC_OFFSET, 0x12345678);
        assertEquals(HostHandshake.BAD_HELLO, handshake(hello, validRegion(), true));
    }

    @Test
    void helloOfAnotherVersionIsRefused() throws Exception {
        byte[] hello = HostHandshake.encodeHello("attacker");
        ByteBuffer.wrap(hello).order(ByteOrder.nativeOrder())
                .putShort(HostHandshake.HELLO_VERSION_OFFSET, (short) (RegionLayout.VERSION + 1));
        assertEquals(HostHandshake.BAD_VERSION, handshake(hello, validRegion(), true));
    }

    @Test
    void helloWhoseNameLengthLiesIsRefused() throws Exception {
        byte[] hello = HostHandshake.encodeHello("attacker");
        ByteBuffer.wrap(hello).order(ByteOrder.nativeOrder()).putShort(HostHandshake.HELLO_NAME_LENGTH_OFFSET,
                (short) 60);
        assertEquals(HostHandshake.BAD_HELLO, handshake(hello, validRegion(), true));
    }

    @Test
    void helloWithAnInvalidNameIsRefused() throws Exception {
        byte[] hello = HostHandshake.encodeHello("bad/name");
        assertEquals(HostHandshake.BAD_HELLO, handshake(hello, validRegion(), true));
    }

    @Test
    void helloWithOneDescriptorIsRefused() throws Exception {
        int region = validRegion();
        try {
            assertEquals(HostHandshake.BAD_HELLO, send(HostHandshake.encodeHello("attacker"), new int[] { region }));
        } finally {
            FileDescriptors.closeQuietly(region);
        }
    }

    @Test
    void regionThatIsNotAMemfdIsRefused() throws Exception {
        // A socket in place of the memfd: it has no seals, so nothing could stop it from changing size.
        int[] pair = NotificationSocket.createPair();
        FileDescriptors.closeQuietly(pair[1]);
        int notAMemfd = pair[0];
        assertEquals(HostHandshake.BAD_REGION, handshake(HostHandshake.encodeHello("attacker"), notAMemfd, true));
    }

    @Test
    void memfdThatIsNotSealedAgainstShrinkingIsRefused() throws Exception {
        // A valid region whose connector could ftruncate it after the acceptor mapped it: SIGBUS in the acceptor.
        long size = RegionLayout.regionSize(CAPACITY, CAPACITY);
        int unsealed = MemFd.create("idts:hostile-test", size, MemFd.F_SEAL_GROW | MemFd.F_SEAL_SEAL);
        try (SharedMapping mapping = SharedMapping.map(unsealed, size)) {
            RegionLayout.initialize(mapping.buffer(), CAPACITY, CAPACITY);
        }
        assertEquals(HostHandshake.BAD_REGION, handshake(HostHandshake.encodeHello("attacker"), unsealed, true));
    }

    @Test
    void notificationDescriptorThatIsNotASocketIsRefused() throws Exception {
        assertEquals(HostHandshake.BAD_HELLO, handshake(HostHandshake.encodeHello("attacker"), validRegion(), false));
    }

    @Test
    void regionWithACorruptHeaderIsRefused() throws Exception {
        int region = validRegion();
        try (SharedMapping mapping = SharedMapping.map(region, FileDescriptors.size(region))) {
            mapping.buffer().putInt(RegionLayout.MAGIC_OFFSET, 0xdeadbeef);
        }
        assertEquals(HostHandshake.BAD_REGION, handshake(HostHandshake.encodeHello("attacker"), region, true));
    }

    @Test
    void regionWhoseSizeFieldDisagreesWithTheFileIsRefused() throws Exception {
        int region = validRegion();
        try (SharedMapping mapping = SharedMapping.map(region, FileDescriptors.size(region))) {
            // Claims rings twice as large as the file holds: an acceptor trusting it would read past the mapping.
            ByteBuffer header = mapping.buffer();
            header.putInt(RegionLayout.RING_0_CAPACITY_OFFSET, CAPACITY * 2);
            header.putInt(RegionLayout.RING_1_CAPACITY_OFFSET, CAPACITY * 2);
            header.putLong(RegionLayout.REGION_SIZE_OFFSET, RegionLayout.regionSize(CAPACITY * 2, CAPACITY * 2));
        }
        assertEquals(HostHandshake.BAD_REGION, handshake(HostHandshake.encodeHello("attacker"), region, true));
    }

    /**
     * A rendezvous directory of 38 characters or more leaves no room for a 64-character service name: the server
     * cannot make the connector's address. It answers BAD_HELLO and releases everything (it threw past the handshake,
     * leaking the region and the descriptors, and the connector got no reply).
     */
    @Test
    void helloNamingAnAddressTooLongForTheRendezvousDirectoryIsRefused() throws Exception {
        IdtsAddress longDirectory = IdtsAddress.of(Paths.get("/tmp/" + "d".repeat(40)),
                "s" + ProcessHandle.current().pid() + '-' + SEQUENCE.incrementAndGet());
        Channel second = bindEcho(longDirectory);
        try {
            String longName = "n".repeat(IdtsAddress.MAX_SERVICE_LENGTH);
            assertTrue(IdtsAddress.isValidService(longName));
            for (int i = 0; i < 3; i++) {
                assertEquals(HostHandshake.BAD_HELLO,
                        handshake(longDirectory, HostHandshake.encodeHello(longName), validRegion(), true));
            }
            assertEchoes(longDirectory);
        } finally {
            second.close().sync();
        }
    }

    /** More descriptors than a HELLO carries: answered with BAD_HELLO (it was a hang-up without a reply code). */
    @Test
    void helloWithFourDescriptorsIsRefused() throws Exception {
        int region = validRegion();
        int[] pair = NotificationSocket.createPair();
        int[] extra = NotificationSocket.createPair();
        try {
            assertEquals(HostHandshake.BAD_HELLO, send(HostHandshake.encodeHello("attacker"),
                    new int[] { region, pair[1], extra[0], extra[1] }));
        } finally {
            for (int fd : new int[] { region, pair[0], pair[1], extra[0], extra[1] }) {
                FileDescriptors.closeQuietly(fd);
            }
        }
    }

    /** A memfd sealed against writes cannot be mapped shared and writable: BAD_REGION (it was a hang-up). */
    @Test
    void writeSealedRegionIsRefused() throws Exception {
        long size = RegionLayout.regionSize(CAPACITY, CAPACITY);
        int writeSealed = MemFd.create("idts:hostile-test", size, MemFd.SIZE_SEALS | MemFd.F_SEAL_WRITE);
        assertEquals(HostHandshake.BAD_REGION, handshake(HostHandshake.encodeHello("attacker"), writeSealed, true));
    }

    /** A read-only descriptor of a valid region cannot be mapped writable: BAD_REGION (it was a hang-up). */
    @Test
    void readOnlyRegionIsRefused() throws Exception {
        int region = validRegion();
        int readOnly;
        try {
            readOnly = Function.getFunction(Platform.C_LIBRARY_NAME, "open").invokeInt(
                    new Object[] { "/proc/self/fd/" + region, O_RDONLY | O_CLOEXEC });
        } finally {
            FileDescriptors.closeQuietly(region);
        }
        assertTrue(readOnly >= 0, "reopened the region read-only");
        assertEquals(HostHandshake.BAD_REGION, handshake(HostHandshake.encodeHello("attacker"), readOnly, true));
    }

    /**
     * The connector chooses the ring size: a ring over the server's maximum (16 MiB by default) is refused with
     * RING_TOO_LARGE, whose message names the option (two rings of 32 MiB were accepted).
     */
    @Test
    void ringLargerThanTheServersMaximumIsRefused() throws Exception {
        int tooLarge = IdtsServerChannelConfig.DEFAULT_MAX_RING_CAPACITY * 2;
        assertEquals(HostHandshake.RING_TOO_LARGE,
                handshake(HostHandshake.encodeHello("attacker"), validRegion(tooLarge), true));
        Throwable refused = new Bootstrap().group(group).channel(IdtsChannel.class)
                .handler(new ChannelInboundHandlerAdapter())
                .option(IdtsChannelOption.RING_CAPACITY, tooLarge)
                .connect(address).await().cause();
        assertInstanceOf(ConnectException.class, refused);
        assertTrue(refused.getMessage().contains("MAX_RING_CAPACITY"), refused.getMessage());
        assertEchoes(address);
    }

    /** The option lowers the maximum; a ring of exactly the maximum is accepted. */
    @Test
    void maxRingCapacityOptionBoundsTheRings() throws Exception {
        IdtsAddress limited = IdtsAddress.of("limited-" + ProcessHandle.current().pid() + '-'
                + SEQUENCE.incrementAndGet());
        Channel second = bindEcho(limited, b -> b.option(IdtsChannelOption.MAX_RING_CAPACITY, 2 * CAPACITY));
        try {
            assertEquals(2 * CAPACITY, second.config().getOption(IdtsChannelOption.MAX_RING_CAPACITY));
            assertEquals(HostHandshake.RING_TOO_LARGE,
                    handshake(limited, HostHandshake.encodeHello("attacker"), validRegion(4 * CAPACITY), true));
            assertEquals(HostHandshake.ACCEPTED,
                    handshake(limited, HostHandshake.encodeHello("fits"), validRegion(2 * CAPACITY), true));
        } finally {
            second.close().sync();
        }
    }

    /**
     * The shared memory of one user's connections is bounded: past MAX_SHARED_MEMORY_PER_USER a connection is refused
     * with SHARED_MEMORY_LIMIT, and the memory counts again once a connection is closed.
     */
    @Test
    void sharedMemoryOfOneUserIsBounded() throws Exception {
        IdtsAddress limited = IdtsAddress.of("memory-" + ProcessHandle.current().pid() + '-'
                + SEQUENCE.incrementAndGet());
        long region = RegionLayout.regionSize(CAPACITY, CAPACITY);
        Channel second = bindEcho(limited, b -> b.option(IdtsChannelOption.MAX_SHARED_MEMORY_PER_USER, 3 * region));
        List<Channel> clients = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                clients.add(connect(limited).sync().channel());
            }
            Throwable refused = connect(limited).await().cause();
            assertInstanceOf(ConnectException.class, refused);
            assertTrue(refused.getMessage().contains("MAX_SHARED_MEMORY_PER_USER"), refused.getMessage());
            clients.remove(0).close().sync();
            // The server releases the region when its side of the channel has closed too: retry until it has.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            Channel again = null;
            while (again == null && System.nanoTime() < deadline) {
                ChannelFuture attempt = connect(limited).await();
                if (attempt.isSuccess()) {
                    again = attempt.channel();
                } else {
                    assertTrue(attempt.cause().getMessage().contains("MAX_SHARED_MEMORY_PER_USER"),
                            attempt.cause().getMessage());
                    Thread.sleep(10);
                }
            }
            assertNotNull(again, "the memory of the closed connection was counted again within 10 s");
            clients.add(again);
        } finally {
            for (Channel client : clients) {
                client.close().sync();
            }
            second.close().sync();
        }
    }

    /**
     * Silent connections of one process (they never send a HELLO) take at most its share of the handshake slots;
     * beyond it they are refused at once with TOO_MANY_HANDSHAKES. A process flooding without let-up in a child JVM
     * locked every other client out (each handshake slot held until the HELLO timeout, then taken again); now a
     * well-behaved client connects and echoes throughout.
     */
    @Test
    void silentConnectionsOfOneProcessDoNotLockOutOthers() throws Exception {
        IdtsAddress flooded = IdtsAddress.of("flooded-" + ProcessHandle.current().pid() + '-'
                + SEQUENCE.incrementAndGet());
        Channel second = bindEcho(flooded, b -> b.option(ChannelOption.SO_BACKLOG, FLOOD_BACKLOG));
        try (ChildJvm flood = ChildJvm.start(SilentConnectorsMain.class, flooded.toString(),
                Integer.toString(FLOOD_CONNECTIONS))) {
            flood.awaitLine("FLOODING", CHILD_STARTUP_TIMEOUT);
            for (int i = 0; i < 5; i++) {
                assertEchoes(flooded);
            }
        } finally {
            second.close().sync();
        }
    }

    /** The per-process bound, in one process: the connection past it gets TOO_MANY_HANDSHAKES at once. */
    @Test
    void connectionPastTheProcesssPendingHandshakesIsRefused() throws Exception {
        IdtsAddress limited = IdtsAddress.of("pending-" + ProcessHandle.current().pid() + '-'
                + SEQUENCE.incrementAndGet());
        int limit = 4;
        Channel second = bindEcho(limited, b -> b.option(IdtsChannelOption.MAX_PENDING_HANDSHAKES_PER_PROCESS, limit));
        List<Integer> silent = new ArrayList<>();
        try {
            for (int i = 0; i < limit; i++) {
                silent.add(UnixDomainSocket.connectToPath(limited.socketPath()));
            }
            int over = UnixDomainSocket.connectToPath(limited.socketPath());
            silent.add(over);
            assertEquals(HostHandshake.TOO_MANY_HANDSHAKES, awaitReply(over));
        } finally {
            for (int fd : silent) {
                FileDescriptors.closeQuietly(fd);
            }
            second.close().sync();
        }
    }

    /** HELLO_TIMEOUT_MILLIS drops a silent connection (it hangs up on it) and frees its slot. */
    @Test
    void helloTimeoutOptionDropsSilentConnections() throws Exception {
        IdtsAddress limited = IdtsAddress.of("timeout-" + ProcessHandle.current().pid() + '-'
                + SEQUENCE.incrementAndGet());
        Channel second = bindEcho(limited, b -> b.option(IdtsChannelOption.HELLO_TIMEOUT_MILLIS, 100));
        int silent = UnixDomainSocket.connectToPath(limited.socketPath());
        try {
            assertEquals(100, second.config().getOption(IdtsChannelOption.HELLO_TIMEOUT_MILLIS));
            assertEquals(-1, awaitReply(silent), "dropped without a reply");
            assertEchoes(limited);
        } finally {
            FileDescriptors.closeQuietly(silent);
            second.close().sync();
        }
    }

    /**
     * accept4 failing with EMFILE left the edge-triggered listening socket unread: connects queued then waited for
     * ever. Now the server retries until descriptors come free. The server runs in a child JVM whose descriptor limit
     * its silent connections reach.
     */
    @Test
    void queuedConnectsAreAcceptedOnceDescriptorsComeFree() throws Exception {
        IdtsAddress target = IdtsAddress.of("descriptors-" + ProcessHandle.current().pid() + '-'
                + SEQUENCE.incrementAndGet());
        try (ChildJvm server = ChildJvm.start(EchoServerMain.class, target.toString(),
                Integer.toString(DESCRIPTOR_HEADROOM))) {
            server.awaitLine("READY", CHILD_STARTUP_TIMEOUT);
            // Each silent connection holds one of the server's descriptors until it hangs up: more than it has.
            List<Integer> silent = new ArrayList<>();
            List<ChannelFuture> queued = new ArrayList<>();
            try {
                for (int i = 0; i < 2 * DESCRIPTOR_HEADROOM; i++) {
                    silent.add(UnixDomainSocket.connectToPath(target.socketPath()));
                }
                for (int i = 0; i < 3; i++) {
                    queued.add(new Bootstrap().group(group).channel(IdtsChannel.class)
                            .handler(new ChannelInboundHandlerAdapter())
                            .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, QUEUED_CONNECT_TIMEOUT_MILLIS)
                            .connect(target));
                }
                // Let the server hit the limit with the queue behind it, then free its descriptors.
                Thread.sleep(500);
            } finally {
                for (int fd : silent) {
                    FileDescriptors.closeQuietly(fd);
                }
            }
            for (ChannelFuture connect : queued) {
                assertTrue(connect.await(QUEUED_CONNECT_TIMEOUT_MILLIS * 2, TimeUnit.MILLISECONDS),
                        "connect ended");
                assertTrue(connect.isSuccess(), "a connect queued while the server had no descriptor: "
                        + connect.cause());
                connect.channel().close().sync();
            }
            assertEquals(0, server.closeStdinAndWait(CHILD_STARTUP_TIMEOUT), server.describeOutput());
            String log = server.stderr();
            assertEquals(1, log.lines().filter(l -> l.startsWith("WARNING: ")
                    && l.contains("cannot accept IDTS connections: the process has no free file descriptor")).count(),
                    "one warning for the shortage, not one per retry:\n" + log);
        }
    }

    /**
     * Refusals are logged at warning level once per connecting process, whatever their kind; the others at debug
     * level (they were a warning each, or only a debug line for a HELLO of four descriptors). The server runs in a
     * child JVM, whose log is its stderr.
     */
    @Test
    void refusalsOfOneProcessAreLoggedAtWarningLevelOnce() throws Exception {
        IdtsAddress target = IdtsAddress.of("warned-" + ProcessHandle.current().pid() + '-'
                + SEQUENCE.incrementAndGet());
        try (ChildJvm server = ChildJvm.start(EchoServerMain.class, target.toString())) {
            server.awaitLine("READY", CHILD_STARTUP_TIMEOUT);
            for (int i = 0; i < 3; i++) {
                int region = validRegion();
                int[] pair = NotificationSocket.createPair();
                try {
                    assertEquals(HostHandshake.BAD_HELLO, send(target, HostHandshake.encodeHello("attacker"),
                            new int[] { region, pair[1], pair[0], region }));
                } finally {
                    FileDescriptors.closeQuietly(region);
                    FileDescriptors.closeQuietly(pair[0]);
                    FileDescriptors.closeQuietly(pair[1]);
                }
                byte[] wrongMagic = HostHandshake.encodeHello("attacker");
                ByteBuffer.wrap(wrongMagic).order(ByteOrder.nativeOrder())
                        .putInt(HostHandshake.HELLO_MAGIC_OFFSET, 0x12345678);
                assertEquals(HostHandshake.BAD_HELLO, handshake(target, wrongMagic, validRegion(), true));
            }
            assertEchoes(target);
            assertEquals(0, server.closeStdinAndWait(CHILD_STARTUP_TIMEOUT), server.describeOutput());
            String log = server.stderr();
            long warnings = log.lines().filter(l -> l.startsWith("WARNING: Rejected an IDTS connection")).count();
            assertEquals(1, warnings, "warnings about the six refusals of one process:\n" + log);
            assertTrue(log.contains("further rejections of this process are logged at debug level"), log);
        }
    }

    private static int awaitReply(int socket) throws Exception {
        byte[] reply = new byte[1];
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            ReceivedMessage message = UnixDomainSocket.receive(socket, reply, 0, 1, 0);
            if (message.bytes() > 0) {
                return reply[0];
            }
            if (message.bytes() == 0) {
                return -1;
            }
            Thread.sleep(1);
        }
        throw new AssertionError("neither a reply nor a hang-up within 10 s");
    }

    private ChannelFuture connect(IdtsAddress target) {
        return new Bootstrap().group(group).channel(IdtsChannel.class).handler(new ChannelInboundHandlerAdapter())
                .option(IdtsChannelOption.RING_CAPACITY, CAPACITY).connect(target);
    }

    private Channel bindEcho(IdtsAddress target) throws InterruptedException {
        return bindEcho(target, b -> b);
    }

    private Channel bindEcho(IdtsAddress target, UnaryOperator<ServerBootstrap> options)
            throws InterruptedException {
        return options.apply(new ServerBootstrap().group(group).channel(IdtsServerChannel.class)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                ctx.writeAndFlush(msg);
                            }
                        });
                    }
                })).bind(target).sync().channel();
    }

    /** A real client connects to {@code target}, and its bytes come back. */
    private void assertEchoes(IdtsAddress target) throws Exception {
        CompletableFuture<String> echo = new CompletableFuture<>();
        Channel client = new Bootstrap().group(group).channel(IdtsChannel.class)
                .handler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        echo.complete(((ByteBuf) msg).toString(StandardCharsets.US_ASCII));
                        ReferenceCountUtil.release(msg);
                    }
                }).connect(target).sync().channel();
        try {
            client.writeAndFlush(Unpooled.copiedBuffer("ok", StandardCharsets.US_ASCII));
            assertEquals("ok", echo.get(10, TimeUnit.SECONDS));
        } finally {
            client.close().sync();
        }
    }

    /** After all that, the server is unharmed: a real client connects and echoes. */
    @Test
    void serverKeepsAcceptingAfterRefusals() throws Exception {
        int[] pair = NotificationSocket.createPair();
        FileDescriptors.closeQuietly(pair[1]);
        assertEquals(HostHandshake.BAD_REGION, handshake(HostHandshake.encodeHello("attacker"), pair[0], true));
        CompletableFuture<String> echo = new CompletableFuture<>();
        Channel client = new Bootstrap().group(group).channel(IdtsChannel.class)
                .handler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        echo.complete(((ByteBuf) msg).toString(java.nio.charset.StandardCharsets.US_ASCII));
                        ReferenceCountUtil.release(msg);
                    }
                }).connect(address).sync().channel();
        client.writeAndFlush(Unpooled.copiedBuffer("ok", java.nio.charset.StandardCharsets.US_ASCII));
        assertEquals("ok", echo.get(10, TimeUnit.SECONDS));
        client.close().sync();
        assertEquals(1, accepted.get(), "only the real client became a channel");
    }

    private static int validRegion() throws Exception {
        return validRegion(CAPACITY);
    }

    private static int validRegion(int capacity) throws Exception {
        long size = RegionLayout.regionSize(capacity, capacity);
        int fd = MemFd.createSealed("idts:hostile-test", size);
        try (SharedMapping mapping = SharedMapping.map(fd, size)) {
            RegionLayout.initialize(mapping.buffer(), capacity, capacity);
        }
        return fd;
    }

    /**
     * Sends {@code hello} with {@code region} and a notification descriptor (one end of a socket pair, or a copy of
     * the region if {@code socket} is false), closes what it sent, and returns the acceptor's reply code.
     */
    private int handshake(byte[] hello, int region, boolean socket) throws Exception {
        return handshake(address, hello, region, socket);
    }

    private int handshake(IdtsAddress target, byte[] hello, int region, boolean socket) throws Exception {
        int[] pair = socket ? NotificationSocket.createPair() : new int[] { -1, region };
        try {
            return send(target, hello, new int[] { region, pair[1] });
        } finally {
            FileDescriptors.closeQuietly(region);
            if (socket) {
                FileDescriptors.closeQuietly(pair[0]);
                FileDescriptors.closeQuietly(pair[1]);
            }
        }
    }

    private int send(byte[] hello, int[] fds) throws Exception {
        return send(address, hello, fds);
    }

    private int send(IdtsAddress target, byte[] hello, int[] fds) throws Exception {
        int socket = UnixDomainSocket.connectToPath(target.socketPath());
        try {
            assertEquals(hello.length, UnixDomainSocket.send(socket, hello, 0, hello.length, fds));
            byte[] reply = new byte[1];
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (System.nanoTime() < deadline) {
                ReceivedMessage message = UnixDomainSocket.receive(socket, reply, 0, 1, 0);
                if (message.bytes() > 0) {
                    assertEquals(0, accepted.get(), "a refused connector must not become a channel");
                    return reply[0];
                }
                assertTrue(message.bytes() < 0, "the acceptor hung up without a reply code");
                Thread.sleep(1);
            }
            throw new AssertionError("no reply from the acceptor within 10 s");
        } finally {
            FileDescriptors.closeQuietly(socket);
        }
    }
}
