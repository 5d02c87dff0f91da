package io.idts.linux;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@ExtendWith(NoFdLeaks.class)
class MemFdTest {

    private static final int SIZE = 64 * 1024;
    private static final int F_ADD_SEALS = 1033;

    @Test
    void createSealedHasSizeAndSizeSeals() throws Exception {
        int fd = MemFd.createSealed("idts-memfd", SIZE);
        try {
            assertEquals(SIZE, FileDescriptors.size(fd));
            int required = MemFd.F_SEAL_SHRINK | MemFd.F_SEAL_GROW | MemFd.F_SEAL_SEAL;
            assertEquals(required, MemFd.SIZE_SEALS);
            assertEquals(required, MemFd.seals(fd) & required, "seals " + MemFd.seals(fd));
            assertEquals(0, MemFd.seals(fd) & MemFd.F_SEAL_WRITE, "the memfd must stay writable");
            assertTrue(Procfs.isCloseOnExec(fd));
        } finally {
            FileDescriptors.close(fd);
        }
    }

    @Test
    void sealsForbidShrinkingGrowingAndMoreSeals() throws Exception {
        int fd = MemFd.createSealed("idts-sealed", SIZE);
        try {
            assertNotEquals(0, LibC.ftruncate(fd, SIZE / 2));
            assertEquals(Errno.EPERM, LibC.errno(), "shrinking");
            assertNotEquals(0, LibC.ftruncate(fd, SIZE * 2L));
            assertEquals(Errno.EPERM, LibC.errno(), "growing");
            assertNotEquals(0, LibC.fcntl(fd, F_ADD_SEALS, MemFd.F_SEAL_WRITE));
            assertEquals(Errno.EPERM, LibC.errno(), "adding a seal after F_SEAL_SEAL");
            assertEquals(SIZE, FileDescriptors.size(fd));
        } finally {
            FileDescriptors.close(fd);
        }
    }

    @Test
    void sealsOfANonMemfdIsEinval() throws Exception {
        int fd = EventFd.create();
        try {
            NativeIoException e = assertThrows(NativeIoException.class, () -> MemFd.seals(fd));
            assertEquals(Errno.EINVAL, e.errno());
        } finally {
            FileDescriptors.close(fd);
        }
    }

    @Test
    void sealBitsAreTheLinuxValues() {
        assertEquals(1, MemFd.F_SEAL_SEAL);
        assertEquals(2, MemFd.F_SEAL_SHRINK);
        assertEquals(4, MemFd.F_SEAL_GROW);
        assertEquals(8, MemFd.F_SEAL_WRITE);
    }

    @Test
    void rejectsBadArguments() {
        assertThrows(IllegalArgumentException.class, () -> MemFd.createSealed("idts-empty", 0));
        assertThrows(NullPointerException.class, () -> MemFd.createSealed(null, SIZE));
        // The kernel limits names to 249 bytes.
        NativeIoException e = assertThrows(NativeIoException.class,
                () -> MemFd.createSealed("x".repeat(250), SIZE));
        assertEquals(Errno.EINVAL, e.errno());
    }
}
