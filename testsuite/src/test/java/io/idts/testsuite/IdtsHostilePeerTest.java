package io.idts.testsuite;

import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsProtocolException;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.net.ConnectException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A connector that breaks the ring protocol after an honest start, written against the raw protocol
 * ({@link RawIdtsPeer}): the server's channel delivers the honest bytes, then fires an {@link IdtsProtocolException}
 * naming the broken field and closes (the peer sees its state {@code CLOSED}); the server process neither crashes
 * nor hangs, and reads nothing outside the ring.
 */
class IdtsHostilePeerTest {

    private static final long TIMEOUT_SECONDS = 30;
    private static final int STATE_CLOSED = 3;
    private static final byte[] HONEST = "honest bytes first".getBytes(StandardCharsets.US_ASCII);

    @AfterAll
    static void shutdownGroups() throws InterruptedException {
        IdtsSocketTestPermutation.INSTANCE.shutdownGroups();
    }

    @ParameterizedTest(name = "spin {0} ns")
    @ValueSource(longs = { 0, IdtsSocketTestPermutation.SPIN_TIME_NANOS })
    void producerPositionBeyondTheCapacityClosesTheChannel(long spin) throws Exception {
        // Protocol version 2: the position counts descriptors, at most 1024 (the queue) past the consumer's.
        assertRejected(spin, "position", peer -> peer.forgeProducerPosition(peer.producerPosition() + 1025));
    }

    @ParameterizedTest(name = "spin {0} ns")
    @ValueSource(longs = { 0, IdtsSocketTestPermutation.SPIN_TIME_NANOS })
    void producerPositionGoingBackwardsClosesTheChannel(long spin) throws Exception {
        assertRejected(spin, "position", peer -> peer.forgeProducerPosition(peer.producerPosition() - 1));
    }

    @ParameterizedTest(name = "spin {0} ns")
    @ValueSource(longs = { 0, IdtsSocketTestPermutation.SPIN_TIME_NANOS })
    void producerPositionNearTheTopOfTheRangeClosesTheChannel(long spin) throws Exception {
        // Unsigned arithmetic: a position "behind" by wrapping through 2^64 must not look like a small advance.
        assertRejected(spin, "position", peer -> peer.forgeProducerPosition(Long.MIN_VALUE));
    }

    @ParameterizedTest(name = "spin {0} ns")
    @ValueSource(longs = { 0, IdtsSocketTestPermutation.SPIN_TIME_NANOS })
    void unknownStateClosesTheChannel(long spin) throws Exception {
        assertRejected(spin, "state", peer -> peer.forgeProducerState(42));
    }

    @ParameterizedTest(name = "spin {0} ns")
    @ValueSource(longs = { 0, IdtsSocketTestPermutation.SPIN_TIME_NANOS })
    void reservedFlagBitsCloseTheChannel(long spin) throws Exception {
        // The server reads the producer's flags when it publishes consumed space: send one more byte to make it.
        assertRejected(spin, "flags", peer -> {
            peer.forgeProducerFlags(0x80);
            peer.write('x', TimeUnit.SECONDS.toMillis(TIMEOUT_SECONDS));
        });
    }

    /** A descriptor as docs/protocol.md lays it out: bits 0-31 the length, 32-47 the slice, 63 END_OF_SLICE. */
    private static long descriptor(int slice, long length, boolean endOfSlice) {
        return (long) slice << 32 | length & 0xffff_ffffL | (endOfSlice ? 1L << 63 : 0);
    }

    // The peer's ring has 64 slices of 64 bytes; the honest bytes are the first of slice 0, which is not finished.

    @ParameterizedTest(name = "spin {0} ns")
    @ValueSource(longs = { 0, IdtsSocketTestPermutation.SPIN_TIME_NANOS })
    void descriptorNamingNoSliceClosesTheChannel(long spin) throws Exception {
        assertRejected(spin, "names slice 64", peer -> peer.forgeDescriptors(descriptor(64, 1, false)));
    }

