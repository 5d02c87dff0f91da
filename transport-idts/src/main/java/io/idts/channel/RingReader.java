package io.idts.channel;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.util.internal.ObjectUtil;

import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static io.idts.channel.RegionLayout.FLAG_WAITING_FOR_DATA;
import static io.idts.channel.RegionLayout.FLAG_WAITING_FOR_SPACE;
import static io.idts.channel.RegionLayout.INT;
import static io.idts.channel.RegionLayout.LONG;
import static io.idts.channel.RegionLayout.PRODUCER_FLAGS_KNOWN;
import static io.idts.channel.RegionLayout.STATE_CLOSED;
import static io.idts.channel.RegionLayout.STATE_NEW;
import static io.idts.channel.RegionLayout.STATE_OUTPUT_SHUTDOWN;

/**
 * One endpoint's consumer side of one ring (ring 1 for the connector, ring 0 for the acceptor). It owns the ring's
 * consumer line: it is the only writer of it and never reads it back. The values it reads from the region (the
 * producer's position, state and flags) are each read once, validated, then used; the producer's data bytes are only
 * ever copied out through a view of exactly the ring, so no value the peer writes can move an access outside it.
 *
 * <p>Single-threaded (the event loop). After a protocol violation every method that reads the peer's line throws the
 * same {@link IdtsProtocolException}.
 */
final class RingReader {

    private final ByteBuffer region;
    private final int ring;
    private final int capacity;
    private final int mask;
    private final ByteBuf data;
    /** The ring's data again, big-endian, for zero-copy views; never moved (absolute access only). */
    private final ByteBuffer viewMemory;
    private final int positionOffset;
    private final int flagsOffset;
    private final int producerPositionOffset;
    private final int producerStateOffset;
    private final int producerFlagsOffset;

    /** Everything copied out, released or not. */
    private long consumed;
    /** What the producer has been told: it may write up to {@code released + capacity}. */
    private long released;
    /** The producer position last read and validated: never behind {@link #consumed}, never decreasing. */
    private long producer;
    /** The producer's state last read and validated: never decreasing. */
    private int peerState;
    /** Valid once the peer's state is OUTPUT_SHUTDOWN or CLOSED: the producer position then may not move again. */
    private long finalPosition;
    private int flags;
    private IdtsProtocolException failure;

    /**
     * Takes over the ring's consumer line: writes position 0 and no flags, whatever the line held. Construct before
     * telling the peer we are open.
     */
    RingReader(ByteBuffer region, RegionLayout layout, int ring) {
        this.region = ObjectUtil.checkNotNull(region, "region");
        ObjectUtil.checkNotNull(layout, "layout");
        this.ring = RegionLayout.checkRing(ring);
        RegionLayout.checkMappedSize(region, layout.size());
        capacity = layout.capacity(ring);
        mask = capacity - 1;
        data = Unpooled.wrappedBuffer(region.slice(layout.dataOffset(ring), capacity));
        viewMemory = region.slice(layout.dataOffset(ring), capacity).order(ByteOrder.BIG_ENDIAN);
        positionOffset = RegionLayout.consumerPositionOffset(ring);
        flagsOffset = RegionLayout.consumerFlagsOffset(ring);
        producerPositionOffset = RegionLayout.producerPositionOffset(ring);
        producerStateOffset = RegionLayout.producerStateOffset(ring);
        producerFlagsOffset = RegionLayout.producerFlagsOffset(ring);
        // The connector is OPEN from the start, so a connector state of NEW would be a decrease.
        peerState = RegionLayout.initialProducerState(ring);
        LONG.setRelease(region, positionOffset, 0L);
        INT.setRelease(region, flagsOffset, 0);
    }

    int capacity() {
        return capacity;
    }

    /** Reads the producer position once (acquire: the bytes before it are then visible), validates it and caches it. */
    int readableBytes() throws IdtsProtocolException {
        checkFailure();
        refreshProducer();
        return cachedReadable();
    }

    /**
     * Copies {@code min(maxBytes, readable as last validated, dst.writableBytes())} bytes into {@code dst} (two copies
     * when they wrap), advancing the local consumer position; does not read the shared producer position and does
     * not publish.
     *
     * @return the number of bytes copied, 0 if none
     */
    int read(ByteBuf dst, int maxBytes) throws IdtsProtocolException {
        checkFailure();
        ObjectUtil.checkNotNull(dst, "dst");
        ObjectUtil.checkPositiveOrZero(maxBytes, "maxBytes");
        int n = Math.min(Math.min(maxBytes, cachedReadable()), dst.writableBytes());
        if (n == 0) {
            return 0;
        }
        int index = (int) consumed & mask;
        int first = Math.min(n, capacity - index);
        dst.writeBytes(data, index, first);
        if (first < n) {
            dst.writeBytes(data, 0, n - first);
        }
        consumed += n;
        return n;
    }

    /**
     * Consumes up to {@code maxBytes} bytes without copying them anywhere (input shut down locally: the peer must
     * not wait for space that never comes). Like {@link #read}, moves only the local consumer position.
     *
     * @return bytes skipped
     */
    int skip(int maxBytes) throws IdtsProtocolException {
        checkFailure();
        ObjectUtil.checkPositiveOrZero(maxBytes, "maxBytes");
        int n = Math.min(maxBytes, cachedReadable());
        consumed += n;
        return n;
    }

