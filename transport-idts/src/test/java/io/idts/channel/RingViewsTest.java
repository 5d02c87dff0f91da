package io.idts.channel;

import io.idts.channel.RingCanaryTest.Region;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
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
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static io.idts.channel.RegionLayout.SLICES_PER_RING;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Zero-copy views of a ring, with a writer and a reader of one region and an event loop of their own: views lie in one
 * slice, pin that slice only, and give it back when the last view of it is released, on any thread, in any order.
 */
class RingViewsTest {

    private static final int CAP = 64 * 1024;
    private static final int SLICE = CAP / SLICES_PER_RING;
    private static final int RING = 0;

    private final EventExecutor loop = new DefaultEventExecutor();
    private final Region r = new Region(CAP, RegionLayout.MIN_RING_CAPACITY);
    private final RingWriter writer = r.writer(RING);
    private final RingReader reader = r.reader(RING);
    private final AtomicInteger releaseCallbacks = new AtomicInteger();
    private final ReferenceCounted lifetime = new AbstractReferenceCounted() {
        @Override
        protected void deallocate() {
        }

        @Override
        public ReferenceCounted touch(Object hint) {
            return this;
        }
    };
    private final RingViews views = new RingViews(reader, lifetime, loop, () -> {
        releaseCallbacks.incrementAndGet();
        try {
            reader.release();
        } catch (IdtsProtocolException e) {
            throw new AssertionError(e);
        }
    });
    private long written;

