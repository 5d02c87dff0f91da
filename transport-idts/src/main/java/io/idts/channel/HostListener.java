package io.idts.channel;

import io.idts.linux.Errno;
import io.idts.linux.FileDescriptors;
import io.idts.linux.LinuxHost;
import io.idts.linux.MemFd;
import io.idts.linux.NativeIoException;
import io.idts.linux.PeerCredentials;
import io.idts.linux.ReceivedMessage;
import io.idts.linux.SharedMapping;
import io.idts.linux.UnixDomainSocket;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.io.IOException;
import java.net.BindException;

/**
 * The accepting side of the host backend: the listening rendezvous socket, and the acceptor's half of the
 * handshake on each accepted socket ({@link #receiveHello(int)}).
 */
final class HostListener {

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(HostListener.class);

    /** Connections waiting in the kernel for accept(); bursts beyond it are retried by the connectors. */
    private static final int BACKLOG = 4096;
    private static final int REQUIRED_SEALS = MemFd.F_SEAL_SHRINK | MemFd.F_SEAL_GROW | MemFd.F_SEAL_SEAL;

    private final IdtsAddress address;
    private final int fd;

    private HostListener(IdtsAddress address, int fd) {
        this.address = address;
        this.fd = fd;
    }

    /**
     * Listens on {@code address}.
     *
     * @throws BindException if another server listens there already
     */
    static HostListener listen(IdtsAddress address) throws IOException {
        try {
            return new HostListener(address, UnixDomainSocket.listen(address.abstractSocketName(), BACKLOG));
        } catch (NativeIoException e) {
            if (e.errno() == Errno.EADDRINUSE) {
                BindException inUse = new BindException("IDTS address " + address
                        + " is already in use: another server listens on it");
                inUse.initCause(e);
                throw inUse;
            }
            throw e;
        }
    }

    /** The listening socket, readable when connections wait. */
    int fd() {
        return fd;
    }

    /** Accepts one waiting connection: its socket, or {@code -1} if none waits. */
    int accept() throws IOException {
        return UnixDomainSocket.accept(fd);
    }

    void close() {
        FileDescriptors.closeQuietly(fd);
    }

    /**
     * A HELLO taken in: the connection it set up and the connector's local service name. The connector waits for
     * {@link #confirm()}, sent once this side has taken over its lines of the region and is {@code OPEN}.
     */
    static final class Accepted {
        private static final byte[] ACCEPTED_REPLY = { HostHandshake.ACCEPTED };
        private static final int[] NO_FDS = new int[0];

        final HostConnection connection;
        final String peerName;

        Accepted(HostConnection connection, String peerName) {
            this.connection = connection;
            this.peerName = peerName;
        }

        /** Sends the ACCEPTED reply that makes the connector's channel active. */
        void confirm() throws IOException {
            if (UnixDomainSocket.send(connection.livenessFd(), ACCEPTED_REPLY, 0, 1, NO_FDS) != 1) {
                throw new IOException("could not send the IDTS handshake reply");
            }
        }
    }

