package io.idts.channel.host;

import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsIoHandler;
import io.idts.channel.IdtsServerChannelConfig;
import io.idts.channel.backend.FdWatch;
import io.idts.channel.backend.IdtsBackend;

import io.idts.linux.Errno;
import io.idts.linux.FileDescriptors;
import io.idts.linux.LinuxHost;
import io.idts.linux.NativeIoException;
import io.idts.linux.PeerCredentials;
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
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The accepting side of the host backend: the listening rendezvous socket, accepted as long as the server has room,
 * and the acceptor's half of the handshake ({@link HostHandshake#accept}) run on each accepted socket once its HELLO
 * arrives.
 *
 * <p>Every connecting process is untrusted (docs/security.md). Nothing it does reaches the event loop as an exception:
 * a handshake that fails for any reason answers the connector with a reply code when it can, releases what it took
 * and logs the reason, at warning level once per process. The limits of {@link IdtsServerChannelConfig} bound what
 * one process or user may make the server hold: pending handshakes per process, ring capacity, shared memory per user.
 */
public final class HostListener implements IdtsBackend.Listener {

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(HostListener.class);

    /** Connections waiting in the kernel for accept(); bursts beyond it are retried by the connectors. */
    private static final int BACKLOG = 4096;

    /** How many connections the listening socket hands over per turn of the event loop, before others get a go. */
    private static final int ACCEPTS_PER_TURN = 16;

    /**
     * How long accepting pauses after the process ran out of descriptors ({@code EMFILE}, {@code ENFILE}). The
     * listening socket is edge-triggered and the connections stay queued, so nothing would wake it again: it retries
     * on a timer instead, as Netty's server channels do through {@code ServerBootstrap}'s one-second pause.
     */
    private static final long DESCRIPTOR_RETRY_MILLIS = 100;

    /** How many processes' rejections are remembered, so that each is logged at warning level once. */
    private static final int WARNED_PROCESSES = 1024;

    private static final int[] NO_FDS = new int[0];
    private static final Runnable NOTHING_TO_UNDO = () -> { };

