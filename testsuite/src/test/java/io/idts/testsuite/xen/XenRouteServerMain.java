package io.idts.testsuite.xen;

import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsEventLoopGroup;
import io.idts.channel.IdtsRoute;
import io.idts.channel.IdtsServerChannel;
import io.idts.xen.XenStore;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;

import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketAddress;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import java.util.zip.CRC32;

/**
 * The dom0 half of the routing check of the Xen harness (testsuite/xen/run), run against {@link XenRouteClientMain}
 * in a domU with a vif to dom0: {@code XenRouteServerMain <client domid> <client IPv4 address>}.
 *
 * <p>Why: one client configuration must reach a service served in this Xen host's dom0 through IDTS and a service
 * served by TCP only through TCP over the vif, and {@code TcpRouteTest} can only show the Xen address falling back
 * where Xen cannot run. So dom0 serves {@value #SERVICE_A} with an {@link IdtsServerChannel} bound to
 * {@code xen:<self>/}{@value #SERVICE_A} with TCP port {@value #PORT_A} (both routes, one server), and
 * {@value #SERVICE_B} with a plain Netty TCP server on port {@value #PORT_B} (nothing in XenStore). Both echo what
 * they read and check it against the client's {@link XenPattern}.
 *
 * <p>{@value #SERVICE_B} is bound after {@value #SERVICE_A}'s bind completed, and the client reaches it first: once
 * it answers, {@value #SERVICE_A} is served both ways, so the client's route to it cannot be TCP for lack of time.
 *
 * <p>It checks that {@value #SERVICE_A}'s one connection is an IDTS child from the client's domain and
 * {@value #SERVICE_B}'s a TCP connection from the client's address, each carrying {@value #ECHO_BYTES} bytes of the
 * client's pattern; then that closing the dual server once stops both of its routes and leaves nothing behind.
 * Prints {@code RSERVER PASS|FAIL: ...} lines; exits with 0 when all passed.
 */
public final class XenRouteServerMain {

    static final String SERVICE_A = "route-a";
    static final int PORT_A = 7003;
    static final String SERVICE_B = "route-b";
    static final int PORT_B = 7004;
    /** Echoed on each route: 32 times the default Xen ring capacity. */
    static final int ECHO_BYTES = 4 << 20;
    /** How long the first connection may take: the domU boots and starts its JVM meanwhile, then retries. */
    private static final long FIRST_CONNECTION_SECONDS = 300;
    /**
     * How long the rest may take after the first connection; less than the harness's next client waits for its own
     * server, so that a client that fails here does not fail the next checks as well.
     */
    private static final long REST_SECONDS = 120;

    private final XenCheckLog log = new XenCheckLog("RSERVER");
    private final Service a = new Service(SERVICE_A);
    private final Service b = new Service(SERVICE_B);

    private XenRouteServerMain() {
    }

    public static void main(String[] args) {
        if (args.length != 2) {
            System.err.println("usage: XenRouteServerMain <client domid> <client IPv4 address>");
            System.exit(2);
        }
        XenCheckLog.exitWith("RSERVER", "server", () -> new XenRouteServerMain().run(Integer.parseInt(args[0]), args[1]));
    }

