package io.idts.linux;

import com.sun.jna.Memory;
import io.netty.util.concurrent.FastThreadLocal;

/**
 * eventfds, for the tests: a descriptor of another kind than a socket or a memfd, and the notifications protocol
 * version 2 used (version 3 notifies over a socket pair: an eventfd's {@code O_NONBLOCK} is shared with the peer,
 * see {@link NotificationSocket}). Every eventfd made here is {@code EFD_CLOEXEC | EFD_NONBLOCK}.
 */
final class EventFd {

    static final String EVENTFD_LINK = "anon_inode:[eventfd]";
    private static final int EFD_CLOEXEC = 02000000;
    private static final int EFD_NONBLOCK = 04000;
    private static final int INITIAL_VALUE = 0;
    private static final long ONE_WAKEUP = 1;
    private static final int COUNTER_SIZE = Long.BYTES;

    private static final FastThreadLocal<Memory> COUNTER = new FastThreadLocal<Memory>() {
        @Override
        protected Memory initialValue() {
            return new Memory(COUNTER_SIZE);
        }
    };

    private EventFd() {
    }

    /** Whether {@code fd} is an open eventfd. */
    static boolean isEventFd(int fd) {
        return EVENTFD_LINK.equals(FileDescriptors.describe(fd));
    }

    /** A new eventfd with counter 0; the caller owns it. */
    public static int create() throws NativeIoException {
        LinuxHost.ensureAvailability();
        int fd = LibC.eventfd(INITIAL_VALUE, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fd < 0) {
            throw new NativeIoException("eventfd", LibC.errno());
        }
        return fd;
    }

    /**
     * Adds 1 to the counter, waking a reader. {@code EAGAIN} (the counter is saturated) means a wakeup is
     * already pending, so it is not an error.
     */
    public static void signal(int fd) throws NativeIoException {
        if (LibC.eventfd_write(fd, ONE_WAKEUP) != 0) {
            int errno = LibC.errno();
            if (errno != Errno.EAGAIN) {
                throw new NativeIoException("eventfd_write", errno, "fd " + fd);
            }
        }
    }

    /** Reads and resets the counter: the number of signals since the last drain, or 0 if none. */
    public static long drain(int fd) throws NativeIoException {
        Memory counter = COUNTER.get();
        if (LibC.eventfd_read(fd, counter) != 0) {
            int errno = LibC.errno();
            if (errno == Errno.EAGAIN) {
                return 0;
            }
            throw new NativeIoException("eventfd_read", errno, "fd " + fd);
        }
        return counter.getLong(0);
    }
}
