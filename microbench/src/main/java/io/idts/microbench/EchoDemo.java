package io.idts.microbench;

import io.idts.channel.Idts;
import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsChannel;
import io.idts.channel.IdtsChannelOption;
import io.idts.channel.IdtsEventLoopGroup;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.LongFunction;
import java.util.function.LongSupplier;

/**
 * The two-process echo demo: starts {@link EchoDemoServer} in a child JVM (same class path), connects to it from
 * this JVM over IDTS (event loops not spinning, then spinning) and over Netty's epoll TCP on loopback, and on each
 * <ol>
 *   <li>runs 64-byte ping-pongs, one at a time, and prints the round-trip time's median and 99th percentile in
 *       microseconds (from {@link System#nanoTime()} samples taken on the client's event loop);</li>
 *   <li>streams a large amount of data in 64 KiB writes, which the server echoes back, and prints the rate.</li>
 * </ol>
 *
 * <p>Arguments, all optional, as {@code key=value}: {@code pings} (default 100000), {@code warmup} (default 10000),
 * {@code mib} (MiB to stream, default 1024), {@code spin} (spin time in ns of the spinning run, default 50000),
 * {@code tcp} ({@code false} skips the TCP comparison), {@code verify} (check every echoed byte; default
 * {@code false}, on in quick mode) and {@code quick} alone: 2000 pings, 4 MiB, verified (what the test runs).
 */
public final class EchoDemo {

    /** Size of one ping. */
    static final int PING_SIZE = 64;
    /** Size of one write of the stream. */
    static final int CHUNK_SIZE = 64 * 1024;
    /** A phase that makes no progress for this long fails. */
    private static final long STALL_SECONDS = 60;

    private EchoDemo() {
    }

    /** What the demo measured on one transport. */
    public static final class Result {
        public final String transport;
        public final int pings;
        public final double p50Micros;
        public final double p99Micros;
        public final long streamBytes;
        public final double streamSeconds;

        Result(String transport, int pings, double p50Micros, double p99Micros, long streamBytes,
               double streamSeconds) {
            this.transport = transport;
            this.pings = pings;
            this.p50Micros = p50Micros;
            this.p99Micros = p99Micros;
            this.streamBytes = streamBytes;
            this.streamSeconds = streamSeconds;
        }