    @ParameterizedTest(name = "spin {0} ns")
    @ValueSource(longs = { 0, IdtsSocketTestPermutation.SPIN_TIME_NANOS })
    void descriptorBeyondItsSliceClosesTheChannel(long spin) throws Exception {
        assertRejected(spin, "gives 64 bytes at offset " + HONEST.length + " of slice 0",
                peer -> peer.forgeDescriptors(descriptor(0, 64, false)));
    }

    @ParameterizedTest(name = "spin {0} ns")
    @ValueSource(longs = { 0, IdtsSocketTestPermutation.SPIN_TIME_NANOS })
    void descriptorWithReservedBitsClosesTheChannel(long spin) throws Exception {
        assertRejected(spin, "reserved bits", peer -> peer.forgeDescriptors(descriptor(0, 1, false) | 1L << 50));
    }

    @ParameterizedTest(name = "spin {0} ns")
    @ValueSource(longs = { 0, IdtsSocketTestPermutation.SPIN_TIME_NANOS })
    void descriptorReusingASliceNotReturnedClosesTheChannel(long spin) throws Exception {
        // Slice 0 ends, and is written again in the same publication, before the server could have returned it.
        assertRejected(spin, "starts slice 0, which was not returned",
                peer -> peer.forgeDescriptors(descriptor(0, 0, true), descriptor(0, 1, false)));
    }

    @ParameterizedTest(name = "spin {0} ns")
    @ValueSource(longs = { 0, IdtsSocketTestPermutation.SPIN_TIME_NANOS })
    void descriptorOfAnotherSliceBeforeTheEndClosesTheChannel(long spin) throws Exception {
        assertRejected(spin, "names slice 5 while slice 0 is not finished",
                peer -> peer.forgeDescriptors(descriptor(5, 1, false)));
    }

    @ParameterizedTest(name = "spin {0} ns")
    @ValueSource(longs = { 0, IdtsSocketTestPermutation.SPIN_TIME_NANOS })
    void returningASliceNeverGivenClosesTheChannel(long spin) throws Exception {
        // The server echoes: its writer takes returned slices back once its free ones are used up, and checks them.
        assertRejectedByWriter(spin, "returned slice 70", peer -> peer.forgeReturn(70));
    }

    @ParameterizedTest(name = "spin {0} ns")
    @ValueSource(longs = { 0, IdtsSocketTestPermutation.SPIN_TIME_NANOS })
    void returningASliceTwiceClosesTheChannel(long spin) throws Exception {
        // Slice 0 holds the echo of the honest bytes: returned once, then again while the server holds it.
        assertRejectedByWriter(spin, "returned slice 0", peer -> {
            peer.forgeReturn(0);
            peer.forgeReturn(0);
        });
    }

    @ParameterizedTest(name = "spin {0} ns")
    @ValueSource(longs = { 0, IdtsSocketTestPermutation.SPIN_TIME_NANOS })
    void aReturnPositionFarAheadClosesTheChannel(long spin) throws Exception {
        assertRejectedByWriter(spin, "return position", peer -> peer.forgeReturnPosition(1000));
    }

