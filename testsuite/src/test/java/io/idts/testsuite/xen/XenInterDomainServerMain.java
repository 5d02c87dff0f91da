package io.idts.testsuite.xen;

import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsEventLoopGroup;
import io.idts.channel.IdtsPeerGoneException;
import io.idts.channel.IdtsServerChannel;
import io.idts.xen.XenStore;
import io.idts.xen.XenStorePermission;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollServerSocketChannel;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * The server domain's half of the channel-level Xen checks (testsuite/xen/run), run in dom0 against
 * {@link XenInterDomainClientMain} in a domU: {@code XenInterDomainServerMain <domU id>}.
 *
 * <p>It listens on the IDTS services {@code echo} (round trip, RTT), {@code halfclose}, {@code stream} (64 MiB each
 * way), {@code sink} (bandwidth) and {@code hold} in its own domain, and on TCP ports {@value #TCP_ECHO_PORT} (echo)
 * and {@value #TCP_SINK_PORT} (sink) for the TCP figures. It checks what the server end of each transfer sees. When
 * the client, done with everything else, writes a byte on its {@code hold} channel, the server closes its other
 * listeners and destroys the client's domain with {@code xl destroy}: the held channel must then close with an
 * {@link IdtsPeerGoneException} within {@value #PEER_GONE_SECONDS} s, and once it and the last listener are closed,
 * nothing may be left: no grant mapping in this process, no event-channel port bound by it, no XenStore node under
 * {@code /local/domain/<self>/data/idts}, and the destroyed domain must be gone entirely (a domain whose pages
 * another domain still maps lingers as a dying domain).
 *
 * <p>Prints {@code SERVER PASS|FAIL: ...} lines; exits with 0 when all passed.
 */
public final class XenInterDomainServerMain {

    static final int TCP_ECHO_PORT = 7001;
    static final int TCP_SINK_PORT = 7002;
    static final String[] SERVICES = {"echo", "halfclose", "stream", "sink", "hold"};
    /** How long the held channel may take to close after its peer domain was destroyed. */
    static final int PEER_GONE_SECONDS = 30;
    /** The whole run, from start to the client's hold; the domU boots and starts its JVM meanwhile. */
    private static final long DEADLINE_SECONDS = 900;
    private static final int PROGRESS_SECONDS = 20;

    private final XenCheckLog log = new XenCheckLog("SERVER");
    private final long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(DEADLINE_SECONDS);
    private final CompletableFuture<String> halfClose = new CompletableFuture<>();
    private final CompletableFuture<XenTransfers.StreamResult> stream = new CompletableFuture<>();
    private volatile XenTransfers.StreamEnd streamEnd;
    private final CompletableFuture<HoldHandler> hold = new CompletableFuture<>();

    private XenInterDomainServerMain() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: XenInterDomainServerMain <client domid>");
            System.exit(2);
        }
        XenCheckLog.exitWith("SERVER", "server", () -> new XenInterDomainServerMain().run(Integer.parseInt(args[0])));
    }

    private long remainingMillis() {
        return Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
    }

    private int run(int peer) throws Exception {
        XenStore xs = XenStore.open();
        int self = Integer.parseInt(xs.read(XenStore.NO_TRANSACTION, "domid"));
        String published = XenResources.servicesPath(self);
        List<String> portsBefore = XenResources.userEventChannelPorts();
        log.info("domain " + self + ", client domain " + peer + "; event-channel ports of user processes before: "
                + portsBefore.size());

        EventLoopGroup idtsGroup = new IdtsEventLoopGroup(1);
        EventLoopGroup tcpGroup = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        List<Channel> listeners = new ArrayList<>();
        Channel holdListener = null;
        try {
            // TCP first: the client reaches the TCP ports only after the IDTS checks, and those wait for echo.
            listeners.add(tcpServer(tcpGroup, TCP_ECHO_PORT, XenBench.Echo::new));
            listeners.add(tcpServer(tcpGroup, TCP_SINK_PORT, XenBench.Sink::new));
            listeners.add(idtsServer(idtsGroup, self, "halfclose", true, () -> {
                XenTransfers.HalfCloseServer handler = new XenTransfers.HalfCloseServer();
                handler.result().whenComplete((failure, t) -> halfClose.complete(t != null ? t.toString() : failure));
                return handler;
            }));
            listeners.add(idtsServer(idtsGroup, self, "stream", true, () -> {
                XenTransfers.StreamEnd handler = new XenTransfers.StreamEnd(true);
                streamEnd = handler;
                handler.result().whenComplete((result, t) -> {
                    if (t != null) {
                        stream.completeExceptionally(t);
                    } else {
                        stream.complete(result);
                    }
                });
                return handler;
            }));
            listeners.add(idtsServer(idtsGroup, self, "sink", false, XenBench.Sink::new));
            holdListener = idtsServer(idtsGroup, self, "hold", false, () -> new HoldHandler(hold));
            listeners.add(idtsServer(idtsGroup, self, "echo", false, XenBench.Echo::new));
            log.info("listening on " + String.join(", ", SERVICES) + " and TCP " + TCP_ECHO_PORT + ", "
                    + TCP_SINK_PORT);

            log.check("services published in XenStore: " + published + "/<service> readable by all, its requests "
                    + "writable by all", () -> {
                StringBuilder wrong = new StringBuilder();
                for (String service : SERVICES) {
                    String node = published + '/' + service;
                    XenStorePermission[] perms = xs.permissions(XenStore.NO_TRANSACTION, node);
                    XenStorePermission[] requests = xs.permissions(XenStore.NO_TRANSACTION, node + "/requests");
                    if (perms == null || perms.length == 0
                            || !perms[0].equals(XenStorePermission.of(self, XenStorePermission.READ))) {
                        wrong.append(' ').append(node).append(' ').append(Arrays.toString(perms));
                    }
                    if (requests == null || requests.length == 0
                            || !requests[0].equals(XenStorePermission.of(self, XenStorePermission.WRITE))) {
                        wrong.append(' ').append(node).append("/requests ")
                                .append(Arrays.toString(requests));
                    }
                }
                return wrong.length() == 0 ? null : "permissions (owner and everyone else first):" + wrong;
            });

            log.check("half-close: input shutdown seen with the output open, " + XenTransfers.HALF_CLOSE_BYTES
                    + " bytes written back after it, then the output shut down",
                    () -> halfClose.get(remainingMillis(), TimeUnit.MILLISECONDS));
            XenTransfers.StreamResult s = awaitStream();
            log.info(String.format("stream: received %d bytes, sent %d, in %.1f s", s.received, s.sent,
                    s.nanos / 1e9));
            log.result("64 MiB domU -> dom0: every byte as the client's pattern, CRC32 "
                    + XenTransfers.crc(s.receivedCrc), s.patternFailure != null ? s.patternFailure
                    : s.received != XenTransfers.STREAM_BYTES ? "received " + s.received + " bytes" : null);
            log.result("64 MiB dom0 -> domU written (CRC32 " + XenTransfers.crc(s.sentCrc) + ") and the trailer "
                    + "written after the input shutdown",
                    s.sent == XenTransfers.STREAM_BYTES && s.inputShutdown ? null
                            : "sent " + s.sent + ", input shutdown " + s.inputShutdown);

            HoldHandler held = hold.get(remainingMillis(), TimeUnit.MILLISECONDS);
            log.info("the client holds its channel open: closing the other listeners, then xl destroy " + peer);
            for (Channel listener : listeners) {
                listener.close().sync();
            }
            listeners.clear();
            // The leak checks below look for nothing; first make sure they would see the held channel.
            log.check("the leak probes see the held channel: its grant mappings in /proc/self/maps, its "
                    + "event-channel port in /proc/interrupts", () -> {
                List<String> mappings = XenResources.grantMappings();
                List<String> ports = XenResources.userEventChannelPorts();
                log.info("while held: " + mappings.size() + " grant mapping(s), user event-channel ports " + ports);
                return !mappings.isEmpty() && ports.size() > portsBefore.size() ? null
                        : mappings.size() + " grant mappings, " + ports.size() + " user ports (" + portsBefore.size()
                        + " before)";
            });
            peerDeath(peer, held);
            holdListener.close().sync();
            holdListener = null;
            leftBehind(xs, self, peer, published, portsBefore);
        } finally {
            for (Channel listener : listeners) {
                listener.close().await(10, TimeUnit.SECONDS);
            }
            if (holdListener != null) {
                holdListener.close().await(10, TimeUnit.SECONDS);
            }
            idtsGroup.shutdownGracefully(0, 5, TimeUnit.SECONDS).await(30, TimeUnit.SECONDS);
            tcpGroup.shutdownGracefully(0, 5, TimeUnit.SECONDS).await(30, TimeUnit.SECONDS);
            xs.close();
        }
        return log.exitCode();
    }

    /** The stream's result; meanwhile, every {@value #PROGRESS_SECONDS} s, where it stands. */
    private XenTransfers.StreamResult awaitStream() throws Exception {
        for (;;) {
            try {
                return stream.get(Math.min(remainingMillis(), PROGRESS_SECONDS * 1000L), TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                if (remainingMillis() <= 1) {
                    throw e;
                }
                XenTransfers.StreamEnd end = streamEnd;
                log.info("stream: " + (end == null ? "not connected yet" : end.describe()));
            }
        }
    }

    private void peerDeath(int peer, HoldHandler held) throws Exception {
        long destroyed = System.nanoTime();
        log.check("xl destroy " + peer + " (the client's domain, with the held channel open)", () -> {
            exec(60, "xl", "destroy", Integer.toString(peer));
            return null;
        });
        log.check("dom0's held channel closes within " + PEER_GONE_SECONDS + " s of the destroy, with an "
                + "IdtsPeerGoneException through exceptionCaught", () -> {
            long closedAt;
            try {
                closedAt = held.closed.get(PEER_GONE_SECONDS, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                return "still open after " + PEER_GONE_SECONDS + " s; exceptions: " + held.exceptions;
            }
            log.info(String.format("held channel closed %.2f s after the destroy; exceptions: %s",
                    (closedAt - destroyed) / 1e9, held.exceptions));
            for (Throwable t : held.exceptions) {
                if (t instanceof IdtsPeerGoneException) {
                    return null;
                }
            }
            return "closed, but exceptionCaught saw " + (held.exceptions.isEmpty() ? "nothing" : held.exceptions);
        });
    }

    private void leftBehind(XenStore xs, int self, int peer, String published, List<String> portsBefore) {
        log.check("the destroyed domain " + peer + " is gone from xl list within 30 s (dom0 maps none of its "
                + "pages)", () -> {
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            String list;
            do {
                list = exec(30, "xl", "list");
                if (!listsDomain(list, peer)) {
                    return null;
                }
                Thread.sleep(500);
            } while (System.nanoTime() < end);
            return "still listed: " + list;
        });
        log.check("no grant mapping left in the server process (/proc/self/maps)", () -> {
            List<String> left = XenResources.grantMappings();
            return left.isEmpty() ? null : left.size() + " left: " + left;
        });
        log.check("no event-channel port left (/proc/interrupts, user ports as before the connections)", () -> {
            List<String> after = XenResources.userEventChannelPorts();
            log.info("user event-channel ports after: " + after);
            return after.size() <= portsBefore.size() ? null
                    : (after.size() - portsBefore.size()) + " more than before: " + after + " (before: "
                    + portsBefore + ')';
        });
        log.check("no XenStore node left under " + published, () -> {
            List<String> left = XenResources.xenStoreTree(xs, published);
            return left.isEmpty() ? null : "left: " + left;
        });
    }

    /** {@code xl list} lists a domain with id {@code domid} (its second column). */
    private static boolean listsDomain(String xlList, int domid) {
        for (String line : xlList.split("\n")) {
            String[] fields = line.trim().split("\\s+");
            if (fields.length > 1 && fields[1].equals(Integer.toString(domid))) {
                return true;
            }
        }
        return false;
    }

    /** Runs a command: its output if it exited with 0 within the time, otherwise an exception saying how it ended. */
    private static String exec(int seconds, String... command) throws Exception {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Thread reader = new Thread(() -> {
            try (InputStream in = process.getInputStream()) {
                in.transferTo(out);
            } catch (IOException ignored) {
                // The process went; its output so far is what there is.
            }
        });
        reader.start();
        if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
            process.destroyForcibly();
            throw new IOException(String.join(" ", command) + " did not finish within " + seconds + " s");
        }
        reader.join(5000);
        String text = out.toString(StandardCharsets.UTF_8);
        if (process.exitValue() != 0) {
            throw new IOException(String.join(" ", command) + ": exit status " + process.exitValue() + ": "
                    + text.trim());
        }
        return text;
    }

    /**
     * An IDTS server on {@code service}; {@code halfClosure} for the handlers that finish a half-closed
     * connection themselves (the others close when their client does).
     */
    private Channel idtsServer(EventLoopGroup group, int self, String service, boolean halfClosure,
                               Supplier<ChannelHandler> handler) throws InterruptedException {
        return new ServerBootstrap()
                .group(group)
                .channel(IdtsServerChannel.class)
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, halfClosure)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(handler.get());
                    }
                })
                .bind(IdtsAddress.xen(self, service)).sync().channel();
    }

    private static Channel tcpServer(EventLoopGroup group, int port, Supplier<ChannelHandler> handler)
            throws InterruptedException {
        return new ServerBootstrap()
                .group(group)
                .channel(EpollServerSocketChannel.class)
                .option(EpollChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(handler.get());
                    }
                })
                .bind(new InetSocketAddress(port)).sync().channel();
    }

    /**
     * The server end of the channel the client holds open until its domain is destroyed: completes {@code ready}
     * with itself on the first byte, then records every exception and when the channel closed.
     */
    static final class HoldHandler extends ChannelInboundHandlerAdapter {
        final List<Throwable> exceptions = new CopyOnWriteArrayList<>();
        final CompletableFuture<Long> closed = new CompletableFuture<>();
        private final CompletableFuture<HoldHandler> ready;

        HoldHandler(CompletableFuture<HoldHandler> ready) {
            this.ready = ready;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ((ByteBuf) msg).release();
            ready.complete(this);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            exceptions.add(cause);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) throws Exception {
            closed.complete(System.nanoTime());
            super.channelInactive(ctx);
        }
    }
}
