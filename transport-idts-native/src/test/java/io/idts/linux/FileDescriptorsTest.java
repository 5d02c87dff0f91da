package io.idts.linux;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

@ExtendWith(NoFdLeaks.class)
class FileDescriptorsTest {

    /**
     * The JVM opens and closes files of its own at any moment (it reads its cgroup's memory limit now and then), which
     * can shift one count by one; a few tries let one run in a quiet moment. A count that does not follow never
     * passes.
     */
    @Test
    void openCountFollowsCreateAndClose() throws Exception {
        int tries = 5;
        String seen = "";
        for (int i = 0; i < tries; i++) {
            int before = FileDescriptors.openCount();
            int fd = EventFd.create();
            int open = FileDescriptors.openCount();
            FileDescriptors.close(fd);
            int after = FileDescriptors.openCount();
            if (open == before + 1 && after == before) {
                return;
            }
            seen += String.format(" %d/%d/%d", before, open, after);
        }
        fail("open counts before, with and after one eventfd, in " + tries + " tries:" + seen);
    }

    @Test
    void closingAClosedFdIsEbadf() throws Exception {
        int fd = EventFd.create();
        FileDescriptors.close(fd);
        NativeIoException e = assertThrows(NativeIoException.class, () -> FileDescriptors.close(fd));
        assertEquals(Errno.EBADF, e.errno());
        assertEquals("close", e.call());
    }

    @Test
    void closeQuietlyIgnoresNegativeAndClosedFds() throws Exception {
        assertDoesNotThrow(() -> FileDescriptors.closeQuietly(-1));
        int fd = EventFd.create();
        FileDescriptors.closeQuietly(fd);
        assertEquals("?", FileDescriptors.describe(fd));
        assertDoesNotThrow(() -> FileDescriptors.closeQuietly(fd));
    }

    @Test
    void setNonBlocking() throws Exception {
        int fd = MemFd.createSealed("idts-nonblocking", 4096); // memfds start blocking
        try {
            assertFalse(Procfs.isNonBlocking(fd));
            FileDescriptors.setNonBlocking(fd);
            assertTrue(Procfs.isNonBlocking(fd));
            FileDescriptors.setNonBlocking(fd); // already set: a no-op
            assertTrue(Procfs.isNonBlocking(fd));
        } finally {
            FileDescriptors.close(fd);
        }
    }

    @Test
    void setNonBlockingOnABadFdFails() {
        NativeIoException e = assertThrows(NativeIoException.class, () -> FileDescriptors.setNonBlocking(-1));
        assertEquals(Errno.EBADF, e.errno());
    }

    @Test
    void sizeIsStSize() throws Exception {
        int fd = MemFd.createSealed("idts-size", 12345);
        try {
            assertEquals(12345, FileDescriptors.size(fd));
        } finally {
            FileDescriptors.close(fd);
        }
        NativeIoException e = assertThrows(NativeIoException.class, () -> FileDescriptors.size(fd));
        assertEquals(Errno.EBADF, e.errno());
    }

    @Test
    void describeAndIsEventFd() throws Exception {
        int eventFd = EventFd.create();
        int memFd = MemFd.createSealed("idts-describe", 4096);
        try {
            assertEquals("anon_inode:[eventfd]", FileDescriptors.describe(eventFd));
            assertTrue(FileDescriptors.describe(memFd).startsWith("/memfd:idts-describe"),
                    FileDescriptors.describe(memFd));
            assertTrue(EventFd.isEventFd(eventFd));
            assertFalse(EventFd.isEventFd(memFd));
        } finally {
            FileDescriptors.close(eventFd);
            FileDescriptors.close(memFd);
        }
        assertEquals("?", FileDescriptors.describe(-1));
        assertFalse(EventFd.isEventFd(eventFd));
    }
}
