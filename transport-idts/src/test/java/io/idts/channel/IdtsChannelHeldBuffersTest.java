package io.idts.channel;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Buffers a handler keeps never stall a connection, with the transport's defaults (zero-copy reads on): kept for the
 * whole stream, a byte kept for the life of the channel, released late on other threads in random order. Each one
 * stopped the stream with protocol version 1, where a held view pinned every byte after it.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
final class IdtsChannelHeldBuffersTest {

    private static final long TIMEOUT_SECONDS = 60;
    private static final int RING = 64 * 1024;

    private EventLoopGroup serverGroup;
    private EventLoopGroup clientGroup;
    private ProcessResources before;
    private IdtsAddress address;

    @BeforeAll
    static void loadEverythingOnce() throws Exception {
        ProcessResources.warmUpIdts();
    }

    @BeforeEach
    void setUp(TestInfo info) {
        before = ProcessResources.snapshot();
        serverGroup = new IdtsEventLoopGroup(1);
        clientGroup = new IdtsEventLoopGroup(1);
        address = IdtsChannelTest.uniqueAddress(info);
    }

    @AfterEach
    void tearDown() throws Exception {
        assertTrue(ProcessResources.shutDown(clientGroup));
        assertTrue(ProcessResources.shutDown(serverGroup));
        before.assertNoneLeaked("after both groups shut down");
    }

