package io.idts.microbench;

import io.idts.channel.Idts;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.text.SimpleDateFormat;
import java.util.ArrayList;
import java.util.Date;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TimeZone;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The IDTS benchmark: IDTS against Netty's TCP (epoll, NIO, busy-polling epoll) and Unix-domain transports and
 * Aeron IPC, between this JVM (the client) and a server JVM it starts itself ({@link BenchServer}), one messaging
 * thread per process, through full Netty pipelines for every Netty transport.
 *
 * <p>Per round, for every transport in turn (the order rotates from round to round so that machine noise hits all
 * alike): round-trip times of 64 B, 1 KiB and 16 KiB ping-pongs; one-way bandwidth in 64 KiB and 1 KiB writes into
 * a receiver that reads every byte before it releases the buffer (or, for {@link Transport#IDTS_KEEP}, keeps
 * buffers first); connection set-ups (connect, a 1-byte echo, close, one after the other); HTTP/1.1 requests over 50
 * keep-alive connections through Netty's HTTP codec on both ends; then 1, 10, 100 and 1000 concurrent connections
 * (aggregate round trips and bandwidth), and the CPU that the most connections use while idle. CPU is each process's
 * own accounting ({@link Cpu}), both summed, over every window: per GB, per round trip, per set-up, per request.
 *
 * <p>Prints a table with each figure's ratio to epoll TCP, the CPU per unit of work of every part, and issue 12's
 * targets, and writes {@code bench-<time>.json} (every figure) and {@code bench-<time>.svg} (a chart of round-trip
 * percentiles, bandwidth, set-ups and HTTP requests per second). {@link Settings#usage()} lists the arguments.
 */
public final class Benchmark {

    /**
     * A window in which the traffic makes no progress at all for this long fails the run (the keeping receiver's
     * parts: {@link Settings#keepStallSeconds}, and it is reported as stalled instead).
     */
    static final long STALL_SECONDS = 30;

    private final Settings settings;
    private final PrintStream out;
    private final Results results;
    private ServerProcess server;
    private Progress progress;
    /** Checksum mismatches the server's receivers had reported so far: any new one fails the run. */
    private long mismatches;

    private Benchmark(Settings settings, PrintStream out) {
        this.settings = settings;
        this.out = out;
        this.results = new Results(settings, Machine.describe());
    }

    public static void main(String[] args) {
        try {
            run(System.out, args);
        } catch (IllegalArgumentException e) {
            System.err.println("Benchmark: " + e.getMessage());
            System.exit(2);
        } catch (Throwable t) {
            System.err.println();
            System.err.println("Benchmark failed: " + t);
            t.printStackTrace();
            System.exit(1);
        }
        System.exit(0);
    }

    /** Runs the benchmark, printing progress and the tables to {@code out}; returns every figure. */
    public static Results run(PrintStream out, String... args) throws Exception {
        Settings settings = Settings.parse(args);
        if (settings.transports.stream().anyMatch(Transport::isIdts)) {
            Idts.ensureAvailability();
        }
        if (settings.transports.contains(Transport.AERON_IPC)) {
            AeronIpc.checkAccess();
        }
        return new Benchmark(settings, out).run();
    }

    /** How long each measurement of the cache line's round trip between the two cores takes. */
    private static final long CORE_TO_CORE_MILLIS = 250;

    private Results run() throws Exception {
        results.startedMillis = System.currentTimeMillis();
        long start = System.nanoTime();
        out.println("IDTS benchmark, " + settings + "; " + settings.transports.size() + " transports, two JVMs, "
                + "one messaging thread each");
        out.println("machine: " + results.machine.get("summary"));
        if (settings.quick) {
            out.println("(quick mode: a smoke test whose figures are not meaningful; run the full mode for them)");
        }
        double estimate = estimateSeconds();
        out.printf(Locale.ROOT, "estimated time: %s%n", Progress.clock(estimate));
        try (Progress p = new Progress(out, settings.progress, estimate)) {
            progress = p;
            p.step("starting the server JVM", 1.0);
            NettyTransports.initAllocator();
            try (ServerProcess s = ServerProcess.start(new PrefixedLog(), settings.serverJvmArgs)) {
                server = s;
                results.coreToCoreBeforeNanos = CoreToCore.roundTripNanos(CORE_TO_CORE_MILLIS);
                if (settings.warmupRound) {
                    for (Transport t : settings.transports) {
                        runTransport(t, 0);
                    }
                }
                for (int round = 1; round <= settings.rounds; round++) {
                    List<Transport> order = rotated(settings.transports, round - 1);
                    for (Transport t : order) {
                        runTransport(t, round);
                    }
                }
                if (settings.maxConnections() > 0) {
                    p.step("idle baseline: both JVMs with no connection", idleSeconds());
                    results.baseline = new Results.Idle(0);
                    measureIdle(results.baseline);
                }
                results.coreToCoreAfterNanos = CoreToCore.roundTripNanos(CORE_TO_CORE_MILLIS);
                p.step("stopping the server JVM", 0.5);
                ServerProcess.Stat end = server.stat();
                long serverProcStat = Cpu.procStatNanos(server.pid);
                long clientClock = Cpu.processNanos();
                long clientProcStat = Cpu.procStatNanos(ProcessHandle.current().pid());
                results.cpuClocks = new Results.CpuClocks(clientClock, clientProcStat, end.cpuNanos, serverProcStat);
                checkReceivers(end, "the run");
                results.receivedBytes = end.sinkBytes;
                results.checkedBytes = end.checkedBytes;
            }
        }
        results.seconds = (System.nanoTime() - start) / 1e9;
        Report.print(out, results);
        writeFiles();
        return results;
    }

    private void writeFiles() throws IOException {
        Path dir = settings.outputDirectory;
        Files.createDirectories(dir);
        SimpleDateFormat stamp = new SimpleDateFormat("yyyyMMdd-HHmmss", Locale.ROOT);
        stamp.setTimeZone(TimeZone.getTimeZone("UTC"));
        String base = "bench-" + (settings.quick ? "quick-" : "") + stamp.format(new Date(results.startedMillis));
        Path json = dir.resolve(base + ".json");
        Path svg = dir.resolve(base + ".svg");
        Files.write(json, Json.write(Report.toMap(results)).getBytes(StandardCharsets.UTF_8));
        Files.write(svg, Chart.svg(results).getBytes(StandardCharsets.UTF_8));
        out.println("every figure: " + json.toAbsolutePath());
        out.println("chart:        " + svg.toAbsolutePath());
    }

    static <T> List<T> rotated(List<T> list, int by) {
        List<T> rotated = new ArrayList<>(list.size());
        for (int i = 0; i < list.size(); i++) {
            rotated.add(list.get((i + by) % list.size()));
        }
        return rotated;
    }

    // ---------------------------------------------------------------------------------------------------------
    // The plan and its time estimate.

    private double rttSeconds(boolean warmup) {
        return warmup ? 0.45 : (settings.warmMillis + settings.windowMillis) / 1e3 + 0.05;
    }

    private double connectSeconds(Transport t, int n) {
        return n * (t.isIdts() ? 0.0006 : 0.0002) + 0.02;
    }

    /**
     * Warm-up of the many-connections runs: longer with more connections, so that every connection's buffers (for
     * IDTS, the fresh memfd pages of its rings, zero-filled by the kernel on first touch) are in use before the
     * window opens: the figures are of connections in use, not of their first bytes.
     */
    private long connectionsWarmMillis(int n) {
        return settings.quick ? settings.connectionsWarmMillis : Math.max(settings.connectionsWarmMillis, n);
    }

    /** The window of the many-connections runs: with 1000 connections, at least a second. */
    private long connectionsWindowMillis(int n) {
        return settings.quick ? settings.connectionsWindowMillis : Math.max(settings.connectionsWindowMillis, n);
    }

    private double connectionsSeconds(Transport t, int n) {
        return 2 * (connectSeconds(t, n) + (connectionsWarmMillis(n) + connectionsWindowMillis(n)) / 1e3 + 0.05);
    }

    private double idleSeconds() {
        return (settings.idleSettleMillis + settings.idleMillis) / 1e3;
    }

    private double estimateSeconds() {
        double total = 2.5 + (settings.maxConnections() > 0 ? idleSeconds() : 0);
        for (int round = settings.warmupRound ? 0 : 1; round <= settings.rounds; round++) {
            for (Transport t : settings.transports) {
                total += 0.3 + (t == Transport.AERON_IPC ? 0.5 : 0);
                total += ((settings.rtt && !t.bandwidthOnly() ? Settings.RTT_SIZES.length : 0)
                        + (settings.bandwidth ? Settings.BANDWIDTH_SIZES.length : 0)
                        + (settings.setup && t.connects() ? 1 : 0)) * rttSeconds(round == 0);
                if (settings.http && t.connects()) {
                    total += rttSeconds(round == 0) + connectSeconds(t, Settings.HTTP_CONNECTIONS);
                }
                if (round > 0 && t.connects() && settings.manyConnections) {
                    for (int n : settings.connections) {
                        total += connectionsSeconds(t, n);
                    }
                    if (round == settings.rounds && settings.maxConnections() > 0) {
                        total += idleSeconds();
                    }
                }
            }
        }
        return total;
    }

    // ---------------------------------------------------------------------------------------------------------
    // One transport in one round (round 0: the warm-up round, not recorded).

    private void runTransport(Transport t, int round) throws Exception {
        String roundName = round == 0 ? "warm-up" : "round " + round + "/" + settings.rounds;
        Results.PerTransport into = results.get(t);
        boolean record = round > 0;
        long warm = record ? settings.warmMillis : 150;
        long window = record ? settings.windowMillis : 250;
        progress.step(roundName + ", " + t.label + ": opening", 0.3 + (t == Transport.AERON_IPC ? 0.5 : 0));
        Side side = open(t);
        try {
            for (int size : settings.rtt && !t.bandwidthOnly() ? Settings.RTT_SIZES : new int[0]) {
                progress.step(roundName + ", " + t.label + ": round trips of " + size(size), rttSeconds(!record));
                Results.Rtt rtt = record ? into.rtt(size) : null;
                Side s = side;
                measureTimed(side, () -> s.pings(size, 1), t.label + " round trips of " + size(size), warm, window,
                        rtt, null);
            }
            for (int size : settings.bandwidth ? Settings.BANDWIDTH_SIZES : new int[0]) {
                progress.step(roundName + ", " + t.label + ": bandwidth in " + size(size) + " writes",
                        rttSeconds(!record));
                Results.Bandwidth bw = record ? into.bandwidth(size) : null;
                try {
                    measureBandwidth(side, t, t.label + " bandwidth in " + size(size) + " writes", size, 1, warm,
                            window, bw);
                } catch (Stalled e) {
                    // Both ends of the transport start afresh: the stalled connection goes with the old ones.
                    Side stalled = side;
                    side = null;
                    stalled.close();
                    side = open(t);
                }
            }
            if (settings.setup && t.connects()) {
                progress.step(roundName + ", " + t.label + ": connection set-ups", rttSeconds(!record));
                Side s = side;
                measureTimed(side, () -> s.setups(Settings.SETUP_ECHO_SIZE), t.label + " connection set-ups", warm,
                        window, record ? into.setups() : null, null);
            }
            if (settings.http && t.connects()) {
                progress.step(roundName + ", " + t.label + ": HTTP/1.1, " + Settings.HTTP_CONNECTIONS
                        + " connections", rttSeconds(!record) + connectSeconds(t, Settings.HTTP_CONNECTIONS));
                Side s = side;
                measureTimed(side, () -> s.http(Settings.HTTP_CONNECTIONS), t.label + " HTTP/1.1 requests", warm,
                        window, record ? into.http() : null, null);
            }
            if (!record || !t.connects() || !settings.manyConnections) {
                return;
            }
            for (int n : settings.connections) {
                boolean idle = round == settings.rounds && n == settings.maxConnections();
                progress.step(roundName + ", " + t.label + ": " + n + " connection" + (n == 1 ? "" : "s")
                        + (idle ? ", then idle" : ""), connectionsSeconds(t, n) + (idle ? idleSeconds() : 0));
                long warmMillis = connectionsWarmMillis(n);
                long windowMillis = connectionsWindowMillis(n);
                Side s = side;
                measureTimed(side, () -> s.pings(Settings.CONNECTIONS_PING_SIZE, n),
                        t.label + ", " + n + " connections, round trips", warmMillis, windowMillis,
                        into.connectionsRtt(n), idle ? into.idle(n) : null);
                measureBandwidth(side, t, t.label + ", " + n + " connections, bandwidth",
                        Settings.CONNECTIONS_WRITE_SIZE, n, warmMillis, windowMillis, into.connectionsBandwidth(n));
            }
        } finally {
            if (side != null) {
                side.close();
            }
        }
    }

    /** Opens a timed load: ping-pongs, set-ups or HTTP requests. */
    @FunctionalInterface
    private interface TimedLoad {
        Load.Pings open() throws Exception;
    }

    /**
     * A timed load's window: what it completed (round trips, set-ups, requests) with their times, and the CPU both
     * processes used meanwhile; then, if {@code idle} is given, the CPU of its connections left open and idle.
     */
    private void measureTimed(Side side, TimedLoad timed, String what, long warmMillis, long windowMillis,
                            Results.Rtt into, Results.Idle idle) throws Exception {
        Load.Pings load = timed.open();
        try {
            awaitFirstProgress(load, what, STALL_SECONDS);
            watch(load, what, warmMillis, STALL_SECONDS);
            ServerProcess.Stat s0 = server.stat();
            long c0 = Cpu.processNanos();
            long t0 = System.nanoTime();
            load.beginMeasure();
            watch(load, what, windowMillis, STALL_SECONDS);
            load.endMeasure();
            long t1 = System.nanoTime();
            long c1 = Cpu.processNanos();
            ServerProcess.Stat s1 = server.stat();
            load.stop(what);
            if (load.histogram.getTotalCount() == 0) {
                throw new IllegalStateException(what + ": nothing completed in the window");
            }
            if (into != null) {
                into.add(load.histogram, (t1 - t0) / 1e9, (c1 - c0) + (s1.cpuNanos - s0.cpuNanos));
            }
            if (idle != null) {
                measureIdle(idle); // the connections stay open, with nothing to do
            }
        } finally {
            load.close();
            side.afterLoad();
        }
    }

    private void measureIdle(Results.Idle into) throws Exception {
        Thread.sleep(settings.idleSettleMillis);
        ServerProcess.Stat s0 = server.stat();
        long c0 = Cpu.processNanos();
        Thread.sleep(settings.idleMillis);
        long c1 = Cpu.processNanos();
        ServerProcess.Stat s1 = server.stat();
        into.add(c1 - c0, s1.cpuNanos - s0.cpuNanos, (s1.atNanos - s0.atNanos) / 1e9);
    }

    /**
     * One-way bandwidth: {@code connections} streams of {@code size}-byte writes into the server's sink, received as
     * {@link Settings#receiver} says (the keeping receiver for {@link Transport#IDTS_KEEP}). A stream of the keeping
     * receiver that stalls is stopped, counted in {@code into} and reported by {@link Stalled}; any other stall fails
     * the run.
     */
    private void measureBandwidth(Side side, Transport t, String what, int size, int connections, long warmMillis,
                                  long windowMillis, Results.Bandwidth into) throws Exception {
        ServerHandlers.Receiver receiver = t == Transport.IDTS_KEEP ? ServerHandlers.Receiver.KEEP : settings.receiver;
        boolean stallReported = receiver == ServerHandlers.Receiver.KEEP;
        long stallSeconds = stallReported ? settings.keepStallSeconds : STALL_SECONDS;
        server.request("sink " + receiver.key + " " + size, 60);
        ServerProcess.Stat before = server.stat();
        Load.Stream load = side.stream(size, connections);
        boolean stalled = false;
        ServerProcess.Stat after = null;
        try {
            awaitFirstProgress(load, what, stallSeconds);
            watch(load, what, warmMillis, stallSeconds);
            ServerProcess.Stat s0 = server.stat();
            long c0 = Cpu.processNanos();
            load.beginMeasure();
            watch(load, what, windowMillis, stallSeconds);
            ServerProcess.Stat s1 = server.stat();
            long c1 = Cpu.processNanos();
            load.endMeasure();
            long bytes = s1.sinkBytes - s0.sinkBytes;
            if (bytes <= 0) {
                if (stallReported) {
                    throw new TimeoutException(what + ": the server received nothing in the window");
                }
                throw new IllegalStateException(what + ": the server received nothing in the window");
            }
            load.stop(what);
            if (into != null) {
                into.add(bytes, (s1.atNanos - s0.atNanos) / 1e9, (c1 - c0) + (s1.cpuNanos - s0.cpuNanos));
            }
        } catch (TimeoutException e) {
            if (!stallReported) {
                throw e;
            }
            stalled = true;
            progress.message("stalled: " + e.getMessage() + "; reported as stalled, the run goes on");
            if (into != null) {
                into.stalled();
            }
            try {
                load.stop(what);
            } catch (Exception stopping) {
                progress.message(what + ": " + stopping.getMessage());
            }
        } finally {
            load.close();
            if (!stalled) {
                after = side.afterLoad();
            }
        }
        if (stalled) {
            throw new Stalled();
        }
        checkReceivers(after, what);
        if (into != null) {
            into.checked(after.checkedBytes - before.checkedBytes);
            into.idtsReads(after.viewBytes - before.viewBytes, after.copiedBytes - before.copiedBytes);
        }
    }

    /** Fails the run if the server's receivers found a checksum that did not match the bytes sent. */
    private void checkReceivers(ServerProcess.Stat stat, String what) {
        if (stat.mismatches > mismatches) {
            long n = stat.mismatches - mismatches;
            mismatches = stat.mismatches;
            throw new IllegalStateException(what + ": the receiver read bytes that differ from those sent ("
                    + n + " checksum mismatch" + (n == 1 ? "" : "es") + "; the server's output above says where)");
        }
    }

    /** A part of the keeping receiver stalled: measured as such; the transport's two ends must start afresh. */
    private static final class Stalled extends Exception {
        private static final long serialVersionUID = 1L;

        Stalled() {
            super(null, null, false, false);
        }
    }

    /** Waits for the traffic's first round trip or write: a transport's first use loads and links its classes. */
    private static void awaitFirstProgress(Load load, String what, long stallSeconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(stallSeconds);
        while (load.progress() == 0) {
            load.check(what);
            if (System.nanoTime() - deadline > 0) {
                throw new TimeoutException(what + ": nothing came through in " + stallSeconds + " s");
            }
            Thread.sleep(1);
        }
    }

    /** Sleeps {@code millis} while the traffic runs, failing early if it fails or stalls for {@code stallSeconds}. */
    private static void watch(Load load, String what, long millis, long stallSeconds) throws Exception {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        long lastProgress = load.progress();
        long lastMove = System.nanoTime();
        for (;;) {
            load.check(what);
            long now = System.nanoTime();
            if (now - end >= 0) {
                return;
            }
            long p = load.progress();
            if (p != lastProgress) {
                lastProgress = p;
                lastMove = now;
            } else if (now - lastMove > TimeUnit.SECONDS.toNanos(stallSeconds)) {
                throw new TimeoutException(what + " stalled: no progress for " + stallSeconds + " s");
            }
            Thread.sleep(Math.max(1, Math.min(20, TimeUnit.NANOSECONDS.toMillis(end - now))));
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // The two sides of one transport.

    /** The client side of one transport, with the server side opened to match. */
    private interface Side extends AutoCloseable {
        Load.Pings pings(int size, int connections) throws Exception;

        Load.Stream stream(int size, int connections) throws Exception;

        /** Connection set-ups, one at a time, each echoing {@code size} bytes once (connection transports only). */
        Load.Pings setups(int size) throws Exception;

        /** HTTP/1.1 requests over {@code connections} keep-alive connections (connection transports only). */
        Load.Pings http(int connections) throws Exception;

        /**
         * After a load closed its connections: waits until the server has closed its ends too (their receivers have
         * then read and compared everything), and returns the server's counters.
         */
        ServerProcess.Stat afterLoad() throws Exception;

        @Override
        void close() throws Exception;
    }

    private Side open(Transport t) throws Exception {
        if (t == Transport.AERON_IPC) {
            String dir = AeronIpc.newDirectory();
            AeronIpc.Client client = AeronIpc.Client.open(dir, () -> {
                try {
                    server.request("open " + t.key + " " + dir, 60);
                } catch (IOException | InterruptedException e) {
                    throw new IllegalStateException(e);
                }
            });
            return new Side() {
                @Override
                public Load.Pings pings(int size, int connections) {
                    return client.pings(size);
                }

                @Override
                public Load.Stream stream(int size, int connections) {
                    return client.stream(size);
                }

                @Override
                public Load.Pings setups(int size) {
                    throw new UnsupportedOperationException("Aeron IPC has no connections to set up");
                }

                @Override
                public Load.Pings http(int connections) {
                    throw new UnsupportedOperationException("Aeron IPC has no connections to carry HTTP");
                }

                @Override
                public ServerProcess.Stat afterLoad() throws Exception {
                    return server.stat();
                }

                @Override
                public void close() throws Exception {
                    try {
                        server.request("close", 60);
                    } finally {
                        client.close();
                    }
                }
            };
        }
        String[] addresses = server.request("open " + t.key + " " + settings.spinNanos + " "
                + (settings.zeroCopyReads == null ? "default" : settings.zeroCopyReads), 60);
        NettyClient client = new NettyClient(t, NettyTransports.clientAddress(t, NettyTransports.parse(addresses[0])),
                NettyTransports.clientAddress(t, NettyTransports.parse(addresses[1])),
                NettyTransports.clientAddress(t, NettyTransports.parse(addresses[2])), settings.spinNanos,
                settings.zeroCopyReads);
        return new Side() {
            @Override
            public Load.Pings pings(int size, int connections) throws Exception {
                return client.pings(size, connections);
            }

            @Override
            public Load.Stream stream(int size, int connections) throws Exception {
                return client.stream(size, connections);
            }

            @Override
            public Load.Pings setups(int size) {
                return client.setups(size);
            }

            @Override
            public Load.Pings http(int connections) throws Exception {
                return client.http(connections);
            }

            @Override
            public ServerProcess.Stat afterLoad() throws Exception {
                return server.awaitNoConnections(60);
            }

            @Override
            public void close() throws Exception {
                try {
                    client.close();
                } finally {
                    server.request("close", 60);
                }
            }
        };
    }

    static String size(int bytes) {
        return bytes >= 1024 && bytes % 1024 == 0 ? bytes / 1024 + " KiB" : bytes + " B";
    }

    /** The server's output, above the progress bar. */
    private final class PrefixedLog extends PrintStream {
        PrefixedLog() {
            super(System.err, true, StandardCharsets.UTF_8);
        }

        @Override
        public void println(String line) {
            if (progress != null) {
                progress.message(line);
            } else {
                super.println(line);
            }
        }
    }

    /** The machine, as the JSON file and the table header record it. */
    static final class Machine {
        private Machine() {
        }

        static Map<String, Object> describe() {
            Map<String, Object> m = new LinkedHashMap<>();
            String cpu = "unknown CPU";
            try {
                for (String line : Files.readAllLines(Paths.get("/proc/cpuinfo"))) {
                    if (line.startsWith("model name")) {
                        cpu = line.substring(line.indexOf(':') + 1).trim();
                        break;
                    }
                }
            } catch (IOException ignored) {
                // Not Linux, or no /proc: the model stays unknown.
            }
            int cores = Runtime.getRuntime().availableProcessors();
            long memory = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                    .getTotalMemorySize();
            String kernel = System.getProperty("os.name") + " " + System.getProperty("os.version");
            String jvm = System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version");
            m.put("cpu", cpu);
            m.put("cores", cores);
            m.put("memoryBytes", memory);
            m.put("kernel", kernel);
            m.put("jvm", jvm);
            m.put("jvmArguments", ManagementFactory.getRuntimeMXBean().getInputArguments());
            m.put("cpuClock", Cpu.source());
            // The receiver's writeback of fast streams' slices needs a JVM option (the server JVM inherits this one's).
            boolean writeback = Idts.isCacheLineWritebackAvailable();
            m.put("idtsCacheLineWriteback", writeback);
            m.put("summary", String.format(Locale.ROOT, "%s, %d cores, %.0f GiB, %s, %s; IDTS cache line writeback %s",
                    cpu, cores, memory / (double) (1L << 30), kernel, jvm,
                    writeback ? "on" : "off (see Idts.isCacheLineWritebackAvailable())"));
            return m;
        }
    }
}
