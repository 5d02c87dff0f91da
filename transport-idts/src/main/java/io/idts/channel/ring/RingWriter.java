package io.idts.channel.ring;

import io.idts.channel.IdtsProtocolException;

import io.netty.buffer.ByteBuf;
import io.netty.util.internal.MathUtil;
import io.netty.util.internal.ObjectUtil;

import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.util.function.LongSupplier;

import static io.idts.channel.ring.RegionLayout.CONSUMER_FLAGS_KNOWN;
import static io.idts.channel.ring.RegionLayout.DESCRIPTORS_PER_RING;
import static io.idts.channel.ring.RegionLayout.FLAG_WAITING_FOR_DATA;
import static io.idts.channel.ring.RegionLayout.FLAG_WAITING_FOR_SPACE;
import static io.idts.channel.ring.RegionLayout.INT;
import static io.idts.channel.ring.RegionLayout.LONG;
import static io.idts.channel.ring.RegionLayout.SLICES_PER_RING;
import static io.idts.channel.ring.RegionLayout.STATE_CLOSED;
import static io.idts.channel.ring.RegionLayout.STATE_OPEN;
import static io.idts.channel.ring.RegionLayout.STATE_OUTPUT_SHUTDOWN;

/**
 * One endpoint's producer side of one ring (ring 0 for the connector, ring 1 for the acceptor). It owns the ring's
 * producer line and descriptor queue: it is the only writer of them and never reads them back, keeping every value in
 * a field instead. The only values it reads from the region are the consumer's descriptor position, flags, return
 * position and returned slices, each read once, validated, then used.
 *
 * <p>Bytes go into the <em>current</em> slice, appended; consecutive writes to it between two publications become one
 * descriptor. A full slice is finished (a descriptor with END_OF_SLICE) and the next free slice taken; slices come back
 * free through the consumer's return queue, in whatever order the consumer is done with them.
 *
 * <p>Single-threaded (the event loop). After a protocol violation every method that reads the peer's line throws the
 * same {@link IdtsProtocolException}; {@link #setState} still works, so the peer can learn that we closed.
 */
public final class RingWriter extends RingEndpoint {

    private static final int NO_SLICE = -1;
    // What this side knows of each slice.
    private static final byte SLICE_FREE = 0;     // ours: in the free list
    private static final byte SLICE_CURRENT = 1;  // being appended to; its bytes so far may be with the consumer
    private static final byte SLICE_FINISHED = 2; // END_OF_SLICE written: the consumer's until it returns it


    private final byte[] sliceStates = new byte[SLICES_PER_RING];
    /** The free slices, a stack: the slice returned last is written first. */
    private final int[] freeSlices = new int[SLICES_PER_RING];
    private int freeCount;
    private final LongSupplier nanoClock;
    /** {@link #nanoClock} when the current (or last) slice was taken. */
    private long sliceTakenNanos;

    /** The slice being appended to, or {@link #NO_SLICE}. */
    private int current = NO_SLICE;
    /** Bytes written to the current slice. */
    private int fill;
    /** Where the current slice's bytes that no descriptor describes yet start ({@code <= fill}). */
    private int described;
    /** Bytes written, in all. */
    private long bytesWritten;
    /** {@link #bytesWritten} at the last publication: every byte before it is described and published. */
    private long bytesPublished;
    /** How many times {@link #publish()} moved the producer position. */
    private long publications;

    /** Descriptors written, published or not. */
    private long produced;
    /** Descriptors the consumer has been told of. */
    private long published;
    /** The consumer's descriptor position last read and validated: never behind, never past {@link #published}. */
    private long consumer;
    /** Returned slices taken back so far. */
    private long returned;
    private int state;
    private int flags;

    /**
     * Takes over the ring's producer line: writes position 0, no flags and the initial state (OPEN for the
     * connector, NEW for the acceptor), whatever the line held. Construct before telling the peer we are open.
     */
    public RingWriter(ByteBuffer region, RegionLayout layout, int ring) {
        this(region, layout, ring, System::nanoTime);
    }

    /** With the clock that tells a fast stream from a slow one ({@link #canTakeSlice()}); for tests. */
    RingWriter(ByteBuffer region, RegionLayout layout, int ring, LongSupplier nanoClock) {
        super(region, layout, ring);
        this.nanoClock = nanoClock;
        sliceTakenNanos = nanoClock.getAsLong();
        // Taken from the end, so slice 0 goes first.
        for (int slice = SLICES_PER_RING - 1; slice >= 0; slice--) {
            freeSlices[freeCount++] = slice;
        }
        state = RegionLayout.initialProducerState(ring);
        LONG.setRelease(region, producerPositionOffset, 0L);
        INT.setRelease(region, producerFlagsOffset, 0);
        INT.setRelease(region, producerStateOffset, state);
    }

