package io.idts.channel.host;

import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsIoHandler;
import io.idts.channel.IdtsProtocolException;
import io.idts.channel.IdtsServerChannelConfig;
import io.idts.channel.backend.FdWatch;
import io.idts.channel.backend.IdtsBackend;
import io.idts.channel.ring.RegionLayout;

import io.idts.linux.Errno;
import io.idts.linux.FileDescriptors;
import io.idts.linux.LinuxHost;
import io.idts.linux.MemFd;
import io.idts.linux.NativeIoException;
import io.idts.linux.NotificationSocket;
import io.idts.linux.PeerCredentials;
import io.idts.linux.ReceivedMessage;
import io.idts.linux.SharedMapping;
import io.idts.linux.UnixDomainSocket;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoOps;

import java.io.IOException;
import java.net.ConnectException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The host backend's connect handshake over the rendezvous socket (docs/protocol.md, "Host connect handshake"), its
 * two halves side by side. The messages: the connector's HELLO, carrying the region's memfd and the acceptor's end of
 * the notification socket pair, and the acceptor's one-byte reply. The connector's half, {@link Offer}: connects,
 * makes the region and the socket pair, sends the HELLO and turns the reply into a {@link HostConnection}. The
 * acceptor's half, {@link #accept}: reads the HELLO, checks everything against the protocol and the server's limits,
 * maps the region, and replies ({@link HostListener} runs it on each accepted socket).
 */
public final class HostHandshake {

    /** HELLO: u32 magic, u16 version, u16 name length n, then n bytes of the connector's local service name. */
    public static final int HELLO_MAGIC_OFFSET = 0;
    public static final int HELLO_VERSION_OFFSET = 4;
    public static final int HELLO_NAME_LENGTH_OFFSET = 6;
    public static final int HELLO_NAME_OFFSET = 8;
    static final int HELLO_MAX_SIZE = HELLO_NAME_OFFSET + IdtsAddress.MAX_SERVICE_LENGTH;

    /** The descriptors of a HELLO, in this order. */
    public static final int FD_REGION = 0;
    public static final int FD_NOTIFICATIONS = 1;
    public static final int FD_COUNT = 2;

    /** Reply codes: one byte from the acceptor. */
    public static final byte ACCEPTED = 0;
    static final byte BAD_HELLO = 1;
    static final byte BAD_VERSION = 2;
    static final byte BAD_REGION = 3;
    static final byte PERMISSION_DENIED = 4;
    static final byte RING_TOO_LARGE = 5;
    static final byte TOO_MANY_HANDSHAKES = 6;
    static final byte SHARED_MEMORY_LIMIT = 7;
    static final byte SERVER_ERROR = 8;

    private static final int REQUIRED_SEALS = MemFd.F_SEAL_SHRINK | MemFd.F_SEAL_GROW | MemFd.F_SEAL_SEAL;
    private static final int[] NO_FDS = new int[0];

    private HostHandshake() {
    }

    static byte[] encodeHello(String localName) {
        byte[] name = localName.getBytes(StandardCharsets.US_ASCII);
        ByteBuffer hello = ByteBuffer.allocate(HELLO_NAME_OFFSET + name.length).order(ByteOrder.nativeOrder());
        hello.putInt(HELLO_MAGIC_OFFSET, RegionLayout.MAGIC);
        hello.putShort(HELLO_VERSION_OFFSET, (short) RegionLayout.VERSION);
        hello.putShort(HELLO_NAME_LENGTH_OFFSET, (short) name.length);
        hello.position(HELLO_NAME_OFFSET);
        hello.put(name);
        return hello.array();
    }

    /** Thrown by the acceptor for a HELLO it refuses; {@link #code()} is sent back as the reply. */
    static final class Rejection extends Exception {
        private static final long serialVersionUID = 1L;
        private final byte code;

        Rejection(byte code, String message) {
            super(message, null, false, false);
            this.code = code;
        }

        byte code() {
            return code;
        }
    }

