package io.idts.channel.ring;

import io.idts.channel.IdtsProtocolException;

import io.netty.buffer.ByteBuf;
import io.netty.util.internal.ObjectUtil;
import io.netty.util.internal.PlatformDependent;

import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

import static io.idts.channel.ring.RegionLayout.DESCRIPTORS_PER_RING;
import static io.idts.channel.ring.RegionLayout.DESCRIPTOR_KNOWN_BITS;
import static io.idts.channel.ring.RegionLayout.FLAG_WAITING_FOR_DATA;
import static io.idts.channel.ring.RegionLayout.FLAG_WAITING_FOR_SPACE;
import static io.idts.channel.ring.RegionLayout.INT;
import static io.idts.channel.ring.RegionLayout.LONG;
import static io.idts.channel.ring.RegionLayout.PRODUCER_FLAGS_KNOWN;
import static io.idts.channel.ring.RegionLayout.SLICES_PER_RING;
import static io.idts.channel.ring.RegionLayout.STATE_CLOSED;
import static io.idts.channel.ring.RegionLayout.STATE_NEW;
import static io.idts.channel.ring.RegionLayout.STATE_OUTPUT_SHUTDOWN;

/**
 * One endpoint's consumer side of one ring (ring 1 for the connector, ring 0 for the acceptor). It owns the ring's
 * consumer line and return queue: it is the only writer of them and never reads them back. The values it reads from
 * the region (the producer's position, state, flags and descriptors) are each read once, validated, then used; data
 * bytes are only accessed inside the slice a validated descriptor names, through a view of exactly the ring.
 *
 * <p><b>Slices.</b> The reader follows one slice at a time, the <em>run</em>: the bytes that descriptors delivered in
 * it and that were not taken yet. It holds a reference to the slice while the producer may still append to it or
 * bytes of it are untaken; each zero-copy view of it holds one more ({@link #pin}, {@link #unpin}, any thread). The
 * slice goes back to the producer, through the return queue, when the last reference is dropped: a view a handler
 * keeps pins its slice, never the ring.
 *
 * <p><b>Write-back.</b> A slice that the producer filled at a fast stream's pace is written back from this core's
 * caches before it goes back ({@link CacheLineWriteback}, where the JVM allows it): the producer rewrites it only a
 * ring later, and finds its lines in memory instead of in this core's caches. A slow stream's slice is not: its
 * producer writes the slice given back last next, while its lines are still warm.
 *
 * <p>Single-threaded (the event loop) but for {@link #unpin} and the counters. After a protocol violation every
 * method that reads the peer's line throws the same {@link IdtsProtocolException}.
 */
public final class RingReader extends RingEndpoint {

    private static final int NO_SLICE = -1;
    /** A slice's reference count: one per view, plus this one while the reader still needs it. */
    private static final int VIEW_REFERENCE = 2;
    private static final int READER_REFERENCE = 1;


    /** Per slice: VIEW_REFERENCE per view held, plus READER_REFERENCE while the reader needs it. Any thread. */
    private final AtomicIntegerArray references = new AtomicIntegerArray(SLICES_PER_RING);
    /** Slices whose last reference was dropped and that are not yet in the return queue, one bit each. */
    private final AtomicLong doneSlices = new AtomicLong();
    /** Slices at least one view holds. */
    private final AtomicInteger pinnedSlices = new AtomicInteger();
    /** Event loop: slices the producer gave us (from the first descriptor naming one until it is returned). */
    private long heldSlices;
    /** Per slice: bytes to write back when it is returned (the fast stream's slice's bytes), or 0. Event loop. */
    private final int[] writebackBytes = new int[SLICES_PER_RING];
    /** The writeback, or {@code null} (none available, or not wanted). */
    private final MemoryWriteback writeback;
    /** The address of {@link #memory}; 0 without {@link #writeback}. */
    private final long memoryAddress;
    private final LongSupplier nanoClock;
    /** {@link #nanoClock} when the run's slice was started; only kept with {@link #writeback}. */
    private long runStartNanos;

    /** The slice of the run, or {@link #NO_SLICE}. */
    private int run = NO_SLICE;
    /** Offset in the run's slice of the first byte not taken yet. */
    private int runStart;
    /** Offset in the run's slice after the last byte delivered by descriptors. */
    private int runEnd;
    /** The producer finished the run's slice (END_OF_SLICE read). */
    private boolean runFinished;

