package io.idts.linux;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

@ExtendWith(NoFdLeaks.class)
class StatTest {

    @Test
    void fstatAndFxstatAgree() throws Exception {
        assertNull(Stat.LOAD_FAILURE);
        long size = 3 * 4096 + 17;
        int fd = MemFd.createSealed("idts-stat", size);
        try {
            assertEquals(size, Stat.size(fd));
            assertEquals(size, Stat.sizeViaFstat(fd));
            // The pre-2.33 fallback: glibc still exports __fxstat, so it can be checked here too.
            assertEquals(size, Stat.sizeViaFxstat(fd));
        } finally {
            FileDescriptors.close(fd);
        }
    }

    @Test
    void badFdIsEbadf() {
        assertEquals(Errno.EBADF, assertThrows(NativeIoException.class, () -> Stat.sizeViaFstat(-1)).errno());
        assertEquals(Errno.EBADF, assertThrows(NativeIoException.class, () -> Stat.sizeViaFxstat(-1)).errno());
    }
}
