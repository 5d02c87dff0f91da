package io.idts.channel.ring;

import io.idts.channel.IdtsProtocolException;


import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.util.AbstractReferenceCounted;
import io.netty.util.ReferenceCounted;
import io.netty.util.concurrent.DefaultEventExecutor;
import io.netty.util.concurrent.EventExecutor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static io.idts.channel.ring.RegionLayout.SLICES_PER_RING;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Zero-copy views of a ring, with a writer and a reader of one region and an event loop of their own: views lie in one
 * slice, pin that slice only, and give it back when the last view of it is released, on any thread, in any order.
 */
class SliceViewsTest {

    private static final int CAP = 64 * 1024;
    private static final int SLICE = CAP / SLICES_PER_RING;
    private static final int RING = 0;

    private final EventExecutor loop = new DefaultEventExecutor();
    private final CanaryRegion r = new CanaryRegion(CAP, RegionLayout.MIN_RING_CAPACITY);
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
    private final SliceViews views = new SliceViews(reader, lifetime, loop, () -> {
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
        assertEquals(2, lifetime.refCnt(), "the views hold the region");
        assertTrue(onLoop(() -> reader.readableBytes() == 100));
        view.release();
        assertEquals(0, reader.pinnedSlices());
        assertEquals(2, lifetime.refCnt(), "once for all views, not per view: until they are closed");
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
                    int index = reader.index();
                    assertEquals(index / SLICE, (index + n - 1) / SLICE, "a view lies in one slice");
                    assertEquals(index / SLICE, reader.runSlice());
                    ByteBuf view = views.take(n, ByteBufAllocator.DEFAULT);
                    check(view, p);
                    p += n;
                    view.release();
                }
                reader.release();
                assertEquals(1, reader.pinnedSlices(), "only the kept byte's slice is pinned");
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
        assertEquals(2, lifetime.refCnt(), "the views hold the region until they are closed");
        views.close();
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
        assertEquals(2, lifetime.refCnt(), "the view still holds the region");
        r.snapshot();
        view.release();
        assertEquals(1, lifetime.refCnt(), "the last view let go of the region");
        assertEquals(0, releaseCallbacks.get());
        r.assertUnchangedExcept();
    }

    /**
     * Random views, most released at once, some kept for a while, all released on other threads in random order,
     * while 16 rings stream through; past the bound (6 slices here), reads copy. Each view's bytes are checked again just before its
     * release (the writer never reused a pinned slice), the pinned slices never exceed the bound, and at the end
     * every slice but the writer's current one is free again: the writer takes exactly that many bytes.
     */
    @Test
    void randomViewsKeptAndReleasedOnOtherThreadsWhileTheStreamGoesOn() throws Exception {
        SplittableRandom random = new SplittableRandom(11);
        int maxPinned = 6;
        ExecutorService threads = Executors.newFixedThreadPool(3);
        List<Future<?>> releases = new ArrayList<>();
        List<ByteBuf> kept = new ArrayList<>();
        List<Long> keptAt = new ArrayList<>();
        long total = 16L * CAP;
        long position = 0;
        long copied = 0;
        try {
            while (position < total) {
                if (written < total) {
                    write((int) Math.min(1 + random.nextInt(6 * SLICE), total - written));
                }
                long at = position;
                long seed = random.nextLong();
                List<Object[]> taken = onLoop(() -> {
                    SplittableRandom r = new SplittableRandom(seed);
                    List<Object[]> out = new ArrayList<>();
                    long p = at;
                    int n;
                    while ((n = reader.readableBytes()) > 0) {
                        int length = 1 + r.nextInt(n);
                        if (views.canView(maxPinned)) {
                            out.add(new Object[] {views.take(length, ByteBufAllocator.DEFAULT), p});
                        } else {
                            ByteBuf copy = Unpooled.wrappedBuffer(new byte[length]).clear();
                            assertEquals(length, reader.read(copy, length));
                            check(copy, p);
                            out.add(new Object[] {null, (long) length});
                        }
                        assertTrue(reader.pinnedSlices() <= maxPinned, "pinned " + reader.pinnedSlices());
                        p += length;
                    }
                    reader.release();
                    return out;
                });
                for (Object[] t : taken) {
                    if (t[0] == null) {
                        copied += (long) t[1];
                        position += (long) t[1];
                        continue;
                    }
                    ByteBuf view = (ByteBuf) t[0];
                    long p = (long) t[1];
                    check(view, p);
                    position += view.readableBytes();
                    if (random.nextInt(10) < 6) {
                        releases.add(threads.submit(() -> {
                            check(view, p);
                            view.release();
                        }));
                    } else {
                        kept.add(view);
                        keptAt.add(p);
                    }
                }
                // Now and then some kept views go, in random order.
                for (int i = random.nextInt(3) == 0 ? random.nextInt(kept.size() + 1) : 0; i > 0; i--) {
                    int k = random.nextInt(kept.size());
                    ByteBuf view = kept.remove(k);
                    long p = keptAt.remove(k);
                    releases.add(threads.submit(() -> {
                        check(view, p);
                        view.release();
                    }));
                }
            }
            for (int k = 0; k < kept.size(); k++) {
                ByteBuf view = kept.get(k);
                long p = keptAt.get(k);
                releases.add(threads.submit(() -> {
                    check(view, p);
                    view.release();
                }));
            }
            for (Future<?> f : releases) {
                f.get(30, TimeUnit.SECONDS);
            }
        } finally {
            threads.shutdown();
            assertTrue(threads.awaitTermination(30, TimeUnit.SECONDS));
        }
        assertEquals(total, position);
        assertTrue(copied > 0, "the bound was reached: some reads copied");
        onLoop(() -> null); // the hand-backs scheduled on the loop ran before this
        assertEquals(0, reader.pinnedSlices());
        views.close();
        assertEquals(1, lifetime.refCnt(), "no view holds the region");
        // Every slice is back but the writer's current one, which holds written % SLICE bytes (or is full).
        int fill = (int) (written % SLICE == 0 ? SLICE : written % SLICE);
        int free = (SLICES_PER_RING - 1) * SLICE + SLICE - fill;
        assertEquals(free, write(free + 1), "every slice came back");
    }