    /** Bytes taken (copied, viewed or skipped) in all. */
    private long taken;
    /** Descriptors read. */
    private long consumed;
    /** Descriptor position the producer has been told of. */
    private long released;
    /** Slices returned. */
    private long returned;
    /** The producer's descriptor position last read and validated: never behind {@link #consumed}, never decreasing. */
    private long producer;
    /** The producer's state last read and validated: never decreasing. */
    private int peerState;
    /** Valid once the peer's state is OUTPUT_SHUTDOWN or CLOSED: the producer position then may not move again. */
    private long finalPosition;
    private int flags;
    /** Our side published since the last bytes came: what comes next is likely an answer ({@link #awaitReply}). */
    private boolean awaitingReply;
    /** The byte {@link #readableBytes()} loads ahead of the producer's bytes, kept so that the load is not dropped. */
    private byte nextLineSink;

    /**
     * Takes over the ring's consumer line: writes positions 0 and no flags, whatever the line held. Construct before
     * telling the peer we are open.
     */
    public RingReader(ByteBuffer region, RegionLayout layout, int ring) {
        this(region, layout, ring, CacheLineWriteback.ifAvailable(), System::nanoTime);
    }

    /** Whether readers made with the public constructor write a fast stream's slices back before returning them. */
    public static boolean writesBackFastSlices() {
        return CacheLineWriteback.ifAvailable() != null;
    }

    /**
     * With the writeback of fast streams' slices ({@code null} for none) and the clock that tells a fast stream from a
     * slow one; for tests.
     */
    RingReader(ByteBuffer region, RegionLayout layout, int ring, MemoryWriteback writeback, LongSupplier nanoClock) {
        super(region, layout, ring);
        this.writeback = writeback;
        this.nanoClock = ObjectUtil.checkNotNull(nanoClock, "nanoClock");
        memoryAddress = writeback == null ? 0 : PlatformDependent.directBufferAddress(memory);
        // The connector is OPEN from the start, so a connector state of NEW would be a decrease.
        peerState = RegionLayout.initialProducerState(ring);
        LONG.setRelease(region, consumerPositionOffset, 0L);
        LONG.setRelease(region, returnPositionOffset, 0L);
        INT.setRelease(region, consumerFlagsOffset, 0);
    }

    /**
     * Reads the producer position once (acquire: the descriptors and bytes before it are then visible), validates it
     * and the descriptors it delivers, and returns the bytes that can be taken in one piece: the rest of the run.
     */
    public int readableBytes() throws IdtsProtocolException {
        checkFailure();
        if (awaitingReply && run != NO_SLICE && !runFinished && runEnd < sliceSize) {
            // We wait for the answer to what our side sent, and the producer most likely appends it right after the
            // run in its slice. Load that line now, and the next descriptor entry (advanceRun), without waiting for
            // the position: when it moves, the three lines cross from the producer's core together instead of one
            // after the other. Not in a one-way stream: the line would often be one the producer is writing, and
            // taking it from its core slows its copy. A guess only: the byte is never used.
            nextLineSink = memory.get(run * sliceSize + runEnd);
        }
        refreshProducer();
        int readable = advanceRun();
        if (readable > 0) {
            awaitingReply = false;
        }
        return readable;
    }

    /**
     * Tells the reader that the other ring's producer (our side) published: what comes next is likely an answer, worth
     * loading ahead while it waits (see {@link #readableBytes()}).
     */
    public void awaitReply() {
        awaitingReply = true;
    }

    /**
     * Copies up to {@code maxBytes} bytes (at most {@code dst.writableBytes()}) into {@code dst}, across slices,
     * from the descriptors last validated; does not read the shared producer position and does not publish.
     *
     * @return the number of bytes copied, 0 if none
     */
    public int read(ByteBuf dst, int maxBytes) throws IdtsProtocolException {
        checkFailure();
        ObjectUtil.checkNotNull(dst, "dst");
        ObjectUtil.checkPositiveOrZero(maxBytes, "maxBytes");
        int want = Math.min(maxBytes, dst.writableBytes());
        int copied = 0;
        while (copied < want) {
            int n = Math.min(advanceRun(), want - copied);
            if (n == 0) {
                break;
            }
            dst.writeBytes(data, run * sliceSize + runStart, n);
            take(n);
            copied += n;
        }
        return copied;
    }

    /**
     * Takes up to {@code maxBytes} bytes without copying them anywhere (input shut down locally: the peer must not
     * wait for space that never comes). Like {@link #read}, works on the descriptors last validated.
     *
     * @return bytes skipped
     */
    public int skip(int maxBytes) throws IdtsProtocolException {
        checkFailure();
        ObjectUtil.checkPositiveOrZero(maxBytes, "maxBytes");
        int skipped = 0;
        while (skipped < maxBytes) {
            int n = Math.min(advanceRun(), maxBytes - skipped);
            if (n == 0) {
                break;
            }
            take(n);
            skipped += n;
        }
        return skipped;
    }

