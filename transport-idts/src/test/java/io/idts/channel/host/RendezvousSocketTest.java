package io.idts.channel.host;

import io.idts.channel.ChildJvm;
import io.idts.channel.EchoServerMain;
import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsChannel;
import io.idts.channel.IdtsEventLoopGroup;
import io.idts.channel.IdtsRoute;
import io.idts.channel.PatternReceiver;
import io.idts.channel.PatternSender;
import io.idts.channel.ProcessResources;
import io.idts.channel.StreamPattern;
import io.idts.linux.FileDescriptors;
import io.idts.linux.LinuxHost;
import io.idts.linux.UnixDomainSocket;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.BindException;
import java.net.ConnectException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The host backend's rendezvous entry ({@link RendezvousSocket}): a socket file of mode {@code rw-------} in the
 * rendezvous directory, removed when the server stops, replaced when stale, refused when it is not a socket or belongs
 * to another user; a listener of another user is refused by the connector unless
 * {@value IdtsAddress#RENDEZVOUS_PEER_UIDS_PROPERTY} names it; and two processes in separate network namespaces that
 * share the directory meet there.
 */
final class RendezvousSocketTest {

    /** {@code nobody}: another user for the tests that need one (and root to act as it). */
    private static final int OTHER_UID = 65534;
    private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);
    private static final long TIMEOUT_SECONDS = 60;

    private Path directory;
    private IdtsAddress address;
    private final List<Process> processes = new ArrayList<>();

    @BeforeAll
    static void loadEverythingOnce() throws Exception {
        ProcessResources.warmUpIdts();
    }

    @BeforeEach
    void setUp() throws IOException {
        directory = Files.createTempDirectory("idts-rv-");
        address = IdtsAddress.of(directory, "svc");
    }

    @AfterEach
    void tearDown() throws Exception {
        System.clearProperty(IdtsAddress.RENDEZVOUS_PEER_UIDS_PROPERTY);
        for (Process process : processes) {
            process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
        try (var entries = Files.list(directory)) {
            for (Path entry : (Iterable<Path>) entries::iterator) {
                Files.delete(entry);
            }
        }
        Files.delete(directory);
    }

    @Test
    void entryIsASocketForItsOwnerOnlyAndGoesWithTheListener() throws Exception {
        RendezvousSocket socket = RendezvousSocket.listen(address, 8);
        Path entry = Paths.get(address.socketPath());
        try {
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(entry)));
            assertEquals(LinuxHost.uid(), (Integer) Files.getAttribute(entry, "unix:uid"));
            FileDescriptors.close(RendezvousSocket.connect(address));
        } finally {
            socket.close();
        }
        assertFalse(Files.exists(entry, LinkOption.NOFOLLOW_LINKS), "entry removed on close");
    }

    @Test
    void missingDirectoryIsMadeForItsOwnerOnly() throws Exception {
        IdtsAddress nested = IdtsAddress.of(directory.resolve("made"), "svc");
        RendezvousSocket socket = RendezvousSocket.listen(nested, 8);
        try {
            assertEquals("rwx------", PosixFilePermissions.toString(
                    Files.getPosixFilePermissions(directory.resolve("made"))));
        } finally {
            socket.close();
            Files.delete(directory.resolve("made"));
        }
    }

    @Test
    void staleEntryIsReplacedAndALiveOneIsNot() throws Exception {
        FileDescriptors.close(UnixDomainSocket.listenOnPath(address.socketPath(), 1));
        ConnectException stale = assertThrows(ConnectException.class, () -> RendezvousSocket.connect(address));
        assertTrue(stale.getMessage().contains("is stale"), stale.getMessage());
        RendezvousSocket socket = RendezvousSocket.listen(address, 8);
        try {
            FileDescriptors.close(RendezvousSocket.connect(address));
            BindException inUse = assertThrows(BindException.class, () -> RendezvousSocket.listen(address, 8));
            assertTrue(inUse.getMessage().contains("already in use"), inUse.getMessage());
        } finally {
            socket.close();
        }
    }

    @Test
    void entryThatIsNotASocketIsLeftAlone() throws Exception {
        Files.writeString(Paths.get(address.socketPath()), "mine");
        BindException e = assertThrows(BindException.class, () -> RendezvousSocket.listen(address, 8));
        assertTrue(e.getMessage().contains("is not a socket"), e.getMessage());
        assertEquals("mine", Files.readString(Paths.get(address.socketPath())));
    }

    @Test
    void connectingToNothingSaysWhatIsMissing() {
        ConnectException missing = assertThrows(ConnectException.class, () -> RendezvousSocket.connect(address));
        assertTrue(missing.getMessage().contains("no rendezvous entry " + address.socketPath()), missing.getMessage());
    }

    @Test
    void entryOfAnotherUserIsNotReplaced() throws Exception {
        assumeRoot("chown a socket file to another user");
        FileDescriptors.close(UnixDomainSocket.listenOnPath(address.socketPath(), 1));
        Files.setAttribute(Paths.get(address.socketPath()), "unix:uid", OTHER_UID);
        BindException e = assertThrows(BindException.class, () -> RendezvousSocket.listen(address, 8));
        assertTrue(e.getMessage().contains("belongs to uid " + OTHER_UID), e.getMessage());
        assertTrue(Files.exists(Paths.get(address.socketPath())), "another user's entry stays");
    }

    @Test
    void listenerOfAnotherUserIsRefusedUnlessItsUidIsOpenedTo() throws Exception {
        assumeRoot("run a listener as another user (setpriv)");
        // Another user must reach the directory to make its entry there.
        Files.setPosixFilePermissions(directory, PosixFilePermissions.fromString("rwxrwxrwx"));
        startListenerAs(OTHER_UID, address.socketPath());

        EventLoopGroup group = new IdtsEventLoopGroup(1);
        try {
            ChannelFuture refused = connect(group, address, 5000);
            assertTrue(refused.cause() instanceof ConnectException, String.valueOf(refused.cause()));
            String message = refused.cause().getMessage();
            assertTrue(message.contains("runs as uid " + OTHER_UID), message);
            assertTrue(message.contains(IdtsAddress.RENDEZVOUS_PEER_UIDS_PROPERTY), message);

            // Opened to that uid, the connector goes on to the handshake, which this listener never answers.
            System.setProperty(IdtsAddress.RENDEZVOUS_PEER_UIDS_PROPERTY, String.valueOf(OTHER_UID));
            ChannelFuture admitted = connect(group, address, 500);
            assertTrue(admitted.cause() instanceof io.netty.channel.ConnectTimeoutException,
                    String.valueOf(admitted.cause()));
        } finally {
            assertTrue(ProcessResources.shutDown(group));
        }
    }

    @Test
    void openedRendezvousEntryIsWritableByAll() throws Exception {
        System.setProperty(IdtsAddress.RENDEZVOUS_PEER_UIDS_PROPERTY, "1001, 1002");
        RendezvousSocket socket = RendezvousSocket.listen(address, 8);
        try {
            assertEquals("rw-rw-rw-", PosixFilePermissions.toString(
                    Files.getPosixFilePermissions(Paths.get(address.socketPath()))));
            assertTrue(RendezvousSocket.mayMeet(1002));
            assertFalse(RendezvousSocket.mayMeet(1003));
        } finally {
            socket.close();
        }
        System.setProperty(IdtsAddress.RENDEZVOUS_PEER_UIDS_PROPERTY, "alice");
        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class,
                () -> RendezvousSocket.mayMeet(1002));
        assertTrue(bad.getMessage().contains("alice"), bad.getMessage());
    }

    @Test
    void processesInSeparateNetworkNamespacesMeetThroughASharedDirectory() throws Exception {
        List<String> unshare = List.of("unshare", "--user", "--map-current-user", "--net");
        String refusal = tryCommand(new ArrayList<>(List.of("unshare", "--user", "--map-current-user", "--net",
                "true")));
        Assumptions.assumeTrue(refusal == null, () -> "this kernel or sandbox does not let an unprivileged process "
                + "make a user and network namespace (unshare --user --map-current-user --net): " + refusal);
        ProcessResources before = ProcessResources.snapshot();
        try (ChildJvm child = ChildJvm.start(unshare, EchoServerMain.class, List.of(), address.toString())) {
            String ready = child.awaitLine(line -> line.startsWith("READY"), STARTUP_TIMEOUT);
            long pid = Long.parseLong(ready.split(" ")[1]);
            assertNotEquals(Files.readSymbolicLink(Paths.get("/proc/self/ns/net")),
                    Files.readSymbolicLink(Paths.get("/proc/" + pid + "/ns/net")),
                    "the server runs in a network namespace of its own");
            EventLoopGroup group = new IdtsEventLoopGroup(1);
            try {
                long bytes = 8L * 1024 * 1024;
                PatternSender sender = new PatternSender(bytes, StreamPattern.MAX_CHUNK, 13);
                PatternReceiver receiver = new PatternReceiver(bytes);
                Channel client = new Bootstrap().group(group).channel(IdtsChannel.class)
                        .handler(new ChannelInitializer<Channel>() {
                            @Override
                            protected void initChannel(Channel ch) {
                                ch.pipeline().addLast(sender, receiver);
                            }
                        }).connect(address).sync().channel();
                assertEquals(IdtsRoute.IDTS, ((IdtsChannel) client).route());
                assertEquals(bytes, receiver.done().get(TIMEOUT_SECONDS, TimeUnit.SECONDS), child::describeOutput);
                assertNull(receiver.failure());
                client.close().sync();
            } finally {
                assertTrue(ProcessResources.shutDown(group));
            }
            assertEquals(0, child.closeStdinAndWait(STARTUP_TIMEOUT), child::describeOutput);
        }
        before.assertNoneLeaked("after the namespaced server exited");
    }

    // ---------------------------------------------------------------------------------------------------------
    // Helpers.

    private static void assumeRoot(String what) {
        Assumptions.assumeTrue(LinuxHost.uid() == 0, "needs root to " + what + "; this test runs as uid "
                + LinuxHost.uid());
    }

    private static ChannelFuture connect(EventLoopGroup group, IdtsAddress remote, int timeoutMillis)
            throws InterruptedException {
        ChannelFuture connect = new Bootstrap().group(group).channel(IdtsChannel.class)
                .option(io.netty.channel.ChannelOption.CONNECT_TIMEOUT_MILLIS, timeoutMillis)
                .handler(new io.netty.channel.ChannelInboundHandlerAdapter()).connect(remote);
        assertTrue(connect.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        assertFalse(connect.isSuccess());
        assertTrue(connect.channel().closeFuture().await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        return connect;
    }

    /** A plain listening socket at {@code path}, made by a process of {@code uid}, that never answers. */
    private void startListenerAs(int uid, String path) throws Exception {
        String script = "import socket,sys,time\n"
                + "s=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1])\ns.listen(8)\n"
                + "print('LISTENING',flush=True)\ntime.sleep(600)\n";
        List<String> command = List.of("setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups",
                "/usr/bin/python3", "-c", script, path);
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        processes.add(process);
        String line = new String(process.getInputStream().readNBytes("LISTENING\n".length()),
                StandardCharsets.UTF_8);
        Assumptions.assumeTrue(line.startsWith("LISTENING"), () -> "could not run a listener as uid " + uid
                + " with setpriv and /usr/bin/python3: " + line);
        assertEquals(uid, (Integer) Files.getAttribute(Paths.get(path), "unix:uid"));
    }

    /** Runs {@code command}: {@code null} if it succeeds, else what it printed. */
    private static String tryCommand(List<String> command) {
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                return "timed out";
            }
            return process.exitValue() == 0 ? null : "exit " + process.exitValue() + ": " + output;
        } catch (IOException e) {
            return e.toString();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return e.toString();
        }
    }
}
