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
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
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
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The host backend's rendezvous entry ({@link RendezvousSocket}): a socket file of mode {@code rw-------} in the
 * rendezvous directory, removed when the server stops, replaced when stale (by exactly one of several servers, threads
 * or processes, that start on it at once, and not blocked by a server killed while binding), refused when it is not a
 * socket or belongs to another user; a listener of another user is refused by the connector unless
 * {@value IdtsAddress#RENDEZVOUS_PEER_UIDS_PROPERTY} names it; and two processes in separate network namespaces that
 * share the directory meet there.
 */
final class RendezvousSocketTest {

    /** {@code nobody}: another user for the tests that need one (and root to act as it). */
    private static final int OTHER_UID = 65534;
    private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);
    private static final long TIMEOUT_SECONDS = 60;
    private static final int RACING_SERVERS = 8;
    private static final int RACE_ROUNDS = 200;
    private static final int RACING_PROCESSES = 3;
    private static final int PROCESS_RACE_ROUNDS = 30;

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
        leaveStaleEntry();
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
    void serversRacingOverAStaleEntryElectExactlyOne() throws Exception {
        // Every server finds the stale entry and may judge it stale; without the directory lock, one unlinks the
        // fresh socket of another that got there first, and both think they serve the address.
        ExecutorService pool = Executors.newFixedThreadPool(RACING_SERVERS);
        try {
            for (int round = 0; round < RACE_ROUNDS; round++) {
                leaveStaleEntry();
                CyclicBarrier start = new CyclicBarrier(RACING_SERVERS);
                List<Future<RendezvousSocket>> binds = new ArrayList<>();
                for (int i = 0; i < RACING_SERVERS; i++) {
                    binds.add(pool.submit(() -> {
                        start.await();
                        return RendezvousSocket.listen(address, 16);
                    }));
                }
                List<RendezvousSocket> winners = new ArrayList<>();
                List<Throwable> losers = new ArrayList<>();
                for (Future<RendezvousSocket> bind : binds) {
                    try {
                        winners.add(bind.get(TIMEOUT_SECONDS, TimeUnit.SECONDS));
                    } catch (ExecutionException e) {
                        losers.add(e.getCause());
                    }
                }
                try {
                    String outcome = "round " + round + ": bound " + winners + ", refused " + losers;
                    assertEquals(1, winners.size(), outcome);
                    for (Throwable loser : losers) {
                        assertInstanceOf(BindException.class, loser, outcome);
                        assertTrue(loser.getMessage().contains("is already in use: another server listens on"),
                                outcome);
                    }
                    assertEntryReaches(winners.get(0));
                } finally {
                    for (RendezvousSocket winner : winners) {
                        winner.close();
                    }
                }
                assertFalse(Files.exists(Paths.get(address.socketPath()), LinkOption.NOFOLLOW_LINKS), "removed");
            }
        } finally {
            pool.shutdownNow();
        }
        try (var entries = Files.list(directory)) {
            assertEquals(List.of(), entries.collect(Collectors.toList()), "no lock or other file left behind");
        }
    }

    @Test
    void serversInSeparateProcessesRacingOverAStaleEntryElectExactlyOne() throws Exception {
        List<ChildJvm> children = new ArrayList<>();
        try {
            for (int i = 0; i < RACING_PROCESSES; i++) {
                children.add(ChildJvm.start(RendezvousRaceMain.class, address.toString()));
            }
            for (ChildJvm child : children) {
                child.awaitLine("READY", STARTUP_TIMEOUT);
            }
            for (int round = 0; round < PROCESS_RACE_ROUNDS; round++) {
                leaveStaleEntry();
                // Written to every child first, flushed together: the binds start within a few microseconds.
                List<OutputStream> commands = new ArrayList<>();
                for (ChildJvm child : children) {
                    OutputStream stdin = child.process().getOutputStream();
                    stdin.write(("BIND " + round + '\n').getBytes(StandardCharsets.US_ASCII));
                    commands.add(stdin);
                }
                for (OutputStream stdin : commands) {
                    stdin.flush();
                }
                String bound = "BOUND " + round;
                String refused = "REFUSED " + round + ' ';
                ChildJvm winner = null;
                StringBuilder outcome = new StringBuilder("round " + round + ':');
                int winners = 0;
                for (ChildJvm child : children) {
                    String line = child.awaitLine(l -> l.equals(bound) || l.startsWith(refused), STARTUP_TIMEOUT);
                    outcome.append("\n  ").append(child.pid()).append(": ").append(line);
                    if (line.equals(bound)) {
                        winner = child;
                        winners++;
                    } else {
                        assertTrue(line.contains("BindException") && line.contains("is already in use"), line);
                    }
                }
                assertEquals(1, winners, outcome::toString);
                int client = RendezvousSocket.connect(address);
                try {
                    assertEquals(winner.pid(), UnixDomainSocket.peerCredentials(client).pid(),
                            () -> "the entry leads to the process that bound it; " + outcome);
                } finally {
                    FileDescriptors.close(client);
                }
                OutputStream stdin = winner.process().getOutputStream();
                stdin.write(("CLOSE " + round + '\n').getBytes(StandardCharsets.US_ASCII));
                stdin.flush();
                winner.awaitLine("CLOSED " + round, STARTUP_TIMEOUT);
                assertFalse(Files.exists(Paths.get(address.socketPath()), LinkOption.NOFOLLOW_LINKS), "removed");
            }
            for (ChildJvm child : children) {
                assertEquals(0, child.closeStdinAndWait(STARTUP_TIMEOUT), child::describeOutput);
            }
        } finally {
            for (ChildJvm child : children) {
                child.close();
            }
        }
    }

    @Test
    void serverKilledWhileHoldingTheDirectoryLockBlocksNobody() throws Exception {
        // The lock is flock(2) on the directory: what another process holds with it, the next server waits for, and
        // the kernel drops it with the process.
        String script = "import fcntl,os,sys,time\n"
                + "fd=os.open(sys.argv[1],os.O_RDONLY)\nfcntl.flock(fd,fcntl.LOCK_EX)\n"
                + "print('LOCKED',flush=True)\ntime.sleep(600)\n";
        Process holder = new ProcessBuilder(List.of("/usr/bin/python3", "-c", script, directory.toString()))
                .redirectErrorStream(true).start();
        processes.add(holder);
        String line = new String(holder.getInputStream().readNBytes("LOCKED\n".length()), StandardCharsets.UTF_8);
        assertEquals("LOCKED\n", line);
        leaveStaleEntry();
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            Future<RendezvousSocket> bind = pool.submit(() -> RendezvousSocket.listen(address, 8));
            Thread.sleep(300);
            assertFalse(bind.isDone(), "the server waits while another process binds");
            holder.destroyForcibly().waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            RendezvousSocket socket = bind.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            try {
                assertEntryReaches(socket);
            } finally {
                socket.close();
            }
        } finally {
            pool.shutdownNow();
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
        leaveStaleEntry();
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
            long start = System.nanoTime();
            ChannelFuture refused = connect(group, address, 5000);
            assertTrue(refused.cause() instanceof ConnectException, String.valueOf(refused.cause()));
            String message = refused.cause().getMessage();
            assertTrue(message.contains("refusing to connect to IDTS address " + address), message);
            assertTrue(message.contains("runs as uid " + OTHER_UID), message);
            assertTrue(message.contains(IdtsAddress.RENDEZVOUS_PEER_UIDS_PROPERTY), message);
            assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(5), "refused within the timeout");

            // With a TCP address that refuses too: both routes and both causes, as soon as they are known.
            int closedPort = freePort();
            start = System.nanoTime();
            ChannelFuture neither = connect(group, address.withTcp("127.0.0.1", closedPort), 5000);
            assertInstanceOf(ConnectException.class, neither.cause());
            message = neither.cause().getMessage();
            assertTrue(message.contains("by either route: IDTS to " + address), message);
            assertTrue(message.contains("runs as uid " + OTHER_UID), message);
            assertTrue(message.contains("then TCP to 127.0.0.1") && message.contains(":" + closedPort), message);
            assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(5), "failed within the timeout");

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
    void entryOfAnotherUserThatTheClientMayNotWriteToFailsBothRoutesNamingTheCause() throws Exception {
        assumeRoot("run a listener as another user (setpriv)");
        // The client must not be privileged over the entry: root is, so it runs in a user namespace of its own,
        // where the other user is not mapped and root's capabilities do not reach that user's files.
        List<String> userNamespace = List.of("unshare", "--user", "--map-current-user");
        String refusal = tryCommand(new ArrayList<>(List.of("unshare", "--user", "--map-current-user", "true")));
        Assumptions.assumeTrue(refusal == null, () -> "this kernel or sandbox does not let a process make a user "
                + "namespace (unshare --user --map-current-user), needed for a client without root's privileges: "
                + refusal);
        Files.setPosixFilePermissions(directory, PosixFilePermissions.fromString("rwxrwxrwx"));
        startListenerAs(OTHER_UID, address.socketPath());
        Files.setPosixFilePermissions(Paths.get(address.socketPath()), PosixFilePermissions.fromString("rw-------"));
        int closedPort = freePort();
        IdtsAddress routed = address.withTcp("127.0.0.1", closedPort);
        try (ChildJvm client = ChildJvm.start(userNamespace, ConnectOnceMain.class, List.of(), routed.toString(),
                "5000")) {
            String outcome = client.awaitLine(l -> l.startsWith("FAILED ") || l.startsWith("CONNECTED "),
                    STARTUP_TIMEOUT);
            assertTrue(outcome.startsWith("FAILED "), outcome);
            long millis = Long.parseLong(outcome.split(" ")[1]);
            assertTrue(millis < 5000, "failed within the connect timeout: " + outcome);
            assertTrue(outcome.contains("java.net.ConnectException: cannot connect to " + routed + " by either route"),
                    outcome);
            assertTrue(outcome.contains("may not connect to IDTS address " + address), outcome);
            assertTrue(outcome.contains("no write permission on its rendezvous entry " + address.socketPath()
                    + " (owned by uid " + OTHER_UID + ", mode 600)"), outcome);
            assertTrue(outcome.contains("then TCP to 127.0.0.1") && outcome.contains(":" + closedPort), outcome);
            assertEquals(0, client.closeStdinAndWait(STARTUP_TIMEOUT), client::describeOutput);
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

    private static int freePort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    /** A socket file at the address that nobody listens on: what a killed server leaves behind. */
    private void leaveStaleEntry() throws IOException {
        FileDescriptors.close(UnixDomainSocket.listenOnPath(address.socketPath(), 1));
    }

    /** A client connecting to the address's entry reaches {@code socket}: its connection waits in that backlog. */
    private void assertEntryReaches(RendezvousSocket socket) throws IOException {
        // The probes of the servers that lost are queued there too.
        for (int probe; (probe = UnixDomainSocket.accept(socket.fd())) >= 0; ) {
            FileDescriptors.close(probe);
        }
        int client = RendezvousSocket.connect(address);
        try {
            int accepted = UnixDomainSocket.accept(socket.fd());
            assertTrue(accepted >= 0, "the connection to " + address + " reached " + socket);
            FileDescriptors.close(accepted);
        } finally {
            FileDescriptors.close(client);
        }
    }

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
