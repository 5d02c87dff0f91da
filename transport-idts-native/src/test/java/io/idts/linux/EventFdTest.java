package io.idts.linux;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.management.ManagementFactory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@ExtendWith(NoFdLeaks.class)
class EventFdTest {

    private static final int WARM_UP_ROUNDS = 1_000;
    private static final int MEASURED_ROUNDS = 10_000;

    @Test
    void createMakesANonBlockingCloseOnExecEventfd() throws Exception {
        int fd = EventFd.create();
        try {
            assertTrue(EventFd.isEventFd(fd));
            assertTrue(Procfs.isNonBlocking(fd));
            assertTrue(Procfs.isCloseOnExec(fd));
        } finally {
            FileDescriptors.close(fd);
        }
    }

    @Test
    void drainReturnsTheSignalCountThenZero() throws Exception {
        int fd = EventFd.create();
        try {
            assertEquals(0, EventFd.drain(fd), "empty: EAGAIN reads as 0");
            EventFd.signal(fd);
            EventFd.signal(fd);
            EventFd.signal(fd);
            assertEquals(3, EventFd.drain(fd));
            assertEquals(0, EventFd.drain(fd));
            EventFd.signal(fd);
            assertEquals(1, EventFd.drain(fd));
        } finally {
            FileDescriptors.close(fd);
        }
    }

    @Test
    void signalAndDrainFromAnotherThread() throws Exception {
        int fd = EventFd.create();
        try {
            Thread signaller = new Thread(() -> {
                try {
                    EventFd.signal(fd);
                } catch (NativeIoException e) {
                    throw new AssertionError(e);
                }
            });
            signaller.start();
            signaller.join();
            assertEquals(1, EventFd.drain(fd));
        } finally {
            FileDescriptors.close(fd);
        }
    }

    @Test
    void signalOnASaturatedCounterIsNotAnError() throws Exception {
        int fd = EventFd.create();
        try {
            long max = 0xfffffffffffffffeL; // the largest value an eventfd counter holds
            assertEquals(0, LibC.eventfd_write(fd, max));
            EventFd.signal(fd); // EAGAIN: a wakeup is pending already
            assertEquals(max, EventFd.drain(fd));
        } finally {
            FileDescriptors.close(fd);
        }
    }

    @Test
    void signalAndDrainDoNotAllocate() throws Exception {
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        int fd = EventFd.create();
        try {
            for (int i = 0; i < WARM_UP_ROUNDS; i++) {
                EventFd.signal(fd);
                EventFd.drain(fd);
                EventFd.drain(fd);
            }
            long threadId = Thread.currentThread().getId();
            long before = threads.getThreadAllocatedBytes(threadId);
            long drained = 0;
            for (int i = 0; i < MEASURED_ROUNDS; i++) {
                EventFd.signal(fd);
                drained += EventFd.drain(fd);
                drained += EventFd.drain(fd); // empty: the EAGAIN path
            }
            long allocated = threads.getThreadAllocatedBytes(threadId) - before;
            assertEquals(MEASURED_ROUNDS, drained);
            // One object per call would be at least 16 bytes * 3 * MEASURED_ROUNDS.
            assertTrue(allocated < MEASURED_ROUNDS, allocated + " bytes allocated");
        } finally {
            FileDescriptors.close(fd);
        }
    }

    @Test
    void closedFdIsEbadf() throws Exception {
        int fd = EventFd.create();
        FileDescriptors.close(fd);
        assertEquals(Errno.EBADF, assertThrows(NativeIoException.class, () -> EventFd.signal(fd)).errno());
        NativeIoException e = assertThrows(NativeIoException.class, () -> EventFd.drain(fd));
        assertEquals(Errno.EBADF, e.errno());
        assertEquals("eventfd_read", e.call());
    }
}