    @AfterEach
    void stopLoop() throws InterruptedException {
        loop.shutdownGracefully(0, 0, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
    }

    private <T> T onLoop(Callable<T> task) throws Exception {
        return loop.submit(task).get(30, TimeUnit.SECONDS);
    }

    /** Writes the next {@code n} stream bytes (position-derived) and publishes; returns how many fitted. */
    private int write(int n) throws IdtsProtocolException {
        // A wrapped array: not tracked by the leak detector, whose PARANOID level records every access.
        byte[] bytes = new byte[n];
        for (int i = 0; i < n; i++) {
            bytes[i] = streamByte(written + i);
        }
        int w = writer.write(Unpooled.wrappedBuffer(bytes), 0, n);
        written += w;
        writer.publish();
        return w;
    }

    private static byte streamByte(long position) {
        return (byte) (position * 131 + (position >>> 8));
    }

    private static void check(ByteBuf view, long position) {
        byte[] bytes = new byte[view.readableBytes()];
        view.getBytes(view.readerIndex(), bytes);
        for (int i = 0; i < bytes.length; i++) {
            assertEquals(streamByte(position + i), bytes[i], "stream byte " + (position + i));
        }
    }

    @Test
    void aViewLiesInOneSliceAndPinsIt() throws Exception {
        write(SLICE + 100);
        ByteBuf view = onLoop(() -> {
            assertEquals(SLICE, reader.readableBytes(), "the rest of slice 0");
            assertTrue(views.canView(1));
            return views.take(SLICE, ByteBufAllocator.DEFAULT);
        });
        assertEquals(SLICE, view.readableBytes());
        assertEquals(SLICE, view.capacity());
        assertTrue(view.isDirect());
        check(view, 0);
        assertEquals(1, reader.pinnedSlices());
        assertEquals(2, lifetime.refCnt(), "the view holds the region");
        assertTrue(onLoop(() -> reader.readableBytes() == 100));
        view.release();
        assertEquals(0, reader.pinnedSlices());
        assertEquals(1, lifetime.refCnt());
        assertEquals(1, onLoop(() -> r.getLong(RegionLayout.returnPositionOffset(RING))), "slice 0 went back");
    }

    @Test
    void aKeptViewPinsOnlyItsSliceWhileAHundredRingsFlow() throws Exception {
        write(10);
        ByteBuf kept = onLoop(() -> {
            reader.readableBytes();
            return views.take(1, ByteBufAllocator.DEFAULT);
        });
        long position = 1;
        long total = 100L * CAP;
        while (position < total) {
            if (written < total) {
                write((int) Math.min(3000, total - written));
            }
            long at = position;
            position = onLoop(() -> {
                long p = at;
                int n;
                while ((n = reader.readableBytes()) > 0) {
                    assertTrue(views.canView(SLICES_PER_RING / 2));
                    ByteBuf view = views.take(n, ByteBufAllocator.DEFAULT);
                    check(view, p);
                    p += n;
                    view.release();
                }
                reader.release();
                return p;
            });
            assertTrue(position > at || written == at, "the stream goes on");
        }
        assertEquals(total, position);
        assertEquals(1, reader.pinnedSlices(), "the kept byte pins its slice, and only that");
        check(kept, 0);
        kept.release();
        assertEquals(0, reader.pinnedSlices());
    }

    @Test
    void viewsReleasedOnOtherThreadsInRandomOrderGiveEverySliceBack() throws Exception {
        List<ByteBuf> held = Collections.synchronizedList(new ArrayList<>());
        long position = 0;
        while (written < CAP) {
            write(1000);
            long at = position;
            position = onLoop(() -> {
                long p = at;
                int n;
                while ((n = reader.readableBytes()) > 0) {
                    int length = Math.min(n, 700);
                    ByteBuf view = views.take(length, ByteBufAllocator.DEFAULT);
                    check(view, p);
                    p += length;
                    held.add(view);
                }
                reader.release();
                return p;
            });
        }
        assertEquals(CAP, position);
        assertEquals(0, writer.writableBytes(), "every slice is with the reader");
        assertEquals(SLICES_PER_RING, reader.pinnedSlices());
        Collections.shuffle(held, new Random(7));
        ExecutorService threads = Executors.newFixedThreadPool(4);
        try {
            for (ByteBuf view : held) {
                threads.execute(view::release);
            }
        } finally {
            threads.shutdown();
            assertTrue(threads.awaitTermination(30, TimeUnit.SECONDS));
        }
        assertEquals(0, reader.pinnedSlices());
        onLoop(() -> null); // the hand-backs scheduled on the loop ran before this
        assertTrue(releaseCallbacks.get() > 0);
        // Every slice but the writer's current one (63: it was never left) is back.
        assertEquals(SLICES_PER_RING - 1, r.getLong(RegionLayout.returnPositionOffset(RING)));
        assertEquals(SLICE, writer.writableBytes(), "and the writer has room again");
        assertEquals(1, lifetime.refCnt(), "no view holds the region");
    }

    @Test
    void pastTheBoundNoNewSliceIsPinnedButAPinnedSliceMayBeViewedAgain() throws Exception {
        write(3 * SLICE);
        onLoop(() -> {
            reader.readableBytes();
            assertTrue(views.canView(1));
            ByteBuf first = views.take(10, ByteBufAllocator.DEFAULT);
            assertTrue(views.canView(1), "slice 0 is pinned already: another view of it pins nothing more");
            ByteBuf second = views.take(SLICE - 10, ByteBufAllocator.DEFAULT);
            reader.readableBytes();
            assertEquals(1, reader.runSlice());
            assertFalse(views.canView(1), "slice 1 would be a second pinned slice");
            assertTrue(views.canView(2));
            assertFalse(views.canView(0), "a bound of 0: no view at all");
            first.release();
            second.release();
            assertTrue(views.canView(1));
            return null;
        });
    }

    @Test
    void writesIntoAViewStayWithinItsBytes() throws Exception {
        write(3 * SLICE);
        ByteBuf view = onLoop(() -> {
            reader.readableBytes();
            reader.skip(SLICE);
            reader.readableBytes();
            return views.take(SLICE, ByteBufAllocator.DEFAULT);
        });
        r.snapshot();
        for (int i = 0; i < SLICE; i++) {
            view.setByte(i, ~view.getByte(i));
        }
        assertThrows(IndexOutOfBoundsException.class, () -> view.setByte(SLICE, 1));
        assertThrows(IndexOutOfBoundsException.class, () -> view.writeByte(1), "a view never grows");
        r.assertUnchangedExcept(r.layout.dataOffset(RING) + SLICE, SLICE);
        view.release();
    }

    @Test
    void afterCloseAReleaseOnlyDropsTheRegion() throws Exception {
        write(100);
        ByteBuf view = onLoop(() -> {
            reader.readableBytes();
            return views.take(100, ByteBufAllocator.DEFAULT);
        });
        views.close();
        assertFalse(views.canView(SLICES_PER_RING));
        r.snapshot();
        view.release();
        assertEquals(1, lifetime.refCnt());
        assertEquals(0, releaseCallbacks.get());
        r.assertUnchangedExcept();
    }
}
