package io.idts.testsuite.xen;

import io.idts.channel.Idts;
import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsChannel;
import io.idts.channel.IdtsEventLoopGroup;
import io.idts.channel.IdtsRoute;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;

import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.zip.CRC32;

/**
 * The domU half of the routing check of the Xen harness (testsuite/xen/run), run against {@link XenRouteServerMain}
 * in dom0: {@code XenRouteClientMain <server domid> <server IPv4 address>}.
 *
 * <p>Why: routing promises that one client configuration reaches a service wherever it is served. This is that
 * configuration, in a Xen domain: one {@link Bootstrap} of {@link IdtsChannel}s with one handler set-up, and the two
 * services' addresses written the same way ({@code xen:0/route-a|tcp:10.0.0.1:7003}, read by
 * {@link IdtsAddress#parse}). The first must be reached through IDTS (it is registered in dom0's XenStore on this
 * Xen host), the second through TCP over the domain's vif (dom0 serves it by TCP only). On each route it echoes
 * {@value XenRouteServerMain#ECHO_BYTES} bytes of {@link XenPattern}, every byte checked and the CRC32s of what it
 * sent and what came back compared; then nothing of the IDTS connection may be left in this process.
 *
 * <p>The TCP-only service is reached first, retried while nothing answers yet (dom0 starts its JVM while this
 * domain boots): the server binds it after the dual one, so the IDTS service is registered by then.
 * Prints {@code RCLIENT PASS|FAIL: ...} lines; exits with 0 when all passed.
 */
public final class XenRouteClientMain {

    /** How long the server may take to appear. */
    private static final long CONNECT_SECONDS = 300;
    private static final long STEP_SECONDS = 120;

    private final XenCheckLog log = new XenCheckLog("RCLIENT");

    private XenRouteClientMain() {
    }

    public static void main(String[] args) {
        if (args.length != 2) {
            System.err.println("usage: XenRouteClientMain <server domid> <server IPv4 address>");
            System.exit(2);
        }
        XenCheckLog.exitWith("RCLIENT", "client", () -> new XenRouteClientMain().run(Integer.parseInt(args[0]), args[1]));
    }

