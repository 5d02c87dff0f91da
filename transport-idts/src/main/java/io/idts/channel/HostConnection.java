package io.idts.channel;

import io.idts.linux.EventFd;
import io.idts.linux.FileDescriptors;
import io.idts.linux.SharedMapping;
import io.netty.util.ReferenceCounted;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A connection of the host backend: a memfd region mapped by both processes, one eventfd per direction of
 * notification and the rendezvous socket, kept open only so that a hang-up tells each side that the other died.
 */
final class HostConnection implements IdtsConnection {

    private final SharedMapping mapping;
    private final SharedRegion lifetime;
    private final RegionLayout layout;
    private final boolean connector;
    private final int waitFd;
    private final int signalFd;
    private final int socketFd;
    private boolean closed;

    /** Takes ownership of the mapping and the three descriptors. */
    HostConnection(SharedMapping mapping, RegionLayout layout, boolean connector, int waitFd, int signalFd,
                   int socketFd) {
        this.mapping = mapping;
        this.lifetime = new SharedRegion(mapping);
        this.layout = layout;
        this.connector = connector;
        this.waitFd = waitFd;
        this.signalFd = signalFd;
        this.socketFd = socketFd;
    }

    @Override
    public ByteBuffer region() {
        return mapping.buffer();
    }

    @Override
    public ReferenceCounted regionLifetime() {
        return lifetime;
    }

    @Override
    public RegionLayout layout() {
        return layout;
    }

    @Override
    public boolean isConnector() {
        return connector;
    }

    @Override
    public int notificationFd() {
        return waitFd;
    }

    @Override
    public int livenessFd() {
        return socketFd;
    }

    @Override
    public void notifyPeer() throws IOException {
        EventFd.signal(signalFd);
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        FileDescriptors.closeQuietly(waitFd);
        FileDescriptors.closeQuietly(signalFd);
        FileDescriptors.closeQuietly(socketFd);
        // Unmaps now, or when the last zero-copy view of the region is released.
        lifetime.release();
    }

    @Override
    public String toString() {
        return "HostConnection(" + (connector ? "connector" : "acceptor") + ", region " + mapping.size()
                + " bytes, socket fd " + socketFd + ')';
    }
}