    /**
     * Free bytes that {@link #write} can take right now without waiting: those left in the current slice, or a new
     * slice's. Reads the shared consumer positions only when what it knows says there is no room.
     */
    public int writableBytes() throws IdtsProtocolException {
        checkFailure();
        return room();
    }

    /**
     * Copies {@code min(length, free)} bytes of {@code src}, from {@code srcIndex}, into the ring (across slices when
     * they do not fit one). Does not move {@code src}'s indexes and does not publish.
     *
     * @return the number of bytes copied: 0 when the ring is full
     * @throws IllegalStateException after our output was shut down
     */
    public int write(ByteBuf src, int srcIndex, int length) throws IdtsProtocolException {
        checkFailure();
        ObjectUtil.checkNotNull(src, "src");
        if (MathUtil.isOutOfBounds(srcIndex, length, src.capacity())) {
            throw new IndexOutOfBoundsException("srcIndex: " + srcIndex + ", length: " + length
                    + " (expected: range within 0.." + src.capacity() + ')');
        }
        checkWritable();
        int written = 0;
        while (written < length) {
            int room = room();
            if (room == 0) {
                break;
            }
            int n = Math.min(room, length - written);
            src.getBytes(srcIndex + written, data, current * sliceSize + fill, n);
            fill += n;
            written += n;
        }
        bytesWritten += written;
        return written;
    }

    /**
     * Free bytes at {@link #index()} that one contiguous claim can take: the rest of the current slice, or, if that
     * is less than {@code wanted} (at most a slice), a whole new slice (the current one is finished early).
     */
    public int contiguousWritableBytes(int wanted) throws IdtsProtocolException {
        checkFailure();
        int room = room();
        if (room < wanted && wanted <= sliceSize && current != NO_SLICE && fill > 0 && canTakeSlice()) {
            finishCurrent();
            room = room();
        }
        return room;
    }

    /** Index in the ring's data of the next byte to write; valid after a positive {@link #writableBytes()}. */
    public int index() {
        return current == NO_SLICE ? 0 : current * sliceSize + fill;
    }

    /** The ring's data, writable, big-endian, exactly {@link #capacity()} bytes: the memory of transmit claims. */
    public ByteBuffer claimMemory() {
        return memory;
    }

    /**
     * Takes {@code n} bytes that a claim wrote in place at {@link #index()} as written (not yet published).
     *
     * @throws IllegalArgumentException if they exceed the free bytes of the current slice: none when no descriptor
     *         entry is free to describe them (what {@link #contiguousWritableBytes} said)
     */
    public void commit(int n) throws IdtsProtocolException {
        checkFailure();
        checkWritable();
        int room = current == NO_SLICE ? 0 : sliceSize - fill;
        if (n > 0 && room > 0 && fill == described && freeDescriptors() == 0) {
            // No entry is reserved for these bytes and none is free: their descriptor would overwrite one the
            // consumer has not read (and a position more than the queue ahead is a violation in its eyes).
            room = 0;
        }
        if (n < 0 || n > room) {
            throw new IllegalArgumentException("commit of " + n + " bytes: only " + room
                    + " contiguous bytes are free");
        }
        fill += n;
        bytesWritten += n;
    }

    /**
     * Describes what was written since the last publication and publishes the descriptors (release: the bytes are
     * visible before the position), issues a full fence and reads the consumer's flags.
     *
     * @return whether the reader is waiting for data: the caller must then notify it. False, and nothing done, when
     *         nothing new was written.
     */
    public boolean publish() throws IdtsProtocolException {
        checkFailure();
        describePending(false);
        bytesPublished = bytesWritten;
        if (produced == published) {
            return false;
        }
        LONG.setRelease(region, producerPositionOffset, produced);
        published = produced;
        publications++;
        // Store-load barrier: our position must be visible before we read the flag, or a reader that sets its flag
        // and re-reads our position in the meantime could both miss the data and not be notified.
        VarHandle.fullFence();
        int consumerFlags = (int) INT.getAcquire(region, consumerFlagsOffset);
        if ((consumerFlags & ~CONSUMER_FLAGS_KNOWN) != 0) {
            throw fail(String.format("peer's consumer flags 0x%08x of ring %d have reserved bits set "
                    + "(only 0x%08x is defined)", consumerFlags, ring, CONSUMER_FLAGS_KNOWN));
        }
        return (consumerFlags & FLAG_WAITING_FOR_DATA) != 0;
    }

