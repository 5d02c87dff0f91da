package io.idts.channel.ring;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The tests that show the checks of {@link CanaryRegion}, the fixture shared by the ring tests (a region inside a
 * larger direct buffer whose every byte can be checked for changes), can fail.
 */
final class RingCanaryTest {

    @Test
    void initializeTouchesOnlyTheControlArea() {
        CanaryRegion r = new CanaryRegion(RegionLayout.MIN_RING_CAPACITY, 2 * RegionLayout.MIN_RING_CAPACITY);
        int changed = 0;
        for (int i = 0; i < r.backing.capacity(); i++) {
            boolean control = i >= CanaryRegion.GUARD && i < CanaryRegion.GUARD + RegionLayout.DATA_OFFSET;
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
        CanaryRegion r = new CanaryRegion(RegionLayout.MIN_RING_CAPACITY, RegionLayout.MIN_RING_CAPACITY);
        r.backing.put(CanaryRegion.GUARD - 1, (byte) (r.backing.get(CanaryRegion.GUARD - 1) + 1));
        assertThrows(AssertionError.class, r::assertUnchangedExcept);
        r.snapshot();
        int after = CanaryRegion.GUARD + (int) r.layout.size();
        r.backing.put(after, (byte) (r.backing.get(after) + 1));
        assertThrows(AssertionError.class, () -> r.assertUnchangedExcept(r.writerRanges(1)));
    }

    @Test
    void theRangesAreTheFieldsNotTheWholeLines() {
        CanaryRegion r = new CanaryRegion(RegionLayout.MIN_RING_CAPACITY, RegionLayout.MIN_RING_CAPACITY);
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
        CanaryRegion r = new CanaryRegion(RegionLayout.MIN_RING_CAPACITY, RegionLayout.MIN_RING_CAPACITY);
        int line = RegionLayout.consumerLineOffset(0);
        r.putLong(line, 42);
        r.assertUnchangedExcept(r.readerRanges(0));
        assertThrows(AssertionError.class, () -> r.assertUnchangedExcept(r.readerRanges(1)));
        assertThrows(AssertionError.class, () -> r.assertUnchangedExcept(r.writerRanges(0)));
        assertTrue(r.getLong(line) == 42);
    }
}
