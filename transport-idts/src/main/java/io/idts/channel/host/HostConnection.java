package io.idts.channel.host;

import io.idts.channel.IdtsIoHandler;
import io.idts.channel.IdtsProtocolException;
import io.idts.channel.backend.FdWatch;
import io.idts.channel.backend.MappedConnection;
import io.idts.channel.ring.RegionLayout;

import io.idts.linux.Errno;
import io.idts.linux.FileDescriptors;
import io.idts.linux.NativeIoException;
import io.idts.linux.NotificationSocket;
import io.idts.linux.ReceivedMessage;
import io.idts.linux.SharedMapping;
import io.idts.linux.UnixDomainSocket;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoOps;

import java.io.IOException;

/**
 * A connection of the host backend: a memfd region mapped by both processes, a connected socket pair for
 * notifications (one byte wakes the other end) and the rendezvous socket, kept open only so that a hang-up tells each
 * side that the other died.
 *
 * <p>Notifications never block the event loop, whatever the peer does: they are sent and drained with
 * {@code MSG_DONTWAIT}, which no file status flag can override (the peer may hold a duplicate of our end of the pair,
 * since it made the pair, and so may change its flags). Protocol version 2 used eventfds, whose writes block once the
 * peer clears {@code O_NONBLOCK} on the shared open file and fills the counter; see docs/security.md.
 */
public final class HostConnection extends MappedConnection {

    private final SharedMapping mapping;
    private final int notificationFd;
    private final int socketFd;
    private final byte[] probe = new byte[1];
    private IoRegistration notificationWatch;
    private IoRegistration socketWatch;
    private Events events;
    private boolean peerGoneReported;
    private boolean closed;

    /** Takes ownership of the mapping and the two descriptors. */
    HostConnection(SharedMapping mapping, RegionLayout layout, boolean connector, int notificationFd, int socketFd) {
        this(mapping, layout, connector, notificationFd, socketFd, null);
    }

    /**
     * Takes ownership of the mapping and the two descriptors; {@code unmapped}, if not {@code null}, runs once the
     * region is unmapped (the server's {@link SharedMemoryBudget} counts it until then). It must not throw.
     */
    HostConnection(SharedMapping mapping, RegionLayout layout, boolean connector, int notificationFd, int socketFd,
                   Runnable unmapped) {
        super(mapping.buffer(), unmapped == null ? mapping : () -> {
            mapping.close();
            unmapped.run();
        }, layout, connector);
        this.mapping = mapping;
        this.notificationFd = notificationFd;
        this.socketFd = socketFd;
    }

    /** The rendezvous socket: the handshake's reply goes on it, and its hang-up means the peer is gone. */
    int socketFd() {
        return socketFd;
    }

    @Override
    public void watch(IdtsIoHandler handler, Events events) throws Exception {
        this.events = events;
        if (!peerGoneReported) {
            // Level-triggered: each turn drains a bounded amount, so a flood of notifications cannot hold the loop.
            notificationWatch = new FdWatch(notificationFd, ops -> onNotificationReady())
                    .register(handler, EpollIoOps.EPOLLIN.with(EpollIoOps.EPOLLRDHUP));
            socketWatch = new FdWatch(socketFd, ops -> onSocketReady())
                    .register(handler, EpollIoOps.EPOLLIN.with(EpollIoOps.EPOLLRDHUP));
        }
    }

    @Override
    public void unwatch() {
        cancelNotificationWatch();
        cancelSocketWatch();
    }

    private void cancelNotificationWatch() {
        if (notificationWatch != null) {
            notificationWatch.cancel();
            notificationWatch = null;
        }
    }

    /** The notification socket is readable: the peer notified, or closed its end (it can never notify again). */
    private void onNotificationReady() {
        int drained;
        try {
            drained = NotificationSocket.drain(notificationFd);
        } catch (NativeIoException e) {
            // ECONNRESET and the like: the peer's end is gone.
            drained = 0;
        }
        if (drained < 0) {
            return;
        }
        if (drained > 0) {
            events.notified();
            return;
        }
        // A level-triggered watch would keep reporting the end of the stream.
        cancelNotificationWatch();
        reportPeerGone();
    }

    private void reportPeerGone() {
        if (!peerGoneReported) {
            peerGoneReported = true;
            cancelSocketWatch();
            events.peerGone();
        }
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
            reportPeerGone();
        }
    }

    @Override
    public void notifyPeer() throws IOException {
        try {
            NotificationSocket.signal(notificationFd);
        } catch (NativeIoException e) {
            if (e.errno() != Errno.EPIPE && e.errno() != Errno.ECONNRESET) {
                throw e;
            }
            // The peer closed its end: it closed the connection (its state says so) or died (the rendezvous socket's
            // hang-up says so). Either way there is nobody left to wake, and the channel hears of it from those.
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        unwatch();
        FileDescriptors.closeQuietly(notificationFd);
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
