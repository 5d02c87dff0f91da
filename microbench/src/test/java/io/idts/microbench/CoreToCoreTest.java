package io.idts.microbench;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CoreToCoreTest {

    @Test
    void measuresARoundTripAndLeavesNoThreadBehind() throws Exception {
        double nanos = CoreToCore.roundTripNanos(50);
        assertTrue(nanos > 0 && !Double.isInfinite(nanos), "round trip: " + nanos + " ns");
        Thread.sleep(100);
        assertFalse(Thread.getAllStackTraces().keySet().stream()
                .anyMatch(t -> t.getName().equals("bench-core-to-core") && t.isAlive()), "the echo thread ended");
    }
}
