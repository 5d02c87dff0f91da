package io.idts.channel;

import io.idts.linux.LinuxHost;
import io.netty.channel.epoll.Epoll;

/**
 * Tells whether IDTS can run on this machine, as Netty's {@code Epoll} does for its transport.
 *
 * <p>The host backend needs Linux (memfd, eventfd, abstract Unix-domain sockets, reached through JNA) and Netty's
 * native epoll, on which {@link IdtsIoHandler} blocks.
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
                    "IDTS needs Linux with memfd, eventfd and Unix-domain sockets (through JNA): " + cause.getMessage(),
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
}