    @Test
    void aViewOfTheLastSliceCannotReachTheNextRing() throws Exception {
        write(CAP);
        ByteBuf view = onLoop(() -> {
            reader.readableBytes();
            assertEquals(CAP - SLICE, reader.skip(CAP - SLICE));
            assertEquals(SLICE, reader.readableBytes());
            assertEquals(SLICES_PER_RING - 1, reader.runSlice());
            return views.take(SLICE, ByteBufAllocator.DEFAULT);
        });
        r.snapshot();
        view.setBytes(0, new byte[SLICE]);
        assertThrows(IndexOutOfBoundsException.class, () -> view.setBytes(SLICE - 2, new byte[4]));
        assertThrows(IndexOutOfBoundsException.class, () -> view.setLong(SLICE - 4, -1L));
        assertThrows(IndexOutOfBoundsException.class, () -> view.setBytes(SLICE - 1, ByteBuffer.allocate(2)));
        assertThrows(IndexOutOfBoundsException.class, () -> view.getByte(SLICE));
        assertThrows(IllegalArgumentException.class, () -> view.capacity(SLICE + 1), "a view never grows");
        r.assertUnchangedExcept(r.layout.dataOffset(RING) + CAP - SLICE, SLICE);
        view.release();
    }

    @Test
    void afterCloseAReleaseOnAnotherThreadGivesNothingBack() throws Exception {
        write(SLICE + 10);
        ByteBuf view = onLoop(() -> {
            reader.readableBytes();
            return views.take(SLICE, ByteBufAllocator.DEFAULT);
        });
        assertEquals(1, reader.pinnedSlices());
        views.close();
        r.snapshot();
        Thread releaser = new Thread(view::release);
        releaser.start();
        releaser.join(10_000);
        onLoop(() -> null);
        onLoop(() -> {
            reader.release();
            return null;
        });
        assertEquals(0, releaseCallbacks.get(), "no hand-back after close");
        assertEquals(1, lifetime.refCnt(), "the views' reference to the region was dropped");
        assertEquals(0, reader.pinnedSlices(), "the view no longer pins its slice");
        assertEquals(0, r.getLong(RegionLayout.returnPositionOffset(RING)), "but the slice never went back");
        r.assertUnchangedExcept(r.readerRanges(RING));
    }

    /**
     * A close on the loop racing releases on other threads: whichever comes last drops the views' reference to the
     * region, exactly once (never twice, never not at all), in every interleaving the rounds happen to produce.
     */
    @Test
    void closeRacingReleasesOnOtherThreadsDropsTheViewsReferenceExactlyOnce() throws Exception {
        for (int round = 0; round < 300; round++) {
            CanaryRegion region = new CanaryRegion(CAP, RegionLayout.MIN_RING_CAPACITY);
            RingWriter roundWriter = region.writer(RING);
            RingReader roundReader = region.reader(RING);
            AtomicInteger deallocations = new AtomicInteger();
            ReferenceCounted roundLifetime = new AbstractReferenceCounted() {
                @Override
                protected void deallocate() {
                    deallocations.incrementAndGet();
                }

                @Override
                public ReferenceCounted touch(Object hint) {
                    return this;
                }
            };
            SliceViews roundViews = new SliceViews(roundReader, roundLifetime, loop, () -> { });
            roundWriter.write(Unpooled.wrappedBuffer(new byte[3 * SLICE]), 0, 3 * SLICE);
            roundWriter.publish();
            List<ByteBuf> taken = onLoop(() -> {
                List<ByteBuf> bufs = new ArrayList<>();
                for (int i = 0; i < 6; i++) {
                    roundReader.readableBytes();
                    bufs.add(roundViews.take(SLICE / 2, ByteBufAllocator.DEFAULT));
                }
                return bufs;
            });
            CountDownLatch start = new CountDownLatch(1);
            List<Thread> releasers = new ArrayList<>();
            for (ByteBuf buf : taken) {
                Thread releaser = new Thread(() -> {
                    try {
                        start.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    buf.release();
                });
                releaser.start();
                releasers.add(releaser);
            }
            Future<?> close = loop.submit(roundViews::close);
            start.countDown();
            close.get(30, TimeUnit.SECONDS);
            for (Thread releaser : releasers) {
                releaser.join(10_000);
            }
            onLoop(() -> null);
            assertEquals(0, roundReader.pinnedSlices(), "round " + round);
            assertEquals(1, roundLifetime.refCnt(), "round " + round + ": the views' reference, dropped once");
            roundLifetime.release();
            assertEquals(1, deallocations.get(), "round " + round);
        }
    }
}
