package io.idts.linux;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@ExtendWith(NoFdLeaks.class)
class UnixDomainSocketTest {

    private static final int BACKLOG = 4;
    private static final int MAP_SIZE = 4096;
    private static final int[] NO_FDS = {};
    /** The start of a socket's {@code /proc/self/fd} link. */
    private static final String SOCKET = "socket:";

    @TempDir
    Path dir;
    /** The socket file's path, in a directory of this test's own. */
    private String name;
    private int listener = -1;
    private int client = -1;
    private int server = -1;

    @BeforeEach
    void name() {
        name = dir.resolve("socket").toString();
    }

    @AfterEach
    void closeSockets() {
        FileDescriptors.closeQuietly(server);
        FileDescriptors.closeQuietly(client);
        FileDescriptors.closeQuietly(listener);
    }

    /**
     * The open descriptors whose {@code /proc/self/fd} link starts with {@code kind}. The tests compare these, not
     * {@link FileDescriptors#openCount()}: the JVM opens and closes files of its own at any moment (it reads its
     * cgroup's memory limit now and then), and a count taken during that is off by one.
     */
    private static Set<Integer> openDescriptors(String kind) {
        Set<Integer> fds = new TreeSet<>();
        Procfs.openFds().forEach((fd, link) -> {
            if (link.startsWith(kind)) {
                fds.add(fd);
            }
        });
        return fds;
    }

    private void connectPair() throws NativeIoException {
        listener = UnixDomainSocket.listenOnPath(name, BACKLOG);
        client = UnixDomainSocket.connectToPath(name);
        server = UnixDomainSocket.accept(listener);
        assertTrue(server >= 0, "accept returned " + server);
    }

    @Test
    void listenConnectAcceptAndExchangeBytes() throws Exception {
        listener = UnixDomainSocket.listenOnPath(name, BACKLOG);
        assertEquals(-1, UnixDomainSocket.accept(listener), "nothing pending yet");
        client = UnixDomainSocket.connectToPath(name);
        server = UnixDomainSocket.accept(listener);
        assertTrue(server >= 0);
        for (int fd : new int[] {listener, client, server}) {
            assertTrue(FileDescriptors.describe(fd).startsWith("socket:["), FileDescriptors.describe(fd));
            assertTrue(Procfs.isNonBlocking(fd), "non-blocking fd " + fd);
            assertTrue(Procfs.isCloseOnExec(fd), "close-on-exec fd " + fd);
        }

        byte[] hello = "hello".getBytes(StandardCharsets.US_ASCII);
        byte[] padded = new byte[hello.length + 4];
        System.arraycopy(hello, 0, padded, 2, hello.length);
        assertEquals(hello.length, UnixDomainSocket.send(client, padded, 2, hello.length, NO_FDS));

        byte[] in = new byte[32];
        ReceivedMessage message = UnixDomainSocket.receive(server, in, 3, 16, 0);
        assertEquals(hello.length, message.bytes());
        assertEquals(0, message.fds().length);
        assertArrayEquals(hello, Arrays.copyOfRange(in, 3, 3 + hello.length));
        assertEquals(0, in[2], "nothing written before off");

        assertEquals(-1, UnixDomainSocket.receive(server, in, 0, in.length, 0).bytes(), "nothing available");
    }

    @Test
    void sendsThreeFdsWithTheData() throws Exception {
        connectPair();
        int memFd = MemFd.createSealed("idts-passed", MAP_SIZE);
        int eventFd = EventFd.create();
        int otherMemFd = MemFd.createSealed("idts-passed-2", MAP_SIZE);
        int[] received = NO_FDS;
        try (SharedMapping mine = SharedMapping.map(memFd, MAP_SIZE)) {
            mine.buffer().putLong(0, 0x1d75L);
            assertEquals(1, UnixDomainSocket.send(client, new byte[] {42}, 0, 1, new int[] {memFd, eventFd, otherMemFd}));

            byte[] in = new byte[8];
            ReceivedMessage message = UnixDomainSocket.receive(server, in, 0, in.length, 3);
            received = message.fds();
            assertEquals(1, message.bytes());
            assertEquals(42, in[0]);
            assertEquals(3, received.length);
            for (int fd : received) {
                assertTrue(Procfs.isCloseOnExec(fd), "received fd " + fd + " is close-on-exec");
                assertFalse(fd == memFd || fd == eventFd || fd == otherMemFd, "a new descriptor");
            }
            assertTrue(FileDescriptors.describe(received[0]).startsWith("/memfd:idts-passed"));
            assertTrue(EventFd.isEventFd(received[1]));
            assertTrue(FileDescriptors.describe(received[2]).startsWith("/memfd:idts-passed-2"));
            assertEquals(MemFd.SIZE_SEALS, MemFd.seals(received[0]) & MemFd.SIZE_SEALS);

            try (SharedMapping theirs = SharedMapping.map(received[0], MAP_SIZE)) {
                assertEquals(0x1d75L, theirs.buffer().getLong(0), "the received memfd maps the same memory");
                theirs.buffer().putInt(100, 7);
                assertEquals(7, mine.buffer().getInt(100));
            }
            EventFd.signal(received[1]);
            assertEquals(1, EventFd.drain(eventFd), "the received eventfd is the same eventfd");
        } finally {
            for (int fd : received) {
                FileDescriptors.close(fd);
            }
            FileDescriptors.close(memFd);
            FileDescriptors.close(eventFd);
            FileDescriptors.close(otherMemFd);
        }
    }

