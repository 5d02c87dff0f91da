package io.idts.testsuite;

import io.idts.channel.IdtsChannelOption;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;

import java.io.ByteArrayOutputStream;
import java.nio.channels.ClosedChannelException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Closing an IDTS channel while writes are pending, as closing a Netty socket channel does: the writes still in the
 * outbound buffer (flushed but waiting for ring space, or never flushed) fail with {@link ClosedChannelException},
 * nothing hangs, and the peer receives a prefix of the stream that contains every write whose future succeeded,
 * then the end of the stream. The writer is the client and the server, the event loops spin and do not.
 *
 * <p>The rings are 4 KiB and the reader does not read until the writer closed, so ten writes of 1000 bytes cannot
 * all fit: some complete, one is partly in the ring, the rest wait.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
public class IdtsClosePendingWritesTest extends AbstractIdtsSocketTest {

    private static final long TIMEOUT_SECONDS = 10;
    private static final int RING_CAPACITY = 4096;
    private static final int WRITES = 10;
    private static final int WRITE_SIZE = 1000;

    public IdtsClosePendingWritesTest() {
        super("close-pending");
    }

    @Test
    public void testCloseWithFlushedWritesWaitingForSpace(TestInfo testInfo) throws Throwable {
        run(testInfo, (sb, cb) -> {
            testCloseWithPendingWrites(sb, cb, true, true);
            testCloseWithPendingWrites(sb, cb, false, true);
        });
    }

    @Test
    public void testCloseWithUnflushedWrites(TestInfo testInfo) throws Throwable {
        run(testInfo, (sb, cb) -> {
            testCloseWithPendingWrites(sb, cb, true, false);
            testCloseWithPendingWrites(sb, cb, false, false);
        });
    }

    private static byte[] stream() {
        byte[] stream = new byte[WRITES * WRITE_SIZE];
        for (int i = 0; i < stream.length; i++) {
            stream[i] = (byte) (i * 31 + i / 251);
        }
        return stream;
    }

    private void testCloseWithPendingWrites(ServerBootstrap sb, Bootstrap cb, boolean clientWrites, boolean flush)
            throws Throwable {
        String when = (clientWrites ? "client" : "server") + " writes, " + (flush ? "flushed" : "not flushed");
        byte[] stream = stream();
        Writer writer = new Writer(stream, flush);
        Reader reader = new Reader();
        cb.option(IdtsChannelOption.RING_CAPACITY, RING_CAPACITY)
                .option(ChannelOption.AUTO_READ, clientWrites)
                .handler(clientWrites ? writer : reader);
        sb.childOption(ChannelOption.AUTO_READ, !clientWrites)
                .childHandler(clientWrites ? reader : writer);
        Channel sc = sb.bind().sync().channel();
        Channel cc = null;
        try {
            cc = cb.connect(sc.localAddress()).sync().channel();
            assertTrue(writer.closed.await(TIMEOUT_SECONDS, TimeUnit.SECONDS), "the writer did not close, " + when);
            List<ChannelFuture> futures = writer.futures;
            assertEquals(WRITES, futures.size());
            for (ChannelFuture future : futures) {
                assertTrue(future.await(TIMEOUT_SECONDS, TimeUnit.SECONDS), "a write future never completed, "
                        + when);
            }
            // Only now does the reader take what is in its ring.
            assertTrue(reader.active.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
            reader.channel.config().setAutoRead(true);
            assertTrue(reader.inactive.await(TIMEOUT_SECONDS, TimeUnit.SECONDS),
                    "the reader did not see the end of the stream, " + when);
            byte[] received = reader.received();

            int succeeded = 0;
            while (succeeded < WRITES && futures.get(succeeded).isSuccess()) {
                succeeded++;
            }
            for (int i = succeeded; i < WRITES; i++) {
                assertInstanceOf(ClosedChannelException.class, futures.get(i).cause(), "write " + i + " of "
                        + WRITES + " (writes before it succeeded: " + succeeded + "), " + when);
            }
            assertTrue(succeeded < WRITES, "the test needs writes still pending at close(), " + when);
            if (flush) {
                assertTrue(succeeded > 0, "the ring holds " + RING_CAPACITY + " bytes: the first writes complete, "
                        + when);
            } else {
                assertEquals(0, succeeded, "writes never flushed cannot succeed, " + when);
            }
            assertTrue(received.length >= succeeded * WRITE_SIZE, "received " + received.length
                    + " bytes, but " + succeeded + " writes of " + WRITE_SIZE + " succeeded, " + when);
            assertTrue(received.length <= RING_CAPACITY, "more bytes than the ring holds, " + when);
            assertArrayEquals(Arrays.copyOf(stream, received.length), received,
                    "received bytes are not a prefix of the stream written, " + when);
            if (!flush) {
                assertEquals(0, received.length, when);
            }
            // A write after the close fails the same way, at once.
            ChannelFuture late = writer.channel.writeAndFlush(writer.channel.alloc().buffer().writeByte(1));
            assertTrue(late.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
            assertInstanceOf(ClosedChannelException.class, late.cause(), when);
        } finally {
            if (cc != null) {
                cc.close().sync();
            }
            sc.close().sync();
        }
    }

    /** On channelActive: ten writes (flushed or not) and close(), in one go on the event loop. */
    @ChannelHandler.Sharable
    private static final class Writer extends ChannelInboundHandlerAdapter {
        private final byte[] stream;
        private final boolean flush;
        final List<ChannelFuture> futures = new ArrayList<>();
        final CountDownLatch closed = new CountDownLatch(1);
        volatile Channel channel;

        Writer(byte[] stream, boolean flush) {
            this.stream = stream;
            this.flush = flush;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            channel = ctx.channel();
            List<ChannelFuture> written = new ArrayList<>();
            for (int i = 0; i < WRITES; i++) {
                ByteBuf buf = ctx.alloc().buffer(WRITE_SIZE).writeBytes(stream, i * WRITE_SIZE, WRITE_SIZE);
                written.add(ctx.write(buf));
            }
            if (flush) {
                ctx.flush();
            }
            synchronized (futures) {
                futures.addAll(written);
            }
            ctx.close().addListener(f -> closed.countDown());
        }
    }

    @ChannelHandler.Sharable
    private static final class Reader extends ChannelInboundHandlerAdapter {
        private final ByteArrayOutputStream received = new ByteArrayOutputStream();
        final CountDownLatch active = new CountDownLatch(1);
        final CountDownLatch inactive = new CountDownLatch(1);
        volatile Channel channel;

        byte[] received() {
            synchronized (received) {
                return received.toByteArray();
            }
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            channel = ctx.channel();
            active.countDown();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            byte[] bytes = new byte[buf.readableBytes()];
            buf.readBytes(bytes);
            ReferenceCountUtil.release(msg);
            synchronized (received) {
                received.write(bytes, 0, bytes.length);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            inactive.countDown();
        }
    }
}