    private final IdtsAddress address;
    private final int fd;
    private final IdtsIoHandler handler;
    private final EventLoop loop;
    private final IdtsBackend.ListenerEvents events;
    private final Set<PendingHandshake> handshakes = new HashSet<>();
    /** Pending handshakes per connecting process id. */
    private final Map<Integer, Integer> pendingPerProcess = new HashMap<>();
    private final SharedMemoryBudget sharedMemory = new SharedMemoryBudget();
    /** Processes whose rejection was logged at warning level already (the oldest forgotten first). */
    private final Map<Integer, Boolean> warnedProcesses = new LinkedHashMap<Integer, Boolean>() {
        private static final long serialVersionUID = 1L;

        @Override
        protected boolean removeEldestEntry(Map.Entry<Integer, Boolean> eldest) {
            return size() > WARNED_PROCESSES;
        }
    };
    private IoRegistration listenWatch;
    private boolean acceptPaused;
    private boolean outOfDescriptors;
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
                if (outOfDescriptors) {
                    outOfDescriptors = false;
                    logger.info("{} accepts IDTS connections again: descriptors came free", this);
                }
                startHandshake(socket);
            }
        } catch (NativeIoException e) {
            if (e.errno() == Errno.EMFILE || e.errno() == Errno.ENFILE) {
                outOfDescriptors(e);
                return;
            }
            drained = true;
            events.failed(e);
        }
        if (!drained && !closed) {
            // A burst larger than one turn's worth may still wait, and no new edge will tell us.
            loop.execute(this::acceptReady);
        }
    }

    /**
     * accept4 found no free descriptor: the connection stays queued, and no new edge may ever come. Retries on a
     * timer until descriptors come free; warns once per shortage, not once per retry.
     */
    private void outOfDescriptors(NativeIoException e) {
        if (!outOfDescriptors) {
            outOfDescriptors = true;
            logger.warn("{} cannot accept IDTS connections: the process has no free file descriptor ({}); the "
                    + "connections wait in the backlog and are accepted as soon as descriptors come free (raise the "
                    + "limit, ulimit -n, or close connections)", this, e.getMessage());
        }
        loop.schedule(this::acceptReady, DESCRIPTOR_RETRY_MILLIS, TimeUnit.MILLISECONDS);
    }

    @Override
    public void resume() {
        if (acceptPaused && !closed && events.room() - handshakes.size() > 0) {
            acceptPaused = false;
            loop.execute(this::acceptReady);
        }
    }

    /**
     * Checks who connected, then takes the HELLO at once if it is there (a well-behaved connector sends it right
     * after connecting); otherwise the socket waits for it, within the process's share of handshake slots.
     */
    private void startHandshake(int socket) {
        PeerCredentials peer;
        try {
            peer = UnixDomainSocket.peerCredentials(socket);
        } catch (NativeIoException e) {
            logger.debug("Dropped a connection to {}: no peer credentials: {}", address, e.getMessage());
            FileDescriptors.closeQuietly(socket);
            return;
        }
        if (peer.uid() != LinuxHost.uid()) {
            // Refused before its HELLO is read: a foreign user can never connect, so it holds no slot either.
            refuse(socket, peer, new HostHandshake.Rejection(HostHandshake.PERMISSION_DENIED, "process "
                    + peer.pid() + " of uid " + peer.uid() + " may not connect to a server of uid " + LinuxHost.uid()));
            return;
        }
        if (receive(socket, peer, NOTHING_TO_UNDO)) {
            return;
        }
        IdtsServerChannelConfig config = events.config();
        int pending = pendingPerProcess.getOrDefault(peer.pid(), 0);
        if (pending >= config.getMaxPendingHandshakesPerProcess()) {
            refuse(socket, peer, new HostHandshake.Rejection(HostHandshake.TOO_MANY_HANDSHAKES, "process "
                    + peer.pid() + " has " + pending + " connections whose handshake has not arrived, the most "
                    + "the server allows one process (MAX_PENDING_HANDSHAKES_PER_PROCESS)"));
            return;
        }
        PendingHandshake handshake = new PendingHandshake(socket, peer);
        try {
            handshake.watch = new FdWatch(socket, ops -> handshake.ready())
                    .register(handler, EpollIoOps.EPOLLIN.with(EpollIoOps.EPOLLRDHUP));
        } catch (Exception e) {
            logger.warn("Could not watch an accepted IDTS connection on {}", address, e);
            FileDescriptors.closeQuietly(socket);
            return;
        }
        int timeoutMillis = config.getHelloTimeoutMillis();
        handshake.timeout = loop.schedule(() -> handshake.expire(timeoutMillis), timeoutMillis,
                TimeUnit.MILLISECONDS);
        handshakes.add(handshake);
        pendingPerProcess.put(peer.pid(), pending + 1);
    }

    /**
     * Tries the handshake on {@code socket}. Whatever fails, the connector gets a reply code if it can, and everything
     * is released; nothing is thrown.
     *
     * @param ended runs first if the handshake ended, before the socket is handed over or closed
     * @return {@code false} if the HELLO has not arrived yet (the socket is still open), {@code true} if the
     *         handshake ended (the connection was handed to the server, or the socket was closed)
     */
    private boolean receive(int socket, PeerCredentials peer, Runnable ended) {
        IdtsBackend.AcceptedConnection accepted;
        try {
            accepted = HostHandshake.accept(socket, peer, address, events.config(), sharedMemory);
            if (accepted == null) {
                return false;
            }
        } catch (HostHandshake.Rejection rejection) {
            ended.run();
            refuse(socket, peer, rejection);
            return true;
        } catch (IOException e) {
            ended.run();
            logger.debug("IDTS handshake on {} failed: {}", address, e.getMessage());
            FileDescriptors.closeQuietly(socket);
            return true;
        } catch (RuntimeException e) {
            // A bug of ours, not the connector's doing: it still gets an answer, and the loop never sees it.
            ended.run();
            reply(socket, HostHandshake.SERVER_ERROR);
            FileDescriptors.closeQuietly(socket);
            logger.warn("IDTS handshake of process {} on {} failed", peer.pid(), address, e);
            return true;
        }
        ended.run();
        events.accepted(accepted);
        return true;
    }

    /** Sends the rejection's code, closes the socket and logs why, at warning level once per process. */
    private void refuse(int socket, PeerCredentials peer, HostHandshake.Rejection rejection) {
        reply(socket, rejection.code());
        FileDescriptors.closeQuietly(socket);
        if (firstRefusalOf(peer)) {
            logger.warn("Rejected an IDTS connection to {} from process {} (uid {}): {} (further rejections of this "
                    + "process are logged at debug level)", address, peer.pid(), peer.uid(), rejection.getMessage());
        } else {
            logger.debug("Rejected an IDTS connection to {} from process {} (uid {}): {}", address, peer.pid(),
                    peer.uid(), rejection.getMessage());
        }
    }

    /** Whether this is the first refusal of the process that is logged, at warning level; the others are debug. */
    private boolean firstRefusalOf(PeerCredentials peer) {
        return warnedProcesses.put(peer.pid(), Boolean.TRUE) == null;
    }

    /** One byte, without blocking: a connector whose socket buffer is full has no need for an answer. */
    private static void reply(int socket, byte code) {
        try {
            UnixDomainSocket.send(socket, new byte[] { code }, 0, 1, NO_FDS);
        } catch (IOException e) {
            logger.debug("Could not send IDTS reply code {}", code, e);
        }
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
        private final PeerCredentials peer;
        IoRegistration watch;
        Future<?> timeout;

        PendingHandshake(int socket, PeerCredentials peer) {
            this.socket = socket;
            this.peer = peer;
        }

        void ready() {
            if (handshakes.contains(this)) {
                // The watch goes before the socket is closed or handed to the connection, which watches it itself.
                receive(socket, peer, this::forget);
            }
        }

        void expire(int timeoutMillis) {
            if (handshakes.contains(this)) {
                if (firstRefusalOf(peer)) {
                    logger.warn("Dropped a connection to {} from process {}: no IDTS handshake within {} ms "
                            + "(HELLO_TIMEOUT_MILLIS; further refusals of this process are logged at debug level)",
                            address, peer.pid(), timeoutMillis);
                } else {
                    logger.debug("Dropped a connection to {} from process {}: no IDTS handshake within {} ms",
                            address, peer.pid(), timeoutMillis);
                }
                abort();
            }
        }

        /** The handshake is over: its slot is free. */
        private void forget() {
            if (!handshakes.remove(this)) {
                return;
            }
            watch.cancel();
            timeout.cancel(false);
            int left = pendingPerProcess.getOrDefault(peer.pid(), 1) - 1;
            if (left <= 0) {
                pendingPerProcess.remove(peer.pid());
            } else {
                pendingPerProcess.put(peer.pid(), left);
            }
            resume();
        }

        void abort() {
            if (handshakes.contains(this)) {
                forget();
                FileDescriptors.closeQuietly(socket);
            }
        }
    }

    @Override
    public String toString() {
        return "HostListener(" + address + ", fd " + fd + ')';
    }
}