    @Test
    void moreFdsThanAcceptedAreClosedAndRefused() throws Exception {
        connectPair();
        int[] fds = new int[4];
        try {
            for (int i = 0; i < fds.length; i++) {
                fds[i] = EventFd.create();
            }
            Set<Integer> before = openDescriptors(EventFd.EVENTFD_LINK);
            assertEquals(1, UnixDomainSocket.send(client, new byte[] {1}, 0, 1, fds));
            // CMSG_SPACE(3 ints) == CMSG_SPACE(4 ints): the kernel fits all four, no MSG_CTRUNC.
            NativeIoException e = assertThrows(NativeIoException.class,
                    () -> UnixDomainSocket.receive(server, new byte[8], 0, 8, 3));
            assertTrue(e.getMessage().contains("4 file descriptors, more than the 3 accepted"), e.getMessage());
            assertEquals(NativeIoException.NO_ERRNO, e.errno());
            assertEquals(before, openDescriptors(EventFd.EVENTFD_LINK), "the received descriptors were closed");
        } finally {
            for (int fd : fds) {
                FileDescriptors.closeQuietly(fd);
            }
        }
    }

    @Test
    void truncatedControlDataClosesTheFdsThatArrived() throws Exception {
        connectPair();
        int[] fds = new int[5];
        try {
            for (int i = 0; i < fds.length; i++) {
                fds[i] = EventFd.create();
            }
            Set<Integer> before = openDescriptors(EventFd.EVENTFD_LINK);
            assertEquals(1, UnixDomainSocket.send(client, new byte[] {1}, 0, 1, fds));
            NativeIoException e = assertThrows(NativeIoException.class,
                    () -> UnixDomainSocket.receive(server, new byte[8], 0, 8, 3));
            assertTrue(e.getMessage().contains("MSG_CTRUNC"), e.getMessage());
            assertEquals(before, openDescriptors(EventFd.EVENTFD_LINK), "the received descriptors were closed");
        } finally {
            for (int fd : fds) {
                FileDescriptors.closeQuietly(fd);
            }
        }
    }

    @Test
    void fdsToAReceiverAcceptingNoneAreRefused() throws Exception {
        connectPair();
        int fd = EventFd.create();
        try {
            Set<Integer> before = openDescriptors(EventFd.EVENTFD_LINK);
            assertEquals(1, UnixDomainSocket.send(client, new byte[] {1}, 0, 1, new int[] {fd}));
            NativeIoException e = assertThrows(NativeIoException.class,
                    () -> UnixDomainSocket.receive(server, new byte[8], 0, 8, 0));
            assertTrue(e.getMessage().contains("MSG_CTRUNC"), e.getMessage());
            assertEquals(before, openDescriptors(EventFd.EVENTFD_LINK), "the received descriptor was closed");
        } finally {
            FileDescriptors.close(fd);
        }
    }

    @Test
    void connectingToAMissingPathIsEnoent() {
        Set<Integer> before = openDescriptors(SOCKET);
        NativeIoException e = assertThrows(NativeIoException.class, () -> UnixDomainSocket.connectToPath(name));
        assertEquals(Errno.ENOENT, e.errno());
        assertEquals("connect", e.call());
        assertTrue(e.getMessage().contains(name), e.getMessage());
        assertEquals(before, openDescriptors(SOCKET), "the socket was closed");
    }

    @Test
    void listeningTwiceOnOnePathIsEaddrinuse() throws Exception {
        listener = UnixDomainSocket.listenOnPath(name, BACKLOG);
        NativeIoException e = assertThrows(NativeIoException.class, () -> UnixDomainSocket.listenOnPath(name, BACKLOG));
        assertEquals(Errno.EADDRINUSE, e.errno());
        assertTrue(e.getMessage().contains(name + " exists already"), e.getMessage());
    }

