package io.idts.linux;

import com.sun.jna.Function;
import com.sun.jna.Platform;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.management.ManagementFactory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@ExtendWith(NoFdLeaks.class)
class NotificationSocketTest {

    private static final int WARM_UP_ROUNDS = 1_000;
    private static final int MEASURED_ROUNDS = 10_000;
    private static final int F_GETFL = 3;
    private static final int F_SETFL = 4;
    private static final int O_NONBLOCK = 04000;
    /** Far more notifications than a socket buffer holds: the later ones find it full. */
    private static final int FLOOD = 100_000;

    @Test
    void createPairMakesNonBlockingCloseOnExecUnixStreamSockets() throws Exception {
        int[] pair = NotificationSocket.createPair();
        try {
            for (int fd : pair) {
                assertTrue(NotificationSocket.isUnixStreamSocket(fd));
                assertTrue(Procfs.isNonBlocking(fd));
                assertTrue(Procfs.isCloseOnExec(fd));
            }
        } finally {
            FileDescriptors.close(pair[0]);
            FileDescriptors.close(pair[1]);
        }
    }

    @Test
    void isUnixStreamSocketRefusesOtherDescriptors() throws Exception {
        int eventFd = EventFd.create();
        int memFd = MemFd.createSealed("notification-test", 4096);
        try {
            assertFalse(NotificationSocket.isUnixStreamSocket(eventFd));
            assertFalse(NotificationSocket.isUnixStreamSocket(memFd));
            assertFalse(NotificationSocket.isUnixStreamSocket(-1));
        } finally {
            FileDescriptors.close(eventFd);
            FileDescriptors.close(memFd);
        }
    }

    @Test
    void drainReadsWhatWasSignalledThenNothingThenTheEnd() throws Exception {
        int[] pair = NotificationSocket.createPair();
        try {
            assertEquals(-1, NotificationSocket.drain(pair[1]), "empty: EAGAIN reads as -1");
            NotificationSocket.signal(pair[0]);
            NotificationSocket.signal(pair[0]);
            NotificationSocket.signal(pair[0]);
            assertEquals(3, NotificationSocket.drain(pair[1]));
            assertEquals(-1, NotificationSocket.drain(pair[1]));
            FileDescriptors.close(pair[0]);
            pair[0] = -1;
            assertEquals(0, NotificationSocket.drain(pair[1]), "the other end closed: end of stream");
        } finally {
            FileDescriptors.closeQuietly(pair[0]);
            FileDescriptors.close(pair[1]);
        }
    }

    /**
     * What a hostile peer does to a shared open file: clears O_NONBLOCK on both ends and never reads. Signals still
     * return (a full buffer means the peer is notified already) and draining an empty end still returns: a blocking
     * call would hang this test.
     */
    @Test
    void neitherSignalNorDrainBlocksWhateverTheFileFlags() throws Exception {
        int[] pair = NotificationSocket.createPair();
        try {
            clearNonBlocking(pair[0]);
            clearNonBlocking(pair[1]);
            assertFalse(Procfs.isNonBlocking(pair[0]));
            for (int i = 0; i < FLOOD; i++) {
                NotificationSocket.signal(pair[0]);
            }
            int drained = 0;
            for (int n; (n = NotificationSocket.drain(pair[1])) > 0;) {
                drained += n;
            }
            assertTrue(drained > 0 && drained < FLOOD, drained + " notifications drained: the buffer filled up");
            assertEquals(-1, NotificationSocket.drain(pair[1]));
        } finally {
            FileDescriptors.close(pair[0]);
            FileDescriptors.close(pair[1]);
        }
    }

    @Test
    void signalToAClosedPeerFails() throws Exception {
        int[] pair = NotificationSocket.createPair();
        FileDescriptors.close(pair[1]);
        try {
            NativeIoException e = assertThrows(NativeIoException.class, () -> NotificationSocket.signal(pair[0]));
            assertEquals(Errno.EPIPE, e.errno(), e.getMessage());
        } finally {
            FileDescriptors.close(pair[0]);
        }
    }

    @Test
    void signalAndDrainDoNotAllocate() throws Exception {
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        int[] pair = NotificationSocket.createPair();
        try {
            for (int i = 0; i < WARM_UP_ROUNDS; i++) {
                NotificationSocket.signal(pair[0]);
                NotificationSocket.drain(pair[1]);
                NotificationSocket.drain(pair[1]);
            }
            long threadId = Thread.currentThread().getId();
            long before = threads.getThreadAllocatedBytes(threadId);
            long drained = 0;
            for (int i = 0; i < MEASURED_ROUNDS; i++) {
                NotificationSocket.signal(pair[0]);
                drained += NotificationSocket.drain(pair[1]);
                NotificationSocket.drain(pair[1]); // empty: the EAGAIN path
            }
            long allocated = threads.getThreadAllocatedBytes(threadId) - before;
            assertEquals(MEASURED_ROUNDS, drained);
            // One object per call would be at least 16 bytes * 3 * MEASURED_ROUNDS.
            assertTrue(allocated < MEASURED_ROUNDS, allocated + " bytes allocated");
        } finally {
            FileDescriptors.close(pair[0]);
            FileDescriptors.close(pair[1]);
        }
    }

    private static void clearNonBlocking(int fd) {
        Function fcntl = Function.getFunction(Platform.C_LIBRARY_NAME, "fcntl");
        int flags = fcntl.invokeInt(new Object[] { fd, F_GETFL, 0L });
        assertTrue(flags >= 0 && fcntl.invokeInt(new Object[] { fd, F_SETFL, (long) (flags & ~O_NONBLOCK) }) == 0,
                "fcntl on fd " + fd);
    }
}