    @Test
    void aHandlerThatKeepsEveryBufferOfSixteenRingsUntilTheEnd() throws Exception {
        long total = 16L * RING;
        CompletableFuture<String> checked = new CompletableFuture<>();
        CompletableFuture<IdtsChannel> child = new CompletableFuture<>();
        AtomicLong receivedByServer = new AtomicLong();
        bind(() -> new ChannelInboundHandlerAdapter() {
            private final List<ByteBuf> kept = new ArrayList<>();
            private long received;

            @Override
            public void channelActive(ChannelHandlerContext ctx) {
                child.complete((IdtsChannel) ctx.channel());
            }

            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                ByteBuf buf = (ByteBuf) msg;
                kept.add(buf);
                received += buf.readableBytes();
                receivedByServer.set(received);
                if (received == total) {
                    StreamPattern.Verifier verifier = new StreamPattern.Verifier();
                    for (ByteBuf b : kept) {
                        verifier.verify(b);
                        b.release();
                    }
                    checked.complete(verifier.failure() != null ? verifier.failure()
                            : verifier.position() == total ? "ok" : "checked " + verifier.position());
                }
            }
        });
        Channel client = connect(new PatternSender(total, 8192, 1));
        assertEquals("ok", await(checked, () -> "the server, keeping every buffer, received "
                + receivedByServer.get() + " of " + total + " bytes"), "the kept bytes");
        IdtsChannel server = child.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        assertTrue(server.zeroCopyReadBytes() > 0, "zero-copy reads were on");
        assertTrue(server.holdLimitCopies() > 0, "past the bound, reads copied");
        client.close().sync();
    }

    @Test
    void aOneByteSliceOfTheFirstReadKeptForTheLifeOfTheChannelWhileAHundredRingsFlowBothWays() throws Exception {
        long total = 100L * RING;
        List<ByteBuf> keptByServer = Collections.synchronizedList(new ArrayList<>());
        bind(() -> new KeepFirstByte(keptByServer, true));
        List<ByteBuf> keptByClient = new ArrayList<>();
        PatternReceiver receiver = new PatternReceiver(total);
        Channel client = connect(new PatternSender(total, 16 * 1024, 2), new KeepFirstByte(keptByClient, false),
                receiver);
        assertEquals(total, await(receiver.done(), () -> "the client got " + receiver.received() + " of " + total
                + " bytes echoed, each end keeping a byte of its first read"));
        assertNull(receiver.failure());
        assertEquals(1, keptByClient.size());
        assertEquals(1, keptByServer.size());
        assertEquals(StreamPattern.at(0), keptByClient.get(0).getByte(0));
        assertEquals(StreamPattern.at(0), keptByServer.get(0).getByte(0));
        try {
            // On the loop, after the last read: every other buffer was released by the receiver.
            long pinned = client.eventLoop().submit(((IdtsChannel) client)::pinnedBytes).get();
            assertEquals(RING / 64, pinned, "the kept byte pins its slice, and only that");
        } finally {
            client.close().sync();
            keptByClient.get(0).release();
            keptByServer.get(0).release();
        }
    }

    @Test
    void buffersReleasedLateOnOtherThreadsInRandomOrderWhileTheStreamGoesBothWays() throws Exception {
        long total = 40L * RING;
        ScheduledExecutorService releasers = Executors.newScheduledThreadPool(3);
        CompletableFuture<IdtsChannel> child = new CompletableFuture<>();
        try {
            bind(() -> new ChannelInboundHandlerAdapter() {
                private final Random random = new Random(3);
                private final List<ByteBuf> batch = new ArrayList<>();

                @Override
                public void channelActive(ChannelHandlerContext ctx) {
                    child.complete((IdtsChannel) ctx.channel());
                }

                @Override
                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                    ByteBuf buf = (ByteBuf) msg;
                    ctx.write(buf.retain()); // the echo releases one reference when it is sent
                    batch.add(buf);          // the other is released later, elsewhere
                    if (batch.size() == 24 || random.nextInt(16) == 0) {
                        Collections.shuffle(batch, random);
                        for (ByteBuf b : batch) {
                            releasers.schedule(() -> {
                                b.release();
                            }, random.nextInt(20), TimeUnit.MILLISECONDS);
                        }
                        batch.clear();
                    }
                }

                @Override
                public void channelReadComplete(ChannelHandlerContext ctx) {
                    ctx.flush();
                }

                @Override
                public void channelInactive(ChannelHandlerContext ctx) {
                    batch.forEach(ByteBuf::release);
                    batch.clear();
                }
            });
            PatternReceiver receiver = new PatternReceiver(total);
            Channel client = connect(new PatternSender(total, 4096, 3), receiver);
            assertEquals(total, await(receiver.done(), () -> "the client got " + receiver.received() + " of "
                    + total + " bytes echoed by a server releasing its buffers late on other threads"));
            assertNull(receiver.failure());
            IdtsChannel server = child.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            assertTrue(server.eventLoop().submit(server::zeroCopyReadBytes).get() > 0,
                    "the server read views: zero copy was on");
            client.close().sync();
        } finally {
            releasers.shutdown();
            assertTrue(releasers.awaitTermination(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        }
    }

    /** The value of {@code future}, or an AssertionError that says how far the stream got if it stalled. */
    private static <T> T await(CompletableFuture<T> future, Supplier<String> progress) throws Exception {
        try {
            return future.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            throw new AssertionError("stalled: within " + TIMEOUT_SECONDS + " s, " + progress.get(), e);
        }
    }

    /** Keeps a 1-byte retained slice of the first buffer it reads; echoes if asked, else passes every buffer on. */
    private static final class KeepFirstByte extends ChannelInboundHandlerAdapter {
        private final List<ByteBuf> kept;
        private final boolean echo;

        KeepFirstByte(List<ByteBuf> kept, boolean echo) {
            this.kept = kept;
            this.echo = echo;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            if (kept.isEmpty()) {
                kept.add(buf.retainedSlice(buf.readerIndex(), 1));
            }
            if (echo) {
                ctx.write(buf);
            } else {
                ctx.fireChannelRead(buf);
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            if (echo) {
                ctx.flush();
            } else {
                ctx.fireChannelReadComplete();
            }
        }
    }

    private void bind(Supplier<ChannelHandler> handler) throws InterruptedException {
        new ServerBootstrap().group(serverGroup).channel(IdtsServerChannel.class)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(handler.get());
                    }
                }).bind(address).sync();
    }

    private Channel connect(ChannelHandler... handlers) throws InterruptedException {
        return new Bootstrap().group(clientGroup).channel(IdtsChannel.class)
                .option(IdtsChannelOption.RING_CAPACITY, RING)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(handlers);
                    }
                }).connect(address).sync().channel();
    }
}
