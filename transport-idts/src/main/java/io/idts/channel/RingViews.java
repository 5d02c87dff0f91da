package io.idts.channel;

import io.netty.buffer.AbstractByteBufAllocator;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.CompositeByteBuf;
import io.netty.util.ReferenceCounted;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.internal.ObjectUtil;
import io.netty.util.internal.PlatformDependent;

import java.nio.ByteBuffer;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * Zero-copy reads of one ring: hands out {@link ByteBuf} views of received bytes and works out how far the
 * consumer position may advance as they are released, in any order, on any thread.
 *
 * <p><b>Bookkeeping.</b> Views are made on the event loop, in stream order; each gets a sequence number and a slot
 * ({@code seq & (MAX_VIEWS - 1)}) that records where it starts. Releasing a view marks its slot (an atomic store, on
 * whatever thread releases it); the event loop then moves {@code head} over the marked slots at the front. The
 * consumer position that may be published is the start of the oldest view still held, or the read position when none
 * is held ({@link #releasableTo()}): the prefix of the stream that nobody uses any more. A release on the event loop
 * runs the owner's callback at once; a release on another thread schedules it on the event loop (at most one task
 * pending), so the loop's bookkeeping is never raced and never locked.
 *
 * <p><b>Memory.</b> Each view retains the region's lifetime reference until it is released, so the mapping outlives
 * every view. After {@link #close()} a release only drops that reference (the last one unmaps, on the releasing
 * thread).
 *
 * <p><b>Leaks.</b> Views go through Netty's leak detector like any allocator's buffer (they are wrapped by
 * {@code AbstractByteBufAllocator.toLeakAwareBuffer}); no structure here refers to a view, so a view that is dropped
 * without release is reported. (It also keeps the peer's ring pinned and the mapping alive: fix the leak.)
 */
final class RingViews implements RingBuf.Owner {

    /** Views held at once, at most; past that, reads copy. A power of two. */
    static final int MAX_VIEWS = 1024;
    private static final int MASK = MAX_VIEWS - 1;

    private final RingReader reader;
    private final ByteBuffer memory;
    private final long address;
    private final ReferenceCounted lifetime;
    private final EventExecutor loop;
    private final Runnable onRelease;
    private final Runnable drainTask = this::drainOnLoop;
    private final AtomicBoolean drainScheduled = new AtomicBoolean();
    private final long[] starts = new long[MAX_VIEWS];
    private final AtomicIntegerArray released = new AtomicIntegerArray(MAX_VIEWS);
    private volatile boolean closed;

    // Event loop only.
    /** Sequence number of the oldest view not known to be released. */
    private long head;
    /** Sequence number of the next view. */
    private long tail;

    /**
     * @param lifetime retained per view, released when the view is
     * @param loop the event loop that owns {@code reader}
     * @param onRelease run on {@code loop} after views were released (publish {@link #releasableTo()} there)
     */
    RingViews(RingReader reader, ReferenceCounted lifetime, EventExecutor loop, Runnable onRelease) {
        this.reader = ObjectUtil.checkNotNull(reader, "reader");
        this.lifetime = ObjectUtil.checkNotNull(lifetime, "lifetime");
        this.loop = ObjectUtil.checkNotNull(loop, "loop");
        this.onRelease = ObjectUtil.checkNotNull(onRelease, "onRelease");
        memory = reader.viewMemory();
        address = PlatformDependent.hasUnsafe() ? PlatformDependent.directBufferAddress(memory) : 0;
    }

    /**
     * Whether the next read may be a view: not closed, room for two more views (a wrap makes two), and no more than
     * {@code holdLimit} bytes pinned by views still held (see {@link #heldBytes()}).
     */
    boolean canView(long holdLimit) {
        if (closed || tail - head > MAX_VIEWS - 2) {
            drain();
            if (closed || tail - head > MAX_VIEWS - 2) {
                return false;
            }
        }
        return heldBytes() <= holdLimit;
    }

    /**
     * Bytes read but not yet given back to the peer because a view before them is still held: from the start of the
     * oldest view held to the read position (bytes copied after a held view count, they cannot be freed before it).
     * Event loop only.
     */
    long heldBytes() {
        drain();
        return reader.position() - releasableTo();
    }

    /**
     * Consumes {@code length} bytes (at most the readable bytes last validated by {@link RingReader#readableBytes()})
     * and returns them as a view: one {@link RingBuf}, or two in a composite when they cross the end of the ring. Call
     * only after {@link #canView} said yes.
     */
    ByteBuf take(int length, ByteBufAllocator alloc) throws IdtsProtocolException {
        int index = reader.index();
        long start = reader.position();
        int first = Math.min(length, memory.capacity() - index);
        // skip() checks length against the validated readable bytes before any view exists.
        if (reader.skip(length) != length) {
            throw new IllegalArgumentException("view of " + length + " bytes: not that many readable");
        }
        ByteBuf view = newView(index, first, start, alloc);
        if (first == length) {
            return view;
        }
        ByteBuf second = newView(0, length - first, start + first, alloc);
        return new CompositeByteBuf(alloc, true, 2, view, second);
    }

    private ByteBuf newView(int index, int length, long start, ByteBufAllocator alloc) {
        long seq = tail;
        starts[(int) seq & MASK] = start;
        tail = seq + 1;
        lifetime.retain();
        return LeakTracking.track(RingBuf.pooledView().init(memory, address, index, length, false, alloc, this,
                seq));
    }

    /**
     * The consumer position that may be published: the start of the oldest view still held, or the read position
     * when none is. Call {@link #drain()} first to account for releases. Event loop only.
     */
    long releasableTo() {
        return head == tail ? reader.position() : starts[(int) head & MASK];
    }

    /** Moves past the views released at the front. Event loop only. */
    void drain() {
        long h = head;
        long t = tail;
        while (h != t) {
            int slot = (int) h & MASK;
            if (released.get(slot) == 0) {
                break;
            }
            released.set(slot, 0);
            h++;
        }
        head = h;
    }

    /** Views made and not yet known to be released. Event loop only. */
    int outstanding() {
        return (int) (tail - head);
    }

    /** From now on releases only free the views (the channel closed). */
    void close() {
        closed = true;
    }

    boolean isClosed() {
        return closed;
    }

    /** Any thread: a view's reference count dropped to zero. */
    @Override
    public void released(RingBuf buf, long seq) {
        try {
            if (!closed) {
                released.set((int) seq & MASK, 1);
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
        } finally {
            // Last: the mapping may be unmapped now (if the channel closed and this was the last view).
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