    @ParameterizedTest(name = "spin {0} ns")
    @ValueSource(longs = { 0, IdtsSocketTestPermutation.SPIN_TIME_NANOS })
    void aPeerOfProtocolVersion1IsRefusedWithBothVersionsNamed(long spin) throws Exception {
        IdtsAddress address = IdtsSocketTestPermutation.newSocketAddress("v1");
        Channel server = IdtsSocketTestPermutation.INSTANCE.serverSocket(spin).newInstance()
                .childHandler(new ChannelInboundHandlerAdapter()).bind(address).sync().channel();
        try {
            try (RawIdtsPeer peer = new RawIdtsPeer().speaking(1, 1)) {
                ConnectException e = assertThrows(ConnectException.class,
                        () -> peer.connect(address, TimeUnit.SECONDS.toMillis(TIMEOUT_SECONDS)));
                assertTrue(e.getMessage().contains("does not speak IDTS protocol version " + RawIdtsPeer.VERSION)
                        && e.getMessage().contains("such as " + (RawIdtsPeer.VERSION - 1)), e.getMessage());
            }
            // A HELLO of this version with a version-1 region is refused too: the header is checked on its own.
            try (RawIdtsPeer peer = new RawIdtsPeer().speaking(RawIdtsPeer.VERSION, 1)) {
                ConnectException e = assertThrows(ConnectException.class,
                        () -> peer.connect(address, TimeUnit.SECONDS.toMillis(TIMEOUT_SECONDS)));
                assertTrue(e.getMessage().contains("rejected the shared region"), e.getMessage());
            }
            // The server serves on.
            try (RawIdtsPeer peer = new RawIdtsPeer()) {
                peer.connect(address, TimeUnit.SECONDS.toMillis(TIMEOUT_SECONDS));
            }
        } finally {
            server.close().sync();
        }
    }

    private interface Forgery {
        void apply(RawIdtsPeer peer) throws Exception;
    }

    private static void assertRejected(long spin, String field, Forgery forgery) throws Exception {
        assertRejected(spin, field, forgery, false);
    }

    /**
     * A forgery only the server's writer sees: the server echoes, the peer writes more than the server's ring holds
     * and reads nothing, so that the server's writer runs out of free slices and takes the returned ones.
     */
    private static void assertRejectedByWriter(long spin, String field, Forgery forgery) throws Exception {
        assertRejected(spin, field, peer -> {
            forgery.apply(peer);
            byte[] more = new byte[2 * peer.ringCapacity()];
            try {
                peer.write(more, 0, more.length, TimeUnit.SECONDS.toMillis(TIMEOUT_SECONDS));
            } catch (IOException e) {
                // The server closed while we wrote: what the test expects.
            }
        }, true);
    }

    private static void assertRejected(long spin, String field, Forgery forgery, boolean echo) throws Exception {
        IdtsAddress address = IdtsSocketTestPermutation.newSocketAddress("hostile");
        CompletableFuture<Throwable> caught = new CompletableFuture<>();
        CompletableFuture<String> honest = new CompletableFuture<>();
        CompletableFuture<Channel> child = new CompletableFuture<>();
        Channel server = IdtsSocketTestPermutation.INSTANCE.serverSocket(spin).newInstance()
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        child.complete(ch);
                        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                            private final StringBuilder received = new StringBuilder();

                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                if (received.length() < HONEST.length) {
                                    received.append(((ByteBuf) msg).toString(StandardCharsets.US_ASCII));
                                }
                                if (echo) {
                                    ctx.writeAndFlush(msg);
                                } else {
                                    ReferenceCountUtil.release(msg);
                                }
                                if (received.length() >= HONEST.length) {
                                    honest.complete(received.toString());
                                }
                            }

                            @Override
                            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                caught.complete(cause);
                            }
                        });
                    }
                }).bind(address).sync().channel();
        try (RawIdtsPeer peer = new RawIdtsPeer()) {
            peer.connect(address, TimeUnit.SECONDS.toMillis(TIMEOUT_SECONDS));
            peer.write(HONEST, 0, HONEST.length, TimeUnit.SECONDS.toMillis(TIMEOUT_SECONDS));
            assertEquals(new String(HONEST, StandardCharsets.US_ASCII),
                    honest.get(TIMEOUT_SECONDS, TimeUnit.SECONDS));

            forgery.apply(peer);

            Throwable cause = caught.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            assertInstanceOf(IdtsProtocolException.class, cause);
            assertTrue(cause.getMessage().contains(field), "the message names the " + field + ": " + cause);
            Channel accepted = child.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            assertTrue(accepted.closeFuture().await(TIMEOUT_SECONDS, TimeUnit.SECONDS), "the channel closed");
            assertEquals(STATE_CLOSED, peer.peerState(), "the server told the peer that it closed");
        } finally {
            server.close().sync();
        }
    }
}
