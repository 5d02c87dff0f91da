package io.idts.linux;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

@ExtendWith(NoFdLeaks.class)
class LinuxHostTest {

    @Test
    void isAvailableOnThisHost() {
        assertNull(LinuxHost.unavailabilityCause(), "unavailability cause");
        assertTrue(LinuxHost.isAvailable());
        assertDoesNotThrow(LinuxHost::ensureAvailability);
    }

    @Test
    void pidIsThisProcess() {
        assertEquals(ProcessHandle.current().pid(), LinuxHost.pid());
    }

    @Test
    void uidIsTheRealUid() throws Exception {
        assertEquals(Procfs.uid(), LinuxHost.uid());
    }
}
