package io.idts.testsuite;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsChannel;
import io.idts.channel.IdtsClaimEncoder;
import io.idts.channel.IdtsPeerGoneException;
import io.idts.channel.IdtsProtocolException;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.ConnectException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A connector that breaks the ring protocol after an honest start, written against the raw protocol
 * ({@link RawIdtsPeer}): the server's channel delivers the honest bytes, then fires an {@link IdtsProtocolException}
 * naming the broken field and closes (the peer sees its state {@code CLOSED}); the server process neither crashes
 * nor hangs, and reads nothing outside the ring. Each violation is logged once at warning level, and write promises
 * still pending when it is found fail with it.
 */
class IdtsHostilePeerTest {

    private static final long TIMEOUT_SECONDS = 30;
    private static final int STATE_CLOSED = 3;
    private static final byte[] HONEST = "honest bytes first".getBytes(StandardCharsets.US_ASCII);

    /** Netty logs through SLF4J to logback here (netty-testsuite brings it): the channel's log lines are caught. */
    private final ListAppender<ILoggingEvent> channelLog = new ListAppender<>();

    @BeforeEach
    void catchChannelLog() {
        channelLog.start();
        ((Logger) LoggerFactory.getLogger(IdtsChannel.class)).addAppender(channelLog);
    }

    @AfterEach
    void releaseChannelLog() {
        ((Logger) LoggerFactory.getLogger(IdtsChannel.class)).detachAppender(channelLog);
        channelLog.stop();
    }

    @AfterAll
    static void shutdownGroups() throws InterruptedException {
        IdtsSocketTestPermutation.INSTANCE.shutdownGroups();
    }

