package io.idts.channel.host;

import io.idts.channel.ProcessResources;

import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsChannel;
import io.idts.channel.IdtsEventLoopGroup;
import io.idts.channel.IdtsServerChannel;
import io.idts.channel.ring.RegionLayout;

import io.idts.linux.EventFd;
import io.idts.linux.FileDescriptors;
import io.idts.linux.MemFd;
import io.idts.linux.ReceivedMessage;
import io.idts.linux.SharedMapping;
import io.idts.linux.UnixDomainSocket;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The acceptor's half of the host handshake against a hostile connector: every malformed HELLO, descriptor or region
 * is refused with its reply code, no child channel reaches the pipeline, nothing the connector sent stays open, and
 * the server keeps accepting well-behaved clients.
 */
class HostListenerTest {

    private static final int CAPACITY = RegionLayout.MIN_RING_CAPACITY;
    private static final AtomicInteger SEQUENCE = new AtomicInteger();

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
    void helloWithTwoDescriptorsIsRefused() throws Exception {
        int region = validRegion();
        int toAcceptor = EventFd.create();
        try {
            assertEquals(HostHandshake.BAD_HELLO,
                    send(HostHandshake.encodeHello("attacker"), new int[] { region, toAcceptor }));
        } finally {
            FileDescriptors.closeQuietly(region);
            FileDescriptors.closeQuietly(toAcceptor);
        }
    }

    @Test
    void regionThatIsNotAMemfdIsRefused() throws Exception {
        // An eventfd in place of the memfd: it has no seals, so nothing stops it from changing size.
        int notAMemfd = EventFd.create();
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
    void notificationDescriptorsThatAreNotEventfdsAreRefused() throws Exception {
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

    /** After all that, the server is unharmed: a real client connects and echoes. */
    @Test
    void serverKeepsAcceptingAfterRefusals() throws Exception {
        assertEquals(HostHandshake.BAD_REGION, handshake(HostHandshake.encodeHello("attacker"), EventFd.create(), true));
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
        long size = RegionLayout.regionSize(CAPACITY, CAPACITY);
        int fd = MemFd.createSealed("idts:hostile-test", size);
        try (SharedMapping mapping = SharedMapping.map(fd, size)) {
            RegionLayout.initialize(mapping.buffer(), CAPACITY, CAPACITY);
        }
        return fd;
    }

    /**
     * Sends {@code hello} with {@code region} and two notification descriptors (eventfds, or copies of the region if
     * {@code eventfds} is false), closes what it sent, and returns the acceptor's reply code.
     */
    private int handshake(byte[] hello, int region, boolean eventfds) throws Exception {
        int toAcceptor = eventfds ? EventFd.create() : region;
        int toConnector = eventfds ? EventFd.create() : region;
        try {
            return send(hello, new int[] { region, toAcceptor, toConnector });
        } finally {
            FileDescriptors.closeQuietly(region);
            if (eventfds) {
                FileDescriptors.closeQuietly(toAcceptor);
                FileDescriptors.closeQuietly(toConnector);
            }
        }
    }

    private int send(byte[] hello, int[] fds) throws Exception {
        int socket = UnixDomainSocket.connect(address.abstractSocketName());
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
