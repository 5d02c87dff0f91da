package io.idts.channel.host;

import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsIoHandler;
import io.idts.channel.IdtsProtocolException;
import io.idts.channel.backend.FdWatch;
import io.idts.channel.backend.IdtsBackend;
import io.idts.channel.ring.RegionLayout;

import io.idts.linux.Errno;
import io.idts.linux.FileDescriptors;
import io.idts.linux.LinuxHost;
import io.idts.linux.MemFd;
import io.idts.linux.NativeIoException;
import io.idts.linux.PeerCredentials;
import io.idts.linux.ReceivedMessage;
import io.idts.linux.SharedMapping;
import io.idts.linux.UnixDomainSocket;
import io.netty.channel.EventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.util.concurrent.Future;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.io.IOException;
import java.net.BindException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The accepting side of the host backend: the listening rendezvous socket, accepted as long as the server has room,
 * and the acceptor's half of the handshake on each accepted socket ({@link #receiveHello(int, IdtsAddress)}).
 */
public final class HostListener implements IdtsBackend.Listener {

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(HostListener.class);

    /** Connections waiting in the kernel for accept(); bursts beyond it are retried by the connectors. */
    private static final int BACKLOG = 4096;
    private static final int REQUIRED_SEALS = MemFd.F_SEAL_SHRINK | MemFd.F_SEAL_GROW | MemFd.F_SEAL_SEAL;

    /** How many connections the listening socket hands over per turn of the event loop, before others get a go. */
    private static final int ACCEPTS_PER_TURN = 16;

    private final IdtsAddress address;
    private final int fd;
    private final IdtsIoHandler handler;
    private final EventLoop loop;
    private final IdtsBackend.ListenerEvents events;
    private final Set<PendingHandshake> handshakes = new HashSet<>();
    private IoRegistration listenWatch;
    private boolean acceptPaused;
    private boolean closed;

    private HostListener(IdtsAddress address, int fd, IdtsIoHandler handler, EventLoop loop,
                         IdtsBackend.ListenerEvents events) {
        this.address = address;
        this.fd = fd;
        this.handler = handler;
        this.loop = loop;
        this.events = events;
    }

    /**
     * Listens on {@code address}, and accepts connections on {@code loop} as long as {@code events} has room.
     *
     * @throws BindException if another server listens there already
     */
    static HostListener listen(IdtsAddress address, IdtsIoHandler handler, EventLoop loop,
                               IdtsBackend.ListenerEvents events) throws Exception {
        HostListener listener = new HostListener(address, bind(address), handler, loop, events);
        try {
            // Edge-triggered: while the server has no room, connections wait in the listening socket's backlog and
            // resume() accepts again.
            listener.listenWatch = new FdWatch(listener.fd, ops -> listener.acceptReady())
                    .register(handler, EpollIoOps.EPOLLIN.with(EpollIoOps.EPOLLET));
        } catch (Exception e) {
            listener.close();
            throw e;
        }
        return listener;
    }