    private int run(int client, String clientIp) throws Exception {
        XenStore xs = XenStore.open();
        int self = Integer.parseInt(xs.read(XenStore.NO_TRANSACTION, "domid"));
        String published = XenResources.servicesPath(self);
        List<String> portsBefore = XenResources.userEventChannelPorts();
        EventLoopGroup idtsGroup = new IdtsEventLoopGroup(1);
        EventLoopGroup tcpGroup = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        Channel dual = null;
        Channel tcpOnly = null;
        try {
            dual = new ServerBootstrap().group(idtsGroup).channel(IdtsServerChannel.class)
                    .childHandler(a.initializer())
                    .bind(IdtsAddress.xen(self, SERVICE_A).withTcp(new InetSocketAddress(PORT_A))).sync().channel();
            tcpOnly = new ServerBootstrap().group(tcpGroup).channel(EpollServerSocketChannel.class)
                    .option(EpollChannelOption.SO_REUSEADDR, true)
                    .childHandler(b.initializer())
                    .bind(new InetSocketAddress(PORT_B)).sync().channel();
            IdtsAddress dualAddress = ((IdtsServerChannel) dual).localAddress();
            log.info("domain " + self + ", client domain " + client + " at " + clientIp + "; serving " + dualAddress
                    + " and TCP " + tcpOnly.localAddress());

            log.check("listening: " + SERVICE_A + " on IDTS (its XenStore node published) and TCP " + PORT_A
                    + " through one IdtsServerChannel, " + SERVICE_B + " on TCP " + PORT_B + " alone (no XenStore "
                    + "node)", () -> {
                InetSocketAddress tcp = dualAddress.tcpAddress();
                if (tcp == null || tcp.getPort() != PORT_A) {
                    return "the dual server's local address is " + dualAddress;
                }
                if (xs.read(XenStore.NO_TRANSACTION, published + '/' + SERVICE_A) == null) {
                    return "no XenStore node " + published + '/' + SERVICE_A;
                }
                return xs.read(XenStore.NO_TRANSACTION, published + '/' + SERVICE_B) == null ? null
                        : "a XenStore node " + published + '/' + SERVICE_B + " exists";
            });

            CompletableFuture<Object> first = CompletableFuture.anyOf(a.connected, b.connected);
            try {
                first.get(FIRST_CONNECTION_SECONDS, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                log.info("no connection within " + FIRST_CONNECTION_SECONDS + " s");
            }
            long restBy = System.nanoTime() + TimeUnit.SECONDS.toNanos(REST_SECONDS);

            check(b, restBy, IdtsRoute.TCP, "a TCP connection from the client's address " + clientIp
                    + " (over the vif), not through IDTS", remote -> remote instanceof InetSocketAddress
                    && ((InetSocketAddress) remote).getAddress() != null
                    && ((InetSocketAddress) remote).getAddress().getHostAddress().equals(clientIp));
            check(a, restBy, IdtsRoute.IDTS, "an IDTS child (IdtsChannel) of the dual server, from domain " + client,
                    remote -> remote instanceof IdtsAddress && ((IdtsAddress) remote).isXen()
                            && ((IdtsAddress) remote).domid() == client);

            dual.close().sync();
            dual = null;
            log.check("one close() of the dual server stops both routes and leaves nothing: no XenStore node under "
                    + published + ", TCP " + PORT_A + " refuses, no grant mapping or event-channel port left", () -> {
                List<String> nodes = XenResources.xenStoreTree(xs, published);
                if (!nodes.isEmpty()) {
                    return "XenStore nodes left: " + nodes;
                }
                try (Socket socket = new Socket()) {
                    socket.connect(new InetSocketAddress("127.0.0.1", PORT_A), 5000);
                    return "TCP " + PORT_A + " still accepts connections";
                } catch (ConnectException expected) {
                    // Refused: nobody listens there any more.
                }
                List<String> mappings = XenResources.grantMappings();
                if (!mappings.isEmpty()) {
                    return mappings.size() + " grant mappings left: " + mappings;
                }
                List<String> ports = XenResources.userEventChannelPorts();
                return ports.size() <= portsBefore.size() ? null
                        : "event-channel ports " + ports + " (before: " + portsBefore + ')';
            });
        } finally {
            if (dual != null) {
                dual.close().await(10, TimeUnit.SECONDS);
            }
            if (tcpOnly != null) {
                tcpOnly.close().await(10, TimeUnit.SECONDS);
            }
            idtsGroup.shutdownGracefully(0, 5, TimeUnit.SECONDS).await(30, TimeUnit.SECONDS);
            tcpGroup.shutdownGracefully(0, 5, TimeUnit.SECONDS).await(30, TimeUnit.SECONDS);
            xs.close();
        }
        return log.exitCode();
    }

    /** What a service's children must have been: one, of {@code route}, from a peer {@code from} accepts. */
    private void check(Service service, long byNanos, IdtsRoute route, String what,
                       Predicate<SocketAddress> from) {
        log.check(service.name + ": one connection, " + what + ", " + ECHO_BYTES + " bytes of the client's pattern "
                + "read and echoed", () -> {
            Child child;
            try {
                child = service.closed.get(Math.max(1, byNanos - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                return service.connections.get() == 0 ? "no connection"
                        : "its connection did not close in time; read " + service.describe();
            }
            log.info(service.name + ": " + child + ", CRC32 " + XenTransfers.crc(child.crc));
            return service.connections.get() != 1 ? service.connections.get() + " connections"
                    : child.route != route ? "route " + child.route + " (" + child.channel + ')'
                    : !from.test(child.remote) ? "from " + child.remote
                    : child.patternFailure != null ? child.patternFailure
                    : child.received != ECHO_BYTES ? "read " + child.received + " bytes"
                    : !child.exceptions.isEmpty() ? "exceptions: " + child.exceptions : null;
        });
    }

    /** A served service: its connections, and what its first one carried once it closed. */
    private static final class Service {
        final String name;
        final AtomicInteger connections = new AtomicInteger();
        final CompletableFuture<Void> connected = new CompletableFuture<>();
        final CompletableFuture<Child> closed = new CompletableFuture<>();
        private volatile CheckedEcho first;

        Service(String name) {
            this.name = name;
        }

        ChannelInitializer<Channel> initializer() {
            return new ChannelInitializer<Channel>() {
                @Override
                protected void initChannel(Channel ch) {
                    CheckedEcho echo = new CheckedEcho(ch);
                    if (connections.incrementAndGet() == 1) {
                        first = echo;
                        echo.closed.whenComplete((child, t) -> closed.complete(child));
                    }
                    connected.complete(null);
                    ch.pipeline().addLast(echo);
                }
            };
        }

        String describe() {
            CheckedEcho echo = first;
            return echo == null ? "nothing" : echo.received + " bytes";
        }
    }

    /** What one connection carried, as its server end saw it. */
    private static final class Child {
        final String channel;
        final IdtsRoute route;
        final SocketAddress remote;
        final long received;
        final long crc;
        final String patternFailure;
        final List<Throwable> exceptions;

        Child(String channel, IdtsRoute route, SocketAddress remote, long received, long crc, String patternFailure,
              List<Throwable> exceptions) {
            this.channel = channel;
            this.route = route;
            this.remote = remote;
            this.received = received;
            this.crc = crc;
            this.patternFailure = patternFailure;
            this.exceptions = exceptions;
        }

        @Override
        public String toString() {
            return "route " + route + ", " + channel + ", read " + received + " bytes"
                    + (patternFailure == null ? "" : ", " + patternFailure)
                    + (exceptions.isEmpty() ? "" : ", exceptions " + exceptions);
        }
    }

    /** Echoes what it reads after checking it against the client's pattern; completes {@code closed} at the end. */
    private static final class CheckedEcho extends ChannelInboundHandlerAdapter {
        final CompletableFuture<Child> closed = new CompletableFuture<>();
        private final XenPattern.Verifier verifier = new XenPattern(XenTransfers.CLIENT_SEED).new Verifier();
        private final CRC32 crc = new CRC32();
        private final List<Throwable> exceptions = new CopyOnWriteArrayList<>();
        // The route, and the remote address as the channel gave it when active: both known before it closes.
        private final IdtsRoute route;
        private volatile SocketAddress remote;
        private volatile String channel;
        volatile long received;

        CheckedEcho(Channel ch) {
            route = IdtsRoute.of(ch);
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) throws Exception {
            remote = ctx.channel().remoteAddress();
            channel = ctx.channel().toString();
            super.channelActive(ctx);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            int length = buf.readableBytes();
            verifier.verify(buf, buf.readerIndex(), length);
            XenTransfers.update(crc, buf, buf.readerIndex(), length);
            received += length;
            ctx.write(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            exceptions.add(cause);
            ctx.close();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) throws Exception {
            closed.complete(new Child(channel, route, remote, received, crc.getValue(), verifier.failure(),
                    exceptions));
            super.channelInactive(ctx);
        }
    }
}
