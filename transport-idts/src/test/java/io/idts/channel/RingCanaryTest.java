package io.idts.channel;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The test fixture shared by the ring tests ({@link Region}: a region inside a larger direct buffer whose every byte
 * can be checked for changes), and the tests that show its checks can fail.
 */
final class RingCanaryTest {

    /**
     * A region of the real layout, sliced out of a larger direct buffer with guard bytes before and after it. Every
     * byte of the buffer starts as a pattern (the control area is then zeroed by {@link RegionLayout#initialize}), so
     * a write anywhere an endpoint has no business writing shows up in {@link #assertUnchangedExcept}.
     */
    static final class Region {
        static final int GUARD = 4096; // keeps the region 8-byte aligned, as a mapping is
        private static final byte PATTERN = (byte) 0xA5;

        final ByteBuffer backing;
        final ByteBuffer region;
        final RegionLayout layout;
        private byte[] snapshot;

        Region(int capacity0, int capacity1) {
            int size = (int) RegionLayout.regionSize(capacity0, capacity1);
            backing = ByteBuffer.allocateDirect(GUARD + size + GUARD);
            for (int i = 0; i < backing.capacity(); i++) {
                backing.put(i, (byte) (PATTERN + i * 7));
            }
            region = backing.slice(GUARD, size).order(ByteOrder.nativeOrder());
            layout = RegionLayout.initialize(region, capacity0, capacity1);
            snapshot();
        }

        RingWriter writer(int ring) {
            return new RingWriter(region, layout, ring);
        }

        RingReader reader(int ring) {
            return new RingReader(region, layout, ring);
        }

        // The peer's (or the test's) direct access to the region, through the same views the protocol uses.
        long getLong(int offset) {
            return (long) RegionLayout.LONG.getVolatile(region, offset);
        }

        int getInt(int offset) {
            return (int) RegionLayout.INT.getVolatile(region, offset);
        }

        void putLong(int offset, long value) {
            RegionLayout.LONG.setVolatile(region, offset, value);
        }

        void putInt(int offset, int value) {
            RegionLayout.INT.setVolatile(region, offset, value);
        }

        byte dataByte(int ring, int index) {
            return region.get(layout.dataOffset(ring) + index);
        }

        /** Remembers every byte of the backing buffer. */
        void snapshot() {
            snapshot = new byte[backing.capacity()];
            backing.get(0, snapshot);
        }

