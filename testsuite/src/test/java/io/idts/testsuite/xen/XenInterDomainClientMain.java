package io.idts.testsuite.xen;

import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsChannel;
import io.idts.channel.IdtsChannelOption;
import io.idts.channel.IdtsEventLoopGroup;
import io.idts.linux.NativeIoException;
import io.idts.xen.XenHost;
import io.idts.xen.XenStore;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The client domain's half of the channel-level Xen checks (testsuite/xen/run), run in a domU against
 * {@link XenInterDomainServerMain} in dom0: {@code XenInterDomainClientMain <server domid> <server IPv4 address>}.
 *
 * <p>In order: a message round trip on {@code echo}; the published conventions as another domain sees them;
 * hostile requests ({@link XenHostileConnector}), each refused with its reason; the half-close check; 64 MiB each
 * way on {@code stream}; the figures (RTT and bandwidth over IDTS, then over TCP to the same domain through its
 * vif); that nothing is left in this process once those channels are closed; then it opens
 * {@code hold}, writes one byte, and waits to be destroyed with the channel open.
 *
 * <p>Prints {@code CLIENT PASS|FAIL: ...} lines and {@code CLIENT figure: ...} lines.
 */
public final class XenInterDomainClientMain {

    /** How long the server may take to appear: dom0 starts its JVM while this domain boots. */
    private static final long CONNECT_SECONDS = 300;
    private static final long STEP_SECONDS = 300;
    static final int RTT_WARMUP = 500;
    static final int RTT_COUNT = 3000;
    static final long BANDWIDTH_BYTES = 32L << 20;
    static final int BANDWIDTH_RUNS = 3;
    static final int LARGE_BENCH_RING = 512 << 10;

    private final XenCheckLog log = new XenCheckLog("CLIENT");
    private final int server;
    private final String tcpHost;

