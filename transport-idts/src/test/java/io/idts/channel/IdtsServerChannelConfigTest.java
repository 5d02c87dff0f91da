package io.idts.channel;

import io.idts.channel.ring.RegionLayout;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The server channel configuration's defaults. */
class IdtsServerChannelConfigTest {

    private static final int DEFAULT_RING = RegionLayout.DEFAULT_RING_CAPACITY;

    @Test
    void aConnectorWithThisJvmsDefaultRingIsAccepted() {
        IdtsServerChannelConfig config = new IdtsServerChannel().config();
        assertEquals(IdtsServerChannelConfig.DEFAULT_MAX_RING_CAPACITY, config.getMaxRingCapacity());
        assertEquals(Math.max(DEFAULT_RING, IdtsChannelConfig.DEFAULT_RING_CAPACITY), config.getMaxRingCapacity(),
                "the largest ring a server takes by default is the larger of 16 MiB and io.idts.ringCapacity");
    }

    @Test
    void theDefaultMaxRingFollowsALargerRingCapacityProperty() {
        assertEquals(DEFAULT_RING, IdtsServerChannelConfig.defaultMaxRingCapacity(DEFAULT_RING));
        assertEquals(2 * DEFAULT_RING, IdtsServerChannelConfig.defaultMaxRingCapacity(2 * DEFAULT_RING),
                "-Dio.idts.ringCapacity=32 MiB on a client and a server: the server must take the client's rings");
        assertEquals(RegionLayout.MAX_RING_CAPACITY,
                IdtsServerChannelConfig.defaultMaxRingCapacity(RegionLayout.MAX_RING_CAPACITY));
        assertEquals(DEFAULT_RING, IdtsServerChannelConfig.defaultMaxRingCapacity(1 << 20),
                "a smaller default ring leaves the server's bound as it is: other clients keep theirs");
        assertEquals(DEFAULT_RING, IdtsServerChannelConfig.defaultMaxRingCapacity(3 << 20), "not a power of two");
        assertEquals(DEFAULT_RING, IdtsServerChannelConfig.defaultMaxRingCapacity(RegionLayout.MAX_RING_CAPACITY * 2),
                "past the largest ring");
    }
}
