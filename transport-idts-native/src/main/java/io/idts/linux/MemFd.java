package io.idts.linux;

import io.netty.util.internal.ObjectUtil;

/**
 * memfd regions: anonymous shared memory with a file descriptor that can be passed to a peer and sealed.
 *
 * <p>Internal API.
 */
public final class MemFd {

    /** No further seals can be added. */
    public static final int F_SEAL_SEAL = 1;
    /** The file cannot shrink. */
    public static final int F_SEAL_SHRINK = 2;
    /** The file cannot grow. */
    public static final int F_SEAL_GROW = 4;
    /** The contents cannot be written. */
    public static final int F_SEAL_WRITE = 8;
    /** The exec bits cannot change (Linux 6.3+, set by {@code MFD_NOEXEC_SEAL}). */
    public static final int F_SEAL_EXEC = 0x20;

    /** The seals {@link #createSealed} adds: size frozen, and nobody may change the seals. */
    public static final int SIZE_SEALS = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

    private static final int MFD_CLOEXEC = 1;
    private static final int MFD_ALLOW_SEALING = 2;
    /** Linux 6.3+: not executable, ever. Older kernels reject the unknown flag with EINVAL. */
    private static final int MFD_NOEXEC_SEAL = 8;
    private static final int F_ADD_SEALS = 1033;
    private static final int F_GET_SEALS = 1034;

    private MemFd() {
    }

    /**
     * {@code memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING)}, {@code ftruncate} to {@code size}, then
     * seals {@link #SIZE_SEALS}, so that the peer can never shrink the file under our mapping (which
     * would raise SIGBUS in this process).
     *
     * <p>{@code MFD_NOEXEC_SEAL} is asked for too, where the kernel knows it (6.3+): with
     * {@code vm.memfd_noexec=2} such kernels refuse memfds that could become executable. The seals then
     * include {@link #F_SEAL_EXEC} as well; test for the seals you need with a mask.
     *
     * @param name for diagnostics only (shown in /proc/self/fd as {@code /memfd:name}); at most 249 bytes
     * @return the fd, which the caller owns
     */
    public static int createSealed(String name, long size) throws NativeIoException {
        return create(name, size, SIZE_SEALS);
    }

    /**
     * Like {@link #createSealed(String, long)} but adds exactly {@code seals} ({@code 0}: none). Only tests want a
     * memfd that is not sealed against resizing: a hostile peer's, to check that the acceptor refuses it.
     */
    public static int create(String name, long size, int seals) throws NativeIoException {
        ObjectUtil.checkNotNull(name, "name");
        ObjectUtil.checkPositive(size, "size");
        LinuxHost.ensureAvailability();
        byte[] cName = LibC.cString(name);
        int fd = LibC.memfd_create(cName, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);
        if (fd < 0 && LibC.errno() == Errno.EINVAL) {
            // A kernel before 6.3, or a bad name: the retry tells which.
            fd = LibC.memfd_create(cName, MFD_CLOEXEC | MFD_ALLOW_SEALING);
        }
        if (fd < 0) {
            throw new NativeIoException("memfd_create", LibC.errno(), "name '" + name + '\'');
        }
        if (LibC.ftruncate(fd, size) != 0) {
            throw closeAndFail(fd, "ftruncate", "memfd '" + name + "' to " + size + " bytes");
        }
        if (seals != 0 && LibC.fcntl(fd, F_ADD_SEALS, seals) != 0) {
            throw closeAndFail(fd, "fcntl(F_ADD_SEALS)", "memfd '" + name + '\'');
        }
        return fd;
    }

    /** The seals of {@code fd} ({@code fcntl(F_GET_SEALS)}); {@code EINVAL} if it is not a memfd. */
    public static int seals(int fd) throws NativeIoException {
        LinuxHost.ensureAvailability();
        int seals = LibC.fcntl(fd, F_GET_SEALS, 0);
        if (seals < 0) {
            throw new NativeIoException("fcntl(F_GET_SEALS)", LibC.errno(), "fd " + fd);
        }
        return seals;
    }

    private static NativeIoException closeAndFail(int fd, String call, String detail) {
        int errno = LibC.errno();
        LibC.close(fd);
        return new NativeIoException(call, errno, detail);
    }
}
