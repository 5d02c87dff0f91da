package io.idts.linux;

import com.sun.jna.Memory;

/**
 * Notifications over a connected pair of {@code AF_UNIX} stream sockets: one byte sent wakes the peer, whose end
 * becomes readable.
 *
 * <p>Unlike an eventfd, whose {@code O_NONBLOCK} belongs to the open file that both processes share (a peer can clear
 * it and fill the counter, and the next write blocks), every call here passes {@code MSG_DONTWAIT}: it never blocks,
 * whatever anybody did to the file status flags. A full socket buffer ({@code EAGAIN}) means bytes are waiting
 * unread at the other end, which is therefore readable already: the notification is delivered.
 *
 * <p>{@link #signal} and {@link #drain} are on the data path (when a peer sleeps), so they allocate nothing: the
 * byte sent and the buffer drained into are shared constants (the bytes drained are never looked at, so threads may
 * overwrite each other's).
 *
 * <p>Internal API.
 */
public final class NotificationSocket {

    private static final int AF_UNIX = 1;
    private static final int SOCK_STREAM = 1;
    private static final int SOCK_NONBLOCK = 04000;
    private static final int SOCK_CLOEXEC = 02000000;
    private static final int DEFAULT_PROTOCOL = 0;
    private static final int SOL_SOCKET = 1;
    private static final int SO_TYPE = 3;
    private static final int SO_DOMAIN = 39;
    private static final int MSG_DONTWAIT = 0x40;
    private static final int MSG_NOSIGNAL = 0x4000;
    private static final int SEND_FLAGS = MSG_DONTWAIT | MSG_NOSIGNAL;
    private static final int NOTIFICATION_SIZE = 1;
    private static final int DRAIN_SIZE = 256;
    private static final int INT_OPTION_SIZE = Integer.BYTES;
    private static final int SOCKLEN_SIZE = 4;

    private static final Memory NOTIFICATION = notification();
    /** Written by the kernel on every drain, never read. */
    private static final Memory DISCARD = new Memory(DRAIN_SIZE);

    private NotificationSocket() {
    }

    private static Memory notification() {
        Memory notification = new Memory(NOTIFICATION_SIZE);
        notification.setByte(0, (byte) 1);
        return notification;
    }

    /**
     * A new connected pair ({@code socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC)}); the caller owns
     * both.
     *
     * @return the two ends
     */
    public static int[] createPair() throws NativeIoException {
        LinuxHost.ensureAvailability();
        int[] pair = new int[2];
        if (LibC.socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, DEFAULT_PROTOCOL, pair) != 0) {
            throw new NativeIoException("socketpair", LibC.errno(), "AF_UNIX SOCK_STREAM");
        }
        return pair;
    }

    /** Whether {@code fd} is an {@code AF_UNIX} stream socket (what {@link #createPair()} makes). */
    public static boolean isUnixStreamSocket(int fd) {
        if (fd < 0 || !LinuxHost.isAvailable()) {
            return false;
        }
        return intOption(fd, SO_DOMAIN) == AF_UNIX && intOption(fd, SO_TYPE) == SOCK_STREAM;
    }

    private static int intOption(int fd, int option) {
        try (Memory value = new Memory(INT_OPTION_SIZE + SOCKLEN_SIZE)) {
            value.clear();
            value.setInt(INT_OPTION_SIZE, INT_OPTION_SIZE);
            if (LibC.getsockopt(fd, SOL_SOCKET, option, value, value.share(INT_OPTION_SIZE)) != 0) {
                return -1;
            }
            return value.getInt(0);
        }
    }

    /**
     * Sends one notification byte without blocking. {@code EAGAIN} (the socket buffer is full of notifications the
     * peer has not read) means the peer is notified already, so it is not an error.
     *
     * @throws NativeIoException e.g. {@link Errno#EPIPE} or {@link Errno#ECONNRESET} if the peer's end is closed
     */
    public static void signal(int fd) throws NativeIoException {
        if (LibC.send(fd, NOTIFICATION, NOTIFICATION_SIZE, SEND_FLAGS) < 0) {
            int errno = LibC.errno();
            if (errno != Errno.EAGAIN) {
                throw new NativeIoException("send", errno, "notification socket fd " + fd);
            }
        }
    }

    /**
     * Reads and discards the notifications waiting, at most a few hundred per call (a peer that floods
     * notifications costs one bounded call per turn of the caller's loop, never an unbounded one).
     *
     * @return the number of notifications read (&gt; 0), 0 if the peer closed its end, or -1 if none is waiting
     */
    public static int drain(int fd) throws NativeIoException {
        long received = LibC.recv(fd, DISCARD, DRAIN_SIZE, MSG_DONTWAIT);
        if (received < 0) {
            int errno = LibC.errno();
            if (errno == Errno.EAGAIN) {
                return -1;
            }
            throw new NativeIoException("recv", errno, "notification socket fd " + fd);
        }
        return (int) received;
    }
}
