package io.idts.channel.backend;

import io.idts.channel.IdtsChannel;
import io.idts.channel.IdtsIoHandler;
import io.idts.channel.IdtsProtocolException;
import io.idts.channel.host.HostConnection;
import io.idts.channel.ring.RegionLayout;
import io.idts.channel.xen.XenConnection;

import io.netty.util.ReferenceCounted;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * One established connection as a backend hands it to {@link IdtsChannel}: the shared region and the means to
 * notify the peer and to learn of its death. This is the backend SPI's connection (see {@link IdtsBackend}); the
 * host backend (memfd, Unix sockets) implements it in {@link HostConnection}, the Xen backend (grant-shared
 * pages, an event channel, XenStore) in {@link XenConnection}.
 */
public interface IdtsConnection {

    /**
     * The mapped shared region, native byte order, valid while {@link #regionLifetime()} is held: until
     * {@link #close()} and the release of every reference taken on it.
     */
    ByteBuffer region();

    /**
     * The reference count that keeps the region mapped. The connection holds one reference, dropped by
     * {@link #close()}; whoever hands out memory of the region beyond the channel's life (a zero-copy view, a
     * transmit claim) retains it first and releases it when that memory is given back. The last release unmaps.
     */
    ReferenceCounted regionLifetime();

    /** The region's layout, validated once when the connection was made. */
    RegionLayout layout();

    /** {@code true} on the side that connected (it writes ring 0), {@code false} on the accepting side. */
    boolean isConnector();

    /**
     * Starts reporting the peer's notifications and its death to {@code events}, on the event loop of
     * {@code handler}, whose channel owns this connection now. Called once the channel is registered.
     */
    void watch(IdtsIoHandler handler, Events events) throws Exception;

    /** Stops reporting events; {@link #watch} may be called again (the channel moved to another loop). */
    void unwatch();

    /** Wakes the peer. Called only when the peer asked for it (its wake-me flag) or its state changed. */
    void notifyPeer() throws IOException;

    /**
     * Releases every resource of the connection: closes the descriptors and drops the connection's reference to the
     * region (which unmaps it unless views still hold it). Idempotent.
     */
    void close();

    /** What a connection reports to its channel. */
    interface Events {
        /** The peer notified: its ring state changed, or it published bytes or space we asked to hear of. */
        void notified();

        /**
         * The peer is gone without closing its side of the region in order: its process or domain ended. Reported
         * once. The channel reads what the ring still holds and closes.
         */
        void peerGone();

        /** The peer broke the protocol outside the rings (the handshake's rendezvous, say). */
        void protocolViolation(IdtsProtocolException cause);
    }
}
