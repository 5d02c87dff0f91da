package io.idts.testsuite;

import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsChannel;
import io.idts.channel.IdtsChannelOption;
import io.idts.channel.IdtsEventLoopGroup;
import io.idts.channel.IdtsRoute;
import io.idts.channel.IdtsServerChannel;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.testsuite.transport.TestsuitePermutation.BootstrapComboFactory;
import io.netty.testsuite.transport.TestsuitePermutation.BootstrapFactory;
import io.netty.resolver.AbstractAddressResolver;
import io.netty.resolver.AddressResolver;
import io.netty.resolver.AddressResolverGroup;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.Promise;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
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

    /**
     * The spin time of the spinning combination: the default, adaptive spin (the other combination never spins, so
     * that every wait ends with a notification).
     */
    public static final long SPIN_TIME_NANOS = IdtsChannelOption.SPIN_ADAPTIVE;

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
     * concurrent builds on one host apart (the default rendezvous directory is shared by the user's processes).
     */
    public static IdtsAddress newSocketAddress(String prefix) {
        return IdtsAddress.of(prefix + '-' + PID + '-' + ADDRESS_SEQUENCE.incrementAndGet());
    }

    /**
     * A fresh address with a TCP address on the loopback interface (port 0: the server picks one), for the
     * {@link #routed()} combinations.
     */
    public static IdtsAddress newRoutedSocketAddress(String prefix) {
        return newSocketAddress(prefix).withTcp(new InetSocketAddress(NetUtil.LOCALHOST4, 0));
    }

    /**
     * The connections accepted by the servers of {@link #routed()}, per route, and those that came by the wrong
     * route; a test class checks them in its {@code @AfterAll} ({@link #assertRoutesTaken()}).
     */
    private final Map<IdtsRoute, Long> accepted = new ConcurrentHashMap<>();
    private final List<String> wrongRoutes = Collections.synchronizedList(new ArrayList<>());

    /**
     * One client configuration ({@link IdtsChannel} on IDTS loops) against an {@link IdtsServerChannel} listening on
     * IDTS and TCP ({@link #newRoutedSocketAddress}): connecting to the server's address goes through IDTS; with a
     * resolver that points the IDTS half of the address at a service nobody serves, the same bootstrap falls back to
     * the server's TCP listener, whose children are Netty's epoll TCP channels in the same child pipeline.
     */
    public List<BootstrapComboFactory<ServerBootstrap, Bootstrap>> routed() {
        List<BootstrapComboFactory<ServerBootstrap, Bootstrap>> combos = new ArrayList<>();
        for (IdtsRoute route : IdtsRoute.values()) {
            BootstrapFactory<ServerBootstrap> server = serverSocket(0);
            BootstrapFactory<Bootstrap> client = clientSocket(0);
            combos.add(new BootstrapComboFactory<ServerBootstrap, Bootstrap>() {
                @Override
                public ServerBootstrap newServerInstance() {
                    return server.newInstance().handler(new RouteCheck(route));
                }

                @Override
                public Bootstrap newClientInstance() {
                    Bootstrap bootstrap = client.newInstance();
                    return route == IdtsRoute.TCP ? bootstrap.resolver(MissingIdtsService.GROUP) : bootstrap;
                }

                @Override
                public String toString() {
                    return "IDTS client to an IDTS+TCP server, through " + route;
                }
            });
        }
        return combos;
    }

    /** Checks that every route of {@link #routed()} carried connections, and each only by its own route. */
    public void assertRoutesTaken() {
        if (!wrongRoutes.isEmpty()) {
            throw new AssertionError("connections accepted by the wrong route: " + wrongRoutes);
        }
        for (IdtsRoute route : IdtsRoute.values()) {
            if (accepted.getOrDefault(route, 0L) == 0) {
                throw new AssertionError("no connection came through " + route + ": " + accepted);
            }
        }
        accepted.clear();
    }

    /** On the server channel: notes the route of each accepted connection. */
    @ChannelHandler.Sharable
    private final class RouteCheck extends ChannelInboundHandlerAdapter {
        private final IdtsRoute expected;

        RouteCheck(IdtsRoute expected) {
            this.expected = expected;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            IdtsRoute route = IdtsRoute.of((Channel) msg);
            accepted.merge(route, 1L, Long::sum);
            if (route != expected) {
                wrongRoutes.add(msg + " through " + route + " instead of " + expected);
            }
            ctx.fireChannelRead(msg);
        }
    }

    /** Resolves an IDTS address to one whose IDTS half names a service nobody serves, keeping its TCP address. */
    private static final class MissingIdtsService extends AbstractAddressResolver<IdtsAddress> {
        static final AddressResolverGroup<IdtsAddress> GROUP = new AddressResolverGroup<IdtsAddress>() {
            @Override
            protected AddressResolver<IdtsAddress> newResolver(EventExecutor executor) {
                return new MissingIdtsService(executor);
            }
        };

        MissingIdtsService(EventExecutor executor) {
            super(executor, IdtsAddress.class);
        }

        @Override
        protected boolean doIsResolved(IdtsAddress address) {
            return false;
        }

        @Override
        protected void doResolve(IdtsAddress address, Promise<IdtsAddress> promise) {
            promise.setSuccess(address.sibling(address.service() + "-nobody").withTcp(address.tcpAddress()));
        }

        @Override
        protected void doResolveAll(IdtsAddress address, Promise<List<IdtsAddress>> promise) {
            promise.setSuccess(Collections.singletonList(address.sibling(address.service() + "-nobody")
                    .withTcp(address.tcpAddress())));
        }
    }

    /** Server and client with the same spin time: the default (adaptive), then no spin at all. */
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
                    return spin == IdtsChannelOption.SPIN_ADAPTIVE ? "IDTS, adaptive spin" : "IDTS, spin " + spin + " ns";
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