    /**
     * Sets WAITING_FOR_SPACE, issues a full fence and reads the consumer's positions again.
     *
     * @return true if there is room now (the flag is cleared again: go on writing); false if the caller should wait
     *         for a notification, then call {@link #clearWaitingForSpace()}
     * @throws IllegalStateException when bytes are written but not published: the reader could never free space
     */
    public boolean prepareToWaitForSpace() throws IdtsProtocolException {
        checkFailure();
        if (produced != published || fill != described) {
            throw new IllegalStateException("ring " + ring + ": bytes written but not published; publish before "
                    + "waiting for space");
        }
        if ((flags & FLAG_WAITING_FOR_SPACE) == 0) {
            flags |= FLAG_WAITING_FOR_SPACE;
            INT.setRelease(region, producerFlagsOffset, flags);
        }
        // Store-load barrier: the flag must be visible before we re-read the consumer's positions (see publish()).
        VarHandle.fullFence();
        refreshConsumer();
        takeReturnedSlices();
        if (room() > 0) {
            clearWaitingForSpace();
            return true;
        }
        return false;
    }

    /** Clears WAITING_FOR_SPACE (after waking up). Extra notifications the consumer sends meanwhile are harmless. */
    public void clearWaitingForSpace() {
        if ((flags & FLAG_WAITING_FOR_SPACE) != 0) {
            flags &= ~FLAG_WAITING_FOR_SPACE;
            INT.setRelease(region, producerFlagsOffset, flags);
        }
    }

    /**
     * Raises our state to {@code newState} (OPEN, OUTPUT_SHUTDOWN or CLOSED). Publishes what was written first (unless
     * the ring failed), so that a reader that sees the new state also sees every byte. Never lowers the state.
     *
     * @return true if the state was raised: the caller must notify the reader (a state change always notifies)
     */
    public boolean setState(int newState) {
        ObjectUtil.checkInRange(newState, STATE_OPEN, STATE_CLOSED, "newState");
        if (newState <= state) {
            return false;
        }
        if (!isFailed()) {
            // Room for this descriptor was reserved when its first byte was written.
            describePending(false);
            if (produced != published) {
                LONG.setRelease(region, producerPositionOffset, produced);
                published = produced;
            }
        }
        // Release: the final position is visible before the state that says it is final.
        INT.setRelease(region, producerStateOffset, newState);
        state = newState;
        VarHandle.fullFence();
        return true;
    }

    /** Our state, as last set. */
    public int state() {
        return state;
    }

    /** How many times {@link #publish()} published new descriptors. */
    public long publications() {
        return publications;
    }

    /** Bytes written since the last {@link #publish()}: the reader cannot see them yet. */
    public long unpublishedBytes() {
        return bytesWritten - bytesPublished;
    }

    /** Bytes written so far, published or not. */
    long position() {
        return bytesWritten;
    }

    /**
     * Room in the current slice, after finishing a full one and taking a new one if it can. Bytes may only be
     * appended when a descriptor entry is free for them (reserved when the first undescribed byte is written), so a
     * publication can always describe what was written.
     */
    private int room() throws IdtsProtocolException {
        if (current != NO_SLICE && fill < sliceSize) {
            if (fill != described || freeDescriptors() > 0) {
                return sliceSize - fill;
            }
            return 0;
        }
        if (!canTakeSlice()) {
            return 0;
        }
        if (current != NO_SLICE) {
            finishCurrent();
        }
        current = freeSlices[--freeCount];
        sliceStates[current] = SLICE_CURRENT;
        sliceTakenNanos = nanoClock.getAsLong();
        fill = 0;
        described = 0;
        return sliceSize;
    }

