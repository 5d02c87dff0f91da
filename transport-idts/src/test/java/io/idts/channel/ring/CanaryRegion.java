package io.idts.channel.ring;

import io.netty.util.internal.PlatformDependent;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.function.LongSupplier;


/**
 * A region of the real layout, sliced out of a larger direct buffer with guard bytes before and after it. Every
 * byte of the buffer starts as a pattern (the control area is then zeroed by {@link RegionLayout#initialize}), so
 * a write anywhere an endpoint has no business writing shows up in {@link #assertUnchangedExcept}.
 */
public final class CanaryRegion {
    public static final int GUARD = 4096; // keeps the region 8-byte aligned, as a mapping is
    private static final byte PATTERN = (byte) 0xA5;

    public final ByteBuffer backing;
    public final ByteBuffer region;
    public final RegionLayout layout;
    private byte[] snapshot;

    public CanaryRegion(int capacity0, int capacity1) {
        int size = (int) RegionLayout.regionSize(capacity0, capacity1);
        backing = ByteBuffer.allocateDirect(GUARD + size + GUARD);
        for (int i = 0; i < backing.capacity(); i++) {
            backing.put(i, (byte) (PATTERN + i * 7));
        }
        region = backing.slice(GUARD, size).order(ByteOrder.nativeOrder());
        layout = RegionLayout.initialize(region, capacity0, capacity1);
        snapshot();
    }

    /**
     * A writer whose clock stands still: every slice counts as filled fast, so the order in which it takes slices does
     * not depend on how fast the test runs.
     */
    public RingWriter writer(int ring) {
        return writer(ring, () -> 0L);
    }

    /** A writer on the given clock, for tests of how it picks slices by the pace of the stream. */
    public RingWriter writer(int ring, LongSupplier nanoClock) {
        return new RingWriter(region, layout, ring, nanoClock);
    }

    public RingReader reader(int ring) {
        return new RingReader(region, layout, ring);
    }

    /** A reader with the given writeback of fast streams' slices and clock, for tests of what it writes back. */
    RingReader reader(int ring, MemoryWriteback writeback, LongSupplier nanoClock) {
        return new RingReader(region, layout, ring, writeback, nanoClock);
    }

    /** The address of byte {@code index} of ring {@code ring}'s data. */
    public long dataAddress(int ring, int index) {
        return PlatformDependent.directBufferAddress(region) + layout.dataOffset(ring) + index;
    }

    // The peer's (or the test's) direct access to the region, through the same views the protocol uses.
    public long getLong(int offset) {
        return (long) RegionLayout.LONG.getVolatile(region, offset);
    }

    public int getInt(int offset) {
        return (int) RegionLayout.INT.getVolatile(region, offset);
    }

    public void putLong(int offset, long value) {
        RegionLayout.LONG.setVolatile(region, offset, value);
    }

    public void putInt(int offset, int value) {
        RegionLayout.INT.setVolatile(region, offset, value);
    }

    public byte dataByte(int ring, int index) {
        return region.get(layout.dataOffset(ring) + index);
    }

    /** Remembers every byte of the backing buffer. */
    public void snapshot() {
        snapshot = new byte[backing.capacity()];
        backing.get(0, snapshot);
    }

    /**
     * Asserts that no byte of the backing buffer changed since {@link #snapshot()}, except within the given
     * ranges of the region (pairs of offset and length).
     */
    public void assertUnchangedExcept(int... offsetAndLength) {
        for (int i = 0; i < snapshot.length; i++) {
            byte now = backing.get(i);
            if (now != snapshot[i] && !allowed(i - GUARD, offsetAndLength)) {
                throw new AssertionError("byte " + i + " of the backing buffer (region offset " + (i - GUARD)
                        + ") changed from " + snapshot[i] + " to " + now);
            }
        }
    }