    /**
     * Reads a HELLO received in {@code data[0, length)}.
     *
     * @return the connector's local service name
     * @throws Rejection if the message is malformed or of another protocol version
     */
    static String decodeHello(byte[] data, int length) throws Rejection {
        if (length < HELLO_NAME_OFFSET) {
            throw new Rejection(BAD_HELLO, "HELLO of " + length + " bytes is shorter than its "
                    + HELLO_NAME_OFFSET + "-byte header");
        }
        ByteBuffer hello = ByteBuffer.wrap(data, 0, length).order(ByteOrder.nativeOrder());
        int magic = hello.getInt(HELLO_MAGIC_OFFSET);
        if (magic != RegionLayout.MAGIC) {
            throw new Rejection(BAD_HELLO, "HELLO magic 0x" + Integer.toHexString(magic) + " is not IDTS's 0x"
                    + Integer.toHexString(RegionLayout.MAGIC));
        }
        int version = Short.toUnsignedInt(hello.getShort(HELLO_VERSION_OFFSET));
        if (version != RegionLayout.VERSION) {
            throw new Rejection(BAD_VERSION, "peer speaks IDTS protocol version " + version + ", this side "
                    + RegionLayout.VERSION + " (run releases of the same protocol version on both ends)");
        }
        int nameLength = Short.toUnsignedInt(hello.getShort(HELLO_NAME_LENGTH_OFFSET));
        if (nameLength != length - HELLO_NAME_OFFSET) {
            throw new Rejection(BAD_HELLO, "HELLO announces a " + nameLength + "-byte name but carries "
                    + (length - HELLO_NAME_OFFSET) + " bytes");
        }
        String name = new String(data, HELLO_NAME_OFFSET, nameLength, StandardCharsets.US_ASCII);
        if (!IdtsAddress.isValidService(name)) {
            throw new Rejection(BAD_HELLO, "HELLO carries an invalid name '" + name + '\'');
        }
        return name;
    }

    /** What a reply code means, for the connector's exception message. */
    public static String describeReply(int code) {
        switch (code) {
            case ACCEPTED:
                return "accepted";
            case BAD_HELLO:
                return "the server rejected the handshake message (protocol mismatch)";
            case BAD_VERSION:
                return "the server does not speak IDTS protocol version " + RegionLayout.VERSION + " (it runs an IDTS "
                        + "release of another protocol version, such as " + (RegionLayout.VERSION - 1)
                        + "): run releases of the same protocol version on both ends";
            case BAD_REGION:
                return "the server rejected the shared region (header, size or seals)";
            case PERMISSION_DENIED:
                return "permission denied: the server runs as another user";
            case RING_TOO_LARGE:
                return "the server accepts no ring this large (its MAX_RING_CAPACITY option): connect with a smaller "
                        + "RING_CAPACITY, or raise the server's limit";
            case TOO_MANY_HANDSHAKES:
                return "this process has as many connects under way as the server allows one process (its "
                        + "MAX_PENDING_HANDSHAKES_PER_PROCESS option): retry once they completed";
            case SHARED_MEMORY_LIMIT:
                return "the connections of this user already hold as much shared memory as the server allows (its "
                        + "MAX_SHARED_MEMORY_PER_USER option): close connections, use smaller rings, or raise the "
                        + "limit";
            case SERVER_ERROR:
                return "the server failed to set up the connection (its log says why): retry later";
            default:
                return "the server answered with unknown code " + code;
        }
    }

    /** The connector's half: a HELLO sent, waiting for the acceptor's reply. */
    public static final class Offer implements IdtsBackend.PendingConnect {

        private final IdtsAddress remote;
        private IoRegistration socketWatch;
        private int socketFd = -1;
        private int notificationFd = -1;
        private SharedMapping mapping;
        private RegionLayout layout;
        private final byte[] reply = new byte[1];