    private static int bind(IdtsAddress address) throws IOException {
        try {
            return UnixDomainSocket.listen(address.abstractSocketName(), BACKLOG);
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

    /** The listening socket is readable: takes connections from it and starts their handshakes, room permitting. */
    private void acceptReady() {
        if (closed) {
            return;
        }
        boolean drained = false;
        try {
            for (int i = 0; i < ACCEPTS_PER_TURN; i++) {
                if (events.room() - handshakes.size() <= 0) {
                    // The rest waits in the socket's backlog; resume() comes back when room comes free.
                    acceptPaused = true;
                    return;
                }
                int socket = UnixDomainSocket.accept(fd);
                if (socket < 0) {
                    drained = true;
                    break;
                }
                startHandshake(socket);
            }
        } catch (IOException e) {
            drained = true;
            events.failed(e);
        }
        if (!drained && !closed) {
            // A burst larger than one turn's worth may still wait, and no new edge will tell us.
            loop.execute(this::acceptReady);
        }
    }

    @Override
    public void resume() {
        if (acceptPaused && !closed && events.room() - handshakes.size() > 0) {
            acceptPaused = false;
            loop.execute(this::acceptReady);
        }
    }

    private void startHandshake(int socket) {
        PendingHandshake handshake = new PendingHandshake(socket);
        try {
            handshake.watch = new FdWatch(socket, ops -> handshake.ready())
                    .register(handler, EpollIoOps.EPOLLIN.with(EpollIoOps.EPOLLRDHUP));
        } catch (Exception e) {
            logger.warn("Could not watch an accepted IDTS connection on {}", address, e);
            FileDescriptors.closeQuietly(socket);
            return;
        }
        handshake.timeout = loop.schedule(handshake::expire, HostHandshake.HELLO_TIMEOUT_MILLIS,
                TimeUnit.MILLISECONDS);
        handshakes.add(handshake);
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (listenWatch != null) {
            listenWatch.cancel();
            listenWatch = null;
        }
        FileDescriptors.closeQuietly(fd);
        for (PendingHandshake handshake : new ArrayList<>(handshakes)) {
            handshake.abort();
        }
    }

    /** An accepted socket whose HELLO has not arrived yet. */
    private final class PendingHandshake {
        private final int socket;
        IoRegistration watch;
        Future<?> timeout;

        PendingHandshake(int socket) {
            this.socket = socket;
        }

        void ready() {
            HostAcceptedConnection accepted;
            try {
                accepted = receiveHello(socket, address);
                if (accepted == null) {
                    return;
                }
            } catch (HostHandshake.Rejection | IOException e) {
                logger.debug("IDTS handshake on {} failed: {}", address, e.getMessage());
                abort();
                return;
            }
            finish();
            events.accepted(accepted);
        }

        void expire() {
            if (handshakes.contains(this)) {
                logger.warn("Dropped a connection to {}: no IDTS handshake within {} ms", address,
                        HostHandshake.HELLO_TIMEOUT_MILLIS);
                abort();
            }
        }

        /** The connection owns the socket now: stop watching it, keep it open. */
        private void finish() {
            handshakes.remove(this);
            watch.cancel();
            timeout.cancel(false);
        }

        void abort() {
            finish();
            FileDescriptors.closeQuietly(socket);
            resume();
        }
    }

    /**
     * A HELLO taken in: the connection it set up and the connector's address. The connector waits for
     * {@link #confirm()}, sent once this side has taken over its lines of the region and is {@code OPEN}.
     */
    static final class HostAcceptedConnection extends IdtsBackend.AcceptedConnection {
        private static final byte[] ACCEPTED_REPLY = { HostHandshake.ACCEPTED };
        private static final int[] NO_FDS = new int[0];

        private final HostConnection connection;

        HostAcceptedConnection(HostConnection connection, IdtsAddress peerAddress) {
            super(connection, peerAddress);
            this.connection = connection;
        }

        /** Sends the ACCEPTED reply that makes the connector's channel active. */
        @Override
        public void confirm() throws IOException {
            if (UnixDomainSocket.send(connection.socketFd(), ACCEPTED_REPLY, 0, 1, NO_FDS) != 1) {
                throw new IOException("could not send the IDTS handshake reply");
            }
        }
    }

    /**
     * Runs the acceptor's half of the handshake on an accepted socket once it is readable: reads the HELLO with its
     * descriptors, checks everything the connector sent and maps the region; a rejection is replied at once, the
     * acceptance by {@link HostAcceptedConnection#confirm()}. On success the connection owns the socket; on any
     * failure the caller closes the socket.
     *
     * @return the connection, or {@code null} if the HELLO has not arrived yet
     * @throws HostHandshake.Rejection if the HELLO was refused (the rejection code was sent back)
     * @throws IOException if the connector hung up or the socket failed
     */
    static HostAcceptedConnection receiveHello(int socketFd, IdtsAddress local)
            throws IOException, HostHandshake.Rejection {
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
            return new HostAcceptedConnection(connection, local.sibling(peerName));
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
