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
        assertEquals(IdtsChannelConfig.DEFAULT_XEN_RING_CAPACITY, config.ringCapacityFor(IdtsAddress.xen(0, "a")));
        assertEquals(config.getRingCapacity(), config.ringCapacityFor(IdtsAddress.of("a")));
        config.setRingCapacity(1 << 16);
        assertEquals(1 << 16, config.ringCapacityFor(IdtsAddress.xen(0, "a")));
    }
}
