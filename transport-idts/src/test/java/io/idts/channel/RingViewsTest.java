package io.idts.channel;

import io.idts.channel.RingCanaryTest.Region;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.util.AbstractReferenceCounted;
import io.netty.util.ReferenceCounted;
import io.netty.util.concurrent.DefaultEventExecutor;
import io.netty.util.concurrent.EventExecutor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link RingViews} on a plain direct buffer laid out as a region: views are fixed-size windows of the ring that a
 * handler may write within (and nowhere else), the
 * consumer position advances only over the prefix of released views whatever the order of releases, a view across
 * the end of the ring works, releases on another thread are handed to the loop, and after close a release only
 * frees (the last one ends the region's lifetime).
 */
class RingViewsTest {

    private static final int CAP = RegionLayout.MIN_RING_CAPACITY;

    private final EventExecutor loop = new DefaultEventExecutor();
    private final Region region = new Region(CAP, CAP);
    private final RingWriter writer = region.writer(0);
    private final RingReader reader = region.reader(0);
    private final Lifetime lifetime = new Lifetime();
    private final AtomicInteger releaseCallbacks = new AtomicInteger();
    private final RingViews views = new RingViews(reader, lifetime, loop, () -> {
        releaseCallbacks.incrementAndGet();
        views().drain();
        try {
            reader.releaseTo(views().releasableTo());
        } catch (IdtsProtocolException e) {
            throw new AssertionError(e);
        }
    });
    private long written;

    private RingViews views() {
        return views;
    }

    @AfterEach
    void shutDown() throws Exception {
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }

    private <T> T onLoop(Callable<T> task) throws Exception {
        return loop.submit(task).get(10, TimeUnit.SECONDS);
    }

    private void send(int length) throws Exception {
        ByteBuf data = Unpooled.buffer(length);
        StreamPattern.write(data, written, length);
        assertEquals(length, writer.write(data, 0, length));
        writer.publish();
        written += length;
        data.release();
    }

    private ByteBuf take(int length) throws Exception {
        return onLoop(() -> {
            assertTrue(reader.readableBytes() >= length);
            assertTrue(views.canView(CAP));
            return views.take(length, ByteBufAllocator.DEFAULT);
        });
    }

    private static void assertPattern(ByteBuf view, long streamPosition) {
        ByteBuf expected = Unpooled.buffer(view.readableBytes());
        StreamPattern.write(expected, streamPosition, view.readableBytes());
        assertTrue(io.netty.buffer.ByteBufUtil.equals(expected, view), "view bytes at " + streamPosition);
        expected.release();
    }

    private long published() throws Exception {
        return onLoop(reader::releasedPosition);
    }

    @Test
    void viewsAreFixedSizeWindowsOfTheRing() throws Exception {
        send(100);
        ByteBuf view = take(100);
        assertFalse(view.isReadOnly());
        assertTrue(view.isDirect());
        assertEquals(100, view.readableBytes());
        assertEquals(100, view.capacity());
        assertEquals(100, view.maxCapacity());
        assertPattern(view, 0);
        assertEquals(StreamPattern.at(42), view.getByte(42));
        assertThrows(IndexOutOfBoundsException.class, () -> view.getByte(100));
        assertThrows(IndexOutOfBoundsException.class, () -> view.writeByte(1));
        assertThrows(IllegalArgumentException.class, () -> view.capacity(101));
        assertEquals(2, lifetime.refCnt(), "a view holds the region");
        assertTrue(onLoop(() -> view.release()));
        assertEquals(1, lifetime.refCnt());
        assertEquals(100, published());
    }

    /**
     * A handler may write into what it reads (the JDK's SSLEngine decrypts in place): the bytes of a view are the
     * reader's until it releases them. The writes land in the view's bytes of the ring and nowhere else.
     */
    @Test
    void writesIntoAViewStayWithinItsBytesOfTheRing() throws Exception {
        send(300);
        ByteBuf before = take(100);
        ByteBuf view = take(100);
        region.snapshot();
        view.setByte(0, ~StreamPattern.at(100));
        view.setLong(92, 0x0102030405060708L);
        view.setBytes(10, new byte[] {1, 2, 3});
        ByteBuf src = Unpooled.directBuffer(20).writeZero(20);
        view.setBytes(50, src, 0, 20);
        src.release();
        assertEquals((byte) ~StreamPattern.at(100), view.getByte(0));
        assertEquals(0x0102030405060708L, view.getLong(92));
        assertEquals(0, view.getByte(69));
        assertEquals(StreamPattern.at(170), view.getByte(70));
        int dataOffset = region.layout.dataOffset(0);
        region.assertUnchangedExcept(dataOffset + 100, 100);
        assertPattern(before, 0);
        // Shrinking keeps the bytes the reader's until release, but out of reach.
        view.capacity(60);
        assertEquals(60, view.writerIndex());
        assertThrows(IndexOutOfBoundsException.class, () -> view.getByte(60));
        assertThrows(IllegalArgumentException.class, () -> view.capacity(61));
        onLoop(before::release);
        onLoop(view::release);
        assertEquals(200, published());
        ByteBuf after = take(100);
        assertPattern(after, 200);
        onLoop(after::release);
    }

    @Test
    void consumerPositionAdvancesOverTheReleasedPrefixInAnyOrder() throws Exception {
        send(3000);
        ByteBuf a = take(1000);
        ByteBuf b = take(1000);
        ByteBuf c = take(1000);
        onLoop(b::release);
        assertEquals(0, published(), "a is still held");
        onLoop(c::release);
        assertEquals(0, published(), "a is still held");
        assertEquals(3000, (long) onLoop(views::heldBytes));
        assertPattern(a, 0);
        onLoop(a::release);
        assertEquals(3000, published(), "a, b and c released");
        assertEquals(0, (long) onLoop(views::heldBytes));
    }

    @Test
    void aViewAcrossTheEndOfTheRingIsACompositeOfTwo() throws Exception {
        send(3000);
        onLoop(take(3000)::release);
        send(2000); // bytes 3000..5000: the ring ends at 4096
        ByteBuf view = take(2000);
        assertFalse(view.isReadOnly());
        assertEquals(2000, view.readableBytes());
        assertPattern(view, 3000);
        region.snapshot();
        view.setShort(1095, 0x7f7f); // the last byte of the ring and the first
        int dataOffset = region.layout.dataOffset(0);
        region.assertUnchangedExcept(dataOffset + CAP - 1, 1, dataOffset, 1);
        assertEquals(0x7f7f, view.getShort(1095));
        assertEquals(3, lifetime.refCnt(), "two views, each holding the region");
        onLoop(view::release);
        assertEquals(5000, published());
        assertEquals(1, lifetime.refCnt());
    }

    /**
     * Buffers derived from a view (a retained slice, a retained duplicate, a composite cumulation of a retained slice,
     * as decoders and SslHandler make them) outlive the release of the view itself: until the last of them is
     * released the view is not recycled (new views are other objects) and its ring space is not given back (the peer,
     * writing all it may meanwhile, cannot overwrite it), so they read the view's bytes.
     */
    @Test
    void derivedBuffersKeepTheViewsBytesAfterItIsReleasedWhileTheRestOfTheRingIsReused() throws Exception {
        send(1000);
        ByteBuf view = take(1000);
        ByteBuf slice = view.retainedSlice(100, 500);
        ByteBuf duplicate = view.retainedDuplicate();
        view.skipBytes(600);
        CompositeByteBuf cumulation = Unpooled.compositeBuffer().addComponent(true, view.readRetainedSlice(400));
        assertFalse(onLoop(() -> view.release()), "derived buffers still hold the view");
        assertEquals(0, published());
        // The peer writes all it may; new views are made and released over it.
        for (int round = 0; round < 3; round++) {
            int free = onLoop(writer::writableBytes);
            assertEquals(round == 0 ? CAP - 1000 : 0, free, "free space for the peer");
            if (free > 0) {
                send(free);
            }
            int readable = onLoop(reader::readableBytes);
            if (readable > 0) {
                long at = onLoop(reader::position);
                ByteBuf later = take(readable);
                assertPattern(later, at);
                onLoop(later::release);
            }
            assertEquals(0, published(), "the derived buffers pin the view's bytes");
            assertPattern(slice, 100);
            assertPattern(duplicate, 0);
            assertPattern(cumulation, 600);
        }
        onLoop(slice::release);
        onLoop(duplicate::release);
        assertEquals(0, published(), "the cumulation still holds the view");
        assertPattern(cumulation, 600);
        onLoop(cumulation::release);
        assertEquals(written, published());
        assertEquals(1, lifetime.refCnt());
        // The freed space is the peer's again, wrapping over the view's old bytes.
        send(CAP);
        ByteBuf next = take(CAP);
        assertPattern(next, written - CAP);
        onLoop(next::release);
    }

    @Test
    void bytesArriveIntactAcrossManyWrapsWithShuffledReleasesOnTwoThreads() throws Exception {
        Random random = new Random(4);
        List<ByteBuf> held = new ArrayList<>();
        long read = 0;
        for (int round = 0; round < 2000; round++) {
            int free = onLoop(writer::writableBytes);
            if (free > 0) {
                send(1 + random.nextInt(free));
            }
            int readable = onLoop(reader::readableBytes);
            while (readable > 0) {
                int n = 1 + random.nextInt(readable);
                ByteBuf view = take(n);
                assertPattern(view, read);
                read += n;
                readable -= n;
                held.add(view);
            }
            if (held.size() > 5 || free == 0) {
                Collections.shuffle(held, random);
                for (ByteBuf view : held) {
                    if (random.nextBoolean()) {
                        onLoop(view::release);
                    } else {
                        view.release(); // on this thread: handed back to the loop
                    }
                }
                held.clear();
            }
        }
        for (ByteBuf view : held) {
            view.release();
        }
        long expected = read;
        for (int i = 0; i < 100 && published() != expected; i++) {
            Thread.sleep(10);
        }
        assertEquals(read, published());
        assertEquals(written, read);
        assertTrue(read > 20L * CAP, "wrapped many times: " + read);
        assertEquals(1, lifetime.refCnt());
    }

    @Test
    void heldBytesBeyondTheLimitRefuseViews() throws Exception {
        send(3000);
        ByteBuf a = take(1000);
        assertTrue(onLoop(() -> views.canView(1000)));
        assertFalse(onLoop(() -> views.canView(999)));
        // Copied bytes after a held view stay pinned too.
        onLoop(() -> reader.skip(500));
        assertEquals(1500, (long) onLoop(views::heldBytes));
        onLoop(a::release);
        assertEquals(1500, published());
        assertTrue(onLoop(() -> views.canView(0)));
    }

    @Test
    void afterCloseAReleaseOnlyFreesAndTheLastOneEndsTheLifetime() throws Exception {
        send(200);
        ByteBuf a = take(100);
        ByteBuf b = take(100);
        int callbacks = releaseCallbacks.get();
        onLoop(() -> {
            views.close();
            return null;
        });
        lifetime.release(); // the connection closes
        assertEquals(2, lifetime.refCnt());
        assertPattern(b, 100); // still mapped: the views hold it
        onLoop(a::release);
        b.release();
        assertEquals(0, lifetime.refCnt());
        assertEquals(1, lifetime.deallocations.get());
        assertEquals(callbacks, releaseCallbacks.get(), "no bookkeeping after close");
        assertEquals(0, published());
    }

    @Test
    void whenEveryViewSlotIsTakenReadsMustCopy() throws Exception {
        send(RingViews.MAX_VIEWS);
        List<ByteBuf> held = new ArrayList<>();
        onLoop(() -> reader.readableBytes());
        while (onLoop(() -> views.canView(CAP))) {
            held.add(onLoop(() -> views.take(1, ByteBufAllocator.DEFAULT)));
        }
        assertEquals(RingViews.MAX_VIEWS - 1, held.size());
        onLoop(held.get(0)::release);
        assertTrue(onLoop(() -> views.canView(CAP)));
        for (ByteBuf view : held.subList(1, held.size())) {
            view.release();
        }
    }

    /** The region's lifetime, as {@code SharedRegion} without a mapping. */
    private static final class Lifetime extends AbstractReferenceCounted {
        final AtomicInteger deallocations = new AtomicInteger();

        @Override
        protected void deallocate() {
            deallocations.incrementAndGet();
        }

        @Override
        public ReferenceCounted touch(Object hint) {
            return this;
        }
    }
}