    /** The slice of the bytes {@link #readableBytes()} offers; valid while it is positive. */
    public int runSlice() {
        return run;
    }

    /** Index in the ring's data of the first byte {@link #readableBytes()} offers; valid while it is positive. */
    public int index() {
        return run * sliceSize + runStart;
    }

    /**
     * Takes {@code n} bytes of the run (at most {@link #readableBytes()}) for a view, which must hold a
     * {@linkplain #pin pin} of {@link #runSlice()} taken before.
     */
    public void takeForView(int n) {
        if (n < 0 || n > runEnd - runStart) {
            throw new IllegalArgumentException("view of " + n + " bytes: only " + (runEnd - runStart)
                    + " readable in one piece");
        }
        take(n);
    }

    /**
     * Adds a view's reference to {@code slice} (one of the reader's, so never a free slice).
     *
     * @return true if no view held the slice before: it is newly pinned
     */
    public boolean pin(int slice) {
        boolean newlyPinned = references.getAndAdd(slice, VIEW_REFERENCE) < VIEW_REFERENCE;
        if (newlyPinned) {
            pinnedSlices.incrementAndGet();
        }
        return newlyPinned;
    }

    /** Whether at least one view holds {@code slice}. */
    public boolean isPinned(int slice) {
        return references.get(slice) >= VIEW_REFERENCE;
    }

    /**
     * Any thread: a view of {@code slice} was released. When it was the slice's last reference, the slice is ready to
     * go back to the producer at the next {@link #release()}.
     *
     * @return true if the slice is now ready to go back
     */
    public boolean unpin(int slice) {
        int after = references.addAndGet(slice, -VIEW_REFERENCE);
        if (after < VIEW_REFERENCE) {
            pinnedSlices.decrementAndGet();
        }
        if (after == 0) {
            markDone(slice);
            return true;
        }
        return false;
    }

    /**
     * Any thread, once the channel closed: a view of {@code slice} was released. Only the counts go down: nothing goes
     * back to the producer any more.
     */
    public void unpinClosed(int slice) {
        if (references.addAndGet(slice, -VIEW_REFERENCE) < VIEW_REFERENCE) {
            pinnedSlices.decrementAndGet();
        }
    }

    /** Slices views hold now. Any thread. */
    public int pinnedSlices() {
        return pinnedSlices.get();
    }

    /**
     * Returns the slices done with and publishes the descriptor position (release: our reads are done before the
     * producer may reuse the memory), issues a full fence and reads the producer's flags.
     *
     * @return whether the writer is waiting for space: the caller must then notify it. False, and nothing done, when
     *         nothing new was read or returned.
     */
    public boolean release() throws IdtsProtocolException {
        checkFailure();
        // A plain read first: an atomic exchange is a full barrier, and most calls have no slice to return.
        long done = doneSlices.get() == 0 ? 0 : doneSlices.getAndSet(0);
        boolean news = false;
        while (done != 0) {
            int slice = Long.numberOfTrailingZeros(done);
            done &= done - 1;
            int bytes = writebackBytes[slice];
            if (bytes != 0) {
                writebackBytes[slice] = 0;
                writeback.writeback(memoryAddress + (long) slice * sliceSize, bytes);
            }
            INT.set(region, returnEntryOffset(returned), slice);
            returned++;
            heldSlices &= ~(1L << slice);
            news = true;
        }
        if (news) {
            // Release: the entries are visible before the position, and our reads of the slices are done.
            LONG.setRelease(region, returnPositionOffset, returned);
        }
        if (consumed != released) {
            LONG.setRelease(region, consumerPositionOffset, consumed);
            released = consumed;
            news = true;
        }
        if (!news) {
            return false;
        }
        // Store-load barrier: the freed space must be visible before we read the flag (see RingWriter.publish()).
        VarHandle.fullFence();
        int producerFlags = (int) INT.getAcquire(region, producerFlagsOffset);
        if ((producerFlags & ~PRODUCER_FLAGS_KNOWN) != 0) {
            throw fail(String.format("peer's producer flags 0x%08x of ring %d have reserved bits set "
                    + "(only 0x%08x is defined)", producerFlags, ring, PRODUCER_FLAGS_KNOWN));
        }
        return (producerFlags & FLAG_WAITING_FOR_SPACE) != 0;
    }

