package io.idts.linux;

import io.netty.util.internal.ObjectUtil;

import java.util.concurrent.TimeUnit;

/**
 * An exclusive {@code flock(2)} on a directory, for processes that must take turns at changing its entries.
 *
 * <p>The lock is on the directory itself, so no lock file is ever made or left behind. It belongs to the open file
 * description: two threads of one process that each take it exclude each other as two processes do, and the kernel
 * releases it when its holder closes it or dies, so a process killed while holding it blocks nobody. Anyone who may
 * read the directory may take it, whatever its user, and a directory bind-mounted into several containers is one
 * lock.
 *
 * <p>Internal API.
 */
public final class DirectoryLock implements AutoCloseable {

    private static final int O_RDONLY = 0;
    private static final int O_DIRECTORY = 0200000;
    private static final int O_CLOEXEC = 02000000;
    private static final int LOCK_EX = 2;
    private static final int LOCK_NB = 4;
    /** The longest pause between two attempts: holders keep the lock for microseconds. */
    private static final long MAX_PAUSE_NANOS = TimeUnit.MILLISECONDS.toNanos(10);
    private static final long FIRST_PAUSE_NANOS = TimeUnit.MICROSECONDS.toNanos(50);

    private final String directory;
    private int fd;

    private DirectoryLock(String directory, int fd) {
        this.directory = directory;
        this.fd = fd;
    }

    /**
     * Takes the lock on {@code directory}, trying again for up to {@code timeout} while another holds it. The
     * attempts do not block in the kernel, so a holder that is stopped (not dead) makes this give up rather than hang.
     *
     * @return the lock, or {@code null} if another holder kept it for the whole {@code timeout}
     * @throws NativeIoException if the directory cannot be opened for reading ({@link Errno#EACCES},
     *                           {@link Errno#ENOENT}, {@link Errno#ENOTDIR}) or locked
     */
    public static DirectoryLock lock(String directory, long timeout, TimeUnit unit)
            throws NativeIoException, InterruptedException {
        ObjectUtil.checkNonEmpty(directory, "directory");
        ObjectUtil.checkPositiveOrZero(timeout, "timeout");
        ObjectUtil.checkNotNull(unit, "unit");
        LinuxHost.ensureAvailability();
        int fd = LibC.open(LibC.cString(directory), O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
        if (fd < 0) {
            throw new NativeIoException("open", LibC.errno(), "directory " + directory);
        }
        boolean locked = false;
        try {
            long deadline = System.nanoTime() + unit.toNanos(timeout);
            long pause = FIRST_PAUSE_NANOS;
            for (;;) {
                if (LibC.flock(fd, LOCK_EX | LOCK_NB) == 0) {
                    locked = true;
                    return new DirectoryLock(directory, fd);
                }
                int errno = LibC.errno();
                if (errno == Errno.EINTR) {
                    continue;
                }
                if (errno != Errno.EAGAIN) { // EWOULDBLOCK
                    throw new NativeIoException("flock", errno, "directory " + directory);
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return null;
                }
                TimeUnit.NANOSECONDS.sleep(Math.min(pause, left));
                pause = Math.min(pause * 2, MAX_PAUSE_NANOS);
            }
        } finally {
            if (!locked) {
                LibC.close(fd);
            }
        }
    }

    /** Releases the lock; a second call does nothing. */
    @Override
    public void close() {
        if (fd >= 0) {
            // Closing the only descriptor of the open file description releases the flock.
            LibC.close(fd);
            fd = -1;
        }
    }

    @Override
    public String toString() {
        return "DirectoryLock(" + directory + (fd >= 0 ? ", held)" : ", released)");
    }
}