    /**
     * Runs the acceptor's half of the handshake on an accepted socket once it is readable: reads the HELLO with its
     * descriptors, checks everything the connector sent and maps the region; a rejection is replied at once, the
     * acceptance by {@link Accepted#confirm()}. On success the connection owns the socket; on any failure the caller
     * closes the socket.
     *
     * @return the connection, or {@code null} if the HELLO has not arrived yet
     * @throws HostHandshake.Rejection if the HELLO was refused (the rejection code was sent back)
     * @throws IOException if the connector hung up or the socket failed
     */
    static Accepted receiveHello(int socketFd) throws IOException, HostHandshake.Rejection {
        byte[] hello = new byte[HostHandshake.HELLO_MAX_SIZE];
        ReceivedMessage message =
                UnixDomainSocket.receive(socketFd, hello, 0, hello.length, HostHandshake.FD_COUNT);
        if (message.bytes() < 0) {
            return null;
        }
        int[] fds = message.fds();
        SharedMapping mapping = null;
        boolean success = false;
        try {
            if (message.bytes() == 0) {
                throw new IOException("the connecting process hung up before its IDTS handshake");
            }
            PeerCredentials peer = UnixDomainSocket.peerCredentials(socketFd);
            if (peer.uid() != LinuxHost.uid()) {
                throw new HostHandshake.Rejection(HostHandshake.PERMISSION_DENIED, "process " + peer.pid()
                        + " of uid " + peer.uid() + " may not connect to a server of uid " + LinuxHost.uid());
            }
            String peerName = HostHandshake.decodeHello(hello, message.bytes());
            if (fds.length != HostHandshake.FD_COUNT) {
                throw new HostHandshake.Rejection(HostHandshake.BAD_HELLO, "HELLO carries " + fds.length
                        + " descriptors instead of " + HostHandshake.FD_COUNT);
            }
            int regionFd = fds[HostHandshake.FD_REGION];
            int toAcceptorFd = fds[HostHandshake.FD_TO_ACCEPTOR];
            int toConnectorFd = fds[HostHandshake.FD_TO_CONNECTOR];
            checkSeals(regionFd);
            long size = FileDescriptors.size(regionFd);
            long maxSize = RegionLayout.regionSize(RegionLayout.MAX_RING_CAPACITY, RegionLayout.MAX_RING_CAPACITY);
            long minSize = RegionLayout.regionSize(RegionLayout.MIN_RING_CAPACITY, RegionLayout.MIN_RING_CAPACITY);
            if (size < minSize || size > maxSize) {
                throw new HostHandshake.Rejection(HostHandshake.BAD_REGION, "region of " + size
                        + " bytes is outside [" + minSize + ", " + maxSize + ']');
            }
            if (!FileDescriptors.isEventFd(toAcceptorFd) || !FileDescriptors.isEventFd(toConnectorFd)) {
                throw new HostHandshake.Rejection(HostHandshake.BAD_HELLO, "notification descriptors are not "
                        + "eventfds: " + FileDescriptors.describe(toAcceptorFd) + ", "
                        + FileDescriptors.describe(toConnectorFd));
            }
            // The connector made them non-blocking, but it is untrusted: a blocking write would stall our loop.
            FileDescriptors.setNonBlocking(toAcceptorFd);
            FileDescriptors.setNonBlocking(toConnectorFd);
            mapping = SharedMapping.map(regionFd, size);
            RegionLayout layout;
            try {
                layout = RegionLayout.validate(mapping.buffer());
            } catch (IdtsProtocolException e) {
                throw new HostHandshake.Rejection(HostHandshake.BAD_REGION, e.getMessage());
            }
            HostConnection connection =
                    new HostConnection(mapping, layout, false, toAcceptorFd, toConnectorFd, socketFd);
            FileDescriptors.closeQuietly(regionFd);
            success = true;
            return new Accepted(connection, peerName);
        } catch (HostHandshake.Rejection rejection) {
            byte[] code = { rejection.code() };
            try {
                UnixDomainSocket.send(socketFd, code, 0, 1, new int[0]);
            } catch (IOException e) {
                logger.debug("Could not send IDTS rejection code {}", rejection.code(), e);
            }
            logger.warn("Rejected an IDTS connection: {}", rejection.getMessage());
            throw rejection;
        } catch (NativeIoException e) {
            throw new IOException("IDTS handshake failed: " + e.getMessage(), e);
        } finally {
            if (!success) {
                if (mapping != null) {
                    mapping.close();
                }
                for (int fd : fds) {
                    FileDescriptors.closeQuietly(fd);
                }
            }
        }
    }

    private static void checkSeals(int regionFd) throws HostHandshake.Rejection {
        int seals;
        try {
            seals = MemFd.seals(regionFd);
        } catch (NativeIoException e) {
            throw new HostHandshake.Rejection(HostHandshake.BAD_REGION, "region descriptor is not a memfd ("
                    + FileDescriptors.describe(regionFd) + "): " + e.getMessage());
        }
        if ((seals & REQUIRED_SEALS) != REQUIRED_SEALS) {
            // Without these seals the connector could shrink the file under our mapping: SIGBUS, a JVM crash.
            throw new HostHandshake.Rejection(HostHandshake.BAD_REGION, "region memfd is not sealed against "
                    + "shrinking and growing (seals 0x" + Integer.toHexString(seals) + ')');
        }
    }

    @Override
    public String toString() {
        return "HostListener(" + address + ", fd " + fd + ')';
    }
}
