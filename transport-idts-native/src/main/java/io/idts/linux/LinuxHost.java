package io.idts.linux;

import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.util.Locale;
import java.util.Set;

/**
 * Whether the Linux primitives of the host backend work in this process: probed once, when this class
 * is initialized, without ever throwing from that initialization (callers must be able to load their
 * classes and ask, as with Netty's {@code Epoll}).
 *
 * <p>Internal API.
 */
public final class LinuxHost {

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(LinuxHost.class);

    /** os.arch values whose LP64 struct layouts and constants this package has been checked against. */
    private static final Set<String> SUPPORTED_ARCHITECTURES = Set.of("amd64", "x86_64", "aarch64");
    private static final String PROBE_NAME = "idts-probe";
    private static final int MFD_CLOEXEC = 1;
    private static final int EFD_CLOEXEC = 02000000;
    private static final int EFD_NONBLOCK = 04000;

    private static final Throwable UNAVAILABILITY_CAUSE = probe();

    private LinuxHost() {
    }

    private static Throwable probe() {
        Throwable cause;
        try {
            cause = probeOrCause();
        } catch (Throwable t) {
            // Whatever went wrong, it must be reported, not thrown out of the static initializer.
            cause = t;
        }
        if (cause == null) {
            logger.debug("IDTS Linux host primitives are available");
        } else {
            logger.debug("IDTS Linux host primitives are unavailable", cause);
        }
        return cause;
    }

    private static Throwable probeOrCause() {
        String os = System.getProperty("os.name", "");
        if (!os.toLowerCase(Locale.ROOT).startsWith("linux")) {
            return new UnsupportedOperationException(
                    "the IDTS host backend needs Linux, but os.name is '" + os + "'");
        }
        String arch = System.getProperty("os.arch", "");
        if (!SUPPORTED_ARCHITECTURES.contains(arch)) {
            return new UnsupportedOperationException("the IDTS host backend supports x86-64 and aarch64 "
                    + "(LP64 struct layouts), but os.arch is '" + arch + "'");
        }
        if (!LibC.isLoaded()) {
            return linkError("JNA cannot load libc or bind its functions: " + LibC.LOAD_FAILURE,
                    LibC.LOAD_FAILURE);
        }
        if (Stat.LOAD_FAILURE != null) {
            return linkError("libc has neither fstat nor __fxstat: " + Stat.LOAD_FAILURE, Stat.LOAD_FAILURE);
        }
        int memfd = LibC.memfd_create(LibC.cString(PROBE_NAME), MFD_CLOEXEC);
        if (memfd < 0) {
            return new NativeIoException("memfd_create", LibC.errno(), "the IDTS host backend needs memfd");
        }
        LibC.close(memfd);
        int eventfd = LibC.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (eventfd < 0) {
            return new NativeIoException("eventfd", LibC.errno(), "the IDTS host backend needs eventfd");
        }
        LibC.close(eventfd);
        return null;
    }

    private static UnsatisfiedLinkError linkError(String message, Throwable cause) {
        UnsatisfiedLinkError error = new UnsatisfiedLinkError(message);
        error.initCause(cause);
        return error;
    }

    /** Linux on x86-64/aarch64, JNA loads libc, and memfd_create and eventfd work. */
    public static boolean isAvailable() {
        return UNAVAILABILITY_CAUSE == null;
    }

    /** {@code null} if {@link #isAvailable()}; otherwise what is missing. */
    public static Throwable unavailabilityCause() {
        return UNAVAILABILITY_CAUSE;
    }

    /**
     * Throws an {@link UnsatisfiedLinkError} caused by {@link #unavailabilityCause()} unless
     * {@link #isAvailable()}. Cheap enough for every entry point: a constant check once JIT-compiled.
     */
    public static void ensureAvailability() {
        if (UNAVAILABILITY_CAUSE != null) {
            throw (Error) new UnsatisfiedLinkError(
                    "the IDTS Linux host primitives are unavailable: " + UNAVAILABILITY_CAUSE.getMessage())
                    .initCause(UNAVAILABILITY_CAUSE);
        }
    }

    /** {@code getpid()}. */
    public static int pid() {
        ensureAvailability();
        return LibC.getpid();
    }

    /** {@code getuid()}: the real uid, as an int (uid_t is unsigned 32-bit). */
    public static int uid() {
        ensureAvailability();
        return LibC.getuid();
    }
}
