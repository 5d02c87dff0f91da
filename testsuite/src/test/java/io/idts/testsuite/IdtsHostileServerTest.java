package io.idts.testsuite;

import io.idts.channel.IdtsChannelOption;
import io.idts.channel.IdtsProtocolException;
import io.idts.channel.ProcessResources;
import io.idts.channel.StreamPattern;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.ConnectTimeoutException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.ByteArrayOutputStream;
import java.net.ConnectException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A server that breaks the protocol against a real {@code IdtsChannel} client: a raw acceptor ({@link RawIdtsServer})
 * answers the HELLO with refusal codes, unknown codes, extra bytes, a descriptor, a hang-up or silence, scribbles on
 * the region after accepting, breaks every ring rule the client's reader and writer check, and floods the client's
 * notification socket. The client gets a clear exception (a {@link ConnectException} naming the reason, or
 * {@code exceptionCaught} with an {@link IdtsProtocolException} naming the field), never hangs, and leaks no
 * descriptor or mapping; a well-behaved client on the same event loops keeps being served.
 */
class IdtsHostileServerTest {

    private static final long TIMEOUT_SECONDS = 30;
    private static final long TIMEOUT_MILLIS = TimeUnit.SECONDS.toMillis(TIMEOUT_SECONDS);
    private static final int RING = 4096;
    private static final byte[] HONEST = "honest bytes first".getBytes(StandardCharsets.US_ASCII);

    private ProcessResources before;
    private RawIdtsServer server;
    private WellBehavedClient beside;

    @BeforeAll
    static void warmUp() throws Exception {
        ProcessResources.warmUpIdts();
    }

    @AfterAll
    static void shutdownGroups() throws InterruptedException {
        IdtsSocketTestPermutation.INSTANCE.shutdownGroups();
    }

    @BeforeEach
    void start() throws Exception {
        IdtsSocketTestPermutation.INSTANCE.workerGroup();
        IdtsSocketTestPermutation.INSTANCE.bossGroup();
        before = ProcessResources.snapshot();
        server = new RawIdtsServer(IdtsSocketTestPermutation.newSocketAddress("hostile-server"));
        beside = new WellBehavedClient(0, null, 10, TimeUnit.SECONDS, 14);
    }

    @AfterEach
    void stop() throws Exception {
        try {
            beside.assertWellServed();
        } finally {
            beside.close();
            server.close();
        }
        before.assertNoneLeaked("after the hostile server's test");
    }

    /** A real client with a small ring; what it receives and the first exception it catches are recorded. */
    private static final class Client extends ChannelInboundHandlerAdapter {
        final CompletableFuture<Throwable> caught = new CompletableFuture<>();
        final ByteArrayOutputStream received = new ByteArrayOutputStream();
        final ChannelFuture connect;

        Client(RawIdtsServer server, int connectTimeoutMillis) {
            connect = IdtsSocketTestPermutation.INSTANCE.clientSocket(0).newInstance()
                    .option(IdtsChannelOption.RING_CAPACITY, RING)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, connectTimeoutMillis)
                    .handler(this).connect(server.address());
        }

        Channel channel() {
            return connect.channel();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            synchronized (received) {
                byte[] bytes = new byte[buf.readableBytes()];
                buf.readBytes(bytes);
                received.writeBytes(bytes);
            }
            buf.release();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            caught.complete(cause);
        }

        int receivedBytes() {
            synchronized (received) {
                return received.size();
            }
        }

        byte[] receivedArray() {
            synchronized (received) {
                return received.toByteArray();
            }
        }

        /** Fails the connect, and the failure is a ConnectException whose message contains {@code text}. */
        void assertConnectFails(Class<? extends Throwable> type, String text) throws InterruptedException {
            assertTrue(connect.await(TIMEOUT_SECONDS, TimeUnit.SECONDS), "the connect ended");
            Throwable cause = connect.cause();
            assertInstanceOf(type, cause);
            assertTrue(cause.getMessage().contains(text), "the message says " + text + ": " + cause);
            assertTrue(channel().closeFuture().await(TIMEOUT_SECONDS, TimeUnit.SECONDS), "the client closed");
        }

