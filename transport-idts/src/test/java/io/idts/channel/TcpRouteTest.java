package io.idts.channel;

import io.idts.linux.FileDescriptors;
import io.idts.linux.UnixDomainSocket;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.ChannelOutputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;

import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The route choice of {@link IdtsChannel} connecting to an address with a TCP address ({@link TcpRoute} when it falls
 * back), and the dual {@link IdtsServerChannel}: one client configuration reaches a dual server through IDTS and a
 * TCP-only server through TCP with the bytes intact both ways; every way the IDTS attempt can fail falls back within
 * the connect timeout; when both routes fail the failure names both.
 */
final class TcpRouteTest {

    private static final long TIMEOUT_SECONDS = 30;
    /** Echoed on every route: large enough to fill the rings and the socket buffers many times over. */
    private static final long STREAM_BYTES = 16L * 1024 * 1024;
    private static final InetSocketAddress LOOPBACK_ANY_PORT = new InetSocketAddress("127.0.0.1", 0);

    private EventLoopGroup serverGroup;
    private EventLoopGroup clientGroup;
    private ProcessResources before;
    private IdtsAddress address;
    private final List<Channel> serverChildren = new ArrayList<>();

    @BeforeAll
    static void loadEverythingOnce() throws Exception {
        ProcessResources.warmUpIdts();
    }

    @BeforeEach
    void setUp(TestInfo info) {
        before = ProcessResources.snapshot();
        serverGroup = new IdtsEventLoopGroup(1);
        clientGroup = new IdtsEventLoopGroup(1);
        address = IdtsChannelTest.uniqueAddress(info);
    }

    @AfterEach
    void tearDown() throws Exception {
        assertTrue(ProcessResources.shutDown(clientGroup), "client group terminated");
        assertTrue(ProcessResources.shutDown(serverGroup), "server group terminated");
        before.assertNoneLeaked("after the event loop groups shut down");
        assertFalse(Files.exists(Paths.get(address.socketPath())), "rendezvous entry removed");
    }

    @Test
    void dualServerIsReachedThroughIdts() throws Exception {
        IdtsServerChannel server = bindDual();
        InetSocketAddress tcp = server.localAddress().tcpAddress();
        assertTrue(tcp.getPort() > 0, "bound port reported: " + server.localAddress());
        assertEquals(address, server.localAddress().withoutTcp());

        IdtsChannel client = echo(address.withTcp("127.0.0.1", tcp.getPort()), 1);
        assertEquals(IdtsRoute.IDTS, client.route());
        assertNull(client.tcpRemoteAddress());
        assertEquals(IdtsRoute.IDTS, IdtsRoute.of(serverChildren.get(0)));
        server.close().sync();
    }

    @Test
    void tcpOnlyServerIsReachedThroughTcp() throws Exception {
        Channel server = bindTcpOnly();
        int port = ((InetSocketAddress) server.localAddress()).getPort();

        IdtsChannel client = echo(address.withTcp("127.0.0.1", port), 2);
        assertEquals(IdtsRoute.TCP, client.route());
        assertEquals(port, client.tcpRemoteAddress().getPort());
        assertEquals(client.tcpLocalAddress(), serverChildren.get(0).remoteAddress());
        assertEquals(address.withTcp("127.0.0.1", port), client.remoteAddress());
        assertEquals(0, client.zeroCopyReadBytes() + client.copiedReadBytes(), "no ring on the TCP route");
        server.close().sync();
    }

    @Test
    void xenAddressFallsBackToTcpWhenXenCannotReachTheService() throws Exception {
        Channel server = bindTcpOnly();
        int port = ((InetSocketAddress) server.localAddress()).getPort();
        // Here: not a Xen domain, or no such service in XenStore; either way the XenStore lookup fails.
        IdtsAddress xen = IdtsAddress.xen(0, address.service()).withTcp("127.0.0.1", port);

        IdtsChannel client = echo(xen, 6);
        assertEquals(IdtsRoute.TCP, client.route());
        assertEquals(xen, client.remoteAddress());
        server.close().sync();
    }

