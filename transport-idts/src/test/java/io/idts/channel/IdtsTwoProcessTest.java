package io.idts.channel;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

import java.nio.channels.ClosedChannelException;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * IDTS between this JVM and a child JVM ({@link ChildJvm}): a gibibyte echoed by another process, and a peer killed
 * with {@code SIGKILL} in the middle of a transfer, each way round.
 */
final class IdtsTwoProcessTest {

    private static final long GIB = 1L << 30;
    /** Against hangs only. */
    private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);
    private static final long TIMEOUT_SECONDS = 60;
    /** How long the surviving channel may take to notice that its peer was killed: generous, against hangs. */
    private static final long PEER_GONE_SECONDS = 10;
    /** Received before the kill, so that the kill lands in the middle of a transfer. */
    private static final long BEFORE_KILL = 32L * 1024 * 1024;

    @BeforeAll
    static void loadEverythingOnce() throws Exception {
        ProcessResources.warmUpIdts();
    }

    private static IdtsAddress uniqueAddress(TestInfo info) {
        return IdtsChannelTest.uniqueAddress(info);
    }

    @Test
    void anotherProcessEchoesAGibibyte(TestInfo info) throws Exception {
        IdtsAddress address = uniqueAddress(info);
        ProcessResources before = ProcessResources.snapshot();
        try (ChildJvm child = ChildJvm.start(EchoServerMain.class, address.toString())) {
            child.awaitLine("READY", STARTUP_TIMEOUT);
            EventLoopGroup group = new IdtsEventLoopGroup(1);
            try {
                PatternSender sender = new PatternSender(GIB, StreamPattern.MAX_CHUNK, 20_240_917L);
                PatternReceiver receiver = new PatternReceiver(GIB);
                long start = System.nanoTime();
                Channel client = connect(group, address, sender, receiver);
                long received = await(receiver.done(), 100, child);
                double seconds = (System.nanoTime() - start) / 1e9;
                System.out.printf("IdtsTwoProcessTest: 1 GiB echoed through another process in %.2f s "
                        + "(%.0f MiB/s each way, %d writes)%n", seconds, GIB / seconds / (1 << 20), sender.writes());
                assertEquals(GIB, received);
                assertNull(receiver.failure());
                assertNull(sender.writeFailure());
                assertTrue(receiver.exceptions().isEmpty(), receiver.exceptions().toString());
                assertTrue(client.close().await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
            } finally {
                assertTrue(ProcessResources.shutDown(group));
            }
            assertCleanExit(child);
        }
        before.assertNoneLeaked("after the group shut down and the child exited");
    }

    @Test
    void killedServerProcessClosesTheClientChannel(TestInfo info) throws Exception {
        IdtsAddress address = uniqueAddress(info);
        ProcessResources before = ProcessResources.snapshot();
        try (ChildJvm child = ChildJvm.start(StreamingPeerMain.class, "server", address.toString())) {
            child.awaitLine("READY", STARTUP_TIMEOUT);
            EventLoopGroup group = new IdtsEventLoopGroup(1);
            try {
                // Both ways at once: this side is reading and writing (possibly waiting for ring space) at the kill.
                PatternSender sender = new PatternSender(Long.MAX_VALUE, 64 * 1024, 11);
                PatternReceiver receiver = new PatternReceiver(Long.MAX_VALUE);
                CompletableFuture<Long> progress = receiver.reached(BEFORE_KILL);
                Channel client = connect(group, address, sender, receiver);
                await(progress, TIMEOUT_SECONDS, child);

                killAndExpectPeerGone(child, client, receiver, sender);
            } finally {
                assertTrue(ProcessResources.shutDown(group));
            }
        }
        before.assertNoneLeaked("after the group shut down and the child was killed");
    }

    @Test
    void killedClientProcessClosesTheServersChildChannel(TestInfo info) throws Exception {
        IdtsAddress address = uniqueAddress(info);
        ProcessResources before = ProcessResources.snapshot();
        EventLoopGroup group = new IdtsEventLoopGroup(2);
        try {
            CompletableFuture<Channel> accepted = new CompletableFuture<>();
            PatternSender sender = new PatternSender(Long.MAX_VALUE, 64 * 1024, 12);
            PatternReceiver receiver = new PatternReceiver(Long.MAX_VALUE);
            CompletableFuture<Long> progress = receiver.reached(BEFORE_KILL);
            Channel server = new ServerBootstrap().group(group).channel(IdtsServerChannel.class)
                    .childHandler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            if (!accepted.complete(ch)) {
                                ch.close(); // only one connection is expected
                                return;
                            }
                            ch.pipeline().addLast(sender, receiver);
                        }
                    }).bind(address).sync().channel();
            try (ChildJvm child = ChildJvm.start(StreamingPeerMain.class, "client", address.toString())) {
                child.awaitLine("CONNECTED", STARTUP_TIMEOUT);
                Channel serverChild = accepted.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
                await(progress, TIMEOUT_SECONDS, child);

                killAndExpectPeerGone(child, serverChild, receiver, sender);
                assertTrue(server.isActive(), "the server channel outlives its child");
            }
            assertTrue(server.close().await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        } finally {
            assertTrue(ProcessResources.shutDown(group));
        }
        before.assertNoneLeaked("after the group shut down and the child was killed");
    }

    /**
     * Kills the child with SIGKILL in the middle of the transfer and checks that {@code survivor} noticed: an
     * {@link IdtsPeerGoneException} that says so, then the close, within {@value #PEER_GONE_SECONDS} s.
     */
    private static void killAndExpectPeerGone(ChildJvm child, Channel survivor, PatternReceiver receiver,
                                              PatternSender sender) throws Exception {
        assertTrue(survivor.isActive(), "the transfer runs at the kill");
        long killed = System.nanoTime();
        child.destroyForcibly();
        long exited = System.nanoTime();
        boolean closed = survivor.closeFuture().await(PEER_GONE_SECONDS, TimeUnit.SECONDS);
        assertTrue(closed, "the channel was still open " + PEER_GONE_SECONDS + " s after its peer was killed; "
                + "received " + receiver.received() + " bytes, exceptions " + receiver.exceptions());
        long closedAt = receiver.closed().get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        System.out.printf("IdtsTwoProcessTest: %s closed %.1f ms after the kill of its peer (%.1f ms after its exit"
                + " was seen), %d MiB received%n", survivor, (closedAt - killed) / 1e6, (closedAt - exited) / 1e6,
                receiver.received() >> 20);

        List<Throwable> exceptions = receiver.exceptions();
        assertEquals(1, exceptions.size(), "exceptionCaught calls: " + exceptions);
        Throwable gone = exceptions.get(0);
        assertInstanceOf(IdtsPeerGoneException.class, gone);
        assertTrue(gone.getMessage().contains("is gone"), "message: " + gone.getMessage());
        assertNull(receiver.failure(), "bytes received before the kill are intact");
        assertTrue(receiver.received() >= BEFORE_KILL);
        Throwable writeFailure = sender.writeFailure();
        if (writeFailure != null) {
            assertInstanceOf(ClosedChannelException.class, writeFailure, "pending writes fail as closed");
        }
    }

    private static Channel connect(EventLoopGroup group, IdtsAddress address, PatternSender sender,
                                   PatternReceiver receiver) throws InterruptedException {
        ChannelFuture connect = new Bootstrap().group(group).channel(IdtsChannel.class)
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(1 << 20, 2 << 20))
                .handler(IdtsChannelTest.pipeline(sender, receiver)).connect(address);
        assertTrue(connect.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        assertTrue(connect.isSuccess(), () -> "connect to " + address + " failed: " + connect.cause());
        return connect.channel();
    }

    /** Asks the child to stop and checks that it exits cleanly with no leak recorded. */
    private static void assertCleanExit(ChildJvm child) throws Exception {
        int status = child.closeStdinAndWait(Duration.ofSeconds(TIMEOUT_SECONDS));
        if (status != 0 || !child.stdoutLines().contains("LEAKS 0")) {
            child.keepFiles();
        }
        assertEquals(0, status, () -> "exit status of " + child + "; " + child.describeOutput());
        assertTrue(child.stdoutLines().contains("LEAKS 0"), () -> child + " reported leaks; "
                + child.describeOutput());
    }

    private static <T> T await(CompletableFuture<T> future, long seconds, ChildJvm child) throws Exception {
        try {
            return future.get(seconds, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            child.keepFiles();
            throw new AssertionError("failed; " + child + " alive: " + child.isAlive() + "; "
                    + child.describeOutput(), e.getCause());
        } catch (java.util.concurrent.TimeoutException e) {
            child.keepFiles();
            throw new AssertionError("no result within " + seconds + " s; " + child + " alive: " + child.isAlive()
                    + "; " + child.describeOutput(), e);
        }
    }
}
