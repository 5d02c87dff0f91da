package io.idts.channel;

import io.idts.channel.ring.ViewByteBuf;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.DefaultFileRegion;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.netty.util.internal.SystemPropertyUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Zero copy through real channels: reads as views that cost the channel's allocator nothing, releases out of order
 * across wrap-around, the hold limit and its counter, views outliving their channel, zero-copy reads off, and writes
 * through transmit claims that allocate nothing.
 */
final class ZeroCopyChannelTest {

    private static final long TIMEOUT_SECONDS = 30;
    private static final int SMALL_RING = 4096;

    private EventLoopGroup serverGroup;
    private EventLoopGroup clientGroup;
    private ProcessResources before;
    private IdtsAddress address;
    private final List<Throwable> unexpected = new CopyOnWriteArrayList<>();
    private final CompletableFuture<IdtsChannel> serverChild = new CompletableFuture<>();

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
        try {
            assertTrue(unexpected.isEmpty(), "unexpected exceptions: " + unexpected);
        } finally {
            assertTrue(ProcessResources.shutDown(serverGroup), "server group terminated");
            assertTrue(ProcessResources.shutDown(clientGroup), "client group terminated");
            before.assertNoneLeaked("after the event loop groups shut down");
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Reads.

    @Test
    void zeroCopyReadsCostTheAllocatorNothingAcrossManyWraps() throws Exception {
        CountingAllocator serverAlloc = new CountingAllocator();
        PatternReceiver receiver = new PatternReceiver(5 << 20);
        ViewCheck check = new ViewCheck();
        bind(b -> b.childOption(ChannelOption.ALLOCATOR, serverAlloc), check, receiver);
        Channel client = connect(b -> b.option(IdtsChannelOption.RING_CAPACITY, SMALL_RING));
        sendPattern(client, 5 << 20, 1000);
        assertEquals(5 << 20, await(receiver.done()));
        IdtsChannel child = await(serverChild);
        assertEquals(0, serverAlloc.allocations.get(), "allocations by the channel's allocator on the read path");
        assertEquals(5 << 20, child.zeroCopyReadBytes());
        assertEquals(0, child.copiedReadBytes());
        assertEquals(0, child.holdLimitCopies());
        assertEquals(0, check.copies.get(), "copies read");
        assertTrue(check.views.get() >= (5 << 20) / SMALL_RING, "messages read: " + check.views.get());
        client.close().sync();
    }

    /** On by default (the host backend's peers are trusted); the system property io.idts.zeroCopyReads overrides. */
    @Test
    void zeroCopyReadsAreOnByDefault() throws Exception {
        boolean expected = SystemPropertyUtil.getBoolean("io.idts.zeroCopyReads", true);
        PatternReceiver receiver = new PatternReceiver(100_000);
        ViewCheck check = new ViewCheck();
        bind(b -> b.childOption(IdtsChannelOption.ZERO_COPY_READS, null), check, receiver);
        Channel client = connect(b -> { });
        assertEquals(expected, ((IdtsChannel) client).config().isZeroCopyReads());
        assertEquals(expected, client.config().getOption(IdtsChannelOption.ZERO_COPY_READS));
        sendPattern(client, 100_000, 1000);
        assertEquals(100_000, await(receiver.done()));
        IdtsChannel child = await(serverChild);
        assertEquals(expected, child.config().isZeroCopyReads());
        assertEquals(expected ? 100_000 : 0, child.zeroCopyReadBytes());
        assertEquals(expected ? 0 : 100_000, child.copiedReadBytes());
        assertEquals(expected ? 0 : check.views.get() + check.copies.get(), check.copies.get());
        client.close().sync();
    }

    @Test
    void withZeroCopyReadsOffReadsCopyIntoTheAllocator() throws Exception {
        CountingAllocator serverAlloc = new CountingAllocator();
        PatternReceiver receiver = new PatternReceiver(1 << 20);
        ViewCheck check = new ViewCheck();
        bind(b -> b.childOption(ChannelOption.ALLOCATOR, serverAlloc)
                .childOption(IdtsChannelOption.ZERO_COPY_READS, false), check, receiver);
        Channel client = connect(b -> b.option(IdtsChannelOption.RING_CAPACITY, SMALL_RING));
        sendPattern(client, 1 << 20, 3000);
        assertEquals(1 << 20, await(receiver.done()));
        IdtsChannel child = await(serverChild);
        assertFalse(child.config().isZeroCopyReads());
        assertEquals(0, child.zeroCopyReadBytes());
        assertEquals(1 << 20, child.copiedReadBytes());
        assertEquals(0, check.views.get(), "views read");
        assertTrue(check.copies.get() > 0, "copies read");
        assertTrue(serverAlloc.allocations.get() > 0);
        client.close().sync();
    }

    /**
     * A handler may write into the buffers it reads, as the JDK's SSLEngine does when it decrypts a TLS 1.3 record in
     * place through {@code nioBuffer()}: here every byte arrives XORed with a key and is restored in place, in the
     * view, across many wraps of a small ring (and so through composite views too).
     */
    @Test
    void handlersMayWriteIntoViewsInPlaceAsTheJdkSslEngineDecrypts() throws Exception {
        int total = 2 << 20;
        PatternReceiver receiver = new PatternReceiver(total);
        ViewCheck check = new ViewCheck();
        bind(b -> { }, check, new InPlaceXor(), receiver);
        Channel client = connect(b -> b.option(IdtsChannelOption.RING_CAPACITY, SMALL_RING));
        long position = 0;
        ChannelFuture last = null;
        while (position < total) {
            int n = (int) Math.min(1500, total - position);
            ByteBuf buf = client.alloc().directBuffer(n);
            StreamPattern.write(buf, position, n);
            InPlaceXor.xor(buf.nioBuffer());
            last = client.writeAndFlush(buf);
            position += n;
        }
        ChannelFuture lastWrite = last;
        assertTrue(lastWrite.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        assertTrue(lastWrite.isSuccess(), () -> "write failed: " + lastWrite.cause());
        assertEquals(total, await(receiver.done()));
        assertEquals(total, await(serverChild).zeroCopyReadBytes());
        assertEquals(0, check.copies.get(), "copies read");
        client.close().sync();
    }

    @Test
    void releasesInAnyOrderOnAnyThreadKeepTheStreamIntactAcrossWraps() throws Exception {
        int total = 3 << 20;
        PatternReceiver receiver = new PatternReceiver(total);
        ShufflingHolder holder = new ShufflingHolder(receiver);
        bind(b -> b.childOption(IdtsChannelOption.ZERO_COPY_HOLD_PERCENT, 100), holder);
        Channel client = connect(b -> b.option(IdtsChannelOption.RING_CAPACITY, SMALL_RING));
        sendPattern(client, total, 700);
        assertEquals(total, await(receiver.done()));
        assertTrue(holder.foreignReleases.get() > 0, "some views were released on another thread");
        IdtsChannel child = await(serverChild);
        assertEquals(total, child.zeroCopyReadBytes() + child.copiedReadBytes());
        assertTrue(child.zeroCopyReadBytes() > total / 2, "views: " + child.zeroCopyReadBytes());
        client.close().sync();
    }

    @Test
    void heldViewsBeyondTheHoldLimitMakeReadsCopyAndSaySo() throws Exception {
        int ring = 64 * 1024;
        int message = 48 * 1024; // an "aggregator" holds every view until it has this much
        PatternReceiver receiver = new PatternReceiver(4L * message);
        bind(b -> b.childOption(IdtsChannelOption.ZERO_COPY_HOLD_PERCENT, 25)
                .childOption(ChannelOption.RCVBUF_ALLOCATOR, new FixedRecvByteBufAllocator(4096)),
                new Aggregator(message, 4L * message), receiver);
        Channel client = connect(b -> b.option(IdtsChannelOption.RING_CAPACITY, ring));
        sendPattern(client, 4 * message, 1024);
        assertEquals(4L * message, await(receiver.done()));
        IdtsChannel child = await(serverChild);
        assertTrue(child.holdLimitCopies() > 0, "reads that copied because of the hold limit");
        assertTrue(child.copiedReadBytes() > 0);
        assertTrue(child.zeroCopyReadBytes() > 0);
        assertEquals(0, child.pinnedBytes(), "every view was released");
        client.close().sync();
    }

    @Test
    void aHandlerThatKeepsEverythingPinsNoMoreThanTheBoundAndTheStreamGoesOn() throws Exception {
        int ring = 64 * 1024;
        long total = 8L * ring;
        List<ByteBuf> kept = new ArrayList<>();
        AtomicLong maxPinned = new AtomicLong();
        AtomicLong limit = new AtomicLong();
        CompletableFuture<Long> done = new CompletableFuture<>();
        bind(b -> b.childOption(ChannelOption.RCVBUF_ALLOCATOR, new FixedRecvByteBufAllocator(4096)),
                new ChannelInboundHandlerAdapter() {
                    private long received;

                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        IdtsChannel ch = (IdtsChannel) ctx.channel();
                        ByteBuf buf = (ByteBuf) msg;
                        kept.add(buf);
                        received += buf.readableBytes();
                        maxPinned.accumulateAndGet(ch.pinnedBytes(), Math::max);
                        limit.set(ch.pinnedBytesLimit());
                        if (received == total) {
                            done.complete(received);
                        }
                    }
                });
        Channel client = connect(b -> b.option(IdtsChannelOption.RING_CAPACITY, ring));
        sendPattern(client, total, 1024);
        assertEquals(total, await(done));
        IdtsChannel child = await(serverChild);
        StreamPattern.Verifier verifier = new StreamPattern.Verifier();
        for (ByteBuf buf : kept) {
            assertTrue(verifier.verify(buf), verifier::failure);
        }
        assertEquals(total, verifier.position());
        // 64 slices of 1 KiB, half of them at the default ZERO_COPY_HOLD_PERCENT of 50.
        assertEquals(ring / 2, limit.get(), "the bound on pinned memory");
        assertTrue(maxPinned.get() > 0 && maxPinned.get() <= limit.get(),
                "pinned at most " + maxPinned.get() + " bytes, bound " + limit.get());
        assertTrue(child.holdLimitCopies() > 0, "reads copied past the bound");
        assertEquals(total, child.zeroCopyReadBytes() + child.copiedReadBytes());
        assertTrue(child.zeroCopyReadBytes() >= ring / 4, "views: " + child.zeroCopyReadBytes());
        long pinnedWhileKept = child.pinnedBytes();
        assertTrue(pinnedWhileKept > 0 && pinnedWhileKept <= limit.get(), "pinned while kept: " + pinnedWhileKept);
        child.eventLoop().submit(() -> kept.forEach(ByteBuf::release)).sync();
        assertEquals(0, child.pinnedBytes(), "nothing is pinned once every buffer is released");
        client.close().sync();
    }

    @Test
    void aViewReleasedAfterItsChannelClosedKeepsTheMappingUntilThen() throws Exception {
        CompletableFuture<ByteBuf> kept = new CompletableFuture<>();
        bind(b -> { }, new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                kept.complete((ByteBuf) msg);
            }
        });
        Channel client = connect(b -> { });
        sendPattern(client, 1000, 1000);
        ByteBuf view = await(kept);
        IdtsChannel child = await(serverChild);
        client.close().sync();
        child.closeFuture().sync();
        assertFalse(child.isOpen());
        // The channel is closed and its descriptors too, but the view keeps the region mapped: it is still readable.
        assertFalse(ProcessResources.idtsMappings().isEmpty());
        assertTrue(ViewCheck.isView(view));
        assertEquals(1000, view.readableBytes());
        for (int i = 0; i < 1000; i++) {
            assertEquals(StreamPattern.at(i), view.getByte(i));
        }
        assertTrue(view.release(), "released on the test thread, after close"); // unmaps the region
    }

    // ---------------------------------------------------------------------------------------------------------
    // Writes.

    @Test
    void anEncoderWritingThroughClaimsAllocatesNothing() throws Exception {
        int frames = 500;
        int frameLength = 1000; // 500 000 bytes: within the 1 MiB ring, so no claim has to wrap
        PatternReceiver receiver = new PatternReceiver((long) frames * frameLength);
        bind(b -> { }, receiver);
        CountingAllocator clientAlloc = new CountingAllocator();
        PatternFrameEncoder encoder = new PatternFrameEncoder();
        Channel client = connect(b -> b.option(ChannelOption.ALLOCATOR, clientAlloc), encoder);
        for (int i = 0; i < frames; i++) {
            ChannelFuture write = client.writeAndFlush(frameLength);
            assertTrue(write.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
            assertTrue(write.isSuccess(), () -> "write failed: " + write.cause());
        }
        assertEquals((long) frames * frameLength, await(receiver.done()));
        assertEquals(frames, encoder.claimedWrites());
        assertEquals((long) frames * frameLength, ((IdtsChannel) client).claimedBytes());
        assertEquals(0, clientAlloc.allocations.get(), "allocations by the channel's allocator on the claim path");
        client.close().sync();
    }

    /**
     * A flush while a claim is open: the claim's bytes are at the ring's write index, so the flushed write must wait
     * until they are committed, then follow them (it was written over them: the receiver saw the flushed bytes twice
     * and the claim's never). The same after an abort, and after a claim released without either.
     */
    @Test
    void aFlushWhileAClaimIsOpenWaitsForTheClaimToEnd() throws Exception {
        int claimed = 1000;
        int flushed = 3000;
        PatternReceiver receiver = new PatternReceiver(3L * (claimed + flushed));
        bind(b -> { }, receiver);
        IdtsChannel client = (IdtsChannel) connect(b -> b.option(IdtsChannelOption.RING_CAPACITY, SMALL_RING * 16));
        long[] position = {0};
        for (int round = 0; round < 3; round++) {
            int end = round;
            ChannelFuture write = client.eventLoop().submit(() -> {
                ByteBuf claim = client.claim(claimed);
                assertNotNull(claim, "claim");
                ByteBuf later = client.alloc().directBuffer(flushed);
                ChannelFuture flush;
                if (end == 0) {
                    StreamPattern.write(claim, position[0], claimed);
                    StreamPattern.write(later, position[0] + claimed, flushed);
                    flush = client.writeAndFlush(later);
                    assertFalse(flush.isDone(), "the flush waits for the claim");
                    client.commit(claim);
                    position[0] += claimed + flushed;
                } else {
                    // Given up (abort, or released without commit or abort): the flushed bytes go first, then a
                    // claim of the same bytes again, committed.
                    StreamPattern.write(later, position[0], flushed);
                    flush = client.writeAndFlush(later);
                    if (end == 1) {
                        client.abort(claim);
                    } else {
                        claim.release();
                    }
                    position[0] += flushed;
                }
                return flush;
            }).get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            assertTrue(write.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
            assertTrue(write.isSuccess(), () -> "write failed: " + write.cause());
            if (end != 0) {
                long from = position[0];
                client.eventLoop().submit(() -> {
                    ByteBuf again = client.claim(claimed);
                    assertNotNull(again, "claim after the flush");
                    StreamPattern.write(again, from, claimed);
                    client.commit(again);
                    return null;
                }).get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
                position[0] += claimed;
            }
        }
        assertEquals(3L * (claimed + flushed), await(receiver.done()));
        client.close().sync();
    }

    @Test
    void claimedFramesStayInOrderWithOrdinaryWritesAndAcrossWraps() throws Exception {
        long total = 0;
        List<Integer> lengths = new ArrayList<>();
        Random random = new Random(7);
        for (int i = 0; i < 3000; i++) {
            int length = 1 + random.nextInt(3000);
            lengths.add(length);
            total += length;
        }
        PatternReceiver receiver = new PatternReceiver(total);
        bind(b -> { }, receiver);
        PatternFrameEncoder encoder = new PatternFrameEncoder();
        Channel client = connect(b -> b.option(IdtsChannelOption.RING_CAPACITY, 16 * 1024), encoder);
        for (int i = 0; i < lengths.size(); i++) {
            // Every third write is left unflushed until the next one: then the claim is refused and the encoder
            // falls back to an ordinary write, in order.
            if (i % 3 == 0) {
                client.write(lengths.get(i));
            } else {
                assertTrue(client.writeAndFlush(lengths.get(i)).await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
            }
        }
        client.flush();
        assertEquals(total, await(receiver.done()));
        assertTrue(encoder.claimedWrites() > 0, "claimed writes");
        assertTrue(encoder.claimedWrites() < lengths.size(), "ordinary writes");
        client.close().sync();
    }

    @Test
    void aDefaultFileRegionIsReadFromTheFileStraightIntoTheRing(@TempDir Path dir) throws Exception {
        int size = 300_001;
        Path path = dir.resolve("region");
        ByteBuf content = Unpooled.buffer(size + 17);
        content.writeZero(17);
        StreamPattern.write(content, 0, size);
        Files.write(path, ByteBufUtil.getBytes(content));
        content.release();
        PatternReceiver receiver = new PatternReceiver(size);
        bind(b -> { }, receiver);
        Channel client = connect(b -> b.option(IdtsChannelOption.RING_CAPACITY, SMALL_RING));
        assertTrue(FileRegionTransfer.AVAILABLE);
        DefaultFileRegion region = new DefaultFileRegion(path.toFile(), 17, size);
        ChannelFuture write = client.writeAndFlush(region);
        assertEquals(size, await(receiver.done()));
        assertTrue(write.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        assertTrue(write.isSuccess(), () -> "write failed: " + write.cause());
        assertEquals(size, region.transferred());
        client.close().sync();
    }

    @Test
    void aClaimThatIsAbortedSendsNothing() throws Exception {
        PatternReceiver receiver = new PatternReceiver(300);
        bind(b -> { }, receiver);
        IdtsChannel client = (IdtsChannel) connect(b -> { });
        client.eventLoop().submit(() -> {
            ByteBuf claim = client.claim(100);
            assertNotNull(claim);
            assertNull(client.claim(10), "one claim at a time");
            claim.writeBytes(new byte[100]);
            client.abort(claim);
            ByteBuf second = client.claim(300);
            assertNotNull(second);
            assertFalse(second.isReadOnly());
            assertEquals(300, second.capacity());
            StreamPattern.write(second, 0, 200);
            // Released without commit: an abort as well.
            second.release();
            ByteBuf third = client.claim(300);
            StreamPattern.write(third, 0, 300);
            client.commit(third);
            return null;
        }).get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        assertEquals(300, await(receiver.done()));
        assertEquals(300, client.claimedBytes());
        client.close().sync();
    }

    // ---------------------------------------------------------------------------------------------------------

    private void sendPattern(Channel client, long total, int chunk) throws Exception {
        long position = 0;
        ChannelFuture last = null;
        while (position < total) {
            int n = (int) Math.min(chunk, total - position);
            ByteBuf buf = client.alloc().directBuffer(n);
            StreamPattern.write(buf, position, n);
            last = client.writeAndFlush(buf);
            position += n;
        }
        assertTrue(last.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        assertTrue(last.isSuccess(), () -> "write failed: " + client);
    }

    private void bind(Consumer<ServerBootstrap> options, ChannelHandler... handlers) throws InterruptedException {
        ServerBootstrap bootstrap = new ServerBootstrap().group(serverGroup).channel(IdtsServerChannel.class)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        serverChild.complete((IdtsChannel) ch);
                        ch.pipeline().addLast(handlers);
                        ch.pipeline().addLast(new UnexpectedExceptions());
                    }
                })
                .childOption(IdtsChannelOption.ZERO_COPY_READS, true);
        options.accept(bootstrap);
        ChannelFuture bind = bootstrap.bind(address);
        assertTrue(bind.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        assertTrue(bind.isSuccess(), () -> "bind failed: " + bind.cause());
    }

    private Channel connect(Consumer<Bootstrap> options, ChannelHandler... handlers) throws InterruptedException {
        Bootstrap bootstrap = new Bootstrap().group(clientGroup).channel(IdtsChannel.class)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(handlers);
                        ch.pipeline().addLast(new UnexpectedExceptions());
                    }
                });
        options.accept(bootstrap);
        ChannelFuture connect = bootstrap.connect(address);
        assertTrue(connect.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        assertTrue(connect.isSuccess(), () -> "connect failed: " + connect.cause());
        return connect.channel();
    }

    private static <T> T await(CompletableFuture<T> future) throws Exception {
        return future.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
    }

    private final class UnexpectedExceptions extends ChannelInboundHandlerAdapter {
        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            unexpected.add(cause);
        }
    }

    /** Counts every buffer the channel's allocator hands out. */
    static final class CountingAllocator extends io.netty.buffer.AbstractByteBufAllocator {
        final AtomicLong allocations = new AtomicLong();

        CountingAllocator() {
            super(true);
        }

        @Override
        protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
            allocations.incrementAndGet();
            return PooledByteBufAllocator.DEFAULT.heapBuffer(initialCapacity, maxCapacity);
        }

        @Override
        protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
            allocations.incrementAndGet();
            return PooledByteBufAllocator.DEFAULT.directBuffer(initialCapacity, maxCapacity);
        }

        @Override
        public CompositeByteBuf compositeHeapBuffer(int maxNumComponents) {
            allocations.incrementAndGet();
            return super.compositeHeapBuffer(maxNumComponents);
        }

        @Override
        public CompositeByteBuf compositeDirectBuffer(int maxNumComponents) {
            allocations.incrementAndGet();
            return super.compositeDirectBuffer(maxNumComponents);
        }

        @Override
        public boolean isDirectBufferPooled() {
            return true;
        }
    }

    /** Counts views of the ring and other buffers going by. */
    static final class ViewCheck extends ChannelInboundHandlerAdapter {
        final AtomicLong views = new AtomicLong();
        final AtomicLong copies = new AtomicLong();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            (isView((ByteBuf) msg) ? views : copies).incrementAndGet();
            ctx.fireChannelRead(msg);
        }

        /** A view of the ring (behind the leak detector's wrapper), or a composite of such views. */
        static boolean isView(ByteBuf buf) {
            if (buf instanceof CompositeByteBuf) {
                CompositeByteBuf composite = (CompositeByteBuf) buf;
                for (int i = 0; i < composite.numComponents(); i++) {
                    if (!isView(composite.internalComponent(i))) {
                        return false;
                    }
                }
                return composite.numComponents() > 0;
            }
            ByteBuf b = buf;
            while (!(b instanceof ViewByteBuf) && b.unwrap() != null) {
                b = b.unwrap();
            }
            return b instanceof ViewByteBuf;
        }
    }

    /** Restores bytes XORed with {@link #KEY} in place, in the buffer read, through its NIO buffers. */
    static final class InPlaceXor extends ChannelInboundHandlerAdapter {
        static final byte KEY = 0x5A;

        static void xor(ByteBuffer nio) {
            for (int i = nio.position(); i < nio.limit(); i++) {
                nio.put(i, (byte) (nio.get(i) ^ KEY));
            }
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            for (ByteBuffer nio : buf.nioBuffers(buf.readerIndex(), buf.readableBytes())) {
                xor(nio);
            }
            ctx.fireChannelRead(buf);
        }
    }

    /**
     * Holds up to 6 views, then releases them in a random order, some on the event loop and some on another thread
     * (after copying them out, as a handler that passes data on would).
     */
    static final class ShufflingHolder extends ChannelInboundHandlerAdapter {
        private final PatternReceiver receiver;
        private final List<ByteBuf> held = new ArrayList<>();
        private final Random random = new Random(11);
        final AtomicLong foreignReleases = new AtomicLong();

        ShufflingHolder(PatternReceiver receiver) {
            this.receiver = receiver;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf view = (ByteBuf) msg;
            // Verify in stream order, with a retained duplicate, then hold the view itself.
            try {
                receiver.channelRead(ctx, view.retainedDuplicate());
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
            held.add(view);
            if (held.size() >= 6) {
                releaseShuffled();
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            releaseShuffled();
            ctx.fireChannelReadComplete();
        }

        private void releaseShuffled() {
            Collections.shuffle(held, random);
            List<ByteBuf> foreign = new ArrayList<>();
            for (ByteBuf view : held) {
                if (random.nextInt(3) == 0) {
                    foreign.add(view);
                } else {
                    view.release();
                }
            }
            held.clear();
            if (!foreign.isEmpty()) {
                GlobalEventExecutor.INSTANCE.execute(() -> foreign.forEach(ByteBuf::release));
                foreignReleases.addAndGet(foreign.size());
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) throws Exception {
            held.forEach(ByteBuf::release);
            held.clear();
            receiver.channelInactive(ctx);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            receiver.exceptionCaught(ctx, cause);
        }
    }

    /** Holds every buffer until {@code message} bytes arrived, then passes them all on (as an aggregator would). */
    static final class Aggregator extends ChannelInboundHandlerAdapter {
        private final int message;
        private final long total;
        private final List<ByteBuf> held = new ArrayList<>();
        private int bytes;
        private long seen;

        Aggregator(int message, long total) {
            this.message = message;
            this.total = total;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            held.add(buf);
            bytes += buf.readableBytes();
            seen += buf.readableBytes();
            if (bytes >= message || seen == total) {
                held.forEach(ctx::fireChannelRead);
                held.clear();
                bytes = 0;
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            held.forEach(ReferenceCountUtil::release);
            held.clear();
            ctx.fireChannelInactive();
        }
    }

    /** Encodes an Integer n as the next n bytes of the stream pattern, through claims where it can. */
    static final class PatternFrameEncoder extends IdtsClaimEncoder<Integer> {
        private long position;

        @Override
        protected int encodedLength(ChannelHandlerContext ctx, Integer msg) {
            return msg;
        }

        @Override
        protected void encode(ChannelHandlerContext ctx, Integer msg, ByteBuf out) {
            StreamPattern.write(out, position, msg);
            position += msg;
        }
    }
}