    @Test
    void dualServerTakesTcpConnectionsIntoTheSamePipeline() throws Exception {
        IdtsServerChannel server = bindDual();
        int port = server.localAddress().tcpAddress().getPort();
        // A client whose IDTS service is not here (another rendezvous entry) but whose TCP address is the server's.
        IdtsAddress elsewhere = address.sibling(address.service() + "-x").withTcp("127.0.0.1", port);

        IdtsChannel overTcp = echo(elsewhere, 3);
        IdtsChannel overIdts = echo(address.withTcp("127.0.0.1", port), 4);
        assertEquals(IdtsRoute.TCP, overTcp.route());
        assertEquals(IdtsRoute.IDTS, overIdts.route());
        assertInstanceOf(EpollSocketChannel.class, serverChildren.get(0));
        assertEquals(IdtsRoute.TCP, IdtsRoute.of(serverChildren.get(0)));
        assertInstanceOf(IdtsChannel.class, serverChildren.get(1));
        server.close().sync();
        assertFalse(new ServerSocketProbe(port).listening(), "the TCP listener closed with the server channel");
    }

    @Test
    void staleRendezvousEntryFallsBackToTcp() throws Exception {
        Channel server = bindTcpOnly();
        int port = ((InetSocketAddress) server.localAddress()).getPort();
        leaveStaleEntry();

        IdtsChannel client = echo(address.withTcp("127.0.0.1", port), 5);
        assertEquals(IdtsRoute.TCP, client.route());
        server.close().sync();
        Files.delete(Paths.get(address.socketPath()));
    }

    @Test
    void staleRendezvousEntryWithoutTcpSaysSo() throws Exception {
        leaveStaleEntry();
        long start = System.nanoTime();
        ChannelFuture connect = connect(address, 5000);
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertInstanceOf(ConnectException.class, connect.cause());
        assertTrue(connect.cause().getMessage().contains("stale"), connect.cause().getMessage());
        assertTrue(connect.cause().getMessage().contains(address.toString()), connect.cause().getMessage());
        assertTrue(millis < 5000, "failed as soon as the entry was found stale, not at the timeout: " + millis + " ms");
        Files.delete(Paths.get(address.socketPath()));
    }

    @Test
    void staleRendezvousEntryAndUnreachableTcpAddressFailWithinTheConnectTimeoutNamingBoth() throws Exception {
        leaveStaleEntry();
        ChannelFuture connect = connectToUnreachableTcpWithin1000Millis();
        assertInstanceOf(ConnectException.class, connect.cause());
        String message = connect.cause().getMessage();
        assertTrue(message.contains(address.toString()), message);
        assertTrue(message.contains("rendezvous entry " + address.socketPath() + " is stale"), message);
        assertTrue(message.contains("192.0.2.1"), message);
        assertFalse(connect.channel().isOpen());
        Files.delete(Paths.get(address.socketPath()));
    }

    @Test
    void silentIdtsServerFallsBackWithinTheConnectTimeout() throws Exception {
        Channel server = bindTcpOnly();
        int port = ((InetSocketAddress) server.localAddress()).getPort();
        // The kernel completes the rendezvous connect, but nobody ever answers the handshake.
        Files.createDirectories(address.rendezvousDirectory());
        int silent = UnixDomainSocket.listenOnPath(address.socketPath(), 8);
        try {
            long start = System.nanoTime();
            ChannelFuture connect = connect(address.withTcp("127.0.0.1", port), 2000);
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertTrue(connect.isSuccess(), () -> "no fallback: " + connect.cause());
            assertEquals(IdtsRoute.TCP, ((IdtsChannel) connect.channel()).route());
            assertTrue(millis >= 1000 && millis < 2000, "fell back after half the timeout, took " + millis + " ms");
            connect.channel().close().sync();
        } finally {
            FileDescriptors.close(silent);
            Files.delete(Paths.get(address.socketPath()));
        }
        server.close().sync();
    }

