package io.idts.testsuite;

import io.idts.channel.ChildJvm;
import io.idts.channel.EchoServerMain;
import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsPeerGoneException;
import io.idts.channel.ProcessResources;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.GlobalEventExecutor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.ConnectException;
import java.nio.channels.ClosedChannelException;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.List;
import java.util.Queue;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Churn with {@code kill -9}: peer processes that connect, echo and close as fast as they can (and keep connections
 * that never send a HELLO, and one that streams) are killed at a random moment, so that connections die in every
 * phase (handshake, streaming, closing); repeated for {@value #DEFAULT_SECONDS} s (system property
 * {@value #SECONDS_PROPERTY}) each way: the test's JVM as the server of killed clients, then as the client of killed
 * servers. In the surviving process every connection of a dead peer is closed within a bound, the only exceptions are
 * those of a dead peer, a well-behaved client beside the churn is served, and at the end open descriptors, IDTS
 * mappings ({@code /proc/self/maps}) and threads are what they were before.
 */
class IdtsChurnTest {

    static final String SECONDS_PROPERTY = "idts.churn.seconds";
    static final int DEFAULT_SECONDS = 20;

    private static final long BOUND_SECONDS = 10;
    private static final List<String> CHILD_JVM = List.of("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx96m",
            "-Xss512k");
    /** What a survivor may report of a killed peer. */
    private static final List<Class<? extends Throwable>> EXPECTED = List.of(IdtsPeerGoneException.class,
            ConnectException.class, ConnectTimeoutException.class, ClosedChannelException.class);
    /**
     * Threads that come and go with the JDK's own pools, not with IDTS: process reapers (idle for a minute before they
     * end), the stdout pumps of killed children, the executor of channel groups.
     */
    private static final List<String> TRANSIENT_THREADS = List.of("process reaper", "ChildJvm-stdout-",
            "globalEventExecutor");

    @BeforeAll
    static void warmUp() throws Exception {
        ProcessResources.warmUpIdts();
    }

    @AfterAll
    static void shutdownGroups() throws InterruptedException {
        IdtsSocketTestPermutation.INSTANCE.shutdownGroups();
    }

    private static long budgetNanos() {
        return TimeUnit.SECONDS.toNanos(Long.getLong(SECONDS_PROPERTY, DEFAULT_SECONDS));
    }

    private static void collectUnexpected(Throwable cause, Queue<Throwable> unexpected) {
        Throwable root = cause;
        if (EXPECTED.stream().noneMatch(type -> type.isInstance(root))) {
            unexpected.add(cause);
        }
    }

    /**
     * Starts the thread of every event loop of the test's groups. A loop starts its thread with its first task, so a
     * loop that the churn reaches first after {@link Snapshot#take()} would count as a leaked thread.
     */
    private static void startEveryEventLoop() throws InterruptedException {
        for (EventLoopGroup group : List.of(IdtsSocketTestPermutation.INSTANCE.workerGroup(),
                IdtsSocketTestPermutation.INSTANCE.bossGroup())) {
            for (EventExecutor loop : group) {
                loop.submit(() -> { }).sync();
            }
        }
    }

    @Test
    void killedClientsLeaveNothingBehindInTheServer() throws Exception {
        startEveryEventLoop();
        IdtsAddress address = IdtsSocketTestPermutation.newSocketAddress("churn");
        ChannelGroup children = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
        Queue<Throwable> unexpected = new ConcurrentLinkedQueue<>();
        Channel server = IdtsSocketTestPermutation.INSTANCE.serverSocket(0).newInstance()
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        children.add(ch);
                        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                ctx.writeAndFlush(msg);
                            }

                            @Override
                            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                collectUnexpected(cause, unexpected);
                                ctx.close();
                            }
                        });
                    }
                }).bind(address).sync().channel();
        SplittableRandom random = new SplittableRandom(new SecureRandom().nextLong());
        int kills = 0;
        try (WellBehavedClient beside = new WellBehavedClient(0, address, BOUND_SECONDS, TimeUnit.SECONDS, 7)) {
            Snapshot before = Snapshot.take();
            long deadline = System.nanoTime() + budgetNanos();
            while (System.nanoTime() < deadline || kills == 0) {
                try (ChildJvm child = ChildJvm.start(ChurnClients.class, CHILD_JVM, address.toString(),
                        Long.toString(random.nextLong()))) {
                    child.awaitLine("READY", Duration.ofSeconds(60));
                    Thread.sleep(random.nextInt(400));
                    child.destroyForcibly();
                }
                kills++;
                // The dead child's connections all close: only the well-behaved client's is left.
                awaitAtMost(children, 1, "the server's connections of killed client " + kills);
                assertTrue(unexpected.isEmpty(), () -> "the server reported " + unexpected);
            }
            beside.assertWellServed();
            before.assertFlat("after " + kills + " clients were killed");
        } finally {
            server.close().sync();
        }
        System.out.println("killed " + kills + " client processes");
    }

    @Test
    void killedServersLeaveNothingBehindInTheClient() throws Exception {
        startEveryEventLoop();
        SplittableRandom random = new SplittableRandom(new SecureRandom().nextLong());
        ChannelGroup clients = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
        Queue<Throwable> unexpected = new ConcurrentLinkedQueue<>();
        Consumer<Throwable> failures = t -> collectUnexpected(t, unexpected);
        Bootstrap bootstrap = ChurnClients.bootstrap(IdtsSocketTestPermutation.INSTANCE.workerGroup(), clients,
                failures);
        int kills = 0;
        try (WellBehavedClient beside = new WellBehavedClient(0, null, BOUND_SECONDS, TimeUnit.SECONDS, 8)) {
            Snapshot before = Snapshot.take();
            long deadline = System.nanoTime() + budgetNanos();
            while (System.nanoTime() < deadline || kills == 0) {
                IdtsAddress address = IdtsSocketTestPermutation.newSocketAddress("churned");
                try (ChildJvm child = ChildJvm.start(EchoServerMain.class, CHILD_JVM, address.toString())) {
                    child.awaitLine(line -> line.startsWith("READY"), Duration.ofSeconds(60));
                    Run run = new Run();
                    Thread[] threads = {
                        new Thread(() -> ChurnClients.cycle(bootstrap, address, random.split(), run::running,
                                failures, () -> { })),
                        new Thread(() -> ChurnClients.cycle(bootstrap, address, random.split(), run::running,
                                failures, () -> { })),
                        new Thread(() -> ChurnClients.stream(bootstrap, address, run::running, failures)),
                    };
                    for (Thread thread : threads) {
                        thread.start();
                    }
                    Thread.sleep(100 + random.nextInt(500));
                    child.destroyForcibly();
                    // The clients notice the death (or fail to connect) within the bound, and stop.
                    Thread.sleep(random.nextInt(50));
                    run.stop();
                    for (Thread thread : threads) {
                        thread.join(TimeUnit.SECONDS.toMillis(2 * BOUND_SECONDS));
                        assertTrue(!thread.isAlive(), "a client thread hung after the server was killed");
                    }
                }
                kills++;
                awaitAtMost(clients, 0, "the client connections to killed server " + kills);
                assertTrue(unexpected.isEmpty(), () -> "the clients reported " + unexpected);
            }
            beside.assertWellServed();
            before.assertFlat("after " + kills + " servers were killed");
        }
        System.out.println("killed " + kills + " server processes");
    }

    private static final class Run {
        private volatile boolean running = true;

        boolean running() {
            return running;
        }

        void stop() {
            running = false;
        }
    }

    private static void awaitAtMost(ChannelGroup channels, int count, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(BOUND_SECONDS);
        while (channels.size() > count) {
            if (System.nanoTime() > deadline) {
                fail(what + ": still open after " + BOUND_SECONDS + " s: " + channels);
            }
            Thread.sleep(1);
        }
    }

    /** Descriptors, IDTS mappings and threads of this process. */
    private static final class Snapshot {
        private final ProcessResources resources;
        private final long threads;

        private Snapshot(ProcessResources resources, long threads) {
            this.resources = resources;
            this.threads = threads;
        }

        static Snapshot take() {
            return new Snapshot(ProcessResources.snapshot(), lastingThreads());
        }

        private static long lastingThreads() {
            return Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> TRANSIENT_THREADS.stream().noneMatch(t.getName()::startsWith))
                    .count();
        }

        void assertFlat(String when) throws InterruptedException {
            resources.assertNoneLeaked(when);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(BOUND_SECONDS);
            long now = lastingThreads();
            while (now > threads && System.nanoTime() < deadline) {
                Thread.sleep(20);
                now = lastingThreads();
            }
            long after = now;
            assertTrue(after <= threads, () -> "threads " + when + ": " + threads + " before, " + after + " now: "
                    + Thread.getAllStackTraces().keySet());
        }
    }
}
