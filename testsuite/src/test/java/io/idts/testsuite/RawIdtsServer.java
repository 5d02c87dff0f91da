package io.idts.testsuite;

import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsChannel;
import io.idts.channel.host.HostHandshake;
import io.idts.channel.ring.RegionLayout;
import io.idts.linux.NotificationSocket;
import io.idts.linux.FileDescriptors;
import io.idts.linux.NativeIoException;
import io.idts.linux.ReceivedMessage;
import io.idts.linux.SharedMapping;
import io.idts.linux.UnixDomainSocket;

import java.io.Closeable;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.concurrent.TimeUnit;

/**
 * The accepting side of {@link RawIdtsPeer}: an IDTS listener written straight against the host handshake
 * (docs/protocol.md), without Netty and without the transport's {@code HostListener}, so that tests can play a
 * hostile server against a real {@link IdtsChannel} client. It listens on the address's rendezvous socket file,
 * accepts a connection and receives its HELLO ({@link #awaitHello}); the test then decides the reply: an honest
 * {@link Hello#accept()} that returns a {@link RawIdtsPeer} producing ring 1 and consuming ring 0, a refusal with any
 * code, any bytes or descriptors, or a hang-up. Only the offsets and codes come from {@link RegionLayout} and
 * {@link HostHandshake}.
 *
 * <p>Not thread-safe: one thread uses it at a time. Every blocking call is bounded by a timeout.
 */
public final class RawIdtsServer implements Closeable {

    private static final int BACKLOG = 64;

    private final IdtsAddress address;
    private int listenFd;

    /** Listens on {@code address}'s rendezvous socket file (replacing a stale one), removed again by {@link #close}. */
    public RawIdtsServer(IdtsAddress address) throws IOException {
        this.address = address;
        Path path = Paths.get(address.socketPath());
        Files.createDirectories(path.getParent());
        Files.deleteIfExists(path);
        listenFd = UnixDomainSocket.listenOnPath(path.toString(), BACKLOG);
    }

    public IdtsAddress address() {
        return address;
    }