    /**
     * Whether descriptors were read or slices finished with since the last {@link #release()}: the producer has not
     * been told yet, and may be waiting for them.
     */
    public boolean hasUnreleased() {
        return consumed != released || doneSlices.get() != 0;
    }

    /**
     * Sets WAITING_FOR_DATA, issues a full fence, then reads the producer's state and position again.
     *
     * @return true if there is data to read or the producer's state changed since last read (the flag is cleared
     *         again: do not sleep); false if the caller should sleep until notified, then call
     *         {@link #clearWaitingForData()}
     */
    public boolean prepareToSleep() throws IdtsProtocolException {
        checkFailure();
        if ((flags & FLAG_WAITING_FOR_DATA) == 0) {
            flags |= FLAG_WAITING_FOR_DATA;
            INT.setRelease(region, consumerFlagsOffset, flags);
        }
        // Store-load barrier: the flag must be visible before we re-read, or a writer that publishes in between
        // could miss the flag while we miss its data, and we would sleep with data in the ring.
        VarHandle.fullFence();
        int stateBefore = peerState;
        refreshState();
        refreshProducer();
        if (producer != consumed || runEnd != runStart || peerState != stateBefore) {
            clearWaitingForData();
            return true;
        }
        return false;
    }

    /** Clears WAITING_FOR_DATA (after waking up). Extra notifications the producer sends meanwhile are harmless. */
    public void clearWaitingForData() {
        if ((flags & FLAG_WAITING_FOR_DATA) != 0) {
            flags &= ~FLAG_WAITING_FOR_DATA;
            INT.setRelease(region, consumerFlagsOffset, flags);
        }
    }

    /** The producer's state: read once (acquire), validated (a known state, never lower than the last one read). */
    public int peerState() throws IdtsProtocolException {
        checkFailure();
        refreshState();
        return peerState;
    }

    /**
     * True when the producer's state is OUTPUT_SHUTDOWN or CLOSED and every byte up to its final position was taken:
     * nothing more will come.
     */
    public boolean isEndOfStream() throws IdtsProtocolException {
        checkFailure();
        refreshState();
        return peerState >= STATE_OUTPUT_SHUTDOWN && advanceRun() == 0 && consumed == finalPosition;
    }

    /** Bytes taken so far (copied, viewed or skipped). */
    public long position() {
        return taken;
    }

    /**
     * The ring's data, big-endian, exactly {@link #capacity()} bytes: the memory of zero-copy views. Only the bytes
     * {@link #readableBytes()} offers at {@link #index()} may be handed out, and only while a pin holds their slice.
     * Writable: until the slice is returned those bytes are ours (docs/protocol.md), and a handler may write into what
     * it reads.
     */
    public ByteBuffer viewMemory() {
        return memory;
    }

    private void take(int n) {
        runStart += n;
        taken += n;
        if (runStart == runEnd && runFinished) {
            int slice = run;
            run = NO_SLICE;
            dropReaderReference(slice);
        }
    }

    private void dropReaderReference(int slice) {
        if (references.addAndGet(slice, -READER_REFERENCE) == 0) {
            markDone(slice);
        }
    }

    private void markDone(int slice) {
        long bit = 1L << slice;
        doneSlices.getAndAccumulate(bit, (a, b) -> a | b);
    }

    /**
     * Reads the descriptors published that extend the run (validated, each once; consecutive descriptors of one slice
     * describe adjacent bytes, so they merge into one run) and returns the run's bytes. A finished run must be taken
     * whole before the next descriptor is read: it names another slice.
     */
    private int advanceRun() throws IdtsProtocolException {
        // While an answer is awaited, the next descriptor entry is loaded before the test whether the position moved,
        // so that the load need not wait for it (see readableBytes()); it is used only if the position, read before
        // it with acquire, covers it. Otherwise only entries the position covers are loaded: in a one-way stream the
        // entry after the position is the one the producer writes next, and a reader that loaded it on every poll
        // would take its line from the producer's core each time.
        boolean ahead = awaitingReply;
        long descriptor = ahead || consumed != producer
                ? (long) LONG.get(region, descriptorEntryOffset(consumed)) : 0L;
        while (consumed != producer && (run == NO_SLICE || !runFinished)) {
            accept(descriptor);
            consumed++;
            if (ahead || consumed != producer) {
                descriptor = (long) LONG.get(region, descriptorEntryOffset(consumed));
            }
        }
        return run == NO_SLICE ? 0 : runEnd - runStart;
    }