    private int run(int server, String host) throws Exception {
        IdtsAddress a = IdtsAddress.parse("xen:" + server + '/' + XenRouteServerMain.SERVICE_A + "|tcp:" + host + ':'
                + XenRouteServerMain.PORT_A);
        IdtsAddress b = IdtsAddress.parse("xen:" + server + '/' + XenRouteServerMain.SERVICE_B + "|tcp:" + host + ':'
                + XenRouteServerMain.PORT_B);
        List<String> portsBefore = XenResources.userEventChannelPorts();
        EventLoopGroup group = new IdtsEventLoopGroup(1);
        // The one client configuration of both services.
        Bootstrap bootstrap = new Bootstrap().group(group).channel(IdtsChannel.class)
                .option(ChannelOption.TCP_NODELAY, true)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(new CheckedEcho());
                    }
                });
        try {
            log.check(b + ": TCP-only in dom0, reached through TCP over the vif (route() TCP, to " + host + ':'
                    + XenRouteServerMain.PORT_B + "), " + XenRouteServerMain.ECHO_BYTES + " bytes echoed, every "
                    + "byte and the CRC32 checked", () -> {
                IdtsChannel channel = (IdtsChannel) XenTransfers.connectWithRetry(bootstrap, b, CONNECT_SECONDS,
                        log);
                try {
                    InetSocketAddress remote = channel.tcpRemoteAddress();
                    InetSocketAddress local = channel.tcpLocalAddress();
                    log.info(b + ": route " + channel.route() + ", TCP " + local + " -> " + remote);
                    if (channel.route() != IdtsRoute.TCP) {
                        return "route " + channel.route();
                    }
                    if (remote == null || remote.getAddress() == null
                            || !remote.getAddress().getHostAddress().equals(host)
                            || remote.getPort() != XenRouteServerMain.PORT_B) {
                        return "TCP remote address " + remote;
                    }
                    if (local == null || local.getAddress() == null || local.getAddress().isLoopbackAddress()) {
                        return "TCP local address " + local;
                    }
                    return echo(channel);
                } finally {
                    channel.close().sync();
                }
            });
            log.check(a + ": served in dom0 on IDTS and TCP, reached through IDTS (route() IDTS, no TCP "
                    + "connection), " + XenRouteServerMain.ECHO_BYTES + " bytes echoed, every byte and the CRC32 "
                    + "checked", () -> {
                ChannelFuture connect = bootstrap.connect(a);
                if (!connect.await(STEP_SECONDS, TimeUnit.SECONDS)) {
                    connect.channel().close();
                    return "not connected after " + STEP_SECONDS + " s";
                }
                if (!connect.isSuccess()) {
                    return "connect failed: " + connect.cause();
                }
                IdtsChannel channel = (IdtsChannel) connect.channel();
                try {
                    log.info(a + ": route " + channel.route() + ", local " + channel.localAddress() + ", remote "
                            + channel.remoteAddress());
                    if (channel.route() != IdtsRoute.IDTS) {
                        return "route " + channel.route() + " (TCP " + channel.tcpLocalAddress() + " -> "
                                + channel.tcpRemoteAddress() + "; Xen here: " + (Idts.isXenAvailable() ? "available"
                                : Idts.xenUnavailabilityCause()) + ')';
                    }
                    if (channel.tcpRemoteAddress() != null) {
                        return "a TCP remote address " + channel.tcpRemoteAddress() + " on the IDTS route";
                    }
                    return echo(channel);
                } finally {
                    channel.close().sync();
                }
            });
            log.check("no grant mapping and no event-channel port left in the client once both channels closed",
                    () -> {
                List<String> mappings = XenResources.grantMappings();
                List<String> ports = XenResources.userEventChannelPorts();
                return mappings.isEmpty() && ports.size() <= portsBefore.size() ? null
                        : mappings.size() + " grant mappings " + mappings + ", event-channel ports " + ports
                        + " (before: " + portsBefore + ')';
            });
        } finally {
            group.shutdownGracefully(0, 5, TimeUnit.SECONDS).await(30, TimeUnit.SECONDS);
        }
        return log.exitCode();
    }

    /** The echo on {@code channel}: {@code null} when everything came back as sent. */
    private static String echo(IdtsChannel channel) throws Exception {
        CheckedEcho echo = channel.pipeline().get(CheckedEcho.class);
        if (echo == null) {
            return "no CheckedEcho in the pipeline";
        }
        String failure;
        try {
            failure = echo.done.get(STEP_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            return "echoed " + echo.received + " of " + XenRouteServerMain.ECHO_BYTES + " bytes after " + STEP_SECONDS
                    + " s";
        }
        return failure != null ? failure
                : echo.sentCrc.getValue() != echo.receivedCrc.getValue()
                ? "CRC32 sent " + XenTransfers.crc(echo.sentCrc.getValue()) + ", received "
                + XenTransfers.crc(echo.receivedCrc.getValue()) : null;
    }

    /**
     * Writes {@value XenRouteServerMain#ECHO_BYTES} bytes of the client's pattern when the channel is active, checks
     * what comes back against it; {@link #done}: {@code null} once all came back, otherwise what went wrong.
     */
    private static final class CheckedEcho extends ChannelInboundHandlerAdapter {
        final CompletableFuture<String> done = new CompletableFuture<>();
        final CRC32 sentCrc = new CRC32();
        final CRC32 receivedCrc = new CRC32();
        private final XenPattern pattern = new XenPattern(XenTransfers.CLIENT_SEED);
        private final XenPattern.Verifier verifier = pattern.new Verifier();
        volatile long received;

        @Override
        public void channelActive(ChannelHandlerContext ctx) throws Exception {
            for (int at = 0; at < XenRouteServerMain.ECHO_BYTES; at += XenPattern.MAX_CHUNK) {
                int n = Math.min(XenPattern.MAX_CHUNK, XenRouteServerMain.ECHO_BYTES - at);
                ByteBuf buf = ctx.alloc().directBuffer(n);
                pattern.write(buf, at, n);
                XenTransfers.update(sentCrc, buf, buf.readerIndex(), n);
                ctx.write(buf).addListener(f -> {
                    if (!f.isSuccess()) {
                        done.complete("write failed: " + f.cause());
                    }
                });
            }
            ctx.flush();
            super.channelActive(ctx);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            try {
                int length = buf.readableBytes();
                if (received + length > XenRouteServerMain.ECHO_BYTES) {
                    done.complete("more bytes came back than were sent: " + (received + length));
                    return;
                }
                if (!verifier.verify(buf, buf.readerIndex(), length)) {
                    done.complete(verifier.failure());
                    return;
                }
                XenTransfers.update(receivedCrc, buf, buf.readerIndex(), length);
                received += length;
            } finally {
                buf.release();
            }
            if (received == XenRouteServerMain.ECHO_BYTES) {
                done.complete(null);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            done.complete("exception: " + cause);
            ctx.close();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) throws Exception {
            done.complete("closed after " + received + " bytes came back");
            super.channelInactive(ctx);
        }
    }
}
