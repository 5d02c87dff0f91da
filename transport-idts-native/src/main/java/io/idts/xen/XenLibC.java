package io.idts.xen;

import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;

/**
 * The few libc functions the Xen bindings need ({@code free} for what libxenstore allocates, {@code poll}
 * for waits with a timeout), bound with JNA direct mapping when this class is initialized.
 *
 * <p>Internal API.
 */
final class XenLibC {

    static final Throwable LOAD_FAILURE = register();

    static final short POLLIN = 1;

    private XenLibC() {
    }

    private static Throwable register() {
        try {
            com.sun.jna.Native.register(XenLibC.class, NativeLibrary.getInstance(Platform.C_LIBRARY_NAME));
            return null;
        } catch (Throwable t) {
            return t;
        }
    }

    static native void free(long ptr);

    /** {@code fds}: {@code struct pollfd[]} as ints: fd, then events (low 16 bits) | revents (high 16 bits). */
    static native int poll(int[] fds, long nfds, int timeout);

    /**
     * Waits until {@code fd} is readable.
     *
     * @return whether it is, false on timeout
     */
    static boolean awaitReadable(int fd, long timeoutMillis, String what) throws io.idts.linux.NativeIoException {
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
        for (;;) {
            long left = Math.max(0, (deadline - System.nanoTime()) / 1_000_000L);
            int[] pollfd = {fd, POLLIN};
            int n = poll(pollfd, 1, (int) Math.min(Integer.MAX_VALUE, left));
            if (n > 0) {
                return true;
            }
            if (n == 0) {
                if (System.nanoTime() - deadline >= 0) {
                    return false;
                }
                continue;
            }
            int errno = XenNative.errno();
            if (errno != io.idts.linux.Errno.EINTR) {
                throw new io.idts.linux.NativeIoException("poll", errno, what);
            }
        }
    }
}
