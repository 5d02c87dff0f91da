package io.idts.linux;

/**
 * The Linux errno values this package and its callers test for (x86-64 and aarch64 share them), and
 * their descriptions.
 *
 * <p>Internal API.
 */
public final class Errno {

    public static final int EPERM = 1;
    public static final int ENOENT = 2;
    public static final int EINTR = 4;
    public static final int EBADF = 9;
    public static final int EAGAIN = 11;
    public static final int EACCES = 13;
    public static final int ENOTDIR = 20;
    public static final int EINVAL = 22;
    public static final int ENFILE = 23;
    public static final int EMFILE = 24;
    public static final int EPIPE = 32;
    public static final int ENAMETOOLONG = 36;
    public static final int ENOSYS = 38;
    public static final int EADDRINUSE = 98;
    public static final int ECONNRESET = 104;
    public static final int ECONNREFUSED = 111;

    private Errno() {
    }

    /**
     * {@code strerror(errno)}, e.g. "Connection refused"; "Unknown error n" when libc is not loaded, so
     * that describing a failure never fails itself.
     */
    public static String describe(int errno) {
        if (LibC.isLoaded()) {
            String text = LibC.strerror(errno);
            if (text != null) {
                return text;
            }
        }
        return "Unknown error " + errno;
    }
}
