package io.idts.channel.ring;

import io.idts.channel.IdtsProtocolException;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.util.internal.ObjectUtil;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * What both endpoints of one ring have: the ring's memory, the offsets of its fields in the region, and the failure
 * latch. Once a value the peer wrote is found invalid, the endpoint is failed for good: every later call that reads
 * the peer's side throws the same {@link IdtsProtocolException}, so that no caller goes on with a half-checked ring.
 */
abstract class RingEndpoint {

    /**
     * A slice that took this many nanoseconds per byte or more to fill (under 1 GB/s) belongs to a slow stream: its
     * producer writes the slice returned last next, while it is warm ({@link RingWriter}), and its reader does not
     * write it back ({@link RingReader}). A faster stream cycles through the ring.
     */
    static final long SLOW_STREAM_NANOS_PER_BYTE = 1;

    final ByteBuffer region;
    final int ring;
    final int capacity;
    final int sliceSize;
    /** A view of exactly the ring's data: a bad index can only fail a bounds check, never touch another byte. */
    final ByteBuf data;
    /** The ring's data again, big-endian, for views and claims; never moved (absolute access only). */
    final ByteBuffer memory;
    final int producerPositionOffset;
    final int producerStateOffset;
    final int producerFlagsOffset;
    final int consumerPositionOffset;
    final int consumerFlagsOffset;
    final int returnPositionOffset;
    final int returnQueueOffset;
    final int descriptorQueueOffset;
    private IdtsProtocolException failure;

    RingEndpoint(ByteBuffer region, RegionLayout layout, int ring) {
        this.region = ObjectUtil.checkNotNull(region, "region");
        ObjectUtil.checkNotNull(layout, "layout");
        this.ring = RegionLayout.checkRing(ring);
        RegionLayout.checkMappedSize(region, layout.size());
        capacity = layout.capacity(ring);
        sliceSize = RegionLayout.sliceSize(capacity);
        data = Unpooled.wrappedBuffer(region.slice(layout.dataOffset(ring), capacity));
        memory = region.slice(layout.dataOffset(ring), capacity).order(ByteOrder.BIG_ENDIAN);
        producerPositionOffset = RegionLayout.producerPositionOffset(ring);
        producerStateOffset = RegionLayout.producerStateOffset(ring);
        producerFlagsOffset = RegionLayout.producerFlagsOffset(ring);
        consumerPositionOffset = RegionLayout.consumerPositionOffset(ring);
        consumerFlagsOffset = RegionLayout.consumerFlagsOffset(ring);
        returnPositionOffset = RegionLayout.returnPositionOffset(ring);
        returnQueueOffset = RegionLayout.returnQueueOffset(ring);
        descriptorQueueOffset = RegionLayout.descriptorQueueOffset(ring);
    }

    /** Offset in the region of the descriptor queue's entry for descriptor number {@code position}. */
    final int descriptorEntryOffset(long position) {
        return descriptorQueueOffset + ((int) position & RegionLayout.DESCRIPTORS_PER_RING - 1)
                * RegionLayout.DESCRIPTOR_SIZE;
    }

    /** Offset in the region of the return queue's entry for return number {@code position}. */
    final int returnEntryOffset(long position) {
        return returnQueueOffset + ((int) position & RegionLayout.SLICES_PER_RING - 1) * RegionLayout.RETURN_ENTRY_SIZE;
    }

    /** The ring's data bytes, all slices. */
    final int capacity() {
        return capacity;
    }

    /** The size of each of the ring's slices: the most one view or one claim can span. */
    public final int sliceSize() {
        return sliceSize;
    }

    /** Throws the exception that failed this endpoint, if one did. */
    final void checkFailure() throws IdtsProtocolException {
        if (failure != null) {
            throw failure;
        }
    }

    /** Whether a value of the peer's failed this endpoint. */
    final boolean isFailed() {
        return failure != null;
    }

    /** Fails this endpoint for good; returns the exception for the caller to throw. */
    final IdtsProtocolException fail(String message) {
        failure = new IdtsProtocolException(message);
        return failure;
    }
}