        /** Decimal megabytes per second, each way (the stream is echoed back at the same time). */
        public double megabytesPerSecond() {
            return streamBytes / streamSeconds / 1e6;
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%-28s %9.1f %9.1f %12.0f", transport, p50Micros, p99Micros,
                    megabytesPerSecond());
        }
    }

    /** The settings of one run. */
    static final class Settings {
        int pings = 100_000;
        int warmup = 10_000;
        long streamBytes = 1024L * 1024 * 1024;
        long spinNanos = 50_000;
        boolean tcp = true;
        boolean verify;

        static Settings parse(String... args) {
            Settings s = new Settings();
            for (String arg : args) {
                String a = arg.startsWith("--") ? arg.substring(2) : arg;
                if (a.isEmpty()) {
                    continue;
                }
                if ("quick".equals(a)) {
                    s.pings = 2_000;
                    s.warmup = 500;
                    s.streamBytes = 4L * 1024 * 1024;
                    s.verify = true;
                    continue;
                }
                int eq = a.indexOf('=');
                if (eq < 0) {
                    throw new IllegalArgumentException("unknown argument '" + arg + "'; " + usage());
                }
                String key = a.substring(0, eq);
                String value = a.substring(eq + 1);
                switch (key) {
                    case "pings": s.pings = positive(key, Integer.parseInt(value)); break;
                    case "warmup": s.warmup = Math.max(0, Integer.parseInt(value)); break;
                    case "mib": s.streamBytes = positive(key, Long.parseLong(value)) * 1024 * 1024; break;
                    case "spin": s.spinNanos = positive(key, Long.parseLong(value)); break;
                    case "tcp": s.tcp = Boolean.parseBoolean(value); break;
                    case "verify": s.verify = Boolean.parseBoolean(value); break;
                    default: throw new IllegalArgumentException("unknown argument '" + arg + "'; " + usage());
                }
            }
            return s;
        }

        private static <N extends Number> N positive(String key, N value) {
            if (value.longValue() <= 0) {
                throw new IllegalArgumentException(key + " must be positive: " + value);
            }
            return value;
        }

        static String usage() {
            return "arguments: [quick] [pings=N] [warmup=N] [mib=N] [spin=NANOS] [tcp=true|false] [verify=true|false]";
        }
    }

    public static void main(String[] args) {
        try {
            run(System.out, args);
        } catch (IllegalArgumentException e) {
            System.err.println("EchoDemo: " + e.getMessage());
            System.exit(2);
        } catch (Throwable t) {
            System.err.println("EchoDemo failed: " + t);
            t.printStackTrace();
            System.exit(1);
        }
        System.exit(0);
    }

    /**
     * Runs the demo, printing progress and a summary to {@code out}.
     *
     * @return one result per transport measured
     */
    public static List<Result> run(PrintStream out, String... args) throws Exception {
        Settings settings = Settings.parse(args);
        Idts.ensureAvailability();
        long pid = ProcessHandle.current().pid();
        IdtsAddress address = IdtsAddress.of("echo-demo-" + pid);
        IdtsAddress spinAddress = IdtsAddress.of("echo-demo-" + pid + "-spin");

        out.printf(Locale.ROOT, "IDTS echo demo: %d ping-pongs of %d B (after %d warm-up), then %s streamed in %d KiB "
                        + "writes and echoed back%s%n", settings.pings, PING_SIZE, settings.warmup,
                size(settings.streamBytes), CHUNK_SIZE / 1024, settings.verify ? ", every byte verified" : "");

        List<Result> results = new ArrayList<>();
        EventLoopGroup idtsGroup = null;
        EventLoopGroup tcpGroup = null;
        try (ServerProcess server = ServerProcess.start(out, address, spinAddress, settings.spinNanos)) {
            idtsGroup = new IdtsEventLoopGroup(1);
            results.add(measure(out, "IDTS", settings, new Bootstrap().group(idtsGroup)
                    .channel(IdtsChannel.class)
                    .option(IdtsChannelOption.SPIN_TIME_NANOS, 0L), address));
            results.add(measure(out, "IDTS, spin " + settings.spinNanos / 1000 + " us", settings, new Bootstrap()
                    .group(idtsGroup)
                    .channel(IdtsChannel.class)
                    .option(IdtsChannelOption.SPIN_TIME_NANOS, settings.spinNanos), spinAddress));
            if (settings.tcp) {
                tcpGroup = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
                results.add(measure(out, "TCP loopback (Netty epoll)", settings, new Bootstrap().group(tcpGroup)
                        .channel(EpollSocketChannel.class)
                        .option(ChannelOption.TCP_NODELAY, true),
                        new InetSocketAddress(InetAddress.getLoopbackAddress(), server.tcpPort)));
            }
        } finally {
            shutdown(idtsGroup);
            shutdown(tcpGroup);
        }

        out.println();
        out.printf(Locale.ROOT, "Summary: two JVMs on one host; round trips of %d B (%d measured), and %s "
                + "streamed in %d KiB writes while the server echoed it back%n", PING_SIZE, settings.pings,
                size(settings.streamBytes), CHUNK_SIZE / 1024);
        out.printf(Locale.ROOT, "%-28s %9s %9s %12s%n", "transport", "p50 us", "p99 us", "MB/s each way");
        for (Result result : results) {
            out.println(result);
        }
        if (results.size() == 3) {
            Result tcp = results.get(2);
            double bestP50 = Math.min(results.get(0).p50Micros, results.get(1).p50Micros);
            double bestRate = Math.max(results.get(0).megabytesPerSecond(), results.get(1).megabytesPerSecond());
            out.printf(Locale.ROOT, "Best IDTS against TCP: median round trip %s, stream %s%n",
                    compare(tcp.p50Micros / bestP50, "shorter", "longer"),
                    compare(bestRate / tcp.megabytesPerSecond(), "faster", "slower"));
        }
        if (settings.pings < 10_000 || settings.streamBytes < 64L * 1024 * 1024) {
            out.println("(A short run: the JIT has not warmed up and two spinning event loops compete with it for "
                    + "the CPUs; run the full demo for meaningful numbers.)");
        }
        out.flush();
        return results;
    }

    private static Result measure(PrintStream out, String name, Settings settings, Bootstrap bootstrap,
                                  SocketAddress remote) throws Exception {
        out.println();
        out.println("== " + name + " -> " + remote);

        // Round trips.
        PingPong pingPong = new PingPong(settings.warmup, settings.pings);
        Channel channel = bootstrap.clone().handler(pingPong).connect(remote).sync().channel();
        try {
            pingPong.start(channel);
            await(out, name + " round trips", pingPong.done, pingPong::completed, settings.warmup + settings.pings,
                    n -> String.valueOf(n));
        } finally {
            channel.close().sync();
        }
        long[] samples = pingPong.samples;
        Arrays.sort(samples);
        double p50 = percentile(samples, 50) / 1e3;
        double p99 = percentile(samples, 99) / 1e3;
        out.printf(Locale.ROOT, "   %d round trips of %d B: p50 %.1f us, p99 %.1f us, max %.1f us%n",
                samples.length, PING_SIZE, p50, p99, samples[samples.length - 1] / 1e3);

        // Stream.
        Stream stream = new Stream(settings.streamBytes, settings.verify);
        channel = bootstrap.clone().handler(stream)
                .option(ChannelOption.WRITE_BUFFER_WATER_MARK, EchoDemoServer.WATER_MARK)
                .connect(remote).sync().channel();
        try {
            await(out, name + " stream", stream.done, stream::received, settings.streamBytes, EchoDemo::size);
        } finally {
            channel.close().sync();
        }
        double seconds = (stream.endNanos - stream.startNanos) / 1e9;
        Result result = new Result(name, samples.length, p50, p99, settings.streamBytes, seconds);
        out.printf(Locale.ROOT, "   %s sent and echoed back in %.2f s: %.0f MB/s each way%s%n",
                size(settings.streamBytes), seconds, result.megabytesPerSecond(),
                settings.verify ? " (every byte verified)" : "");
        return result;
    }

    /** Waits for {@code done}, printing progress twice a second; fails if nothing moves for a minute. */
    private static void await(PrintStream out, String what, Future<?> done, LongSupplier progress, long total,
                              LongFunction<String> format) throws Exception {
        long last = -1;
        long lastMoveNanos = System.nanoTime();
        while (!done.await(500, TimeUnit.MILLISECONDS)) {
            long now = progress.getAsLong();
            if (now != last) {
                last = now;
                lastMoveNanos = System.nanoTime();
                out.printf(Locale.ROOT, "   ... %s: %s of %s%n", what, format.apply(now), format.apply(total));
            } else if (System.nanoTime() - lastMoveNanos > TimeUnit.SECONDS.toNanos(STALL_SECONDS)) {
                throw new TimeoutException(what + " stalled: no progress for " + STALL_SECONDS + " s at "
                        + format.apply(now) + " of " + format.apply(total));
            }
        }
        if (!done.isSuccess()) {
            throw new ExecutionException(what + " failed", done.cause());
        }
    }

    private static String compare(double ratio, String better, String worse) {
        return ratio >= 1 ? String.format(Locale.ROOT, "%.1fx %s", ratio, better)
                : String.format(Locale.ROOT, "%.1fx %s", 1 / ratio, worse);
    }

    /** Nearest-rank percentile of sorted samples. */
    static long percentile(long[] sorted, double percent) {
        int rank = (int) Math.ceil(percent / 100 * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, rank - 1))];
    }

    static String size(long bytes) {
        if (bytes % (1024 * 1024) == 0) {
            return bytes / (1024 * 1024) + " MiB";
        }
        return String.format(Locale.ROOT, "%.1f MiB", bytes / (1024.0 * 1024));
    }

    private static void shutdown(EventLoopGroup group) throws InterruptedException {
        if (group != null) {
            group.shutdownGracefully(0, 2, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
        }
    }

    /** Sends a 64-byte ping, waits for all of it to come back, records the time, sends the next. */
    static final class PingPong extends ChannelInboundHandlerAdapter {
        private final int warmup;
        private final long[] samples;
        private final byte[] echo = new byte[PING_SIZE];
        private Promise<Void> done;
        private ChannelHandlerContext ctx;
        private volatile int completed;
        private int received;
        private long sentNanos;

        PingPong(int warmup, int pings) {
            this.warmup = warmup;
            this.samples = new long[pings];
        }

        int completed() {
            return completed;
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            this.ctx = ctx;
            this.done = ctx.executor().newPromise();
        }

        void start(Channel channel) {
            channel.eventLoop().execute(this::sendPing);
        }

        private void sendPing() {
            ByteBuf ping = ctx.alloc().directBuffer(PING_SIZE);
            ping.writeLong(completed);
            ping.writeZero(PING_SIZE - Long.BYTES);
            received = 0;
            sentNanos = System.nanoTime();
            ctx.writeAndFlush(ping).addListener(f -> {
                if (!f.isSuccess()) {
                    done.tryFailure(f.cause());
                }
            });
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            try {
                int n = buf.readableBytes();
                if (received + n > PING_SIZE) {
                    done.tryFailure(new IllegalStateException("echo of ping " + completed + " is "
                            + (received + n) + " bytes, more than the " + PING_SIZE + " sent"));
                    ctx.close();
                    return;
                }
                buf.readBytes(echo, received, n);
                received += n;
            } finally {
                buf.release();
            }
            if (received < PING_SIZE) {
                return;
            }
            long rtt = System.nanoTime() - sentNanos;
            int round = completed;
            long echoed = Unpooled.wrappedBuffer(echo).getLong(0);
            if (echoed != round) {
                done.tryFailure(new IllegalStateException("ping " + round + " came back as ping " + echoed));
                ctx.close();
                return;
            }
            if (round >= warmup) {
                samples[round - warmup] = rtt;
            }
            completed = round + 1;
            if (round + 1 == warmup + samples.length) {
                done.trySuccess(null);
            } else {
                sendPing();
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            done.tryFailure(new IOException("connection closed after " + completed + " round trips"));
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            done.tryFailure(cause);
            ctx.close();
        }
    }

    /** Writes {@code total} bytes in 64 KiB writes as fast as the channel takes them, and counts the echo. */
    static final class Stream extends ChannelInboundHandlerAdapter {
        private static final byte[] PATTERN = new byte[CHUNK_SIZE];

        static {
            SplittableRandom random = new SplittableRandom(42);
            for (int i = 0; i < PATTERN.length; i++) {
                PATTERN[i] = (byte) random.nextInt();
            }
        }

        private final long total;
        private final boolean verify;
        private final byte[] scratch = new byte[CHUNK_SIZE];
        private ByteBuf chunk;
        private Promise<Void> done;
        private long sent;
        private volatile long received;
        volatile long startNanos;
        volatile long endNanos;

        Stream(long total, boolean verify) {
            this.total = total;
            this.verify = verify;
        }

        long received() {
            return received;
        }

        @Override
        public void handlerAdded(ChannelHandlerContext ctx) {
            done = ctx.executor().newPromise();
        }

        @Override
        public void handlerRemoved(ChannelHandlerContext ctx) {
            if (chunk != null) {
                chunk.release();
                chunk = null;
            }
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            chunk = ctx.alloc().directBuffer(CHUNK_SIZE).writeBytes(PATTERN);
            startNanos = System.nanoTime();
            writeMore(ctx);
            ctx.fireChannelActive();
        }

        private void writeMore(ChannelHandlerContext ctx) {
            boolean wrote = false;
            while (sent < total && ctx.channel().isWritable()) {
                int n = (int) Math.min(CHUNK_SIZE, total - sent);
                sent += n;
                wrote = true;
                ctx.write(chunk.retainedSlice(0, n)).addListener(f -> {
                    if (!f.isSuccess()) {
                        done.tryFailure(f.cause());
                    }
                });
            }
            if (wrote) {
                ctx.flush();
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (ctx.channel().isWritable()) {
                writeMore(ctx);
            }
            ctx.fireChannelWritabilityChanged();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            try {
                long at = received;
                int n = buf.readableBytes();
                if (at + n > total) {
                    done.tryFailure(new IllegalStateException("echo is longer than the " + total + " bytes sent"));
                    ctx.close();
                    return;
                }
                if (verify) {
                    verify(buf, at);
                }
                received = at + n;
                if (at + n == total) {
                    endNanos = System.nanoTime();
                    done.trySuccess(null);
                }
            } finally {
                buf.release();
            }
        }

        private void verify(ByteBuf buf, long at) {
            int index = buf.readerIndex();
            int end = buf.writerIndex();
            long position = at;
            while (index < end) {
                int offset = (int) (position % CHUNK_SIZE);
                int n = Math.min(end - index, CHUNK_SIZE - offset);
                // One bulk copy: per-byte access would be slow, and very slow under paranoid leak detection.
                buf.getBytes(index, scratch, 0, n);
                int mismatch = Arrays.mismatch(scratch, 0, n, PATTERN, offset, offset + n);
                if (mismatch >= 0) {
                    throw new IllegalStateException("echoed byte " + (position + mismatch)
                            + " differs from the byte sent");
                }
                index += n;
                position += n;
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            done.tryFailure(new IOException("connection closed after " + received + " of " + total
                    + " bytes came back"));
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            done.tryFailure(cause);
            ctx.close();
        }
    }

    /** The child JVM that runs {@link EchoDemoServer}. */
    static final class ServerProcess implements AutoCloseable {
        private final Process process;
        final int tcpPort;

        private ServerProcess(Process process, int tcpPort) {
            this.process = process;
            this.tcpPort = tcpPort;
        }

        static ServerProcess start(PrintStream out, IdtsAddress address, IdtsAddress spinAddress, long spinNanos)
                throws IOException, InterruptedException {
            List<String> command = new ArrayList<>();
            command.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
            command.add("-Xmx512m");
            // Pass on the IDTS and Netty settings of this JVM (ring capacity, rendezvous directory, leak level...).
            for (Map.Entry<Object, Object> e : System.getProperties().entrySet()) {
                String key = String.valueOf(e.getKey());
                if (key.startsWith("io.idts.") || key.startsWith("io.netty.")) {
                    command.add("-D" + key + '=' + e.getValue());
                }
            }
            command.add("-cp");
            command.add(System.getProperty("java.class.path"));
            command.add(EchoDemoServer.class.getName());
            command.add(address.toString());
            command.add(spinAddress.toString());
            command.add(Long.toString(spinNanos));

            out.println("Starting the echo server in a child JVM: " + EchoDemoServer.class.getName() + ' '
                    + address + ' ' + spinAddress + ' ' + spinNanos);
            Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
            CompletableFuture<Integer> ready = new CompletableFuture<>();
            Thread pump = new Thread(() -> pump(process, out, ready), "echo-demo-server-output");
            pump.setDaemon(true);
            pump.start();
            try {
                int port = ready.get(60, TimeUnit.SECONDS);
                return new ServerProcess(process, port);
            } catch (ExecutionException | TimeoutException e) {
                process.destroyForcibly();
                throw new IOException("the echo server did not start: " + (e instanceof TimeoutException
                        ? "no READY line within 60 s" : e.getCause().getMessage()), e);
            }
        }

        private static void pump(Process process, PrintStream out, CompletableFuture<Integer> ready) {
            try (BufferedReader reader = new BufferedReader(
                    new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = reader.readLine()) != null) {
                    if (!ready.isDone() && line.startsWith(EchoDemoServer.READY + ' ')) {
                        ready.complete(Integer.parseInt(line.substring(EchoDemoServer.READY.length() + 1).trim()));
                    } else {
                        out.println("   [server] " + line);
                    }
                }
            } catch (IOException | RuntimeException e) {
                ready.completeExceptionally(e);
            }
            try {
                ready.completeExceptionally(new IOException("the server exited with status " + process.waitFor()));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        /** Closes the server's standard input, its cue to exit, and waits for it; kills it if it lingers. */
        @Override
        public void close() {
            try {
                process.getOutputStream().close();
            } catch (IOException ignored) {
                // It is gone already.
            }
            try {
                if (!process.waitFor(15, TimeUnit.SECONDS)) {
                    process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }

}
