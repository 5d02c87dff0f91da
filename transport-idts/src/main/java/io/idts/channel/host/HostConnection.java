package io.idts.channel.host;

import io.idts.channel.IdtsIoHandler;
import io.idts.channel.IdtsProtocolException;
import io.idts.channel.backend.FdWatch;
import io.idts.channel.backend.MappedConnection;
import io.idts.channel.ring.RegionLayout;

import io.idts.linux.EventFd;
import io.idts.linux.FileDescriptors;
import io.idts.linux.NativeIoException;
import io.idts.linux.ReceivedMessage;
import io.idts.linux.SharedMapping;
import io.idts.linux.UnixDomainSocket;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoOps;

import java.io.IOException;

/**
 * A connection of the host backend: a memfd region mapped by both processes, one eventfd per direction of
 * notification and the rendezvous socket, kept open only so that a hang-up tells each side that the other died.
 */
public final class HostConnection extends MappedConnection {

    private final SharedMapping mapping;
    private final int waitFd;
    private final int signalFd;
    private final int socketFd;
    private final byte[] probe = new byte[1];
    private IoRegistration notificationWatch;
    private IoRegistration socketWatch;
    private Events events;
    private boolean peerGoneReported;
    private boolean closed;

    /** Takes ownership of the mapping and the three descriptors. */
    HostConnection(SharedMapping mapping, RegionLayout layout, boolean connector, int waitFd, int signalFd,
                   int socketFd) {
        super(mapping.buffer(), mapping, layout, connector);
        this.mapping = mapping;
        this.waitFd = waitFd;
        this.signalFd = signalFd;
        this.socketFd = socketFd;
    }

    /** The rendezvous socket: the handshake's reply goes on it, and its hang-up means the peer is gone. */
    int socketFd() {
        return socketFd;
    }

    @Override
    public void watch(IdtsIoHandler handler, Events events) throws Exception {
        this.events = events;
        // Edge-triggered: every eventfd write is one event, and the counter need never be read back.
        notificationWatch = new FdWatch(waitFd, ops -> events.notified())
                .register(handler, EpollIoOps.EPOLLIN.with(EpollIoOps.EPOLLET));
        if (!peerGoneReported) {
            socketWatch = new FdWatch(socketFd, ops -> onSocketReady())
                    .register(handler, EpollIoOps.EPOLLIN.with(EpollIoOps.EPOLLRDHUP));
        }
    }

    @Override
    public void unwatch() {
        if (notificationWatch != null) {
            notificationWatch.cancel();
            notificationWatch = null;
        }
        cancelSocketWatch();
    }

    private void cancelSocketWatch() {
        if (socketWatch != null) {
            socketWatch.cancel();
            socketWatch = null;
        }
    }

    /** The rendezvous socket is readable after the handshake: the peer hung up (or broke the protocol). */
    private void onSocketReady() {
        IdtsProtocolException violation = null;
        ReceivedMessage message;
        try {
            message = UnixDomainSocket.receive(socketFd, probe, 0, probe.length, 0);
        } catch (NativeIoException e) {
            message = null;
            if (e.errno() == NativeIoException.NO_ERRNO) {
                // Bytes came with descriptors (which receive() closed): a live peer broke the protocol.
                violation = new IdtsProtocolException("the peer sent data with file descriptors on the rendezvous "
                        + "socket after the handshake, where the protocol allows none (" + e.getMessage() + ')');
            }
            // Otherwise ECONNRESET and the like: the peer's end is gone, as with an orderly hang-up.
        }
        if (message != null && message.bytes() < 0) {
            return;
        }
        // Either way the socket has nothing more to say; a level-triggered watch would keep reporting it.
        cancelSocketWatch();
        if (violation == null && message != null && message.bytes() > 0) {
            violation = new IdtsProtocolException("the peer sent data on the rendezvous socket after the handshake, "
                    + "where the protocol allows none");
        }
        if (violation != null) {
            events.protocolViolation(violation);
        } else {
            peerGoneReported = true;
            events.peerGone();
        }
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
        unwatch();
        FileDescriptors.closeQuietly(waitFd);
        FileDescriptors.closeQuietly(signalFd);
        FileDescriptors.closeQuietly(socketFd);
        // Unmaps now, or when the last zero-copy view of the region is released.
        releaseRegion();
    }

    @Override
    public String toString() {
        return "HostConnection(" + (isConnector() ? "connector" : "acceptor") + ", region " + mapping.size()
                + " bytes, socket fd " + socketFd + ')';
    }
}