        /** The client caught an IdtsProtocolException naming {@code text}, and closed. */
        void assertViolation(String text) throws Exception {
            Throwable cause = caught.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            assertInstanceOf(IdtsProtocolException.class, cause);
            assertTrue(cause.getMessage().contains(text), "the message names " + text + ": " + cause);
            assertTrue(channel().closeFuture().await(TIMEOUT_SECONDS, TimeUnit.SECONDS), "the client closed");
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // The handshake.

    @ParameterizedTest(name = "code {0}")
    @CsvSource({ "1, rejected the handshake message", "2, does not speak IDTS protocol version",
            "3, rejected the shared region", "4, permission denied", "77, unknown code 77",
            "-1, unknown code -1" })
    void aRefusalCodeFailsTheConnectWithItsReason(byte code, String reason) throws Exception {
        Client client = new Client(server, (int) TIMEOUT_MILLIS);
        server.awaitHello(TIMEOUT_MILLIS).refuse(code);
        client.assertConnectFails(ConnectException.class, reason);
    }

    @Test
    void aHangUpBeforeTheReplyFailsTheConnect() throws Exception {
        Client client = new Client(server, (int) TIMEOUT_MILLIS);
        server.awaitHello(TIMEOUT_MILLIS).close();
        client.assertConnectFails(ConnectException.class, "closed the connection during the handshake");
    }

    @Test
    void aServerThatNeverRepliesTimesTheConnectOut() throws Exception {
        Client client = new Client(server, 300);
        try (RawIdtsServer.Hello hello = server.awaitHello(TIMEOUT_MILLIS)) {
            client.assertConnectFails(ConnectTimeoutException.class, "timed out");
        }
    }

    @Test
    void aReplyCarryingADescriptorFailsTheConnect() throws Exception {
        Client client = new Client(server, (int) TIMEOUT_MILLIS);
        try (RawIdtsServer.Hello hello = server.awaitHello(TIMEOUT_MILLIS)) {
            hello.replyWithDescriptor((byte) 0);
            client.assertConnectFails(ConnectException.class, "file descriptors");
        }
    }

    @Test
    void bytesAfterTheAcceptedReplyAreAProtocolViolation() throws Exception {
        Client client = new Client(server, (int) TIMEOUT_MILLIS);
        try (RawIdtsPeer peer = server.awaitHello(TIMEOUT_MILLIS).accept()) {
            peer.sendOnRendezvousSocket(new byte[] { 42 }, false);
            client.assertViolation("rendezvous socket");
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // After the handshake: the region and the ring values.

    private interface Forgery {
        void apply(RawIdtsPeer peer, Client client) throws Exception;
    }

    /** Accepts honestly, sends the honest bytes, then forges; the client must report {@code field} and close. */
    private void assertViolation(String field, Forgery forgery) throws Exception {
        Client client = new Client(server, (int) TIMEOUT_MILLIS);
        try (RawIdtsPeer peer = server.awaitHello(TIMEOUT_MILLIS).accept()) {
            assertTrue(client.connect.await(TIMEOUT_SECONDS, TimeUnit.SECONDS) && client.connect.isSuccess(),
                    () -> "connected: " + client.connect.cause());
            peer.write(HONEST, 0, HONEST.length, TIMEOUT_MILLIS);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_SECONDS);
            while (client.receivedBytes() < HONEST.length && System.nanoTime() < deadline) {
                Thread.sleep(1);
            }
            assertArrayEquals(HONEST, client.receivedArray(), "the honest bytes arrived");
            forgery.apply(peer, client);
            client.assertViolation(field);
            assertEquals(3, peer.peerState(), "the client told the server that it closed");
        }
    }

    /** A descriptor as docs/protocol.md lays it out: bits 0-31 the length, 32-47 the slice, 63 END_OF_SLICE. */
    private static long descriptor(int slice, long length, boolean endOfSlice) {
        return (long) slice << 32 | length & 0xffff_ffffL | (endOfSlice ? 1L << 63 : 0);
    }

    /** Has the client write more than its ring holds, so that its writer needs the server's positions and returns. */
    private static void clientWritesMoreThanItsRing(Client client) {
        ByteBuf more = Unpooled.buffer(3 * RING);
        more.writeZero(3 * RING);
        client.channel().writeAndFlush(more);
    }

    @Test
    void producerPositionBeyondTheQueue() throws Exception {
        assertViolation("position", (peer, client) -> peer.forgeProducerPosition(peer.producerPosition() + 1025));
    }

    @Test
    void producerPositionGoingBackwards() throws Exception {
        assertViolation("position", (peer, client) -> peer.forgeProducerPosition(peer.producerPosition() - 1));
    }

    @Test
    void producerPositionOfMinusOne() throws Exception {
        assertViolation("position", (peer, client) -> peer.forgeProducerPosition(-1));
    }

    @Test
    void unknownProducerState() throws Exception {
        assertViolation("state", (peer, client) -> peer.forgeProducerState(42));
    }

    @Test
    void producerStateGoingBackToNew() throws Exception {
        assertViolation("state", (peer, client) -> peer.forgeProducerState(0));
    }

    @Test
    void reservedProducerFlagBits() throws Exception {
        // The client reads them when it gives consumed descriptors back: one more byte makes it.
        assertViolation("flags", (peer, client) -> {
            peer.forgeProducerFlags(0x100);
            peer.write('x', TIMEOUT_MILLIS);
        });
    }

    @Test
    void descriptorNamingNoSlice() throws Exception {
        assertViolation("names slice 64", (peer, client) -> peer.forgeDescriptors(descriptor(64, 1, false)));
    }

    @Test
    void descriptorBeyondItsSlice() throws Exception {
        assertViolation("of slice 0", (peer, client) -> peer.forgeDescriptors(descriptor(0, 64, false)));
    }

    @Test
    void descriptorWithReservedBits() throws Exception {
        assertViolation("reserved bits", (peer, client) -> peer.forgeDescriptors(descriptor(0, 1, false) | 1L << 55));
    }

    @Test
    void descriptorReusingASliceNotReturned() throws Exception {
        assertViolation("which was not returned",
                (peer, client) -> peer.forgeDescriptors(descriptor(0, 0, true), descriptor(0, 1, false)));
    }

    @Test
    void returningASliceNeverGiven() throws Exception {
        assertViolation("returned slice 70", (peer, client) -> {
            peer.forgeReturn(70);
            clientWritesMoreThanItsRing(client);
        });
    }

    @Test
    void returnPositionFarAhead() throws Exception {
        assertViolation("return position", (peer, client) -> {
            peer.forgeReturnPosition(1000);
            clientWritesMoreThanItsRing(client);
        });
    }

    @Test
    void consumerPositionPastTheClientsProducerPosition() throws Exception {
        assertViolation("past the producer position", (peer, client) -> {
            peer.forgeConsumerPosition(5000);
            clientWritesMoreThanItsRing(client);
        });
    }

    @Test
    void consumerPositionOfMinusOne() throws Exception {
        assertViolation("went backwards", (peer, client) -> {
            peer.forgeConsumerPosition(-1);
            clientWritesMoreThanItsRing(client);
        });
    }

    @Test
    void reservedConsumerFlagBits() throws Exception {
        assertViolation("consumer flags", (peer, client) -> {
            peer.forgeConsumerFlags(0x2);
            client.channel().writeAndFlush(Unpooled.wrappedBuffer(HONEST));
        });
    }

    /**
     * The server scribbles over the header and every reserved byte of the control area: the client never reads them
     * again (it keeps the layout it wrote; reserved bytes are never read), so the echo goes on undisturbed.
     */
    @Test
    void scribblesOnTheHeaderAndTheClientsOwnLinesChangeNothing() throws Exception {
        Client client = new Client(server, (int) TIMEOUT_MILLIS);
        try (RawIdtsPeer peer = server.awaitHello(TIMEOUT_MILLIS).accept()) {
            assertTrue(client.connect.await(TIMEOUT_SECONDS, TimeUnit.SECONDS) && client.connect.isSuccess());
            ByteBuffer region = peer.region();
            long[][] scribbled = {
                { 0, 128 },      // magic, version, capacities, size, reserved
                { 140, 192 },    // ring 0 producer line (the client's line), reserved
                { 196, 256 },    //   after its flags
                { 264, 272 },    // ring 0 consumer line, reserved
                { 280, 320 },    //   after the return position
                { 324, 384 },    //   after its flags
                { 396, 448 },    // ring 1 producer line, reserved
                { 452, 512 },    //   after its flags
                { 520, 528 },    // ring 1 consumer line (the client's line), reserved
                { 536, 576 },    //   after the return position
                { 580, 1024 },   //   after its flags, and reserved
                { 1536, 4096 },  // reserved
            };
            for (long[] range : scribbled) {
                for (int offset = (int) range[0]; offset < range[1]; offset += Integer.BYTES) {
                    region.putInt(offset, 0x7777_7777);
                }
            }
            int length = 5 * RING + 17;
            ByteBuf message = Unpooled.buffer(length);
            StreamPattern.write(message, 0, length);
            byte[] expected = new byte[length];
            message.getBytes(0, expected);
            client.channel().writeAndFlush(message);
            byte[] echoed = new byte[length];
            int echoedBytes = 0;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_SECONDS);
            byte[] chunk = new byte[RING];
            while (echoedBytes < length || client.receivedBytes() < length) {
                assertTrue(System.nanoTime() < deadline, "the echo stalled: " + client.receivedBytes() + " of "
                        + length + " back");
                if (echoedBytes < length) {
                    int n = peer.read(chunk, 0, Math.min(chunk.length, length - echoedBytes), TIMEOUT_MILLIS);
                    System.arraycopy(chunk, 0, echoed, echoedBytes, n);
                    peer.write(chunk, 0, n, TIMEOUT_MILLIS);
                    echoedBytes += n;
                } else {
                    Thread.sleep(1);
                }
            }
            assertArrayEquals(expected, echoed, "the server received the client's bytes");
            assertArrayEquals(expected, client.receivedArray(), "the client received its bytes back");
            assertTrue(client.channel().isActive(), "the client is still connected");
            assertTrue(!client.caught.isDone(), () -> "no exception: " + client.caught.getNow(null));
            client.channel().close().sync();
        }
    }

    /**
     * The server writes its notification socket as fast as it can while echoing: the client's loop wakes up for
     * nothing most of the time, and still gets every byte back; so does the well-behaved client on its loops.
     */
    @Test
    void aNotificationFloodDoesNotStopTheClient() throws Exception {
        Client client = new Client(server, (int) TIMEOUT_MILLIS);
        try (RawIdtsPeer peer = server.awaitHello(TIMEOUT_MILLIS).accept();
             NotificationFlood flood = new NotificationFlood(peer.notificationFd())) {
            assertTrue(client.connect.await(TIMEOUT_SECONDS, TimeUnit.SECONDS) && client.connect.isSuccess());
            int length = 256 * 1024;
            ByteBuf message = Unpooled.buffer(length);
            StreamPattern.write(message, 0, length);
            byte[] expected = new byte[length];
            message.getBytes(0, expected);
            client.channel().writeAndFlush(message);
            byte[] chunk = new byte[RING];
            int echoedBytes = 0;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_SECONDS);
            while (echoedBytes < length) {
                int n = peer.read(chunk, 0, Math.min(chunk.length, length - echoedBytes), TIMEOUT_MILLIS);
                peer.write(chunk, 0, n, TIMEOUT_MILLIS);
                echoedBytes += n;
            }
            while (client.receivedBytes() < length) {
                assertTrue(System.nanoTime() < deadline, "the echo stalled under the flood");
                Thread.sleep(1);
            }
            assertTrue(flood.signals() > 0, "the flood ran");
            assertArrayEquals(expected, client.receivedArray());
            assertTrue(!client.caught.isDone(), () -> "no exception: " + client.caught.getNow(null));
            client.channel().close().sync();
        }
    }
}
