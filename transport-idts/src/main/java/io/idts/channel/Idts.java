package io.idts.channel;

import io.idts.channel.ring.RingReader;
import io.idts.linux.LinuxHost;
import io.idts.xen.XenHost;
import io.netty.channel.epoll.Epoll;

/**
 * Tells whether IDTS can run on this machine, as Netty's {@code Epoll} does for its transport.
 *
 * <p>The host backend needs Linux (memfd, abstract Unix-domain sockets, reached through JNA) and Netty's
 * native epoll, on which {@link IdtsIoHandler} blocks: {@link #isAvailable()}. The Xen backend needs all that, inside
 * a Xen domain, plus Xen's devices and libraries: {@link #isXenAvailable()}.
 */
public final class Idts {

    private static final Throwable UNAVAILABILITY_CAUSE = probe();

    private Idts() {
    }

    private static Throwable probe() {
        Throwable cause;
        try {
            cause = LinuxHost.unavailabilityCause();
        } catch (Throwable t) {
            cause = t;
        }
        if (cause != null) {
            return new UnsupportedOperationException(
                    "IDTS needs Linux with memfd and Unix-domain sockets (through JNA): " + cause.getMessage(),
                    cause);
        }
        if (!Epoll.isAvailable()) {
            Throwable epollCause = Epoll.unavailabilityCause();
            return new UnsupportedOperationException(
                    "IDTS needs Netty's native epoll (io.netty:netty-transport-native-epoll for this platform): "
                            + (epollCause == null ? "unavailable" : epollCause.getMessage()), epollCause);
        }
        return null;
    }

    /** Returns {@code true} if IDTS channels can be used on this machine. */
    public static boolean isAvailable() {
        return UNAVAILABILITY_CAUSE == null;
    }

    /**
     * Throws the reason IDTS cannot be used if {@link #isAvailable()} is {@code false}.
     *
     * @throws UnsupportedOperationException whose message says what is missing
     */
    public static void ensureAvailability() {
        if (UNAVAILABILITY_CAUSE != null) {
            throw (UnsupportedOperationException) new UnsupportedOperationException(
                    UNAVAILABILITY_CAUSE.getMessage()).initCause(UNAVAILABILITY_CAUSE);
        }
    }

    /** Returns why IDTS cannot be used, or {@code null} if it can. */
    public static Throwable unavailabilityCause() {
        return UNAVAILABILITY_CAUSE;
    }

    /**
     * Returns {@code true} if channels with {@link IdtsAddress#xen(int, String) Xen addresses} can be used here: IDTS
     * is available, this is a Xen domain, and Xen's devices ({@code /dev/xen/gntdev}, {@code gntalloc},
     * {@code evtchn}, XenStore) and libraries ({@code libxengnttab}, {@code libxenevtchn}, {@code libxenstore}) are
     * there and accessible.
     */
    public static boolean isXenAvailable() {
        return xenUnavailabilityCause() == null;
    }

    /**
     * Throws the reason the Xen backend cannot be used if {@link #isXenAvailable()} is {@code false}.
     *
     * @throws UnsupportedOperationException whose message names what is missing
     */
    public static void ensureXenAvailability() {
        Throwable cause = xenUnavailabilityCause();
        if (cause != null) {
            throw (UnsupportedOperationException) new UnsupportedOperationException(
                    "the IDTS Xen backend cannot run here: " + cause.getMessage()).initCause(cause);
        }
    }

    /** Returns why the Xen backend cannot be used (a missing device or library, say), or {@code null} if it can. */
    public static Throwable xenUnavailabilityCause() {
        return UNAVAILABILITY_CAUSE != null ? UNAVAILABILITY_CAUSE : XenHost.unavailabilityCause();
    }

    /**
     * Returns {@code true} if receivers write a fast stream's slices back from their CPU's caches before they give
     * them back to the sender, which then rewrites them without taking each line back from the receiver's cores (on
     * the development machine, one-way streams 1.5 to 2 times as fast when the two processes ran on different core
     * groups: docs/benchmarks.md). It needs the JVM option {@code --add-exports java.base/jdk.internal.misc=ALL-UNNAMED}
     * (the JDK's writeback of cache lines is internal) and is on wherever that option is given, unless
     * {@code -Dio.idts.cacheLineWriteback=false}. Without it every channel works the same, only slower.
     */
    public static boolean isCacheLineWritebackAvailable() {
        return RingReader.writesBackFastSlices();
    }
}
