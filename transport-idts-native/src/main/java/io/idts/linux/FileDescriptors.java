package io.idts.linux;

import java.io.File;
import java.nio.charset.StandardCharsets;

/**
 * Helpers for raw file descriptors.
 *
 * <p>Internal API.
 */
public final class FileDescriptors {

    private static final int F_GETFL = 3;
    private static final int F_SETFL = 4;
    private static final int O_NONBLOCK = 04000;
    /** PATH_MAX: the longest link target readlink can return in full. */
    private static final int PATH_MAX = 4096;
    private static final String PROC_SELF_FD = "/proc/self/fd";
    private static final String UNKNOWN = "?";

    private FileDescriptors() {
    }

    /**
     * {@code close(fd)}. {@code EINTR} is neither retried nor reported: Linux has released the descriptor
     * anyway, and retrying could close a descriptor another thread has just been given.
     */
    public static void close(int fd) throws NativeIoException {
        LinuxHost.ensureAvailability();
        if (LibC.close(fd) != 0) {
            int errno = LibC.errno();
            if (errno != Errno.EINTR) {
                throw new NativeIoException("close", errno, "fd " + fd);
            }
        }
    }

    /** {@code close(fd)}, ignoring {@code fd < 0}, errors, and an unavailable platform. */
    public static void closeQuietly(int fd) {
        if (fd >= 0 && LinuxHost.isAvailable()) {
            LibC.close(fd);
        }
    }

    /** Adds {@code O_NONBLOCK} to the file status flags of {@code fd}. */
    public static void setNonBlocking(int fd) throws NativeIoException {
        LinuxHost.ensureAvailability();
        int flags = LibC.fcntl(fd, F_GETFL, 0);
        if (flags < 0) {
            throw new NativeIoException("fcntl(F_GETFL)", LibC.errno(), "fd " + fd);
        }
        if ((flags & O_NONBLOCK) == 0 && LibC.fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
            throw new NativeIoException("fcntl(F_SETFL)", LibC.errno(), "fd " + fd);
        }
    }

    /** {@code st_size} from {@code fstat(fd)}. */
    public static long size(int fd) throws NativeIoException {
        LinuxHost.ensureAvailability();
        return Stat.size(fd);
    }

    /**
     * What {@code fd} refers to: the target of {@code /proc/self/fd/<fd>}, e.g. {@code "/memfd:x (deleted)"}
     * or {@code "socket:[1234]"}; {@code "?"} if it cannot be read (not open, no /proc). For diagnostics.
     */
    public static String describe(int fd) {
        if (fd < 0 || !LinuxHost.isAvailable()) {
            return UNKNOWN;
        }
        byte[] target = new byte[PATH_MAX];
        long length = LibC.readlink(LibC.cString(PROC_SELF_FD + '/' + fd), target, target.length);
        if (length < 0) {
            return UNKNOWN;
        }
        return new String(target, 0, (int) length, StandardCharsets.UTF_8);
    }

    /**
     * The number of entries in {@code /proc/self/fd}, which includes the descriptor used to list it; only
     * differences between two calls are meaningful (tests use it to prove there are no fd leaks).
     * -1 if the directory cannot be listed.
     */
    public static int openCount() {
        String[] entries = new File(PROC_SELF_FD).list();
        return entries == null ? -1 : entries.length;
    }
}