    @ParameterizedTest(name = "spin {0} ns")
    @ValueSource(longs = { 0, IdtsSocketTestPermutation.SPIN_TIME_NANOS })
    void producerPositionBeyondTheCapacityClosesTheChannel(long spin) throws Exception {
        // Since protocol version 2 the position counts descriptors, at most 1024 (the queue) past the consumer's.
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

    @ParameterizedTest(name = "spin {0} ns")
    @ValueSource(longs = { 0, IdtsSocketTestPermutation.SPIN_TIME_NANOS })
    void reservedConsumerFlagBitsSeenAfterTheEchoWasWrittenCloseTheChannel(long spin) throws Exception {
        // The server's writer reads the peer's consumer flags after it published the echo: its write promise has
        // completed by then, and only exceptionCaught and the log can tell why the channel closes.
        assertRejected(spin, "consumer flags 0x00000081", peer -> {
            peer.forgeConsumerFlags(0x81);
            peer.write('x', TimeUnit.SECONDS.toMillis(TIMEOUT_SECONDS));
        }, true);
    }

    @ParameterizedTest(name = "spin {0} ns")
    @ValueSource(longs = { 0, IdtsSocketTestPermutation.SPIN_TIME_NANOS })
    void reservedConsumerFlagBitsSeenByATransmitClaimsCommitCloseTheChannel(long spin) throws Exception {
        // The echo goes through a claim of the ring: commit() publishes it and reads the consumer flags.
        CompletableFuture<Throwable> failedWrite = assertRejected(spin, "consumer flags 0x00000081", peer -> {
            peer.forgeConsumerFlags(0x81);
            peer.write('x', TimeUnit.SECONDS.toMillis(TIMEOUT_SECONDS));
        }, true, true);
        assertInstanceOf(IdtsProtocolException.class, failedWrite.get(TIMEOUT_SECONDS, TimeUnit.SECONDS),
                "the claimed echo's promise failed with the violation");
    }

    @ParameterizedTest(name = "spin {0} ns")
    @ValueSource(longs = { 0, IdtsSocketTestPermutation.SPIN_TIME_NANOS })
    void consumerPositionPastTheProducersClosesTheChannel(long spin) throws Exception {
        assertRejectedByWriter(spin, "past the producer position", peer -> peer.forgeConsumerPosition(1000));
    }

    @ParameterizedTest(name = "spin {0} ns")
    @ValueSource(longs = { 0, IdtsSocketTestPermutation.SPIN_TIME_NANOS })
    void consumerPositionOfMinusOneClosesTheChannel(long spin) throws Exception {
        assertRejectedByWriter(spin, "consumer position 0xffffffffffffffff", peer -> peer.forgeConsumerPosition(-1));
    }

    @ParameterizedTest(name = "spin {0} ns")
    @ValueSource(longs = { 0, IdtsSocketTestPermutation.SPIN_TIME_NANOS })
    void consumerPositionGoingBackwardsClosesTheChannel(long spin) throws Exception {
        // Long.MIN_VALUE is behind any position the server has seen (unsigned arithmetic modulo 2^64).
        assertRejectedByWriter(spin, "went backwards", peer -> peer.forgeConsumerPosition(Long.MIN_VALUE));
    }

    @ParameterizedTest(name = "spin {0} ns, descriptor {1}")
    @CsvSource({ "0, false", "0, true", IdtsSocketTestPermutation.SPIN_TIME_NANOS + ", false",
            IdtsSocketTestPermutation.SPIN_TIME_NANOS + ", true" })
    void aStrayByteOnTheRendezvousSocketIsAProtocolError(long spin, boolean withDescriptor) throws Exception {
        // After the handshake the socket carries no data (docs/protocol.md): a byte there is a broken peer, not a
        // dead one, with or without a descriptor riding on it.
        assertRejected(spin, "rendezvous socket",
                peer -> peer.sendOnRendezvousSocket(new byte[] { 42 }, withDescriptor));
    }

    @ParameterizedTest(name = "spin {0} ns")
    @ValueSource(longs = { 0, IdtsSocketTestPermutation.SPIN_TIME_NANOS })
    void aPeerWhoseNotificationSocketClosedUnderAWriteIsGoneNotAWriteError(long spin) throws Exception {
        // The peer asks to be woken (WAITING_FOR_DATA), then its end of the notification socket pair closes just
        // before the server writes (in the same task of the server's loop, so the write comes first): the server's
        // notification fails with EPIPE. That is a peer gone, as the hang-up then says, not a failed write.
        IdtsAddress address = IdtsSocketTestPermutation.newSocketAddress("deaf");
        CompletableFuture<Channel> child = new CompletableFuture<>();
        CompletableFuture<Throwable> caught = new CompletableFuture<>();
        Channel server = IdtsSocketTestPermutation.INSTANCE.serverSocket(spin).newInstance()
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        child.complete(ch);
                        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                            @Override
                            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                caught.complete(cause);
                            }
                        });
                    }
                }).bind(address).sync().channel();
        try (RawIdtsPeer peer = new RawIdtsPeer()) {
            peer.connect(address, TimeUnit.SECONDS.toMillis(TIMEOUT_SECONDS));
            Channel accepted = child.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            peer.forgeConsumerFlags(1); // WAITING_FOR_DATA, a valid value
            ChannelFuture write = accepted.eventLoop().submit(() -> {
                peer.closeNotificationSocket();
                return accepted.writeAndFlush(Unpooled.wrappedBuffer(HONEST));
            }).get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            assertTrue(write.await(TIMEOUT_SECONDS, TimeUnit.SECONDS), "the write completed");
            assertTrue(write.isSuccess(), () -> "the write failed: " + write.cause());
            Throwable cause = caught.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            assertInstanceOf(IdtsPeerGoneException.class, cause, "the channel says the peer is gone");
            assertTrue(accepted.closeFuture().await(TIMEOUT_SECONDS, TimeUnit.SECONDS), "the channel closed");
        } finally {
            server.close().sync();
        }
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

    private void assertRejected(long spin, String field, Forgery forgery) throws Exception {
        assertRejected(spin, field, forgery, false);
    }

    /**
     * A forgery only the server's writer sees: the server echoes, the peer writes more than the server's ring holds
     * and reads nothing, so that the server's writer runs out of free slices and takes the returned ones.
     */
    private void assertRejectedByWriter(long spin, String field, Forgery forgery) throws Exception {
        CompletableFuture<Throwable> failedWrite = assertRejected(spin, field, peer -> {
            forgery.apply(peer);
            byte[] more = new byte[2 * peer.ringCapacity()];
            try {
                peer.write(more, 0, more.length, TimeUnit.SECONDS.toMillis(TIMEOUT_SECONDS));
            } catch (IOException e) {
                // The server closed while we wrote: what the test expects.
            }
        }, true);
        // The server's echo was waiting for space when the violation was found: its write fails with it.
        Throwable writeFailure = failedWrite.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        assertInstanceOf(IdtsProtocolException.class, writeFailure, "the pending echo failed with the violation");
        assertTrue(writeFailure.getMessage().contains(field), writeFailure.toString());
    }

    private CompletableFuture<Throwable> assertRejected(long spin, String field, Forgery forgery, boolean echo)
            throws Exception {
        return assertRejected(spin, field, forgery, echo, false);
    }

    /** Echoes through a transmit claim of the ring (no copy) where it can. */
    private static final class ClaimingEchoEncoder extends IdtsClaimEncoder<ByteBuf> {
        @Override
        protected int encodedLength(ChannelHandlerContext ctx, ByteBuf msg) {
            return msg.readableBytes();
        }

        @Override
        protected void encode(ChannelHandlerContext ctx, ByteBuf msg, ByteBuf out) {
            out.writeBytes(msg, msg.readerIndex(), msg.readableBytes());
        }
    }

    /**
     * @param claims whether the echo goes through {@link IdtsClaimEncoder} (the first handler)
     * @return the first failure of an echo's write promise (never completed if every echo was written)
     */
    private CompletableFuture<Throwable> assertRejected(long spin, String field, Forgery forgery, boolean echo,
                                                        boolean claims) throws Exception {
        IdtsAddress address = IdtsSocketTestPermutation.newSocketAddress("hostile");
        CompletableFuture<Throwable> caught = new CompletableFuture<>();
        CompletableFuture<String> honest = new CompletableFuture<>();
        CompletableFuture<Channel> child = new CompletableFuture<>();
        CompletableFuture<Throwable> failedWrite = new CompletableFuture<>();
        Channel server = IdtsSocketTestPermutation.INSTANCE.serverSocket(spin).newInstance()
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        child.complete(ch);
                        if (claims) {
                            ch.pipeline().addFirst(new ClaimingEchoEncoder());
                        }
                        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                            private final StringBuilder received = new StringBuilder();

                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                if (received.length() < HONEST.length) {
                                    received.append(((ByteBuf) msg).toString(StandardCharsets.US_ASCII));
                                }
                                if (echo) {
                                    ctx.writeAndFlush(msg).addListener(f -> {
                                        if (!f.isSuccess()) {
                                            failedWrite.complete(f.cause());
                                        }
                                    });
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
            assertLoggedOnce(accepted, cause);
            assertFalse(failedWrite.isDone() && !(failedWrite.getNow(null) instanceof IdtsProtocolException),
                    () -> "a pending write failed with " + failedWrite.getNow(null) + ", not the violation");
        } finally {
            server.close().sync();
        }
        return failedWrite;
    }

    /** One warning of the channel's log names the violation; no other line of it is a warning or an error. */
    private void assertLoggedOnce(Channel channel, Throwable violation) {
        String id = "0x" + channel.id().asShortText();
        List<ILoggingEvent> lines = channelLog.list.stream()
                .filter(e -> e.getFormattedMessage().contains(id) && e.getLevel().isGreaterOrEqual(Level.WARN))
                .toList();
        assertEquals(1, lines.size(), () -> "one warning for " + id + ", logged: " + lines);
        assertEquals(Level.WARN, lines.get(0).getLevel());
        assertTrue(lines.get(0).getFormattedMessage().contains(violation.getMessage()), lines.get(0).toString());
    }
}
