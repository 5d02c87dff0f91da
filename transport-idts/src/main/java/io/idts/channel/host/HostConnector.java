package io.idts.channel.host;

import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsIoHandler;
import io.idts.channel.backend.FdWatch;
import io.idts.channel.backend.IdtsBackend;
import io.idts.channel.ring.RegionLayout;

import io.idts.linux.Errno;
import io.idts.linux.EventFd;
import io.idts.linux.FileDescriptors;
import io.idts.linux.LinuxHost;
import io.idts.linux.MemFd;
import io.idts.linux.NativeIoException;
import io.idts.linux.PeerCredentials;
import io.idts.linux.ReceivedMessage;
import io.idts.linux.SharedMapping;
import io.idts.linux.UnixDomainSocket;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoOps;

import java.io.IOException;
import java.net.ConnectException;

/**
 * The connecting side of the host backend's handshake: connects to the acceptor's rendezvous socket, makes the
 * region and the two eventfds, sends the HELLO that carries them, and turns the acceptor's reply into a
 * {@link HostConnection}.
 */
public final class HostConnector implements IdtsBackend.PendingConnect {

    private final IdtsAddress remote;
    private IoRegistration socketWatch;
    private int socketFd = -1;
    private int toAcceptorFd = -1;
    private int toConnectorFd = -1;
    private SharedMapping mapping;
    private RegionLayout layout;
    private final byte[] reply = new byte[1];

    private HostConnector(IdtsAddress remote) {
        this.remote = remote;
    }

    /**
     * Connects to {@code remote} and sends the HELLO, naming this side {@code local}.
     *
     * {@code progress} runs on the loop when the acceptor replied or hung up.
     *
     * @throws ConnectException if nobody listens on {@code remote} ({@link IdtsBackend.BacklogFullException} if its
     *                          backlog is full), with a message naming the address
     */
    static HostConnector start(IdtsAddress remote, IdtsAddress local, int ringCapacity, IdtsIoHandler handler,
                               Runnable progress) throws Exception {
        HostConnector connector = new HostConnector(remote);
        boolean success = false;
        try {
            connector.connectAndSendHello(local, ringCapacity);
            connector.socketWatch = new FdWatch(connector.socketFd, ops -> progress.run())
                    .register(handler, EpollIoOps.EPOLLIN.with(EpollIoOps.EPOLLRDHUP));
            success = true;
            return connector;
        } finally {
            if (!success) {
                connector.close();
            }
        }
    }

    private void connectAndSendHello(IdtsAddress local, int ringCapacity) throws IOException {
        try {
            socketFd = UnixDomainSocket.connect(remote.abstractSocketName());
        } catch (NativeIoException e) {
            if (e.errno() == Errno.ECONNREFUSED) {
                ConnectException refused = new ConnectException("connection refused: nobody listens on IDTS address "
                        + remote + " (start the server first, and check that both sides use the same rendezvous "
                        + "directory and run as the same user)");
                refused.initCause(e);
                throw refused;
            }
            if (e.errno() == Errno.EAGAIN) {
                IdtsBackend.BacklogFullException busy = new IdtsBackend.BacklogFullException(
                        "the server at IDTS address " + remote + " has a full connection backlog");
                busy.initCause(e);
                throw busy;
            }
            throw e;
        }
        // Abstract socket names carry no permissions: another user could have taken the name first. Check whom we
        // reached before handing it our memory.
        PeerCredentials peer = UnixDomainSocket.peerCredentials(socketFd);
        if (peer.uid() != LinuxHost.uid()) {
            throw new ConnectException("refusing to connect to IDTS address " + remote + ": its listener (process "
                    + peer.pid() + ") runs as uid " + peer.uid() + ", this process as uid " + LinuxHost.uid()
                    + "; IDTS connects processes of the same user only");
        }
        long size = RegionLayout.regionSize(ringCapacity, ringCapacity);
        int memfd = MemFd.createSealed("idts:" + remote.service(), size);
        try {
            mapping = SharedMapping.map(memfd, size);
            layout = RegionLayout.initialize(mapping.buffer(), ringCapacity, ringCapacity);
            toAcceptorFd = EventFd.create();
            toConnectorFd = EventFd.create();
            byte[] hello = HostHandshake.encodeHello(local.service());
            int[] fds = new int[HostHandshake.FD_COUNT];
            fds[HostHandshake.FD_REGION] = memfd;
            fds[HostHandshake.FD_TO_ACCEPTOR] = toAcceptorFd;
            fds[HostHandshake.FD_TO_CONNECTOR] = toConnectorFd;
            int sent;
            try {
                sent = UnixDomainSocket.send(socketFd, hello, 0, hello.length, fds);
            } catch (NativeIoException e) {
                if (e.errno() != Errno.EPIPE && e.errno() != Errno.ECONNRESET) {
                    throw e;
                }
                // The kernel queued our connect, then the server's process exited (or closed its socket) before it
                // took the connection in.
                ConnectException gone = new ConnectException("the server at IDTS address " + remote + " closed the "
                        + "connection before the handshake (its process may have exited): connect again once it runs");
                gone.initCause(e);
                throw gone;
            }
            if (sent != hello.length) {
                // A fresh local socket always has room for a few dozen bytes; anything else is a broken socket.
                throw new ConnectException("could not send the IDTS handshake to " + remote + " (" + sent + " of "
                        + hello.length + " bytes sent)");
            }
        } finally {
            // The acceptor received its own copy of the descriptor; the mapping keeps the memory alive for us.
            FileDescriptors.closeQuietly(memfd);
        }
    }

    /**
     * Reads the acceptor's reply.
     *
     * @return the established connection, or {@code null} if the reply has not arrived yet
     * @throws ConnectException if the acceptor rejected the connection or hung up
     */
    @Override
    public HostConnection finish() throws IOException {
        ReceivedMessage message;
        try {
            message = UnixDomainSocket.receive(socketFd, reply, 0, reply.length, 0);
        } catch (NativeIoException e) {
            ConnectException failed = new ConnectException("IDTS handshake with " + remote + " failed: "
                    + e.getMessage());
            failed.initCause(e);
            throw failed;
        }
        if (message.bytes() < 0) {
            return null;
        }
        if (message.bytes() == 0) {
            throw new ConnectException("the server at IDTS address " + remote
                    + " closed the connection during the handshake (it may be shutting down)");
        }
        if (reply[0] != HostHandshake.ACCEPTED) {
            throw new ConnectException("connection to IDTS address " + remote + " refused: "
                    + HostHandshake.describeReply(reply[0]));
        }
        // The connection watches the socket from now on, for the acceptor's hang-up.
        cancelWatch();
        HostConnection connection =
                new HostConnection(mapping, layout, true, toConnectorFd, toAcceptorFd, socketFd);
        // The connection owns them now.
        mapping = null;
        socketFd = -1;
        toAcceptorFd = -1;
        toConnectorFd = -1;
        return connection;
    }

    private void cancelWatch() {
        if (socketWatch != null) {
            socketWatch.cancel();
            socketWatch = null;
        }
    }

    /** Abandons the attempt, releasing whatever it made. Idempotent. */
    @Override
    public void close() {
        cancelWatch();
        if (mapping != null) {
            mapping.close();
            mapping = null;
        }
        FileDescriptors.closeQuietly(socketFd);
        FileDescriptors.closeQuietly(toAcceptorFd);
        FileDescriptors.closeQuietly(toConnectorFd);
        socketFd = -1;
        toAcceptorFd = -1;
        toConnectorFd = -1;
    }
}
