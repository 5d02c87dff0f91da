package io.idts.microbench;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * The server process of the benchmark, started by {@link Benchmark} in a child JVM. It takes one command per line on
 * its standard input and answers each with one line starting with {@code @} on its standard output:
 * <ul>
 *   <li>{@code open <transport> <spin nanos> <zero-copy reads: true, false or default>}: one event loop thread of
 *       that Netty transport, and on it an echo server, a sink server and an HTTP/1.1 server; answers
 *       {@code @ready <echo address> <sink address> <HTTP address>};</li>
 *   <li>{@code open aeron-ipc <aeron directory>}: joins the benchmark's media driver and starts the echo/sink
 *       thread; answers {@code @ready};</li>
 *   <li>{@code sink <consume, drop or keep> <write size>}: how the sinks receive the next streams (Netty: their
 *       next connections; Aeron: from now on, and never {@code keep}), and the size of the writes their senders
 *       repeat, for the checksums; answers {@code @sink};</li>
 *   <li>{@code close}: closes what {@code open} opened (and its connections); answers {@code @closed};</li>
 *   <li>{@code stat}: answers {@code @stat <bytes the sinks took in> <process CPU nanoseconds> <open connections>
 *       <bytes whose checksum matched the bytes sent> <checksums that did not> <bytes IDTS sinks read as views>
 *       <bytes IDTS sinks read as copies>} (the last two counted when a sink's connection closes);</li>
 * </ul>
 * It exits when its standard input closes, so it never outlives the benchmark.
 */
public final class BenchServer {

    private final PrintStream out;
    private final String name = "idts-bench-" + ProcessHandle.current().pid();
    private int opened;
    private Transport transport;
    private EventLoopGroup group;
    private Channel echoServer;
    private Channel sinkServer;
    private Channel httpServer;
    private final java.util.List<java.net.SocketAddress> boundAddresses = new java.util.ArrayList<>();
    /** The accepted connections open now, closed by {@link #closeAll} while their event loop still runs. */
    private final ChannelGroup children = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
    private AeronIpc.Server aeron;

    private BenchServer(PrintStream out) {
        this.out = out;
    }

    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true,
                StandardCharsets.UTF_8);
        System.setOut(System.err); // everything else the process prints must not look like an answer
        BenchServer server = new BenchServer(out);
        NettyTransports.initAllocator();
        answer(out, "@hello " + ProcessHandle.current().pid());
        try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                line = line.trim();
                if (line.isEmpty()) {
                    continue;
                }
                try {
                    answer(out, server.execute(line.split(" ")));
                } catch (Throwable t) {
                    t.printStackTrace();
                    answer(out, "@error " + String.valueOf(t).replace('\n', ' '));
                }
            }
        } finally {
            server.closeAll();
        }
        System.exit(0);
    }

    /** One write per answer, so that the server's other output (merged with it) never splits one. */
    private static void answer(PrintStream out, String line) {
        out.print(line + "\n");
        out.flush();
    }

    private String execute(String[] words) throws Exception {
        switch (words[0]) {
            case "open":
                closeAll();
                Transport t = Transport.byKey(words[1]);
                if (t == Transport.AERON_IPC) {
                    aeron = new AeronIpc.Server(words[2]);
                    transport = t;
                    return "@ready";
                }
                Boolean zeroCopy = words.length > 3 && !words[3].equals("default") ? Boolean.valueOf(words[3]) : null;
                return openNetty(t, Long.parseLong(words[2]), zeroCopy);
            case "close":
                closeAll();
                return "@closed";
            case "sink":
                ServerHandlers.sink(ServerHandlers.Receiver.byKey(words[1]), Integer.parseInt(words[2]));
                return "@sink";
            case "stat":
                return String.format(Locale.ROOT, "@stat %d %d %d %d %d %d %d", ServerHandlers.SINK_BYTES.get(),
                        Cpu.processNanos(), ServerHandlers.OPEN_CHANNELS.get(), ServerHandlers.CHECKED_BYTES.get(),
                        ServerHandlers.MISMATCHES.get(), ServerHandlers.IDTS_VIEW_BYTES.get(),
                        ServerHandlers.IDTS_COPIED_BYTES.get());
            case "gc":
                System.gc();
                return "@gc";
            default:
                throw new IllegalArgumentException("unknown command " + String.join(" ", words));
        }
    }

    private String openNetty(Transport t, long spinNanos, Boolean zeroCopyReads) throws Exception {
        transport = t;
        opened++;
        group = NettyTransports.newGroup(t, "bench-server-" + t.key);
        echoServer = bind(t, spinNanos, zeroCopyReads, name + "-" + opened + "-echo", ServerHandlers.ECHO);
        sinkServer = bind(t, spinNanos, zeroCopyReads, name + "-" + opened + "-sink", ServerHandlers.SINK);
        httpServer = bind(t, spinNanos, zeroCopyReads, name + "-" + opened + "-http", ServerHandlers.HTTP);
        return "@ready " + NettyTransports.format(echoServer.localAddress()) + ' '
                + NettyTransports.format(sinkServer.localAddress()) + ' '
                + NettyTransports.format(httpServer.localAddress());
    }

    private Channel bind(Transport t, long spinNanos, Boolean zeroCopyReads, String serviceName,
                         ChannelHandler handler) throws Exception {
        ServerBootstrap b = new ServerBootstrap().group(group).channel(NettyTransports.serverChannelClass(t))
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        children.add(ch);
                        ch.pipeline().addLast(handler);
                    }
                });
        NettyTransports.configureServer(b, t, spinNanos, zeroCopyReads);
        Channel server = b.bind(NettyTransports.bindAddress(t, serviceName)).sync().channel();
        boundAddresses.add(server.localAddress());
        return server;
    }

    private void closeAll() throws Exception {
        if (aeron != null) {
            aeron.close();
            aeron = null;
        }
        for (Channel server : new Channel[] { echoServer, sinkServer, httpServer }) {
            if (server != null) {
                server.close().awaitUninterruptibly();
            }
        }
        for (java.net.SocketAddress address : boundAddresses) {
            NettyTransports.cleanUp(address);
        }
        boundAddresses.clear();
        echoServer = null;
        sinkServer = null;
        httpServer = null;
        // The connections still open (a stalled stream's): closed on their running loop, so that their handlers
        // see channelInactive and let go of what they hold; a loop that shuts down with channels open closes them
        // without (its deregistration task is rejected).
        children.close().awaitUninterruptibly(10, java.util.concurrent.TimeUnit.SECONDS);
        NettyTransports.shutdown(group);
        group = null;
        transport = null;
    }
}
