package io.idts.linux;

import io.netty.util.internal.ObjectUtil;

import java.io.IOException;

/**
 * An errno failure of a named system call. The message is
 * {@code "<call> failed: <strerror text> (errno <n>)"}, followed by {@code ": <detail>"} when a detail
 * names the object involved (a socket name, an fd).
 *
 * <p>A few failures are detected by this package rather than reported by the kernel (a truncated
 * {@code SCM_RIGHTS} message, for instance); they have {@link #errno()} {@value #NO_ERRNO} and the message
 * {@code "<call> failed: <reason>"}.
 *
 * <p>Internal API.
 */
public final class NativeIoException extends IOException {

    private static final long serialVersionUID = 2986153744637123017L;

    /** {@link #errno()} of a failure that this package detected itself. */
    public static final int NO_ERRNO = 0;

    private final String call;
    private final int errno;

    public NativeIoException(String call, int errno) {
        this(call, errno, null);
    }

    /** @param detail names the object involved, or {@code null} */
    public NativeIoException(String call, int errno, String detail) {
        super(message(call, errno, detail));
        this.call = call;
        this.errno = errno;
    }

    private NativeIoException(String call, String reason) {
        super(call + " failed: " + reason);
        this.call = call;
        this.errno = NO_ERRNO;
    }

    /** A failure of {@code call} that this package detected, without an errno. */
    static NativeIoException withoutErrno(String call, String reason) {
        return new NativeIoException(call, reason);
    }

    private static String message(String call, int errno, String detail) {
        ObjectUtil.checkNotNull(call, "call");
        String base = call + " failed: " + Errno.describe(errno) + " (errno " + errno + ')';
        return detail == null ? base : base + ": " + detail;
    }

    /** The errno reported by the call, or {@link #NO_ERRNO}. */
    public int errno() {
        return errno;
    }

    /** Name of the failed system call, e.g. {@code "connect"}. */
    public String call() {
        return call;
    }
}
