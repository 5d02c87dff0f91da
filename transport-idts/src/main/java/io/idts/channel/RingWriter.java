package io.idts.channel;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.util.internal.MathUtil;
import io.netty.util.internal.ObjectUtil;

import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static io.idts.channel.RegionLayout.CONSUMER_FLAGS_KNOWN;
import static io.idts.channel.RegionLayout.FLAG_WAITING_FOR_DATA;
import static io.idts.channel.RegionLayout.FLAG_WAITING_FOR_SPACE;
import static io.idts.channel.RegionLayout.INT;
import static io.idts.channel.RegionLayout.LONG;
import static io.idts.channel.RegionLayout.STATE_CLOSED;
import static io.idts.channel.RegionLayout.STATE_OPEN;
import static io.idts.channel.RegionLayout.STATE_OUTPUT_SHUTDOWN;

/**
 * One endpoint's producer side of one ring (ring 0 for the connector, ring 1 for the acceptor). It owns the ring's
 * producer line: it is the only writer of it and never reads it back, keeping every value in a field instead. The
 * only values it reads from the region are the consumer's position and flags, each read once, validated, then used.
 *
 * <p>Single-threaded (the event loop). After a protocol violation every method that reads the peer's line throws the
 * same {@link IdtsProtocolException}; {@link #setState} still works, so the peer can learn that we closed.
 */
final class RingWriter {

    private final ByteBuffer region;
    private final int ring;
    private final int capacity;
    private final int mask;
    // A view of exactly the ring's data: a bad index can only fail a bounds check, never touch another byte.
    private final ByteBuf data;
    /** The ring's data again, big-endian, for transmit claims; never moved (absolute access only). */
    private final ByteBuffer claimMemory;
    private final int positionOffset;
    private final int stateOffset;
    private final int flagsOffset;
    private final int consumerPositionOffset;
    private final int consumerFlagsOffset;

    /** Everything written, published or not. */
    private long produced;
    /** What the consumer has been told. */
    private long published;
    /** The consumer position last read and validated: never behind, never past {@link #published}. */
    private long consumer;
    private int state;
    private int flags;
    private IdtsProtocolException failure;

    /**
     * Takes over the ring's producer line: writes position 0, no flags and the initial state (OPEN for the
     * connector, NEW for the acceptor), whatever the line held. Construct before telling the peer we are open.
     */
    RingWriter(ByteBuffer region, RegionLayout layout, int ring) {
        this.region = ObjectUtil.checkNotNull(region, "region");
        ObjectUtil.checkNotNull(layout, "layout");
        this.ring = RegionLayout.checkRing(ring);
        RegionLayout.checkMappedSize(region, layout.size());
        capacity = layout.capacity(ring);
        mask = capacity - 1;
        data = Unpooled.wrappedBuffer(region.slice(layout.dataOffset(ring), capacity));
        claimMemory = region.slice(layout.dataOffset(ring), capacity).order(ByteOrder.BIG_ENDIAN);
        positionOffset = RegionLayout.producerPositionOffset(ring);
        stateOffset = RegionLayout.producerStateOffset(ring);
        flagsOffset = RegionLayout.producerFlagsOffset(ring);
        consumerPositionOffset = RegionLayout.consumerPositionOffset(ring);
        consumerFlagsOffset = RegionLayout.consumerFlagsOffset(ring);
        state = RegionLayout.initialProducerState(ring);
        LONG.setRelease(region, positionOffset, 0L);
        INT.setRelease(region, flagsOffset, 0);
        INT.setRelease(region, stateOffset, state);
    }

    int capacity() {
        return capacity;
    }

    /**
     * Free bytes. Uses the cached consumer position, and reads the shared one only when the cache says the ring is
     * full, so a writer that keeps ahead of its reader does not pull the consumer's cache line on every call.
     */
    int writableBytes() throws IdtsProtocolException {
        checkFailure();
        int free = cachedFree();
        if (free == 0) {
            refreshConsumer();
            free = cachedFree();
        }
        return free;
    }

    /**
     * Copies {@code min(length, free)} bytes of {@code src}, from {@code srcIndex}, into the ring (two copies when
     * they wrap). Does not move {@code src}'s indexes and does not publish. Reads the shared consumer position only
     * when the cache shows less than {@code length} bytes free.
     *
     * @return the number of bytes copied: 0 when the ring is full
     * @throws IllegalStateException after our output was shut down
     */
    int write(ByteBuf src, int srcIndex, int length) throws IdtsProtocolException {
        checkFailure();
        ObjectUtil.checkNotNull(src, "src");
        if (MathUtil.isOutOfBounds(srcIndex, length, src.capacity())) {
            throw new IndexOutOfBoundsException("srcIndex: " + srcIndex + ", length: " + length
                    + " (expected: range within 0.." + src.capacity() + ')');
        }
        if (state >= STATE_OUTPUT_SHUTDOWN) {
            throw new IllegalStateException("ring " + ring + ": write after " + RegionLayout.stateName(state));
        }
        int free = cachedFree();
        if (free < length) {
            refreshConsumer();
            free = cachedFree();
        }
        int n = Math.min(length, free);
        if (n == 0) {
            return 0;
        }
        int index = (int) produced & mask;
        int first = Math.min(n, capacity - index);
        src.getBytes(srcIndex, data, index, first);
        if (first < n) {
            src.getBytes(srcIndex + first, data, 0, n - first);
        }
        produced += n;
        return n;
    }