    @Test
    void aClosedListenersFileRefusesConnectsUntilRemoved() throws Exception {
        int first = UnixDomainSocket.listenOnPath(name, BACKLOG);
        FileDescriptors.close(first);
        // Unlike an abstract name, the file outlives its socket: a stale entry, refused, in the way of a new listener.
        NativeIoException stale = assertThrows(NativeIoException.class, () -> UnixDomainSocket.connectToPath(name));
        assertEquals(Errno.ECONNREFUSED, stale.errno());
        assertEquals(Errno.EADDRINUSE, assertThrows(NativeIoException.class,
                () -> UnixDomainSocket.listenOnPath(name, BACKLOG)).errno());
        Files.delete(Path.of(name));
        listener = UnixDomainSocket.listenOnPath(name, BACKLOG);
        assertTrue(listener >= 0);
    }

    @Test
    void receiveReturnsZeroAfterThePeerCloses() throws Exception {
        connectPair();
        assertEquals(3, UnixDomainSocket.send(client, new byte[] {1, 2, 3}, 0, 3, NO_FDS));
        FileDescriptors.close(client);
        client = -1;
        byte[] in = new byte[8];
        assertEquals(3, UnixDomainSocket.receive(server, in, 0, in.length, 1).bytes(), "data sent before close");
        ReceivedMessage eof = UnixDomainSocket.receive(server, in, 0, in.length, 1);
        assertEquals(0, eof.bytes());
        assertEquals(0, eof.fds().length);
    }

    @Test
    void sendingToAClosedPeerFails() throws Exception {
        connectPair();
        FileDescriptors.close(server);
        server = -1;
        NativeIoException e = assertThrows(NativeIoException.class,
                () -> UnixDomainSocket.send(client, new byte[] {1}, 0, 1, NO_FDS));
        assertTrue(e.errno() == Errno.EPIPE || e.errno() == Errno.ECONNRESET, e.getMessage());
    }

    @Test
    void sendReturnsMinusOneWhenTheBufferIsFull() throws Exception {
        connectPair();
        byte[] chunk = new byte[64 * 1024];
        long total = 0;
        int sent;
        while ((sent = UnixDomainSocket.send(client, chunk, 0, chunk.length, NO_FDS)) > 0) {
            total += sent;
            assertTrue(total < 1L << 30, "the socket buffer never filled");
        }
        assertEquals(-1, sent);
    }

    @Test
    void peerCredentialsAreOurs() throws Exception {
        connectPair();
        PeerCredentials expected = new PeerCredentials(LinuxHost.pid(), LinuxHost.uid(), Procfs.gid());
        assertEquals(expected, UnixDomainSocket.peerCredentials(server));
        assertEquals(expected, UnixDomainSocket.peerCredentials(client));
        assertEquals(ProcessHandle.current().pid(), UnixDomainSocket.peerCredentials(server).pid());
    }

    @Test
    void tooLongPathsAreRejected() throws Exception {
        String longest = name + "x".repeat(UnixDomainSocket.MAX_PATH_BYTES - name.length());
        assertEquals(107, longest.getBytes(StandardCharsets.UTF_8).length);
        listener = UnixDomainSocket.listenOnPath(longest, BACKLOG);
        client = UnixDomainSocket.connectToPath(longest);
        server = UnixDomainSocket.accept(listener);
        assertTrue(server >= 0);

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> UnixDomainSocket.listenOnPath(longest + "x", BACKLOG));
        assertTrue(e.getMessage().contains("107"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> UnixDomainSocket.connectToPath(longest + "x"));
        // 54 two-byte characters: 54 chars, 108 bytes.
        assertThrows(IllegalArgumentException.class, () -> UnixDomainSocket.connectToPath("\u00e9".repeat(54)));
        assertThrows(IllegalArgumentException.class, () -> UnixDomainSocket.listenOnPath("", BACKLOG));
    }

    @Test
    void rejectsBadBufferArguments() throws Exception {
        connectPair();
        byte[] data = new byte[4];
        assertThrows(IndexOutOfBoundsException.class, () -> UnixDomainSocket.send(client, data, 2, 3, NO_FDS));
        assertThrows(IndexOutOfBoundsException.class, () -> UnixDomainSocket.receive(server, data, 3, 2, 0));
        assertThrows(IllegalArgumentException.class, () -> UnixDomainSocket.receive(server, data, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> UnixDomainSocket.send(client, data, 0, 0, new int[] {client}));
        assertThrows(IllegalArgumentException.class, () -> UnixDomainSocket.receive(server, data, 0, 4, -1));
        assertNotEquals(-1, server);
    }
}