    private void accept(long descriptor) throws IdtsProtocolException {
        if ((descriptor & ~DESCRIPTOR_KNOWN_BITS) != 0) {
            throw fail(String.format("peer's descriptor 0x%016x at position 0x%x of ring %d has reserved bits set",
                    descriptor, consumed, ring));
        }
        int slice = RegionLayout.descriptorSlice(descriptor);
        long length = RegionLayout.descriptorLength(descriptor);
        boolean end = RegionLayout.isEndOfSlice(descriptor);
        if (slice >= SLICES_PER_RING) {
            throw fail(String.format("peer's descriptor 0x%016x at position 0x%x of ring %d names slice %d, not a "
                    + "slice index (0..%d)", descriptor, consumed, ring, slice, SLICES_PER_RING - 1));
        }
        if (run == NO_SLICE) {
            if ((heldSlices & 1L << slice) != 0) {
                throw fail(String.format("peer's descriptor 0x%016x at position 0x%x of ring %d starts slice %d, "
                        + "which was not returned to it", descriptor, consumed, ring, slice));
            }
        } else if (slice != run) {
            throw fail(String.format("peer's descriptor 0x%016x at position 0x%x of ring %d names slice %d while "
                    + "slice %d is not finished", descriptor, consumed, ring, slice, run));
        }
        int offset = run == NO_SLICE ? 0 : runEnd;
        if (length > sliceSize - offset || length == 0 && !end) {
            throw fail(String.format("peer's descriptor 0x%016x at position 0x%x of ring %d gives %d bytes at "
                            + "offset %d of slice %d, beyond the slice size %d%s", descriptor, consumed, ring,
                    length, offset, slice, sliceSize, length == 0 ? " (or empty without END_OF_SLICE)" : ""));
        }
        if (run == NO_SLICE) {
            run = slice;
            runStart = 0;
            runEnd = 0;
            runFinished = false;
            heldSlices |= 1L << slice;
            references.set(slice, READER_REFERENCE);
            if (writeback != null) {
                runStartNanos = nanoClock.getAsLong();
            }
        }
        runEnd += (int) length;
        if (end) {
            if (writeback != null && runEnd > 0
                    && nanoClock.getAsLong() - runStartNanos < (long) sliceSize * SLOW_STREAM_NANOS_PER_BYTE) {
                writebackBytes[slice] = runEnd;
            }
            runFinished = true;
            if (runStart == runEnd) {
                run = NO_SLICE;
                dropReaderReference(slice);
            }
        }
    }

    private void refreshState() throws IdtsProtocolException {
        int state = (int) INT.getAcquire(region, producerStateOffset);
        if (state < STATE_NEW || state > STATE_CLOSED) {
            throw fail("peer's producer state " + Integer.toUnsignedString(state) + " of ring " + ring
                    + " is not a known state (" + STATE_NEW + ".." + STATE_CLOSED + ')');
        }
        if (state < peerState) {
            throw fail("peer's producer state " + state + " (" + RegionLayout.stateName(state) + ") of ring " + ring
                    + " is lower than the state it had, " + peerState + " (" + RegionLayout.stateName(peerState)
                    + "); states never decrease");
        }
        if (state >= STATE_OUTPUT_SHUTDOWN && peerState < STATE_OUTPUT_SHUTDOWN) {
            // The producer published its final position before it raised its state, and our read of the state was
            // an acquire: the position read now is final, and must never move again.
            refreshProducer();
            finalPosition = producer;
        }
        peerState = state;
    }

    private void refreshProducer() throws IdtsProtocolException {
        long position = (long) LONG.getAcquire(region, producerPositionOffset);
        if (position - producer < 0) {
            throw fail(String.format("peer's descriptor producer position 0x%x of ring %d went backwards from 0x%x "
                    + "(positions never decrease)", position, ring, producer));
        }
        long ahead = position - released;
        if (Long.compareUnsigned(ahead, DESCRIPTORS_PER_RING) > 0) {
            throw fail(String.format("peer's descriptor producer position 0x%x of ring %d is %s descriptors past "
                            + "the consumer position 0x%x, beyond the queue's %d entries",
                    position, ring, Long.toUnsignedString(ahead), released, DESCRIPTORS_PER_RING));
        }
        if (peerState >= STATE_OUTPUT_SHUTDOWN && position != finalPosition) {
            throw fail(String.format("peer's descriptor producer position 0x%x of ring %d moved after its state "
                            + "became %s at the final position 0x%x",
                    position, ring, RegionLayout.stateName(peerState), finalPosition));
        }
        producer = position;
    }
}
