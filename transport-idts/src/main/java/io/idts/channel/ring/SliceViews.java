package io.idts.channel.ring;


import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.util.ReferenceCounted;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.internal.ObjectUtil;
import io.netty.util.internal.PlatformDependent;

import java.nio.ByteBuffer;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Zero-copy reads of one ring: hands out {@link ByteBuf} views of received bytes, each inside one slice, and gives a
 * slice back to the producer when the last view of it is released, in any order, on any thread.
 *
 * <p><b>Pinning.</b> A view holds a reference to its slice ({@link RingReader#pin}): a buffer a handler keeps pins at
 * most the slices it lies in, never the ring behind it. The slices views pin at once are bounded: a view of a slice no
 * view holds yet is only made while fewer than {@code maxPinnedSlices} are pinned; past that, reads copy and the
 * stream goes on. A release on the event loop runs the owner's callback at once (the slice goes back at the next
 * {@link RingReader#release()}); a release on another thread schedules it on the event loop (at most one task
 * pending), so the reader's queues are only ever written by the loop, never raced and never locked.
 *
 * <p><b>Memory.</b> The views together hold one reference to the region's lifetime, taken when this object is made and
 * dropped once it is closed and no view is left, so the mapping outlives every view; a view costs no reference count
 * of its own. After {@link #close()} a release gives nothing back to the producer; the last one drops the views'
 * reference (which unmaps the region if the channel let go of it already), on the releasing thread.
 *
 * <p><b>Leaks.</b> Views go through Netty's leak detector like any allocator's buffer (they are wrapped by
 * {@code AbstractByteBufAllocator.toLeakAwareBuffer}); no structure here refers to a view, so a view that is dropped
 * without release is reported. (It also keeps its slice pinned and the mapping alive: fix the leak.)
 */
public final class SliceViews implements ViewByteBuf.Owner {

    private final RingReader reader;
    private final ByteBuffer memory;
    private final long address;
    private final ReferenceCounted lifetime;
    private final EventExecutor loop;
    private final Runnable onRelease;
    private final Runnable drainTask = this::drainOnLoop;
    private final AtomicBoolean drainScheduled = new AtomicBoolean();
    /** The views' reference to the region's lifetime was dropped; set once, by whoever drops it. */
    private final AtomicBoolean lifetimeReleased = new AtomicBoolean();
    private volatile boolean closed;

    /**
     * @param lifetime retained once for all views, released when they are all gone after {@link #close()}
     * @param loop the event loop that owns {@code reader}
     * @param onRelease run on {@code loop} after views were released (call {@link RingReader#release()} there)
     */
    public SliceViews(RingReader reader, ReferenceCounted lifetime, EventExecutor loop, Runnable onRelease) {
        this.reader = ObjectUtil.checkNotNull(reader, "reader");
        this.lifetime = ObjectUtil.checkNotNull(lifetime, "lifetime");
        this.loop = ObjectUtil.checkNotNull(loop, "loop");
        this.onRelease = ObjectUtil.checkNotNull(onRelease, "onRelease");
        memory = reader.viewMemory();
        address = PlatformDependent.hasUnsafe() ? PlatformDependent.directBufferAddress(memory) : 0;
        lifetime.retain();
    }

    /**
     * Whether the bytes {@link RingReader#readableBytes()} offers may be read as a view: their slice is pinned
     * already (a view of it pins nothing more), or fewer than {@code maxPinnedSlices} slices are pinned.
     */
    public boolean canView(int maxPinnedSlices) {
        return !closed && (reader.isPinned(reader.runSlice()) || reader.pinnedSlices() < maxPinnedSlices);
    }

    /**
     * Takes {@code length} bytes (at most what {@link RingReader#readableBytes()} offers, which lie in one slice) as
     * a view. Call only after {@link #canView} said yes.
     */
    public ByteBuf take(int length, ByteBufAllocator alloc) {
        int slice = reader.runSlice();
        int index = reader.index();
        reader.pin(slice);
        try {
            reader.takeForView(length);
        } catch (IllegalArgumentException e) {
            reader.unpin(slice);
            throw e;
        }
        return LeakTracking.track(ViewByteBuf.pooledView().init(memory, address, index, length, false, alloc, this,
                slice));
    }

    /**
     * From now on releases only free the views (the channel closed): their slices never go back to the producer. The
     * views' reference to the region goes with the last of them, or now if none is left.
     */
    public void close() {
        closed = true;
        if (reader.pinnedSlices() == 0) {
            releaseLifetime();
        }
    }

    /** Any thread: a view's reference count dropped to zero. */
    @Override
    public void released(ViewByteBuf buf, long slice) {
        if (closed) {
            reader.unpinClosed((int) slice);
        } else if (reader.unpin((int) slice)) {
            if (loop.inEventLoop()) {
                onRelease.run();
            } else if (drainScheduled.compareAndSet(false, true)) {
                try {
                    loop.execute(drainTask);
                } catch (RejectedExecutionException e) {
                    // The loop is shutting down, and with it the channel: nothing to give back.
                    drainScheduled.set(false);
                }
            }
        }
        // Read after the unpin: either this release or close() sees both the channel closed and no slice pinned.
        if (closed && reader.pinnedSlices() == 0) {
            // Last: the mapping may be unmapped now.
            releaseLifetime();
        }
    }

    private void releaseLifetime() {
        if (lifetimeReleased.compareAndSet(false, true)) {
            lifetime.release();
        }
    }

    private void drainOnLoop() {
        drainScheduled.set(false);
        if (!closed) {
            onRelease.run();
        }
    }

    /** Gives views to Netty's leak detector, exactly as its allocators do with their buffers. */
    private static final class LeakTracking extends AbstractByteBufAllocator {
        static ByteBuf track(ByteBuf buf) {
            return toLeakAwareBuffer(buf);
        }

        private LeakTracking() {
        }

        @Override
        protected ByteBuf newHeapBuffer(int initialCapacity, int maxCapacity) {
            throw new UnsupportedOperationException();
        }

        @Override
        protected ByteBuf newDirectBuffer(int initialCapacity, int maxCapacity) {
            throw new UnsupportedOperationException();
        }

        @Override
        public boolean isDirectBufferPooled() {
            return false;
        }
    }
}