    @Test
    void bothRoutesFailingNamesBoth() throws Exception {
        int closedPort = freePort();
        IdtsAddress nowhere = address.withTcp("127.0.0.1", closedPort);
        ChannelFuture connect = connect(nowhere, 5000);
        Throwable cause = connect.cause();
        assertInstanceOf(ConnectException.class, cause);
        String message = cause.getMessage();
        assertTrue(message.contains("by either route"), message);
        assertTrue(message.contains("IDTS to " + address), message);
        assertTrue(message.contains("no rendezvous entry"), message);
        assertTrue(message.contains("TCP to 127.0.0.1"), message);
        assertTrue(message.contains(String.valueOf(closedPort)), message);
        assertEquals(1, cause.getSuppressed().length, "the IDTS failure is kept");
        assertInstanceOf(ConnectException.class, cause.getCause(), "the TCP failure is the cause");
        assertFalse(connect.channel().isOpen());
    }

    @Test
    void unreachableTcpAddressFailsWithinTheConnectTimeout() throws Exception {
        ChannelFuture connect = connectToUnreachableTcpWithin1000Millis();
        String message = connect.cause().getMessage();
        assertTrue(message.contains("192.0.2.1"), message);
        assertTrue(message.contains("IDTS"), message);
        assertTrue(connect.cause() instanceof ConnectException, connect.cause().toString());
        if (connect.cause() instanceof ConnectTimeoutException) {
            assertTrue(message.contains("no rendezvous entry"), "the timeout names the IDTS failure: " + message);
        }
    }

    @Test
    void shuttingTheGroupDownClosesATcpRouteChannel() throws Exception {
        Channel server = bindTcpOnly();
        int port = ((InetSocketAddress) server.localAddress()).getPort();
        ChannelFuture connect = connect(address.withTcp("127.0.0.1", port), 5000);
        assertTrue(connect.isSuccess(), () -> "connect failed: " + connect.cause());
        assertEquals(IdtsRoute.TCP, ((IdtsChannel) connect.channel()).route());
        // Not polled as an IDTS handle any more: its TCP channel, closed with the loop, closes it.
        assertTrue(ProcessResources.shutDown(clientGroup), "client group terminated");
        assertTrue(connect.channel().closeFuture().await(TIMEOUT_SECONDS, TimeUnit.SECONDS), "channel closed");
        server.close().sync();
    }

