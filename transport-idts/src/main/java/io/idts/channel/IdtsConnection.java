package io.idts.channel;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * One established connection as a backend hands it to {@link IdtsChannel}: the shared region and the means to
 * notify the peer and to learn of its death. This is the backend SPI; the host backend (memfd, eventfd, Unix
 * socket) implements it in {@link HostConnection}.
 */
interface IdtsConnection {

    /** The mapped shared region, native byte order, valid until {@link #close()}. */
    ByteBuffer region();

    /** The region's layout, validated once when the connection was made. */
    RegionLayout layout();

    /** {@code true} on the side that connected (it writes ring 0), {@code false} on the accepting side. */
    boolean isConnector();

    /** A descriptor that becomes readable (watched edge-triggered) when the peer notifies us. */
    int notificationFd();

    /** A descriptor whose hang-up means the peer is gone, or {@code -1} if the backend has none. */
    int livenessFd();

    /** Wakes the peer. Called only when the peer asked for it (its wake-me flag) or its state changed. */
    void notifyPeer() throws IOException;

    /** Releases every resource of the connection (mapping, descriptors). Idempotent. */
    void close();
}