    /**
     * Free bytes from {@link #index()} to the end of the ring or of the free space, whichever comes first: the most a
     * transmit claim can take without wrapping. Reads the shared consumer position only when the cache shows less
     * than {@code wanted} such bytes.
     */
    int contiguousWritableBytes(int wanted) throws IdtsProtocolException {
        checkFailure();
        int toEnd = capacity - ((int) produced & mask);
        int free = cachedFree();
        if (Math.min(free, toEnd) < wanted && free < toEnd) {
            refreshConsumer();
            free = cachedFree();
        }
        return Math.min(free, toEnd);
    }

    /** Index in the ring of the next byte to write ({@link #position()} masked). */
    int index() {
        return (int) produced & mask;
    }

    /** The ring's data, writable, big-endian, exactly {@link #capacity()} bytes: the memory of transmit claims. */
    ByteBuffer claimMemory() {
        return claimMemory;
    }

    /**
     * Takes {@code n} bytes that a claim wrote in place at {@link #index()} as written (not yet published).
     *
     * @throws IllegalArgumentException if they exceed {@link #contiguousWritableBytes} as last computed
     */
    void commit(int n) throws IdtsProtocolException {
        checkFailure();
        if (state >= STATE_OUTPUT_SHUTDOWN) {
            throw new IllegalStateException("ring " + ring + ": write after " + RegionLayout.stateName(state));
        }
        int toEnd = capacity - ((int) produced & mask);
        if (n < 0 || n > Math.min(cachedFree(), toEnd)) {
            throw new IllegalArgumentException("commit of " + n + " bytes: only " + Math.min(cachedFree(), toEnd)
                    + " contiguous bytes are free");
        }
        produced += n;
    }

    /**
     * Publishes everything written so far (release: the bytes are visible before the position), issues a full fence
     * and reads the consumer's flags.
     *
     * @return whether the reader is waiting for data: the caller must then notify it. False, and nothing done, when
     *         nothing new was written.
     */
    boolean publish() throws IdtsProtocolException {
        checkFailure();
        if (produced == published) {
            return false;
        }
        LONG.setRelease(region, positionOffset, produced);
        published = produced;
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
     * Sets WAITING_FOR_SPACE, issues a full fence and reads the consumer position again.
     *
     * @return true if space is free now (the flag is cleared again: go on writing); false if the caller should wait
     *         for a notification, then call {@link #clearWaitingForSpace()}
     * @throws IllegalStateException when bytes are written but not published: the reader could never free space
     */
    boolean prepareToWaitForSpace() throws IdtsProtocolException {
        checkFailure();
        if (produced != published) {
            throw new IllegalStateException("ring " + ring + ": " + (produced - published)
                    + " bytes written but not published; publish before waiting for space");
        }
        if ((flags & FLAG_WAITING_FOR_SPACE) == 0) {
            flags |= FLAG_WAITING_FOR_SPACE;
            INT.setRelease(region, flagsOffset, flags);
        }
        // Store-load barrier: the flag must be visible before we re-read the consumer position (see publish()).
        VarHandle.fullFence();
        refreshConsumer();
        if (cachedFree() > 0) {
            clearWaitingForSpace();
            return true;
        }
        return false;
    }

    /** Clears WAITING_FOR_SPACE (after waking up). Extra notifications the consumer sends meanwhile are harmless. */
    void clearWaitingForSpace() {
        if ((flags & FLAG_WAITING_FOR_SPACE) != 0) {
            flags &= ~FLAG_WAITING_FOR_SPACE;
            INT.setRelease(region, flagsOffset, flags);
        }
    }

    /**
     * Raises our state to {@code newState} (OPEN, OUTPUT_SHUTDOWN or CLOSED). Publishes what was written first (unless
     * the ring failed), so that a reader that sees the new state also sees every byte. Never lowers the state.
     *
     * @return true if the state was raised: the caller must notify the reader (a state change always notifies)
     */
    boolean setState(int newState) {
        ObjectUtil.checkInRange(newState, STATE_OPEN, STATE_CLOSED, "newState");
        if (newState <= state) {
            return false;
        }
        if (failure == null && produced != published) {
            LONG.setRelease(region, positionOffset, produced);
            published = produced;
        }
        // Release: the final position is visible before the state that says it is final.
        INT.setRelease(region, stateOffset, newState);
        state = newState;
        VarHandle.fullFence();
        return true;
    }

    /** Our state, as last set. */
    int state() {
        return state;
    }

    /** Our producer position: everything written, published or not. */
    long position() {
        return produced;
    }

    private int cachedFree() {
        return capacity - (int) (produced - consumer);
    }

    private void refreshConsumer() throws IdtsProtocolException {
        long position = (long) LONG.getAcquire(region, consumerPositionOffset);
        long advance = position - consumer;
        if (advance < 0) {
            throw fail(String.format("peer's consumer position 0x%x of ring %d went backwards from 0x%x "
                    + "(positions never decrease)", position, ring, consumer));
        }
        long unconsumed = published - consumer;
        if (advance > unconsumed) {
            throw fail(String.format("peer's consumer position 0x%x of ring %d is %s bytes past the producer "
                            + "position 0x%x (it can only consume what was published)",
                    position, ring, Long.toUnsignedString(advance - unconsumed), published));
        }
        consumer = position;
    }

    private void checkFailure() throws IdtsProtocolException {
        if (failure != null) {
            throw failure;
        }
    }

    private IdtsProtocolException fail(String message) {
        failure = new IdtsProtocolException(message);
        return failure;
    }
}
