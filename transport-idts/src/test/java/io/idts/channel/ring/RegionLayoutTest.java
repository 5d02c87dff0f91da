package io.idts.channel.ring;

import io.idts.channel.IdtsProtocolException;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.function.Consumer;

import static io.idts.channel.ring.RegionLayout.DATA_OFFSET;
import static io.idts.channel.ring.RegionLayout.MAX_RING_CAPACITY;
import static io.idts.channel.ring.RegionLayout.MIN_RING_CAPACITY;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RegionLayoutTest {

    private static final int CAP0 = MIN_RING_CAPACITY;
    private static final int CAP1 = 4 * MIN_RING_CAPACITY;

    @Test
    void constantsAndOffsetsAreThoseOfTheSpecification() {
        // Literal numbers on purpose: this is the one place that checks the code against docs/protocol.md.
        assertEquals(0x49445453, RegionLayout.MAGIC);
        assertEquals(4, RegionLayout.VERSION);
        assertEquals(4096, MIN_RING_CAPACITY);
        assertEquals(1 << 28, MAX_RING_CAPACITY);
        assertEquals(16 << 20, RegionLayout.DEFAULT_RING_CAPACITY);
        assertEquals(20480, DATA_OFFSET);
        assertEquals(64, RegionLayout.SLICES_PER_RING);
        assertEquals(1024, RegionLayout.DESCRIPTORS_PER_RING);
        assertEquals(8, RegionLayout.DESCRIPTOR_SIZE);
        assertEquals(4, RegionLayout.RETURN_ENTRY_SIZE);
        assertEquals(4096, RegionLayout.descriptorQueueOffset(0));
        assertEquals(12288, RegionLayout.descriptorQueueOffset(1));
        assertEquals(1024, RegionLayout.returnQueueOffset(0));
        assertEquals(1280, RegionLayout.returnQueueOffset(1));
        assertEquals(272, RegionLayout.returnPositionOffset(0));
        assertEquals(528, RegionLayout.returnPositionOffset(1));
        assertEquals(16384, RegionLayout.sliceSize(1 << 20));
        assertEquals(64, RegionLayout.sliceSize(MIN_RING_CAPACITY));
        assertEquals(0, RegionLayout.MAGIC_OFFSET);
        assertEquals(4, RegionLayout.VERSION_OFFSET);
        assertEquals(8, RegionLayout.RING_0_CAPACITY_OFFSET);
        assertEquals(12, RegionLayout.RING_1_CAPACITY_OFFSET);
        assertEquals(16, RegionLayout.REGION_SIZE_OFFSET);
        assertEquals(128, RegionLayout.producerPositionOffset(0));
        assertEquals(136, RegionLayout.producerStateOffset(0));
        assertEquals(192, RegionLayout.producerFlagsOffset(0));
        assertEquals(256, RegionLayout.consumerPositionOffset(0));
        assertEquals(320, RegionLayout.consumerFlagsOffset(0));
        assertEquals(384, RegionLayout.producerPositionOffset(1));
        assertEquals(392, RegionLayout.producerStateOffset(1));
        assertEquals(448, RegionLayout.producerFlagsOffset(1));
        assertEquals(512, RegionLayout.consumerPositionOffset(1));
        assertEquals(576, RegionLayout.consumerFlagsOffset(1));
        assertEquals(0, RegionLayout.STATE_NEW);
        assertEquals(1, RegionLayout.STATE_OPEN);
        assertEquals(2, RegionLayout.STATE_OUTPUT_SHUTDOWN);
        assertEquals(3, RegionLayout.STATE_CLOSED);
        assertEquals(1, RegionLayout.FLAG_WAITING_FOR_SPACE);
        assertEquals(1, RegionLayout.FLAG_WAITING_FOR_DATA);
    }

    @Test
    void descriptorsAreTheBitsOfTheSpecification() {
        // Bits 0-31 the length, 32-47 the slice, bit 63 END_OF_SLICE.
        assertEquals(0x8000_0005_0000_0064L, RegionLayout.descriptor(5, 100, true));
        assertEquals(0x0000_003f_0000_4000L, RegionLayout.descriptor(63, 16384, false));
        assertEquals(0x8000_0000_0000_0000L, RegionLayout.descriptor(0, 0, true));
        long d = RegionLayout.descriptor(63, 16384, true);
        assertEquals(63, RegionLayout.descriptorSlice(d));
        assertEquals(16384, RegionLayout.descriptorLength(d));
        assertTrue(RegionLayout.isEndOfSlice(d));
        assertEquals(0x7fff_0000_0000_0000L, ~RegionLayout.DESCRIPTOR_KNOWN_BITS, "reserved: bits 48-62");
        assertEquals(0xffff_ffffL, RegionLayout.descriptorLength(-1L), "the length is unsigned");
        assertEquals(0xffff, RegionLayout.descriptorSlice(-1L));
    }

    @Test
    void queuesAreSeparatePageAlignedAndBeforeTheData() {
        int controlEnd = RegionLayout.consumerLineOffset(1) + RegionLayout.LINE_SIZE;
        assertTrue(RegionLayout.returnQueueOffset(0) >= controlEnd);
        assertEquals(RegionLayout.returnQueueOffset(0) + 64 * 4, RegionLayout.returnQueueOffset(1));
        assertTrue(RegionLayout.returnQueueOffset(1) + 64 * 4 <= 4096, "both return queues in the control page");
        assertEquals(0, RegionLayout.returnQueueOffset(0) % RegionLayout.LINE_SIZE);
        assertEquals(4096 + 1024 * 8, RegionLayout.descriptorQueueOffset(1));
        assertEquals(RegionLayout.descriptorQueueOffset(1) + 1024 * 8, DATA_OFFSET);
        assertEquals(0, DATA_OFFSET % 4096);
    }

    @Test
    void linesAreSeparateAndInsideTheControlArea() {
        int[] lines = {
                RegionLayout.producerLineOffset(0), RegionLayout.consumerLineOffset(0),
                RegionLayout.producerLineOffset(1), RegionLayout.consumerLineOffset(1)};
        int previousEnd = RegionLayout.REGION_SIZE_OFFSET + Long.BYTES;
        for (int line : lines) {
            assertTrue(line >= previousEnd, "line " + line + " overlaps what precedes it");
            assertEquals(0, line % RegionLayout.LINE_SIZE, "line " + line + " is not line aligned");
            previousEnd = line + RegionLayout.LINE_SIZE;
        }
        assertTrue(previousEnd <= RegionLayout.returnQueueOffset(0));
    }

    @Test
    void dataRingsFollowTheControlAreaPageAligned() {
        RegionLayout layout = new CanaryRegion(CAP0, CAP1).layout;
        assertEquals(DATA_OFFSET, layout.dataOffset(0));
        assertEquals(DATA_OFFSET + CAP0, layout.dataOffset(1));
        assertEquals(0, layout.dataOffset(1) % 4096);
        assertEquals(CAP0, layout.capacity(0));
        assertEquals(CAP1, layout.capacity(1));
        assertEquals(DATA_OFFSET + CAP0 + CAP1, layout.size());
        assertThrows(IllegalArgumentException.class, () -> layout.capacity(2));
        assertThrows(IllegalArgumentException.class, () -> layout.dataOffset(-1));
    }

    @Test
    void regionSizeIsDataOffsetPlusBothCapacities() {
        assertEquals(DATA_OFFSET + CAP0 + CAP1, RegionLayout.regionSize(CAP0, CAP1));
        assertEquals(DATA_OFFSET + 2L * MAX_RING_CAPACITY,
                RegionLayout.regionSize(MAX_RING_CAPACITY, MAX_RING_CAPACITY));
        assertTrue(RegionLayout.regionSize(MAX_RING_CAPACITY, MAX_RING_CAPACITY) <= Integer.MAX_VALUE,
                "the largest region fits a ByteBuffer");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> RegionLayout.regionSize(CAP0, 5000));
        assertTrue(e.getMessage().contains("5000") && e.getMessage().contains("power of two"), e.getMessage());
    }

    @Test
    void checkCapacityStatesTheRule() {
        assertEquals(MIN_RING_CAPACITY, RegionLayout.checkCapacity(MIN_RING_CAPACITY));
        assertEquals(MAX_RING_CAPACITY, RegionLayout.checkCapacity(MAX_RING_CAPACITY));
        assertEquals(1 << 16, RegionLayout.checkCapacity(1 << 16));
        for (int bad : new int[] {0, -1, 1, 2048, 4097, 6144, MAX_RING_CAPACITY * 2, Integer.MIN_VALUE}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> RegionLayout.checkCapacity(bad), "capacity " + bad);
            assertTrue(e.getMessage().contains(String.valueOf(bad)), e.getMessage());
            assertTrue(e.getMessage().contains("power of two between " + MIN_RING_CAPACITY + " and "
                    + MAX_RING_CAPACITY), e.getMessage());
        }
    }

    @Test
    void initializeWritesTheHeaderAndZeroesTheRestOfTheControlArea() {
        ByteBuffer region = ByteBuffer.allocateDirect((int) RegionLayout.regionSize(CAP0, CAP1));
        for (int i = 0; i < DATA_OFFSET; i++) {
            region.put(i, (byte) 0x5A); // garbage an old mapping could hold
        }
        RegionLayout layout = RegionLayout.initialize(region, CAP0, CAP1);
        assertEquals(CAP0, layout.capacity(0));
        assertEquals(CAP1, layout.capacity(1));

        ByteBuffer nativeOrder = region.duplicate().order(ByteOrder.nativeOrder());
        assertEquals(0x49445453, nativeOrder.getInt(0));
        assertEquals(4, nativeOrder.getInt(4));
        assertEquals(CAP0, nativeOrder.getInt(8));
        assertEquals(CAP1, nativeOrder.getInt(12));
        assertEquals(DATA_OFFSET + CAP0 + CAP1, nativeOrder.getLong(16));
        assertEquals(RegionLayout.STATE_OPEN, nativeOrder.getInt(136), "connector's state");
        assertEquals(RegionLayout.STATE_NEW, nativeOrder.getInt(392), "acceptor's state");
        for (int i = 24; i < DATA_OFFSET; i++) {
            if (i < 136 || i >= 140) {
                assertEquals(0, region.get(i), "control byte " + i);
            }
        }
    }

    @Test
    void initializeRejectsAMappingOfTheWrongSize() {
        ByteBuffer region = ByteBuffer.allocateDirect((int) RegionLayout.regionSize(CAP0, CAP1) + 4096);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> RegionLayout.initialize(region, CAP0, CAP1));
        assertTrue(e.getMessage().contains("does not match"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> RegionLayout.initialize(region, 100, CAP1));
        assertEquals(0, region.get(0), "nothing written");
    }

    @Test
    void validateAcceptsAnInitializedRegion() throws IdtsProtocolException {
        CanaryRegion r = new CanaryRegion(CAP0, CAP1);
        RegionLayout layout = RegionLayout.validate(r.region);
        assertEquals(CAP0, layout.capacity(0));
        assertEquals(CAP1, layout.capacity(1));
        assertEquals(r.layout.size(), layout.size());
        r.assertUnchangedExcept();
    }

    @Test
    void validateReadsTheHeaderOnce() throws IdtsProtocolException {
        CanaryRegion r = new CanaryRegion(CAP0, CAP1);
        RegionLayout layout = RegionLayout.validate(r.region);
        // A peer changing the header afterwards changes nothing the acceptor uses.
        r.putInt(RegionLayout.RING_0_CAPACITY_OFFSET, MAX_RING_CAPACITY);
        r.putInt(RegionLayout.RING_1_CAPACITY_OFFSET, 7);
        r.putLong(RegionLayout.REGION_SIZE_OFFSET, -1);
        assertEquals(CAP0, layout.capacity(0));
        assertEquals(CAP1, layout.capacity(1));
        assertEquals(DATA_OFFSET + CAP0 + CAP1, layout.size());
    }

    @Test
    void validateRejectsABadMagic() {
        assertRejected(r -> r.putInt(RegionLayout.MAGIC_OFFSET, 0x49445454), "magic", "0x49445454");
        assertRejected(r -> r.putInt(RegionLayout.MAGIC_OFFSET, Integer.reverseBytes(RegionLayout.MAGIC)),
                "magic", "0x53544449");
    }

    @Test
    void validateRejectsAnotherVersion() {
        assertRejected(r -> r.putInt(RegionLayout.VERSION_OFFSET, 1), "region version 1",
                "is not the supported version 4", "same protocol version");
        assertRejected(r -> r.putInt(RegionLayout.VERSION_OFFSET, 3), "version 3", "supported version 4");
        assertRejected(r -> r.putInt(RegionLayout.VERSION_OFFSET, 2), "version 2", "supported version 4");
        assertRejected(r -> r.putInt(RegionLayout.VERSION_OFFSET, 5), "version 5", "supported version 4");
        assertRejected(r -> r.putInt(RegionLayout.VERSION_OFFSET, 0), "version 0", "supported version 4");
        assertRejected(r -> r.putInt(RegionLayout.VERSION_OFFSET, -1), "version 4294967295", "supported");
    }

    @Test
    void validateRejectsBadCapacities() {
        assertRejected(r -> r.putInt(RegionLayout.RING_0_CAPACITY_OFFSET, CAP0 + 1),
                "capacity of ring 0 " + (CAP0 + 1), "power of two");
        assertRejected(r -> r.putInt(RegionLayout.RING_1_CAPACITY_OFFSET, 2048), "capacity of ring 1 2048",
                "between " + MIN_RING_CAPACITY);
        assertRejected(r -> r.putInt(RegionLayout.RING_1_CAPACITY_OFFSET, MAX_RING_CAPACITY << 1),
                "capacity of ring 1 " + (MAX_RING_CAPACITY << 1), "and " + MAX_RING_CAPACITY);
        assertRejected(r -> r.putInt(RegionLayout.RING_0_CAPACITY_OFFSET, 0), "capacity of ring 0 0", "power");
        assertRejected(r -> r.putInt(RegionLayout.RING_0_CAPACITY_OFFSET, Integer.MIN_VALUE),
                "capacity of ring 0 2147483648", "power");
    }

    @Test
    void validateRejectsASizeFieldThatDoesNotAddUp() {
        long size = DATA_OFFSET + CAP0 + CAP1;
        assertRejected(r -> r.putLong(RegionLayout.REGION_SIZE_OFFSET, size + 4096),
                "region size field " + (size + 4096), String.valueOf(size));
        assertRejected(r -> r.putLong(RegionLayout.REGION_SIZE_OFFSET, -1L),
                "region size field 18446744073709551615", String.valueOf(size));
        // Capacities and size field that agree with each other but not with the mapping: the mapped size check.
        assertRejected(r -> {
            r.putInt(RegionLayout.RING_1_CAPACITY_OFFSET, 2 * CAP1);
            r.putLong(RegionLayout.REGION_SIZE_OFFSET, DATA_OFFSET + CAP0 + 2L * CAP1);
        }, "mapped region size " + size, String.valueOf(DATA_OFFSET + CAP0 + 2L * CAP1));
    }

    @Test
    void validateRejectsAMappingOfAnotherSize() {
        CanaryRegion r = new CanaryRegion(CAP0, CAP1);
        ByteBuffer shorter = r.region.slice(0, (int) r.layout.size() - 4096);
        IdtsProtocolException e = assertThrows(IdtsProtocolException.class, () -> RegionLayout.validate(shorter));
        assertTrue(e.getMessage().contains("mapped region size " + shorter.capacity()), e.getMessage());
        ByteBuffer tiny = r.region.slice(0, 100);
        e = assertThrows(IdtsProtocolException.class, () -> RegionLayout.validate(tiny));
        assertTrue(e.getMessage().contains("mapped region of 100 bytes"), e.getMessage());
        r.assertUnchangedExcept();
    }

    @Test
    void ringOutOfRangeIsRejected() {
        CanaryRegion r = new CanaryRegion(CAP0, CAP1);
        assertThrows(IllegalArgumentException.class, () -> r.writer(2));
        assertThrows(IllegalArgumentException.class, () -> r.reader(-1));
        assertThrows(IllegalArgumentException.class, () -> RegionLayout.producerLineOffset(2));
        assertNotEquals(RegionLayout.producerLineOffset(0), RegionLayout.producerLineOffset(1));
    }

    @Test
    void constructorsRejectARegionOfAnotherSize() {
        CanaryRegion r = new CanaryRegion(CAP0, CAP1);
        ByteBuffer other = ByteBuffer.allocateDirect((int) r.layout.size() + 8);
        assertThrows(IllegalArgumentException.class, () -> new RingWriter(other, r.layout, 0));
        assertThrows(IllegalArgumentException.class, () -> new RingReader(other, r.layout, 0));
    }

    /** Corrupts the header of a fresh region, expects validate to name the field, and nothing to be written. */
    private static void assertRejected(Consumer<CanaryRegion> corruption, String... expected) {
        CanaryRegion r = new CanaryRegion(CAP0, CAP1);
        corruption.accept(r);
        r.snapshot();
        IdtsProtocolException e = assertThrows(IdtsProtocolException.class, () -> RegionLayout.validate(r.region));
        for (String s : expected) {
            assertTrue(e.getMessage().contains(s), "'" + e.getMessage() + "' should contain '" + s + "'");
        }
        r.assertUnchangedExcept();
    }
}