        /**
         * Asserts that no byte of the backing buffer changed since {@link #snapshot()}, except within the given
         * ranges of the region (pairs of offset and length).
         */
        void assertUnchangedExcept(int... offsetAndLength) {
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
        static int[] producerFieldRanges(int ring) {
            return new int[] {
                    RegionLayout.producerPositionOffset(ring), Long.BYTES,
                    RegionLayout.producerStateOffset(ring), Integer.BYTES,
                    RegionLayout.producerFlagsOffset(ring), Integer.BYTES};
        }

        /**
         * The fields of {@code ring}'s consumer line: its descriptor position, flags and return position (bytes 12-15
         * and 24-127 of the line are padding nobody writes).
         */
        static int[] consumerFieldRanges(int ring) {
            return new int[] {
                    RegionLayout.consumerPositionOffset(ring), Long.BYTES,
                    RegionLayout.consumerFlagsOffset(ring), Integer.BYTES,
                    RegionLayout.returnPositionOffset(ring), Long.BYTES};
        }

        /**
         * The ranges an endpoint that only produces on {@code ring} may write: the fields of its producer line, its
         * descriptor queue and the data.
         */
        int[] writerRanges(int ring) {
            return concat(producerFieldRanges(ring), new int[] {
                    RegionLayout.descriptorQueueOffset(ring), RegionLayout.DESCRIPTOR_QUEUE_SIZE,
                    layout.dataOffset(ring), layout.capacity(ring)});
        }

        /**
         * The ranges an endpoint that only consumes from {@code ring} may write: the fields of its consumer line, its
         * return queue. (Not the data: a reader never writes the ring's bytes; a handler writing into a view does.)
         */
        int[] readerRanges(int ring) {
            return concat(consumerFieldRanges(ring), new int[] {
                    RegionLayout.returnQueueOffset(ring), RegionLayout.RETURN_QUEUE_SIZE});
        }

        /** The ranges a writer may write without touching the data: its producer line's fields and its queue. */
        static int[] writerControlRanges(int ring) {
            return concat(producerFieldRanges(ring), new int[] {
                    RegionLayout.descriptorQueueOffset(ring), RegionLayout.DESCRIPTOR_QUEUE_SIZE});
        }

        static int[] concat(int[]... ranges) {
            int[] all = new int[0];
            for (int[] r : ranges) {
                int at = all.length;
                all = Arrays.copyOf(all, at + r.length);
                System.arraycopy(r, 0, all, at, r.length);
            }
            return all;
        }

        /** The ranges one endpoint may write when it both produces and consumes {@code ring} (a test's loop-back). */
        int[] endpointRanges(int ring) {
            return concat(writerRanges(ring), readerRanges(ring));
        }

        /** The descriptor at {@code position} of {@code ring}'s queue, as the consumer would read it. */
        long descriptorAt(int ring, long position) {
            return getLong(RegionLayout.descriptorQueueOffset(ring)
                    + ((int) position & RegionLayout.DESCRIPTORS_PER_RING - 1) * RegionLayout.DESCRIPTOR_SIZE);
        }

        /** Writes a descriptor at {@code position} of {@code ring}'s queue, as a (hostile) producer would. */
        void putDescriptor(int ring, long position, long descriptor) {
            putLong(RegionLayout.descriptorQueueOffset(ring)
                    + ((int) position & RegionLayout.DESCRIPTORS_PER_RING - 1) * RegionLayout.DESCRIPTOR_SIZE,
                    descriptor);
        }

        /** Writes a returned slice at {@code position} of {@code ring}'s return queue, as a (hostile) consumer would. */
        void putReturn(int ring, long position, int slice) {
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

    @Test
    void initializeTouchesOnlyTheControlArea() {
        Region r = new Region(RegionLayout.MIN_RING_CAPACITY, 2 * RegionLayout.MIN_RING_CAPACITY);
        int changed = 0;
        for (int i = 0; i < r.backing.capacity(); i++) {
            boolean control = i >= Region.GUARD && i < Region.GUARD + RegionLayout.DATA_OFFSET;
            byte pattern = (byte) (0xA5 + i * 7);
            if (!control) {
                assertEquals(pattern, r.backing.get(i), "byte " + i + " outside the control area");
            } else if (r.backing.get(i) != pattern) {
                changed++;
            }
        }
        assertTrue(changed > RegionLayout.DATA_OFFSET / 2, "initialize wrote the control area: " + changed);
    }

    @Test
    void detectsAChangedGuardByte() {
        Region r = new Region(RegionLayout.MIN_RING_CAPACITY, RegionLayout.MIN_RING_CAPACITY);
        r.backing.put(Region.GUARD - 1, (byte) (r.backing.get(Region.GUARD - 1) + 1));
        assertThrows(AssertionError.class, r::assertUnchangedExcept);
        r.snapshot();
        int after = Region.GUARD + (int) r.layout.size();
        r.backing.put(after, (byte) (r.backing.get(after) + 1));
        assertThrows(AssertionError.class, () -> r.assertUnchangedExcept(r.writerRanges(1)));
    }

    @Test
    void theRangesAreTheFieldsNotTheWholeLines() {
        Region r = new Region(RegionLayout.MIN_RING_CAPACITY, RegionLayout.MIN_RING_CAPACITY);
        for (int ring = 0; ring < 2; ring++) {
            int ringFinal = ring;
            // Every field of both lines: allowed to its owner.
            r.putLong(RegionLayout.producerPositionOffset(ring), 1);
            r.putInt(RegionLayout.producerStateOffset(ring), 2);
            r.putInt(RegionLayout.producerFlagsOffset(ring), 1);
            r.assertUnchangedExcept(r.writerRanges(ring));
            assertThrows(AssertionError.class, () -> r.assertUnchangedExcept(r.readerRanges(ringFinal)));
            r.snapshot();
            r.putLong(RegionLayout.consumerPositionOffset(ring), 1);
            r.putInt(RegionLayout.consumerFlagsOffset(ring), 1);
            r.putLong(RegionLayout.returnPositionOffset(ring), 1);
            r.assertUnchangedExcept(r.readerRanges(ring));
            assertThrows(AssertionError.class, () -> r.assertUnchangedExcept(r.writerRanges(ringFinal)));
            r.snapshot();
            // The padding: nobody's.
            for (int padding : new int[] {RegionLayout.producerLineOffset(ring) + 16,
                    RegionLayout.producerLineOffset(ring) + RegionLayout.LINE_SIZE - 1,
                    RegionLayout.consumerLineOffset(ring) + 12, RegionLayout.consumerLineOffset(ring) + 24,
                    RegionLayout.consumerLineOffset(ring) + RegionLayout.LINE_SIZE - 1}) {
                r.region.put(padding, (byte) (r.region.get(padding) + 1));
                assertThrows(AssertionError.class, () -> r.assertUnchangedExcept(r.endpointRanges(ringFinal)),
                        "padding at " + padding);
                r.snapshot();
            }
        }
    }

    @Test
    void allowsChangesOnlyInTheGivenRanges() {
        Region r = new Region(RegionLayout.MIN_RING_CAPACITY, RegionLayout.MIN_RING_CAPACITY);
        int line = RegionLayout.consumerLineOffset(0);
        r.putLong(line, 42);
        r.assertUnchangedExcept(r.readerRanges(0));
        assertThrows(AssertionError.class, () -> r.assertUnchangedExcept(r.readerRanges(1)));
        assertThrows(AssertionError.class, () -> r.assertUnchangedExcept(r.writerRanges(0)));
        assertTrue(r.getLong(line) == 42);
    }
}