    /**
     * Accepts the next connection and receives its HELLO: two descriptors (memfd, the acceptor's end of the
     * notification socket pair), the region mapped and its header validated as the real acceptor does.
     *
     * @throws SocketTimeoutException if no connection or no HELLO arrives within {@code timeoutMillis}
     * @throws IOException            if the HELLO is not one this build's connector sends
     */
    public Hello awaitHello(long timeoutMillis) throws IOException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        int socketFd = -1;
        while (socketFd < 0) {
            if (!RawIdtsPeer.awaitReadable(listenFd, deadline)) {
                throw new SocketTimeoutException("raw IDTS server: no connection to " + address + " within "
                        + timeoutMillis + " ms");
            }
            socketFd = UnixDomainSocket.accept(listenFd);
        }
        Hello hello = new Hello(socketFd);
        boolean success = false;
        try {
            hello.receive(deadline, timeoutMillis);
            success = true;
            return hello;
        } finally {
            if (!success) {
                hello.close();
            }
        }
    }

    @Override
    public void close() {
        if (listenFd >= 0) {
            try {
                Files.deleteIfExists(Paths.get(address.socketPath()));
            } catch (IOException e) {
                // The next RawIdtsServer or real server on the address replaces it.
            }
        }
        FileDescriptors.closeQuietly(listenFd);
        listenFd = -1;
    }

    /** A connection whose HELLO was received and not answered yet. Closing it hangs up (if not handed over). */
    public final class Hello implements Closeable {
        private int socketFd;
        /** The acceptor's end of the connector's notification socket pair. */
        private int notificationFd = -1;
        private SharedMapping mapping;
        private RegionLayout layout;
        private String peerName;

        private Hello(int socketFd) {
            this.socketFd = socketFd;
        }

        private void receive(long deadline, long timeoutMillis) throws IOException {
            if (!RawIdtsPeer.awaitReadable(socketFd, deadline)) {
                throw new SocketTimeoutException("raw IDTS server: no HELLO within " + timeoutMillis + " ms");
            }
            byte[] data = new byte[HostHandshake.HELLO_NAME_OFFSET + IdtsAddress.MAX_SERVICE_LENGTH];
            ReceivedMessage message = UnixDomainSocket.receive(socketFd, data, 0, data.length,
                    HostHandshake.FD_COUNT);
            int[] fds = message.fds();
            if (fds.length != HostHandshake.FD_COUNT) {
                for (int fd : fds) {
                    FileDescriptors.closeQuietly(fd);
                }
                throw new IOException("raw IDTS server: HELLO of " + message.bytes() + " bytes with " + fds.length
                        + " descriptors");
            }
            notificationFd = fds[HostHandshake.FD_NOTIFICATIONS];
            int regionFd = fds[HostHandshake.FD_REGION];
            try {
                peerName = decodeHello(data, message.bytes());
                mapping = SharedMapping.map(regionFd, FileDescriptors.size(regionFd));
                layout = RegionLayout.validate(mapping.buffer().duplicate().order(ByteOrder.nativeOrder()));
            } finally {
                FileDescriptors.closeQuietly(regionFd);
            }
        }

        /** HELLO: u32 magic, u16 version, u16 name length n, n bytes of name; native byte order. */
        private String decodeHello(byte[] data, int length) throws IOException {
            ByteBuffer hello = ByteBuffer.wrap(data, 0, length).order(ByteOrder.nativeOrder());
            int nameLength = length < HostHandshake.HELLO_NAME_OFFSET ? -1
                    : Short.toUnsignedInt(hello.getShort(HostHandshake.HELLO_NAME_LENGTH_OFFSET));
            if (nameLength != length - HostHandshake.HELLO_NAME_OFFSET
                    || hello.getInt(HostHandshake.HELLO_MAGIC_OFFSET) != RegionLayout.MAGIC
                    || hello.getShort(HostHandshake.HELLO_VERSION_OFFSET) != RegionLayout.VERSION) {
                throw new IOException("raw IDTS server: not a version " + RegionLayout.VERSION + " HELLO ("
                        + length + " bytes)");
            }
            return new String(data, HostHandshake.HELLO_NAME_OFFSET, nameLength, StandardCharsets.US_ASCII);
        }

        /** The connector's local service name, from its HELLO. */
        public String peerName() {
            return peerName;
        }

        /** The mapped region, native byte order: write anything into it before or after the reply. */
        public ByteBuffer region() {
            return mapping.buffer().duplicate().order(ByteOrder.nativeOrder());
        }

        /** The acceptor's end of the notification socket pair: what it writes wakes the connector. */
        public int notificationFd() {
            return notificationFd;
        }

        /** Sends {@code bytes} as the reply, as they are (several, an unknown code, ...), and keeps everything. */
        public void reply(byte... bytes) throws NativeIoException {
            UnixDomainSocket.send(socketFd, bytes, 0, bytes.length, new int[0]);
        }

        /** Sends {@code code} with a fresh descriptor (one end of a new socket pair) in an {@code SCM_RIGHTS} message. */
        public void replyWithDescriptor(byte code) throws NativeIoException {
            int[] pair = NotificationSocket.createPair();
            try {
                UnixDomainSocket.send(socketFd, new byte[] { code }, 0, 1, new int[] { pair[0] });
            } finally {
                FileDescriptors.closeQuietly(pair[0]);
                FileDescriptors.closeQuietly(pair[1]);
            }
        }

        /** Refuses with {@code code} (any byte) and closes everything. */
        public void refuse(byte code) throws NativeIoException {
            try {
                reply(code);
            } finally {
                close();
            }
        }

        /**
         * Accepts honestly: writes the acceptor's lines and its state OPEN, replies ACCEPTED, and hands everything
         * over to the returned peer (closing this {@code Hello} does nothing more).
         */
        public RawIdtsPeer accept() throws NativeIoException {
            RawIdtsPeer peer = new RawIdtsPeer(peerName, socketFd, notificationFd, mapping, layout);
            socketFd = -1;
            notificationFd = -1;
            mapping = null;
            try {
                peer.replyAccepted();
            } catch (NativeIoException e) {
                peer.close();
                throw e;
            }
            return peer;
        }

        /** Hangs up without a reply (if not handed over), closing every descriptor and unmapping. Idempotent. */
        @Override
        public void close() {
            FileDescriptors.closeQuietly(socketFd);
            FileDescriptors.closeQuietly(notificationFd);
            socketFd = -1;
            notificationFd = -1;
            if (mapping != null) {
                mapping.close();
                mapping = null;
            }
        }
    }
}
