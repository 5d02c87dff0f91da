package io.idts.testsuite;

import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsChannel;
import io.idts.channel.IdtsChannelOption;
import io.idts.channel.IdtsEventLoopGroup;
import io.idts.channel.IdtsServerChannel;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.testsuite.transport.TestsuitePermutation.BootstrapComboFactory;
import io.netty.testsuite.transport.TestsuitePermutation.BootstrapFactory;
import io.netty.util.concurrent.DefaultThreadFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The bootstraps with which Netty's transport testsuite runs against IDTS, as {@code EpollSocketTestPermutation
 * .domainSocket()} runs it against Netty's Unix-domain sockets: an {@link IdtsServerChannel} and an
 * {@link IdtsChannel} on shared {@link IdtsEventLoopGroup}s, in two combinations, the event loops spinning
 * ({@link IdtsChannelOption#SPIN_TIME_NANOS} {@value #SPIN_TIME_NANOS} ns on both ends) and not spinning (0).
 *
 * <p>The groups are made on first use and shared by the tests of a class; each test class shuts them down in its
 * {@code @AfterAll} through {@link #shutdownGroups()} (which waits until every loop thread has ended), and a JVM
 * shutdown hook does it for a class that forgets. The next use makes new groups.
 */
public final class IdtsSocketTestPermutation {

    public static final IdtsSocketTestPermutation INSTANCE = new IdtsSocketTestPermutation();

    /** The spin time of the spinning combination, in nanoseconds. */
    public static final long SPIN_TIME_NANOS = 50_000;

    /** As Netty's epoll testsuite: two boss loops, three worker loops. */
    static final int BOSSES = 2;
    static final int WORKERS = 3;

    private static final AtomicLong ADDRESS_SEQUENCE = new AtomicLong();
    private static final long PID = ProcessHandle.current().pid();

    private final List<Thread> threads = new ArrayList<>();
    private EventLoopGroup bossGroup;
    private EventLoopGroup workerGroup;
    private boolean shutdownHookAdded;

    private IdtsSocketTestPermutation() {
    }

    /**
     * A fresh address: the service {@code prefix-<pid>-<n>} in the default rendezvous directory. The pid keeps
     * concurrent builds on one host apart (abstract socket names are host-wide).
     */
    public static IdtsAddress newSocketAddress(String prefix) {
        return IdtsAddress.of(prefix + '-' + PID + '-' + ADDRESS_SEQUENCE.incrementAndGet());
    }

    /** Server and client with the same spin time: spinning on, then spinning off. */
    public List<BootstrapComboFactory<ServerBootstrap, Bootstrap>> socket() {
        List<BootstrapComboFactory<ServerBootstrap, Bootstrap>> combos = new ArrayList<>();
        for (long spin : new long[] { SPIN_TIME_NANOS, 0 }) {
            BootstrapFactory<ServerBootstrap> server = serverSocket(spin);
            BootstrapFactory<Bootstrap> client = clientSocket(spin);
            combos.add(new BootstrapComboFactory<ServerBootstrap, Bootstrap>() {
                @Override
                public ServerBootstrap newServerInstance() {
                    return server.newInstance();
                }

                @Override
                public Bootstrap newClientInstance() {
                    return client.newInstance();
                }

                @Override
                public String toString() {
                    return "IDTS, spin " + spin + " ns";
                }
            });
        }
        return combos;
    }

    /**
     * Netty's epoll TCP channels on the IDTS event loops ({@code IdtsIoHandler} wraps Netty's {@code EpollIoHandler}),
     * so that a server can serve TCP and IDTS on one thread.
     */
    public List<BootstrapComboFactory<ServerBootstrap, Bootstrap>> epollSocketOnIdtsLoops() {
        List<BootstrapComboFactory<ServerBootstrap, Bootstrap>> combos = new ArrayList<>();
        combos.add(new BootstrapComboFactory<ServerBootstrap, Bootstrap>() {
            @Override
            public ServerBootstrap newServerInstance() {
                return new ServerBootstrap().group(bossGroup(), workerGroup())
                        .channel(EpollServerSocketChannel.class);
            }

            @Override
            public Bootstrap newClientInstance() {
                return new Bootstrap().group(workerGroup()).channel(EpollSocketChannel.class);
            }

            @Override
            public String toString() {
                return "epoll TCP on IDTS event loops";
            }
        });
        return combos;
    }

    /**
     * An {@link IdtsServerChannel} whose accepted channels spin for {@code spinTimeNanos}. The server channel's own
     * config is Netty's default one: the IDTS options are child options.
     */
    public BootstrapFactory<ServerBootstrap> serverSocket(long spinTimeNanos) {
        return () -> new ServerBootstrap()
                .group(bossGroup(), workerGroup())
                .channel(IdtsServerChannel.class)
                .childOption(IdtsChannelOption.SPIN_TIME_NANOS, spinTimeNanos);
    }

    /** An {@link IdtsChannel} that spins for {@code spinTimeNanos}. */
    public BootstrapFactory<Bootstrap> clientSocket(long spinTimeNanos) {
        return () -> new Bootstrap()
                .group(workerGroup())
                .channel(IdtsChannel.class)
                .option(IdtsChannelOption.SPIN_TIME_NANOS, spinTimeNanos);
    }

    public synchronized EventLoopGroup bossGroup() {
        if (bossGroup == null) {
            bossGroup = new IdtsEventLoopGroup(BOSSES, threadFactory("testsuite-idts-boss"));
            addShutdownHook();
        }
        return bossGroup;
    }

    public synchronized EventLoopGroup workerGroup() {
        if (workerGroup == null) {
            workerGroup = new IdtsEventLoopGroup(WORKERS, threadFactory("testsuite-idts-worker"));
            addShutdownHook();
        }
        return workerGroup;
    }

    /**
     * Shuts the groups down and waits until their threads have ended, so that no thread outlives the test class.
     * Channels still open are closed by the shutdown.
     */
    public void shutdownGroups() throws InterruptedException {
        List<EventLoopGroup> groups = new ArrayList<>(2);
        List<Thread> toJoin;
        synchronized (this) {
            if (bossGroup != null) {
                groups.add(bossGroup);
                bossGroup = null;
            }
            if (workerGroup != null) {
                groups.add(workerGroup);
                workerGroup = null;
            }
            toJoin = new ArrayList<>(threads);
            threads.clear();
        }
        for (EventLoopGroup group : groups) {
            group.shutdownGracefully(0, 5, TimeUnit.SECONDS);
        }
        for (EventLoopGroup group : groups) {
            if (!group.terminationFuture().await(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("IDTS event loop group did not terminate within 30 s: " + group);
            }
        }
        for (Thread thread : toJoin) {
            thread.join(TimeUnit.SECONDS.toMillis(10));
            if (thread.isAlive()) {
                throw new IllegalStateException("event loop thread still alive after shutdown: " + thread);
            }
        }
    }

    private ThreadFactory threadFactory(String poolName) {
        ThreadFactory daemons = new DefaultThreadFactory(poolName, true);
        return runnable -> {
            Thread thread = daemons.newThread(runnable);
            synchronized (this) {
                threads.add(thread);
            }
            return thread;
        };
    }

    private void addShutdownHook() {
        if (!shutdownHookAdded) {
            shutdownHookAdded = true;
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    shutdownGroups();
                } catch (Exception ignored) {
                    // The JVM is exiting.
                }
            }, "testsuite-idts-shutdown"));
        }
    }
}