    /**
     * Publishes the consumer position (release: our copies are done before the producer may reuse the space), issues
     * a full fence and reads the producer's flags.
     *
     * @return whether the writer is waiting for space: the caller must then notify it. False, and nothing done, when
     *         nothing new was consumed.
     */
    boolean release() throws IdtsProtocolException {
        return releaseTo(consumed);
    }

    /**
     * Publishes the consumer position {@code position}: every byte before it is finished with (zero-copy reads: the
     * views before it were released), the bytes from it up to {@link #position()} may still be in use. Same
     * ordering, fence and flag check as {@link #release()}.
     *
     * @param position between the position last published and {@link #position()}
     * @return whether the writer is waiting for space: the caller must then notify it. False, and nothing done, when
     *         {@code position} is the position already published.
     */
    boolean releaseTo(long position) throws IdtsProtocolException {
        checkFailure();
        if (position - released < 0 || position - consumed > 0) {
            throw new IllegalArgumentException("release to 0x" + Long.toHexString(position) + " outside [0x"
                    + Long.toHexString(released) + ", 0x" + Long.toHexString(consumed) + ']');
        }
        if (position == released) {
            return false;
        }
        LONG.setRelease(region, positionOffset, position);
        released = position;
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
     * Sets WAITING_FOR_DATA, issues a full fence, then reads the producer's state and position again.
     *
     * @return true if there is data to read or the producer's state changed since last read (the flag is cleared
     *         again: do not sleep); false if the caller should sleep until notified, then call
     *         {@link #clearWaitingForData()}
     */
    boolean prepareToSleep() throws IdtsProtocolException {
        checkFailure();
        if ((flags & FLAG_WAITING_FOR_DATA) == 0) {
            flags |= FLAG_WAITING_FOR_DATA;
            INT.setRelease(region, flagsOffset, flags);
        }
        // Store-load barrier: the flag must be visible before we re-read, or a writer that publishes in between
        // could miss the flag while we miss its data, and we would sleep with data in the ring.
        VarHandle.fullFence();
        int stateBefore = peerState;
        refreshState();
        refreshProducer();
        if (producer != consumed || peerState != stateBefore) {
            clearWaitingForData();
            return true;
        }
        return false;
    }

    /** Clears WAITING_FOR_DATA (after waking up). Extra notifications the producer sends meanwhile are harmless. */
    void clearWaitingForData() {
        if ((flags & FLAG_WAITING_FOR_DATA) != 0) {
            flags &= ~FLAG_WAITING_FOR_DATA;
            INT.setRelease(region, flagsOffset, flags);
        }
    }

    /** The producer's state: read once (acquire), validated (a known state, never lower than the last one read). */
    int peerState() throws IdtsProtocolException {
        checkFailure();
        refreshState();
        return peerState;
    }

    /**
     * True when the producer's state is OUTPUT_SHUTDOWN or CLOSED and every byte up to its final position was read:
     * nothing more will come.
     */
    boolean isEndOfStream() throws IdtsProtocolException {
        checkFailure();
        refreshState();
        return peerState >= STATE_OUTPUT_SHUTDOWN && consumed == finalPosition;
    }

    /** Our consumer position: everything read, released or not. */
    long position() {
        return consumed;
    }

    /** The consumer position last published: the peer may overwrite everything before it. */
    long releasedPosition() {
        return released;
    }

    /** Index in the ring of the next byte to read ({@link #position()} masked). */
    int index() {
        return (int) consumed & mask;
    }

    /**
     * The ring's data, big-endian, exactly {@link #capacity()} bytes: the memory of zero-copy views. Only ranges from
     * {@link #index()} up to the readable bytes last validated may be handed out, and only until they are released
     * (then the peer may overwrite them). Writable: until then those bytes are ours (docs/protocol.md, "The data
     * rings"), and a handler may write into what it reads.
     */
    ByteBuffer viewMemory() {
        return viewMemory;
    }

    private int cachedReadable() {
        return (int) (producer - consumed);
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
            if (position - consumed < 0) {
                throw fail(String.format("peer's producer position 0x%x of ring %d is behind the consumer "
                        + "position 0x%x", position, ring, consumed));
            }
            throw fail(String.format("peer's producer position 0x%x of ring %d went backwards from 0x%x "
                    + "(positions never decrease)", position, ring, producer));
        }
        long ahead = position - released;
        if (Long.compareUnsigned(ahead, capacity) > 0) {
            throw fail(String.format("peer's producer position 0x%x of ring %d is %s bytes past the consumer "
                            + "position 0x%x, beyond the ring capacity %d",
                    position, ring, Long.toUnsignedString(ahead), released, capacity));
        }
        if (peerState >= STATE_OUTPUT_SHUTDOWN && position != finalPosition) {
            throw fail(String.format("peer's producer position 0x%x of ring %d moved after its state became "
                            + "%s at the final position 0x%x",
                    position, ring, RegionLayout.stateName(peerState), finalPosition));
        }
        producer = position;
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