    @Test
    void tcpRouteHalfClosesAndCloses() throws Exception {
        BlockingQueue<Object> serverEvents = new LinkedBlockingQueue<>();
        Channel server = new ServerBootstrap().group(serverGroup).channel(EpollServerSocketChannel.class)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childHandler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                        if (evt == ChannelInputShutdownEvent.INSTANCE) {
                            serverEvents.add(evt);
                            ((DuplexChannel) ctx.channel()).shutdownOutput();
                        }
                    }
                }).bind(LOOPBACK_ANY_PORT).sync().channel();
        int port = ((InetSocketAddress) server.localAddress()).getPort();
        BlockingQueue<Object> clientEvents = new LinkedBlockingQueue<>();
        Channel client = new Bootstrap().group(clientGroup).channel(IdtsChannel.class)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .handler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
                        clientEvents.add(evt);
                    }

                    @Override
                    public void channelInactive(ChannelHandlerContext ctx) {
                        clientEvents.add("inactive");
                    }
                }).connect(address.withTcp("127.0.0.1", port)).sync().channel();
        IdtsChannel idts = (IdtsChannel) client;
        assertEquals(IdtsRoute.TCP, idts.route());
        idts.shutdownOutput().sync();
        assertTrue(idts.isOutputShutdown());
        assertSame(ChannelInputShutdownEvent.INSTANCE, serverEvents.poll(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        assertSame(ChannelOutputShutdownEvent.INSTANCE, clientEvents.poll(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        // The server shuts its output down in turn: the client's input ends, half-closed, still open.
        assertSame(ChannelInputShutdownEvent.INSTANCE, clientEvents.poll(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        assertTrue(idts.isInputShutdown());
        assertTrue(client.isOpen());
        client.close().sync();
        assertEquals("inactive", pollSkipping(clientEvents));
        server.close().sync();
    }

    // ---------------------------------------------------------------------------------------------------------
    // Helpers.

    /** The next event that is not a half-closure event. */
    private static Object pollSkipping(BlockingQueue<Object> events) throws InterruptedException {
        for (;;) {
            Object event = events.poll(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            if (event == null || event instanceof String) {
                return event;
            }
        }
    }

    /** A socket file at the address that nobody listens on: what a killed server leaves behind. */
    private void leaveStaleEntry() throws Exception {
        Files.createDirectories(address.rendezvousDirectory());
        FileDescriptors.close(UnixDomainSocket.listenOnPath(address.socketPath(), 1));
        assertTrue(Files.exists(Paths.get(address.socketPath())));
    }

    private static int freePort() throws Exception {
        try (ServerSocket socket = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    private IdtsServerChannel bindDual() throws InterruptedException {
        return (IdtsServerChannel) new ServerBootstrap().group(serverGroup).channel(IdtsServerChannel.class)
                .childHandler(echoChildren()).bind(address.withTcp(LOOPBACK_ANY_PORT)).sync().channel();
    }

    private Channel bindTcpOnly() throws InterruptedException {
        return new ServerBootstrap().group(serverGroup).channel(EpollServerSocketChannel.class)
                .childHandler(echoChildren()).bind(LOOPBACK_ANY_PORT).sync().channel();
    }

    private ChannelInitializer<Channel> echoChildren() {
        return new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                synchronized (serverChildren) {
                    serverChildren.add(ch);
                }
                ch.pipeline().addLast(new EchoServerMain.EchoHandler());
            }
        };
    }

    /**
     * Connects to {@link #address} with an unreachable TCP address and a 1 s connect timeout, and asserts that the
     * connect failed within that timeout (half a second of slack).
     */
    private ChannelFuture connectToUnreachableTcpWithin1000Millis() throws InterruptedException {
        // TEST-NET-1: never routed; the TCP connect either fails at once (no route) or times out.
        IdtsAddress unreachable = address.withTcp("192.0.2.1", 9);
        long start = System.nanoTime();
        ChannelFuture connect = connect(unreachable, 1000);
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertFalse(connect.isSuccess());
        assertTrue(millis < 1000 + 500, "failed within the connect timeout, took " + millis + " ms");
        return connect;
    }

    /** Connects with the one client configuration of these tests, and waits for the outcome. */
    private ChannelFuture connect(IdtsAddress remote, int timeoutMillis) throws InterruptedException {
        ChannelFuture connect = new Bootstrap().group(clientGroup).channel(IdtsChannel.class)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, timeoutMillis)
                .option(ChannelOption.TCP_NODELAY, true)
                .handler(new ChannelInboundHandlerAdapter()).connect(remote);
        assertTrue(connect.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        if (!connect.isSuccess()) {
            assertTrue(connect.channel().closeFuture().await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        }
        return connect;
    }

    /** Connects to {@code remote}, echoes {@link #STREAM_BYTES} of a pattern through it, checks them, closes. */
    private IdtsChannel echo(IdtsAddress remote, long seed) throws Exception {
        PatternSender sender = new PatternSender(STREAM_BYTES, StreamPattern.MAX_CHUNK, seed);
        PatternReceiver receiver = new PatternReceiver(STREAM_BYTES);
        ChannelFuture connect = new Bootstrap().group(clientGroup).channel(IdtsChannel.class)
                .option(ChannelOption.TCP_NODELAY, true)
                .handler(IdtsChannelTest.pipeline(sender, receiver)).connect(remote);
        assertTrue(connect.await(TIMEOUT_SECONDS, TimeUnit.SECONDS));
        assertTrue(connect.isSuccess(), () -> "connect to " + remote + " failed: " + connect.cause());
        IdtsChannel client = (IdtsChannel) connect.channel();
        CompletableFuture<Long> done = receiver.done();
        assertEquals(STREAM_BYTES, done.get(TIMEOUT_SECONDS, TimeUnit.SECONDS), () -> receiver.failure());
        assertNull(receiver.failure());
        assertNull(sender.writeFailure());
        assertTrue(receiver.exceptions().isEmpty(), receiver.exceptions().toString());
        client.close().sync();
        assertNotNull(client.route());
        return client;
    }

    /** Whether something listens on a loopback port. */
    private static final class ServerSocketProbe {
        private final int port;

        ServerSocketProbe(int port) {
            this.port = port;
        }

        boolean listening() {
            try (java.net.Socket socket = new java.net.Socket()) {
                socket.connect(new InetSocketAddress("127.0.0.1", port), 1000);
                return true;
            } catch (java.io.IOException e) {
                return false;
            }
        }
    }
}