        private Offer(IdtsAddress remote) {
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
        static Offer start(IdtsAddress remote, IdtsAddress local, int ringCapacity, IdtsIoHandler handler,
                                   Runnable progress) throws Exception {
            Offer connector = new Offer(remote);
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
            int acceptorEnd = -1;
            try {
                mapping = SharedMapping.map(memfd, size);
                layout = RegionLayout.initialize(mapping.buffer(), ringCapacity, ringCapacity);
                int[] pair = NotificationSocket.createPair();
                notificationFd = pair[0];
                acceptorEnd = pair[1];
                byte[] hello = encodeHello(local.service());
                int[] fds = new int[FD_COUNT];
                fds[FD_REGION] = memfd;
                fds[FD_NOTIFICATIONS] = acceptorEnd;
                int sent;
                try {
                    sent = UnixDomainSocket.send(socketFd, hello, 0, hello.length, fds);
                } catch (NativeIoException e) {
                    if (e.errno() != Errno.EPIPE && e.errno() != Errno.ECONNRESET) {
                        throw e;
                    }
                    // The kernel queued our connect, then the server's process exited (or closed its socket) before
                    // it took the connection in.
                    ConnectException gone = new ConnectException("the server at IDTS address " + remote + " closed "
                            + "the connection before the handshake (its process may have exited): connect again once "
                            + "it runs");
                    gone.initCause(e);
                    throw gone;
                }
                if (sent != hello.length) {
                    // A fresh local socket always has room for a few dozen bytes; anything else is a broken socket.
                    throw new ConnectException("could not send the IDTS handshake to " + remote + " (" + sent + " of "
                            + hello.length + " bytes sent)");
                }
            } finally {
                // The acceptor received its own copies of the descriptors; the mapping keeps the memory alive for us.
                FileDescriptors.closeQuietly(memfd);
                FileDescriptors.closeQuietly(acceptorEnd);
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
            if (reply[0] != ACCEPTED) {
                throw new ConnectException("connection to IDTS address " + remote + " refused: "
                        + describeReply(reply[0]));
            }
            // The connection watches the socket from now on, for the acceptor's hang-up.
            cancelWatch();
            HostConnection connection =
                    new HostConnection(mapping, layout, true, notificationFd, socketFd);
            // The connection owns them now.
            mapping = null;
            socketFd = -1;
            notificationFd = -1;
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
            FileDescriptors.closeQuietly(notificationFd);
            socketFd = -1;
            notificationFd = -1;
        }
    }

    /**
     * The acceptor's half, run on an accepted socket once it is readable: reads the HELLO with its
     * descriptors, checks everything the connector sent against the protocol and the server's limits, and maps the
     * region. On success the connection owns the socket; on any failure everything received is released and the
     * caller answers and closes the socket.
     *
     * @return the connection, or {@code null} if the HELLO has not arrived yet
     * @param local the listener's address: the connector's name is a sibling of it
     * @throws Rejection if the HELLO is refused: the caller sends its code
     * @throws IOException if the connector hung up or the socket failed
     */
    static IdtsBackend.AcceptedConnection accept(int socketFd, PeerCredentials peer, IdtsAddress local,
                                                 IdtsServerChannelConfig config, SharedMemoryBudget sharedMemory)
            throws IOException, Rejection {
        byte[] hello = new byte[HELLO_MAX_SIZE];
        ReceivedMessage message;
        try {
            message = UnixDomainSocket.receive(socketFd, hello, 0, hello.length, FD_COUNT);
        } catch (NativeIoException e) {
            if (e.errno() == NativeIoException.NO_ERRNO) {
                // More descriptors than a HELLO carries (those that arrived are closed already).
                throw new Rejection(BAD_HELLO, "HELLO: " + e.getMessage()
                        + "; a HELLO carries exactly " + FD_COUNT);
            }
            if (e.errno() == Errno.EMFILE || e.errno() == Errno.ENFILE) {
                // Our shortage, not the connector's fault: it may retry.
                throw new Rejection(SERVER_ERROR, "the server process has no free file "
                        + "descriptor for the HELLO's descriptors: " + e.getMessage());
            }
            throw e;
        }
        if (message.bytes() < 0) {
            return null;
        }
        int[] fds = message.fds();
        SharedMapping mapping = null;
        long reserved = 0;
        boolean success = false;
        try {
            if (message.bytes() == 0) {
                throw new IOException("the connecting process hung up before its IDTS handshake");
            }
            String peerName = decodeHello(hello, message.bytes());
            IdtsAddress peerAddress = peerAddress(local, peerName);
            if (fds.length != FD_COUNT) {
                throw new Rejection(BAD_HELLO, "HELLO carries " + fds.length
                        + " descriptors instead of " + FD_COUNT);
            }
            int regionFd = fds[FD_REGION];
            int notificationFd = fds[FD_NOTIFICATIONS];
            checkSeals(regionFd);
            long size = FileDescriptors.size(regionFd);
            int maxRing = config.getMaxRingCapacity();
            long maxSize = RegionLayout.regionSize(maxRing, maxRing);
            long minSize = RegionLayout.regionSize(RegionLayout.MIN_RING_CAPACITY, RegionLayout.MIN_RING_CAPACITY);
            if (size < minSize) {
                throw new Rejection(BAD_REGION, "region of " + size
                        + " bytes is smaller than the smallest, " + minSize);
            }
            if (size > maxSize) {
                throw new Rejection(RING_TOO_LARGE, "region of " + size
                        + " bytes is larger than two rings of this server's MAX_RING_CAPACITY (" + maxRing
                        + " bytes) make, " + maxSize);
            }
            if (!NotificationSocket.isUnixStreamSocket(notificationFd)) {
                throw new Rejection(BAD_HELLO, "the notification descriptor is not a "
                        + "Unix stream socket: " + FileDescriptors.describe(notificationFd));
            }
            long limit = config.getMaxSharedMemoryPerUser();
            if (!sharedMemory.reserve(peer.uid(), size, limit)) {
                throw new Rejection(SHARED_MEMORY_LIMIT, "a region of " + size
                        + " bytes would take the shared memory of uid " + peer.uid() + "'s connections past this "
                        + "server's MAX_SHARED_MEMORY_PER_USER, " + limit + " bytes (" + sharedMemory.mapped(peer.uid())
                        + " mapped)");
            }
            reserved = size;
            mapping = map(regionFd, size);
            RegionLayout layout;
            try {
                layout = RegionLayout.validate(mapping.buffer());
            } catch (IdtsProtocolException e) {
                throw new Rejection(BAD_REGION, e.getMessage());
            }
            for (int ring = 0; ring < 2; ring++) {
                if (layout.capacity(ring) > maxRing) {
                    throw new Rejection(RING_TOO_LARGE, "ring " + ring + " of "
                            + layout.capacity(ring) + " bytes is larger than this server's MAX_RING_CAPACITY, "
                            + maxRing);
                }
            }
            int uid = peer.uid();
            HostConnection connection = new HostConnection(mapping, layout, false, notificationFd, socketFd,
                    () -> sharedMemory.release(uid, size));
            FileDescriptors.closeQuietly(regionFd);
            success = true;
            return new HostAcceptedConnection(connection, peerAddress);
        } catch (NativeIoException e) {
            throw new IOException("IDTS handshake failed: " + e.getMessage(), e);
        } finally {
            if (!success) {
                if (mapping != null) {
                    mapping.close();
                }
                if (reserved > 0) {
                    sharedMemory.release(peer.uid(), reserved);
                }
                for (int fd : fds) {
                    FileDescriptors.closeQuietly(fd);
                }
            }
        }
    }

    /** The connector's address: its service name in this server's rendezvous directory. */
    private static IdtsAddress peerAddress(IdtsAddress local, String peerName) throws Rejection {
        try {
            return local.sibling(peerName);
        } catch (IllegalArgumentException e) {
            // A long rendezvous directory leaves less room for names: the connector could not listen under it either.
            throw new Rejection(BAD_HELLO, "HELLO names the connector '" + peerName
                    + "', too long for this server's rendezvous directory: " + e.getMessage());
        }
    }

    /** Maps the region shared and writable; a memfd that cannot be (write seals, read-only, hugetlb) is refused. */
    private static SharedMapping map(int regionFd, long size) throws Rejection {
        try {
            return SharedMapping.map(regionFd, size);
        } catch (NativeIoException | IllegalArgumentException e) {
            throw new Rejection(BAD_REGION, "the region cannot be mapped shared and "
                    + "writable (" + FileDescriptors.describe(regionFd) + "; a write-sealed, read-only or hugetlb "
                    + "memfd cannot): " + e.getMessage());
        }
    }

    private static void checkSeals(int regionFd) throws Rejection {
        int seals;
        try {
            seals = MemFd.seals(regionFd);
        } catch (NativeIoException e) {
            throw new Rejection(BAD_REGION, "region descriptor is not a memfd ("
                    + FileDescriptors.describe(regionFd) + "): " + e.getMessage());
        }
        if ((seals & REQUIRED_SEALS) != REQUIRED_SEALS) {
            // Without these seals the connector could shrink the file under our mapping: SIGBUS, a JVM crash.
            throw new Rejection(BAD_REGION, "region memfd is not sealed against "
                    + "shrinking and growing (seals 0x" + Integer.toHexString(seals) + ')');
        }
    }

    /**
     * A HELLO taken in: the connection it set up and the connector's address. The connector waits for
     * {@link #confirm()}, sent once this side has taken over its lines of the region and is {@code OPEN}.
     */
    private static final class HostAcceptedConnection extends IdtsBackend.AcceptedConnection {
        private static final byte[] ACCEPTED_REPLY = { ACCEPTED };

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
}
