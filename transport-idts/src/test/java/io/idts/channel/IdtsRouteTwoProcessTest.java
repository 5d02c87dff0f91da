package io.idts.channel;

import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One client configuration against servers in another JVM ({@link RouteEchoServerMain}): a server listening on IDTS
 * and TCP is reached through IDTS, a TCP-only server through TCP, and a server that starts serving IDTS after the
 * client's first connection through TCP first and IDTS on the next connection; the echoed bytes are checked on every
 * route. An IDTS connection chosen this way still ends with {@link IdtsPeerGoneException} when the server is killed.
 */
final class IdtsRouteTwoProcessTest {

    private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);
    private static final long TIMEOUT_SECONDS = 60;
    private static final long STREAM_BYTES = 64L * 1024 * 1024;

    @BeforeAll
    static void loadEverythingOnce() throws Exception {
        ProcessResources.warmUpIdts();
    }

    @Test
    void dualServerIsReachedThroughIdts(TestInfo info) throws Exception {
        IdtsAddress address = IdtsChannelTest.uniqueAddress(info);
        try (ChildJvm child = ChildJvm.start(RouteEchoServerMain.class, "dual", address.toString())) {
            IdtsAddress remote = address.withTcp("127.0.0.1", port(child));
            try (Client client = new Client()) {
                assertEquals(IdtsRoute.IDTS, client.echo(remote, 1, child));
            }
            assertCleanExit(child);
        }
    }

    @Test
    void tcpOnlyServerIsReachedThroughTcp(TestInfo info) throws Exception {
        IdtsAddress address = IdtsChannelTest.uniqueAddress(info);
        try (ChildJvm child = ChildJvm.start(RouteEchoServerMain.class, "tcp", address.toString())) {
            IdtsAddress remote = address.withTcp("127.0.0.1", port(child));
            try (Client client = new Client()) {
                assertEquals(IdtsRoute.TCP, client.echo(remote, 2, child));
            }
            assertCleanExit(child);
        }
    }

    @Test
    void serverThatStartsServingIdtsIsReachedThroughIdtsOnTheNextConnection(TestInfo info) throws Exception {
        IdtsAddress address = IdtsChannelTest.uniqueAddress(info);
        try (ChildJvm child = ChildJvm.start(RouteEchoServerMain.class, "tcp-then-idts", address.toString())) {
            IdtsAddress remote = address.withTcp("127.0.0.1", port(child));
            try (Client client = new Client()) {
                assertEquals(IdtsRoute.TCP, client.echo(remote, 3, child));
                // The first connection closed: the server binds IDTS now.
                child.awaitLine("IDTS READY", STARTUP_TIMEOUT);
                assertEquals(IdtsRoute.IDTS, client.echo(remote, 4, child));
            }
            assertCleanExit(child);
        }
    }

    @Test
    void idtsRouteStillEndsWithPeerGoneWhenTheServerIsKilled(TestInfo info) throws Exception {
        IdtsAddress address = IdtsChannelTest.uniqueAddress(info);
        try (ChildJvm child = ChildJvm.start(RouteEchoServerMain.class, "dual", address.toString())) {
            IdtsAddress remote = address.withTcp("127.0.0.1", port(child));
            try (Client client = new Client()) {
                PatternSender sender = new PatternSender(Long.MAX_VALUE, 64 * 1024, 5);
                PatternReceiver receiver = new PatternReceiver(Long.MAX_VALUE);
                CompletableFuture<Long> progress = receiver.reached(4L * 1024 * 1024);
                IdtsChannel channel = client.connect(remote, sender, receiver);
                assertEquals(IdtsRoute.IDTS, channel.route());
                progress.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
                child.destroyForcibly();
                assertTrue(channel.closeFuture().await(TIMEOUT_SECONDS, TimeUnit.SECONDS), "client channel closed");
                assertTrue(receiver.exceptions().stream().anyMatch(e -> e instanceof IdtsPeerGoneException),
                        () -> "IdtsPeerGoneException expected, got " + receiver.exceptions());
                assertNull(receiver.failure(), receiver::failure);
            }
        }
    }

    private static int port(ChildJvm child) throws Exception {
        String ready = child.awaitLine(line -> line.startsWith("READY "), STARTUP_TIMEOUT);
        return Integer.parseInt(ready.substring(ready.lastIndexOf(' ') + 1));
    }

    private static void assertCleanExit(ChildJvm child) throws Exception {
        assertEquals(0, child.closeStdinAndWait(STARTUP_TIMEOUT), child::describeOutput);
        assertTrue(child.stdoutLines().contains("LEAKS 0"), child::describeOutput);
    }

    /** The one client configuration: an IDTS event loop group, {@link IdtsChannel}, TCP_NODELAY. */
    private static final class Client implements AutoCloseable {
        private final ProcessResources before = ProcessResources.snapshot();
        private final EventLoopGroup group = new IdtsEventLoopGroup(1);

        IdtsChannel connect(IdtsAddress remote, PatternSender sender, PatternReceiver receiver) throws Exception {
            ChannelFuture connect = new Bootstrap().group(group).channel(IdtsChannel.class)
                    .option(ChannelOption.TCP_NODELAY, true)
                    .handler(IdtsChannelTest.pipeline(sender, receiver)).connect(remote);
            assertTrue(connect.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
            assertTrue(connect.isSuccess(), () -> "connect to " + remote + " failed: " + connect.cause());
            return assertInstanceOf(IdtsChannel.class, connect.channel());
        }

        /** Echoes {@link #STREAM_BYTES} of a pattern through a new connection to {@code remote}; its route. */
        IdtsRoute echo(IdtsAddress remote, long seed, ChildJvm child) throws Exception {
            PatternSender sender = new PatternSender(STREAM_BYTES, StreamPattern.MAX_CHUNK, seed);
            PatternReceiver receiver = new PatternReceiver(STREAM_BYTES);
            IdtsChannel channel = connect(remote, sender, receiver);
            Supplier<String> state = () -> "route " + channel.route() + ", received " + receiver.received()
                    + ", failure " + receiver.failure() + "\n" + child.describeOutput();
            assertEquals(STREAM_BYTES, receiver.done().get(TIMEOUT_SECONDS, TimeUnit.SECONDS), state);
            assertNull(receiver.failure(), state);
            assertNull(sender.writeFailure(), state);
            assertTrue(receiver.exceptions().isEmpty(), state);
            assertTrue(channel.close().await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
            return channel.route();
        }

        @Override
        public void close() throws Exception {
            assertTrue(ProcessResources.shutDown(group), "client group terminated");
            before.assertNoneLeaked("after the client group shut down");
        }
    }
}
