package io.idts.channel;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The channel configuration's defaults that depend on the backend of the address connected to. */
class IdtsChannelConfigTest {

    @Test
    void zeroCopyReadsDefaultOffForXenPeersUnlessSet() {
        IdtsChannelConfig config = new IdtsChannel().config();
        assertTrue(config.isZeroCopyReads());
        config.applyBackendDefaults(IdtsAddress.of("a"));
        assertTrue(config.isZeroCopyReads());
        config.applyBackendDefaults(IdtsAddress.xen(0, "a"));
        assertEquals(IdtsChannelConfig.DEFAULT_XEN_ZERO_COPY_READS, config.isZeroCopyReads());

        IdtsChannelConfig set = new IdtsChannel().config();
        set.setZeroCopyReads(true);
        set.applyBackendDefaults(IdtsAddress.xen(0, "a"));
        assertTrue(set.isZeroCopyReads());
    }

    @Test
    void xenRingsDefaultSmallerThanHostRingsUnlessSet() {
        IdtsChannel channel = new IdtsChannel();
        IdtsChannelConfig config = channel.config();
        assertEquals(IdtsChannelConfig.DEFAULT_XEN_RING_CAPACITY, config.ringCapacityFor(IdtsAddress.xen(0, "a"), 1));
        assertEquals(config.getRingCapacity(), config.ringCapacityFor(IdtsAddress.of("a"), 1));
        config.setRingCapacity(1 << 16);
        assertEquals(1 << 16, config.ringCapacityFor(IdtsAddress.xen(0, "a"), 1));
    }

    @Test
    void theDefaultHostRingsShrinkAsALoopHasMoreChannelsASetCapacityNever() {
        IdtsChannelConfig config = new IdtsChannel().config();
        IdtsAddress host = IdtsAddress.of("a");
        int full = config.getRingCapacity();
        long budget = IdtsChannelConfig.RING_BYTES_PER_LOOP;
        assertEquals(full, config.ringCapacityFor(host, 1));
        assertEquals(full, config.ringCapacityFor(host, (int) (budget / full)));
        assertEquals(full / 2, config.ringCapacityFor(host, (int) (budget / full) + 1));
        assertEquals(IdtsChannelConfig.MIN_SHARED_RING_CAPACITY, config.ringCapacityFor(host, 100_000));
        for (int channels = 1; channels < 5000; channels += 7) {
            int capacity = config.ringCapacityFor(host, channels);
            assertEquals(1, Integer.bitCount(capacity), "a power of two");
            assertTrue(capacity <= full && capacity >= IdtsChannelConfig.MIN_SHARED_RING_CAPACITY, "" + capacity);
            assertTrue(capacity <= Math.max(budget / channels, IdtsChannelConfig.MIN_SHARED_RING_CAPACITY));
        }

        config.setRingCapacity(full);
        assertEquals(full, config.ringCapacityFor(host, 100_000), "a capacity set is the capacity used");
    }
}
