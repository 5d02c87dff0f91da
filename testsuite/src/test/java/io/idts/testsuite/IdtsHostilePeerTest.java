package io.idts.testsuite;

import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsProtocolException;
import io.idts.channel.RawIdtsPeer;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
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
        assertRejected(spin, "position", peer -> peer.forgeProducerPosition(
                HONEST.length + (long) peer.ringCapacity() + 1));
    }

    @ParameterizedTest(name = "spin {0} ns")
    @ValueSource(longs = { 0, IdtsSocketTestPermutation.SPIN_TIME_NANOS })
    void producerPositionGoingBackwardsClosesTheChannel(long spin) throws Exception {
        assertRejected(spin, "position", peer -> peer.forgeProducerPosition(HONEST.length - 5));
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

    private interface Forgery {
        void apply(RawIdtsPeer peer) throws Exception;
    }

    private static void assertRejected(long spin, String field, Forgery forgery) throws Exception {
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
                                received.append(((ByteBuf) msg).toString(StandardCharsets.US_ASCII));
                                ReferenceCountUtil.release(msg);
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