    private XenInterDomainClientMain(int server, String tcpHost) {
        this.server = server;
        this.tcpHost = tcpHost;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: XenInterDomainClientMain <server domid> <server IPv4 address>");
            System.exit(2);
        }
        try {
            new XenInterDomainClientMain(Integer.parseInt(args[0]), args[1]).run();
        } catch (Throwable t) {
            System.out.println("CLIENT FAIL: the client ended with " + t);
            t.printStackTrace(System.out);
            System.out.flush();
            System.exit(1);
        }
    }

    private IdtsAddress address(String service) {
        return IdtsAddress.xen(server, service);
    }

    private void run() throws Exception {
        log.check("XenHost.isAvailable", () -> XenHost.isAvailable() ? null
                : "unavailable: " + XenHost.unavailabilityCause());
        List<String> portsBefore = XenResources.userEventChannelPorts();
        EventLoopGroup idtsGroup = new IdtsEventLoopGroup(1);
        EventLoopGroup tcpGroup = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        Bootstrap idts = new Bootstrap().group(idtsGroup).channel(IdtsChannel.class)
                .option(ChannelOption.ALLOW_HALF_CLOSURE, true);
        try {
            roundTrip(idts);
            conventions();
            hostileRequests();
            halfClose(idts);
            stream(idts);
            // The backend's default ring capacity for Xen (what a user gets), then larger rings (about the largest
            // whose grant references fit in one XenStore node from a domU).
            figures(idts, "idts", address("echo"), address("sink"));
            figures(idts.clone().option(IdtsChannelOption.RING_CAPACITY, LARGE_BENCH_RING), "idts-512k",
                    address("echo"), address("sink"));
            largeRing(idts);
            Bootstrap tcp = new Bootstrap().group(tcpGroup).channel(EpollSocketChannel.class)
                    .option(ChannelOption.TCP_NODELAY, true);
            figures(tcp, "tcp", new InetSocketAddress(tcpHost, XenInterDomainServerMain.TCP_ECHO_PORT),
                    new InetSocketAddress(tcpHost, XenInterDomainServerMain.TCP_SINK_PORT));

            log.check("no grant mapping left in the client process once its channels closed", () -> {
                List<String> left = XenResources.grantMappings();
                return left.isEmpty() ? null : left.size() + " left: " + left;
            });
            log.check("no event-channel port left in the client domain once its channels closed", () -> {
                List<String> after = XenResources.userEventChannelPorts();
                return after.size() <= portsBefore.size() ? null : "before " + portsBefore + ", after " + after;
            });
            hold(idts);
        } finally {
            idtsGroup.shutdownGracefully(0, 5, TimeUnit.SECONDS);
            tcpGroup.shutdownGracefully(0, 5, TimeUnit.SECONDS);
        }
    }

    private void roundTrip(Bootstrap idts) throws Exception {
        byte[] message = ("hello dom0, from a domU, through IDTS " + System.nanoTime())
                .getBytes(StandardCharsets.US_ASCII);
        Collector collector = new Collector(message.length);
        Channel channel = XenTransfers.connectWithRetry(idts.clone().handler(collector), address("echo"),
                CONNECT_SECONDS, log);
        log.check("round trip: a " + message.length + "-byte message echoed back by dom0", () -> {
            long start = System.nanoTime();
            channel.writeAndFlush(Unpooled.wrappedBuffer(message)).sync();
            byte[] echoed = collector.done.get(STEP_SECONDS, TimeUnit.SECONDS);
            log.info("round trip in " + (System.nanoTime() - start) / 1000 + " us; local " + channel.localAddress()
                    + ", remote " + channel.remoteAddress());
            return Arrays.equals(echoed, message) ? null
                    : "echoed " + new String(echoed, StandardCharsets.US_ASCII);
        });
        channel.close().sync();
    }

    /** The published service as another domain sees it: readable, its requests not. */
    private void conventions() throws Exception {
        try (XenStore xs = XenStore.open()) {
            String node = XenResources.servicesPath(server) + "/echo";
            log.check("the service node " + node + " is readable from this domain", () ->
                    xs.read(XenStore.NO_TRANSACTION, node) != null ? null : "it does not exist");
            log.check("its requests directory is not readable from this domain", () -> {
                try {
                    String[] children = xs.list(XenStore.NO_TRANSACTION, node + "/requests");
                    return "listed: " + (children == null ? "no such node" : Arrays.toString(children));
                } catch (NativeIoException expected) {
                    log.info("listing it: " + expected.getMessage());
                    return null;
                }
            });
        }
    }

    /** Requests that break the handshake: each refused with its reason; the server goes on (the next checks). */
    private void hostileRequests() throws Exception {
        try (XenHostileConnector hostile = new XenHostileConnector(server, "echo")) {
            refused("a control page reference that is not a number", hostile::badControlReference,
                    "ctrl-ref is not a grant reference");
            refused("port 0", hostile::badPort, "event-channel is not a port number");
            refused("a name that is not a service name", hostile::badName, "invalid service name");
            refused("a control page that gives the region no pages", hostile::emptyRegion, "region of 0 pages");
            refused("a control page whose list-page count does not match", hostile::listCountMismatch,
                    "list pages for 7 region pages");
            refused("a shared region without a header", hostile::regionWithoutHeader, "region magic");
            refused("a list page of grant references never granted to the server",
                    hostile::ungrantedRegionReferences, "");
            closedByServer("a producer position beyond the descriptor queue", hostile::positionBeyondTheQueue);
            closedByServer("an unknown producer state", hostile::unknownState);
            closedByServer("reserved producer flag bits", hostile::reservedFlagBits);
            closedByServer("a descriptor naming slice 64", hostile::descriptorNamingNoSlice);
            closedByServer("100,000 events, the grant lists scribbled over, then an honest close",
                    hostile::eventStormThenClose);
        }
    }

    private void closedByServer(String what, XenCheckLog.Check connection) {
        log.check("hostile connection closed by the server, which serves on: " + what, connection);
    }

    private void refused(String what, XenCheckLog.Check request, String reason) {
        log.check("hostile request refused with its reason, the server serving on: " + what, () -> {
            String reply = request.run();
            return reply != null && reply.startsWith("refused: ") && reply.contains(reason) ? null
                    : "reply " + (reply == null ? "none" : '\'' + reply + '\'') + ", expected a refusal saying '"
                    + reason + '\'';
        });
    }

    private void halfClose(Bootstrap idts) throws Exception {
        XenPattern pattern = new XenPattern(XenTransfers.CLIENT_SEED);
        Collector collector = new Collector(XenTransfers.HALF_CLOSE_BYTES);
        Channel channel = XenTransfers.connectWithRetry(idts.clone().handler(collector), address("halfclose"),
                CONNECT_SECONDS, log);
        log.check("half-close: the client writes " + XenTransfers.HALF_CLOSE_BYTES + " bytes and shuts its output "
                + "down, then reads them all back and the end of input", () -> {
            ByteBuf out = Unpooled.directBuffer(XenTransfers.HALF_CLOSE_BYTES);
            for (int at = 0; at < XenTransfers.HALF_CLOSE_BYTES; at += XenPattern.MAX_CHUNK) {
                pattern.write(out, at, XenPattern.MAX_CHUNK);
            }
            byte[] sent = ByteBufUtil.getBytes(out);
            channel.writeAndFlush(out).sync();
            ((DuplexChannel) channel).shutdownOutput().sync();
            byte[] back = collector.done.get(STEP_SECONDS, TimeUnit.SECONDS);
            if (!collector.inputShutdown.get(STEP_SECONDS, TimeUnit.SECONDS)) {
                return "no input shutdown after the reply";
            }
            return Arrays.equals(back, sent) ? null : "the bytes read back differ from those written";
        });
        channel.close().sync();
    }

    private void stream(Bootstrap idts) throws Exception {
        XenTransfers.StreamEnd end = new XenTransfers.StreamEnd(false);
        Channel channel = XenTransfers.connectWithRetry(idts.clone().handler(end), address("stream"), CONNECT_SECONDS,
                log);
        XenTransfers.StreamResult r = null;
        long endAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(STEP_SECONDS);
        while (r == null) {
            try {
                r = end.result().get(20, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                log.info("stream: " + end.describe());
                if (System.nanoTime() > endAt) {
                    log.result("64 MiB each way on one channel", "not done after " + STEP_SECONDS + " s: "
                            + end.describe());
                    channel.close().sync();
                    return;
                }
            } catch (Exception e) {
                log.result("64 MiB each way on one channel", e.toString());
                channel.close().sync();
                return;
            }
        }
        channel.close().sync();
        log.info(String.format("stream: received %d bytes, sent %d, in %.1f s (%.1f MiB/s each way)", r.received,
                r.sent, r.nanos / 1e9, XenTransfers.STREAM_BYTES / 1048576.0 / (r.nanos / 1e9)));
        if (r.trailer == null) {
            log.result("64 MiB each way: dom0's trailer", "no trailer after " + r.received + " bytes");
            return;
        }
        ByteBuffer t = ByteBuffer.wrap(r.trailer);
        long serverReceivedCrc = t.getLong();
        long serverReceived = t.getLong();
        long serverSentCrc = t.getLong();
        long serverSent = t.getLong();
        log.result("64 MiB dom0 -> domU: every byte as dom0's pattern, CRC32 " + XenTransfers.crc(r.receivedCrc)
                + " equal to the CRC32 dom0 computed of what it sent",
                r.patternFailure != null ? r.patternFailure
                : r.received != XenTransfers.STREAM_BYTES || serverSent != XenTransfers.STREAM_BYTES
                        ? "received " + r.received + " bytes, dom0 sent " + serverSent
                : r.receivedCrc != serverSentCrc ? "dom0's CRC32 is " + XenTransfers.crc(serverSentCrc) : null);
        log.result("64 MiB domU -> dom0: dom0 received " + serverReceived + " bytes with the CRC32 "
                + XenTransfers.crc(serverReceivedCrc) + " of what the domU sent",
                serverReceived != XenTransfers.STREAM_BYTES || r.sent != XenTransfers.STREAM_BYTES
                        ? "dom0 received " + serverReceived + ", the domU sent " + r.sent
                : serverReceivedCrc != r.sentCrc ? "the domU sent CRC32 " + XenTransfers.crc(r.sentCrc) : null);
        log.result("stream half-closed both ways: the domU read to its end of input after shutting its output",
                r.inputShutdown && end.outputDone().isDone() && !end.outputDone().isCompletedExceptionally()
                        ? null : "input shutdown " + r.inputShutdown + ", output shut " + end.outputDone());
    }

    /**
     * A channel with 1 MiB rings (514 grants: 2 x 256 ring pages, the header page, the control page), within the
     * bounds {@link IdtsChannelOption#RING_CAPACITY} documents; gntalloc's limit is raised in these domains.
     */
    private void largeRing(Bootstrap idts) throws Exception {
        int capacity = 1 << 20;
        log.check("a channel with " + (capacity >> 10) + " KiB rings connects from the domU and echoes 1 MiB", () -> {
            Collector collector = new Collector(capacity);
            ChannelFuture connect = idts.clone().option(IdtsChannelOption.RING_CAPACITY, capacity)
                    .handler(collector).connect(address("echo")).await();
            if (!connect.isSuccess()) {
                log.info("connect with " + capacity + "-byte rings: " + connect.cause());
                return "connect failed: " + connect.cause();
            }
            Channel channel = connect.channel();
            try {
                ByteBuf out = Unpooled.buffer(capacity);
                new XenPattern(XenTransfers.CLIENT_SEED).write(out, 0, XenPattern.MAX_CHUNK);
                while (out.isWritable()) {
                    out.writeBytes(out, 0, Math.min(out.writableBytes(), out.readableBytes()));
                }
                byte[] sent = ByteBufUtil.getBytes(out);
                channel.writeAndFlush(out).sync();
                byte[] back = collector.done.get(STEP_SECONDS, TimeUnit.SECONDS);
                return Arrays.equals(back, sent) ? null : "the echo differs from what was sent";
            } finally {
                channel.close().sync();
            }
        });
    }

    private void figures(Bootstrap bootstrap, String name, SocketAddress echo, SocketAddress sink) {
        log.check(name + " figures: " + RTT_COUNT + " round trips of " + XenBench.RTT_MESSAGE_BYTES + " B, "
                + BANDWIDTH_RUNS + " x " + (BANDWIDTH_BYTES >> 20) + " MiB in writes of "
                + (XenBench.BANDWIDTH_WRITE_BYTES >> 10) + " KiB", () -> {
            long[] rtts = XenBench.rtt(bootstrap, echo, RTT_WARMUP, RTT_COUNT, STEP_SECONDS);
            // Emulation makes single runs noisy: the median of a few.
            double[] mibs = new double[BANDWIDTH_RUNS];
            for (int i = 0; i < BANDWIDTH_RUNS; i++) {
                long nanos = XenBench.bandwidth(bootstrap, sink, BANDWIDTH_BYTES, STEP_SECONDS);
                mibs[i] = BANDWIDTH_BYTES / 1048576.0 / (nanos / 1e9);
            }
            log.info(name + " bandwidth runs, MiB/s: " + Arrays.toString(mibs));
            Arrays.sort(mibs);
            log.figure(name + ".rtt.p50.us", String.format("%.0f", XenBench.percentile(rtts, 50) / 1000.0));
            log.figure(name + ".rtt.p99.us", String.format("%.0f", XenBench.percentile(rtts, 99) / 1000.0));
            log.figure(name + ".bandwidth.MiB/s", String.format("%.1f", mibs[BANDWIDTH_RUNS / 2]));
            return null;
        });
    }

    /** Opens {@code hold}, writes a byte, and waits for the domain to be destroyed. */
    private void hold(Bootstrap idts) throws Exception {
        Channel channel = XenTransfers.connectWithRetry(idts.clone().handler(new ChannelInboundHandlerAdapter()),
                address("hold"), CONNECT_SECONDS, log);
        channel.writeAndFlush(Unpooled.wrappedBuffer(new byte[] {'D'})).sync();
        log.info("holding " + channel + " open; dom0 destroys this domain now (" + log.failures()
                + " failure(s) so far)");
        log.exitCode();
        Thread.sleep(Long.MAX_VALUE);
    }

    /** Collects {@code expected} bytes; notes the input shutdown that may follow. */
    private static final class Collector extends ChannelInboundHandlerAdapter {
        final CompletableFuture<byte[]> done = new CompletableFuture<>();
        final CompletableFuture<Boolean> inputShutdown = new CompletableFuture<>();
        private final ByteBuf received;

        Collector(int expected) {
            received = Unpooled.buffer(expected, expected);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            try {
                if (buf.readableBytes() > received.writableBytes()) {
                    done.completeExceptionally(new IllegalStateException("more bytes than expected: "
                            + (received.readableBytes() + buf.readableBytes())));
                    return;
                }
                received.writeBytes(buf);
            } finally {
                buf.release();
            }
            if (!received.isWritable()) {
                done.complete(ByteBufUtil.getBytes(received));
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt instanceof ChannelInputShutdownEvent) {
                inputShutdown.complete(true);
            }
            super.userEventTriggered(ctx, evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) throws Exception {
            done.completeExceptionally(new IllegalStateException("closed after " + received.readableBytes()
                    + " bytes"));
            inputShutdown.complete(false);
            super.channelInactive(ctx);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            done.completeExceptionally(cause);
            ctx.close();
        }
    }
}