    /**
     * The fields of {@code ring}'s producer line: its descriptor position, state and flags (the rest of the line is
     * padding nobody writes).
     */
    public static int[] producerFieldRanges(int ring) {
        return new int[] {
                RegionLayout.producerPositionOffset(ring), Long.BYTES,
                RegionLayout.producerStateOffset(ring), Integer.BYTES,
                RegionLayout.producerFlagsOffset(ring), Integer.BYTES};
    }

    /**
     * The fields of {@code ring}'s consumer line: its descriptor position, flags and return position (bytes 12-15
     * and 24-127 of the line are padding nobody writes).
     */
    public static int[] consumerFieldRanges(int ring) {
        return new int[] {
                RegionLayout.consumerPositionOffset(ring), Long.BYTES,
                RegionLayout.consumerFlagsOffset(ring), Integer.BYTES,
                RegionLayout.returnPositionOffset(ring), Long.BYTES};
    }

    /**
     * The ranges an endpoint that only produces on {@code ring} may write: the fields of its producer line, its
     * descriptor queue and the data.
     */
    public int[] writerRanges(int ring) {
        return concat(producerFieldRanges(ring), new int[] {
                RegionLayout.descriptorQueueOffset(ring), RegionLayout.DESCRIPTOR_QUEUE_SIZE,
                layout.dataOffset(ring), layout.capacity(ring)});
    }

    /**
     * The ranges an endpoint that only consumes from {@code ring} may write: the fields of its consumer line, its
     * return queue. (Not the data: a reader never writes the ring's bytes; a handler writing into a view does.)
     */
    public int[] readerRanges(int ring) {
        return concat(consumerFieldRanges(ring), new int[] {
                RegionLayout.returnQueueOffset(ring), RegionLayout.RETURN_QUEUE_SIZE});
    }

    /** The ranges a writer may write without touching the data: its producer line's fields and its queue. */
    public static int[] writerControlRanges(int ring) {
        return concat(producerFieldRanges(ring), new int[] {
                RegionLayout.descriptorQueueOffset(ring), RegionLayout.DESCRIPTOR_QUEUE_SIZE});
    }

    public static int[] concat(int[]... ranges) {
        int[] all = new int[0];
        for (int[] r : ranges) {
            int at = all.length;
            all = Arrays.copyOf(all, at + r.length);
            System.arraycopy(r, 0, all, at, r.length);
        }
        return all;
    }

    /** The ranges one endpoint may write when it both produces and consumes {@code ring} (a test's loop-back). */
    public int[] endpointRanges(int ring) {
        return concat(writerRanges(ring), readerRanges(ring));
    }

    /** The descriptor at {@code position} of {@code ring}'s queue, as the consumer would read it. */
    public long descriptorAt(int ring, long position) {
        return getLong(RegionLayout.descriptorQueueOffset(ring)
                + ((int) position & RegionLayout.DESCRIPTORS_PER_RING - 1) * RegionLayout.DESCRIPTOR_SIZE);
    }

    /** Writes a descriptor at {@code position} of {@code ring}'s queue, as a (hostile) producer would. */
    public void putDescriptor(int ring, long position, long descriptor) {
        putLong(RegionLayout.descriptorQueueOffset(ring)
                + ((int) position & RegionLayout.DESCRIPTORS_PER_RING - 1) * RegionLayout.DESCRIPTOR_SIZE,
                descriptor);
    }

    /** Writes a returned slice at {@code position} of {@code ring}'s return queue, as a (hostile) consumer would. */
    public void putReturn(int ring, long position, int slice) {
        putInt(RegionLayout.returnQueueOffset(ring)
                + ((int) position & RegionLayout.SLICES_PER_RING - 1) * RegionLayout.RETURN_ENTRY_SIZE, slice);
    }

    private static boolean allowed(int offset, int[] offsetAndLength) {
        for (int i = 0; i < offsetAndLength.length; i += 2) {
            if (offset >= offsetAndLength[i] && offset < offsetAndLength[i] + offsetAndLength[i + 1]) {
                return true;
            }
        }
        return false;
    }
}
