package io.idts.linux;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@ExtendWith(NoFdLeaks.class)
class FileDescriptorsTest {

    @Test
    void openCountFollowsCreateAndClose() throws Exception {
        int before = FileDescriptors.openCount();
        int fd = EventFd.create();
        assertEquals(before + 1, FileDescriptors.openCount());
        FileDescriptors.close(fd);
        assertEquals(before, FileDescriptors.openCount());
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