    /**
     * Whether a new slice can be started: a free slice, a descriptor for the current slice's END_OF_SLICE (its
     * reserved one if it has undescribed bytes) and one for the new slice's first bytes.
     */
    private boolean canTakeSlice() throws IdtsProtocolException {
        // Which free slice comes next. A stream that filled its last slice slower than a byte per nanosecond takes the
        // returned slices back now, so that the one given back last, still warm, is written next: such a connection
        // dirties a few slices instead of its whole ring, and with a thousand connections on a loop their rings stay
        // a few hundred KiB each instead of the whole ring (page faults on the first pass, then misses to memory). A
        // faster stream uses up the slices it has before it takes returns back, and so cycles through the ring: the
        // reader read a slice's lines a ring's worth of bytes ago, its core's private caches have let them go, and the
        // writer does not pay a cross-core invalidation for every line it rewrites (with 1 MiB rings, as large as the
        // core's cache, that halved a single stream's bandwidth: docs/benchmarks.md). A shared cache of the reader's
        // core group may still hold them: the reader writes such a slice back before returning it (RingReader).
        if (freeCount == 0
                || nanoClock.getAsLong() - sliceTakenNanos >= (long) sliceSize * SLOW_STREAM_NANOS_PER_BYTE) {
            takeReturnedSlices();
            if (freeCount == 0) {
                return false;
            }
        }
        int needed = current == NO_SLICE || fill != described ? 1 : 2;
        return freeDescriptors() >= needed;
    }

    /** Writes the current slice's END_OF_SLICE descriptor (with its undescribed bytes) and lets it go. */
    private void finishCurrent() {
        describePending(true);
        sliceStates[current] = SLICE_FINISHED;
        current = NO_SLICE;
        fill = 0;
        described = 0;
    }

    /**
     * Writes the descriptor of the current slice's undescribed bytes (and, with {@code endOfSlice}, its end, even
     * with no bytes). Its entry is free: reserved by {@link #room()} or checked by {@link #canTakeSlice()}.
     */
    private void describePending(boolean endOfSlice) {
        if (current == NO_SLICE || fill == described && !endOfSlice) {
            return;
        }
        long descriptor = RegionLayout.descriptor(current, fill - described, endOfSlice);
        // Plain store: the release store of the position publishes it.
        LONG.set(region, descriptorEntryOffset(produced), descriptor);
        produced++;
        described = fill;
    }

    /** Descriptor entries free for new descriptors, beyond the one reserved for undescribed bytes. */
    private int freeDescriptors() throws IdtsProtocolException {
        int reserved = current != NO_SLICE && fill != described ? 1 : 0;
        int free = DESCRIPTORS_PER_RING - (int) (produced - consumer) - reserved;
        if (free <= 1) {
            refreshConsumer();
            free = DESCRIPTORS_PER_RING - (int) (produced - consumer) - reserved;
        }
        return free;
    }

    private void checkWritable() {
        if (state >= STATE_OUTPUT_SHUTDOWN) {
            throw new IllegalStateException("ring " + ring + ": write after " + RegionLayout.stateName(state));
        }
    }

    private void refreshConsumer() throws IdtsProtocolException {
        long position = (long) LONG.getAcquire(region, consumerPositionOffset);
        long advance = position - consumer;
        if (advance < 0) {
            throw fail(String.format("peer's descriptor consumer position 0x%x of ring %d went backwards from 0x%x "
                    + "(positions never decrease)", position, ring, consumer));
        }
        long unconsumed = published - consumer;
        if (advance > unconsumed) {
            throw fail(String.format("peer's descriptor consumer position 0x%x of ring %d is %s descriptors past "
                            + "the producer position 0x%x (it can only read what was published)",
                    position, ring, Long.toUnsignedString(advance - unconsumed), published));
        }
        consumer = position;
    }

    /** Reads the consumer's return position and the slices it returned, each once, and frees them. */
    private void takeReturnedSlices() throws IdtsProtocolException {
        long position = (long) LONG.getAcquire(region, returnPositionOffset);
        long count = position - returned;
        if (count < 0 || count > SLICES_PER_RING) {
            throw fail(String.format("peer's return position 0x%x of ring %d is not within %d slices after the "
                    + "slices taken back, 0x%x", position, ring, SLICES_PER_RING, returned));
        }
        for (long i = returned; i != position; i++) {
            int slice = (int) INT.get(region, returnEntryOffset(i));
            if (slice < 0 || slice >= SLICES_PER_RING) {
                throw fail("peer's returned slice " + Integer.toUnsignedString(slice) + " of ring " + ring
                        + " is not a slice index (0.." + (SLICES_PER_RING - 1) + ')');
            }
            if (sliceStates[slice] != SLICE_FINISHED) {
                throw fail("peer's returned slice " + slice + " of ring " + ring + " is not one it holds ("
                        + (sliceStates[slice] == SLICE_CURRENT ? "still being written" : "free: never given or "
                        + "already returned") + ')');
            }
            sliceStates[slice] = SLICE_FREE;
            freeSlices[freeCount++] = slice;
            returned = i + 1;
        }
    }
}
