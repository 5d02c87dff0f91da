package io.idts.microbench;

import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What one run of the benchmark does: the full mode (minutes) by default, {@code quick} (seconds) for CI,
 * {@code bandwidth} (about a minute) for the one-way bandwidth part alone, on the transports and receivers it compares.
 */
final class Settings {

    /** Round trips: ping sizes. */
    static final int[] RTT_SIZES = { 64, 1024, 16 * 1024 };
    /** One-way bandwidth: write sizes. */
    static final int[] BANDWIDTH_SIZES = { 64 * 1024, 1024 };
    /** Many connections: the ping size and the write size on each connection. */
    static final int CONNECTIONS_PING_SIZE = 64;
    static final int CONNECTIONS_WRITE_SIZE = 64 * 1024;
    /** Connection set-up: the bytes echoed once on each connection between its connect and its close. */
    static final int SETUP_ECHO_SIZE = 1;
    /** HTTP/1.1: keep-alive connections, each with one request in flight. */
    static final int HTTP_CONNECTIONS = 50;
    /** The parts, in the order each transport runs them; {@code parts=} takes their names. */
    static final List<String> PARTS = List.of("rtt", "bandwidth", "setup", "http", "connections");

    /**
     * The {@code bandwidth} preset's transports: IDTS with its defaults, with copying reads and with a keeping
     * receiver, and the IDTS client's TCP fallback, against the kernel's sockets and Aeron.
     */
    static final List<Transport> BANDWIDTH_TRANSPORTS = List.of(Transport.IDTS, Transport.IDTS_COPY,
            Transport.IDTS_NOTIFY, Transport.IDTS_KEEP, Transport.EPOLL_TCP, Transport.IDTS_FALLBACK, Transport.EPOLL_UDS, Transport.AERON_IPC);

    boolean quick;
    /** The {@code bandwidth} preset: the one-way bandwidth part alone, on {@link #BANDWIDTH_TRANSPORTS}. */
    boolean bandwidthPreset;
    int rounds = 3;
    boolean warmupRound = true;
    /** Traffic runs this long before each measurement window opens (JIT, caches, TCP windows). */
    long warmMillis = 300;
    /** One measurement window, per figure per round. */
    long windowMillis = 1000;
    long connectionsWarmMillis = 200;
    long connectionsWindowMillis = 600;
    /** How long the idle connections settle (spinning loops stop, JIT queues drain) before idle CPU is counted. */
    long idleSettleMillis = 1000;
    long idleMillis = 3000;
    int[] connections = { 1, 10, 100, 1000 };
    List<Transport> transports = new ArrayList<>(Arrays.asList(Transport.values()));
    long spinNanos = NettyTransports.DEFAULT_SPIN_NANOS;
    /** IDTS's ZERO_COPY_READS on both sides; null leaves the transport's default. */
    Boolean zeroCopyReads;
    Path outputDirectory = Paths.get("bench-results");
    /** {@code auto} (a bar on a terminal, lines otherwise), {@code bar}, {@code lines} or {@code none}. */
    String progress = "auto";
    /** Which parts run: round trips, bandwidth, connection set-up, HTTP/1.1, many connections (with idle CPU). */
    boolean rtt = true;
    boolean bandwidth = true;
    boolean setup = true;
    boolean http = true;
    boolean manyConnections = true;
    /**
     * How the receiving end of the one-way streams (every transport but {@link Transport#IDTS_KEEP}, which keeps)
     * handles what it gets: {@code consume}, reading every byte, or {@code drop}, releasing it unread.
     */
    ServerHandlers.Receiver receiver = ServerHandlers.Receiver.CONSUME;
    /**
     * A part with the keeping receiver that makes no progress for this long is stopped and reported as stalled (the
     * run goes on); any other stalled part fails the run after {@link Benchmark#STALL_SECONDS}.
     */
    long keepStallSeconds = 10;
    /** Extra JVM options of the server process, e.g. for profiling it. */
    List<String> serverJvmArgs = new ArrayList<>();

    static String usage() {
        return "arguments: [quick] [bandwidth] [rounds=N] [window=MS] [warm=MS] [conns=1,10,100,1000] [connwarm=MS] "
                + "[connwindow=MS] [idle=MS] [transports=" + Transport.keys() + "] [spin=NANOS] "
                + "[zerocopy=true|false] [out=DIR] [warmup=true|false] [progress=auto|bar|lines|none] "
                + "[parts=" + String.join(",", PARTS) + "] [receiver=consume|drop] [stall=SECONDS] "
                + "[serverjvm=OPTION]...";
    }

    /** Presets ({@code quick}, {@code bandwidth}) first, wherever they stand, then the settings that override them. */
    static Settings parse(String... args) {
        Settings s = new Settings();
        List<String> rest = new ArrayList<>();
        for (String arg : args) {
            if (arg.startsWith("--")) {
                arg = arg.substring(2);
            }
            if (arg.equals("quick")) {
                s.quick();
            } else if (arg.equals("bandwidth")) {
                s.bandwidthPreset();
            } else if (!arg.isEmpty() && !arg.equals("full")) {
                rest.add(arg);
            }
        }
        for (String arg : rest) {
            int eq = arg.indexOf('=');
            if (eq < 0) {
                throw new IllegalArgumentException("unknown argument '" + arg + "'; " + usage());
            }
            String key = arg.substring(0, eq);
            String value = arg.substring(eq + 1);
            switch (key) {
                case "rounds": s.rounds = positive(key, Integer.parseInt(value)); break;
                case "window": s.windowMillis = positive(key, Long.parseLong(value)); break;
                case "warm": s.warmMillis = Math.max(0, Long.parseLong(value)); break;
                case "connwindow": s.connectionsWindowMillis = positive(key, Long.parseLong(value)); break;
                case "connwarm": s.connectionsWarmMillis = Math.max(0, Long.parseLong(value)); break;
                case "idle": s.idleMillis = positive(key, Long.parseLong(value)); break;
                case "spin": s.spinNanos = positive(key, Long.parseLong(value)); break;
                case "zerocopy": s.zeroCopyReads = Boolean.parseBoolean(value); break;
                case "out": s.outputDirectory = Paths.get(value); break;
                case "warmup": s.warmupRound = Boolean.parseBoolean(value); break;
                case "progress": s.progress = value; break;
                case "serverjvm": s.serverJvmArgs.add(value); break;
                case "stall": s.keepStallSeconds = positive(key, Long.parseLong(value)); break;
                case "receiver":
                    s.receiver = ServerHandlers.Receiver.byKey(value);
                    if (s.receiver == ServerHandlers.Receiver.KEEP) {
                        throw new IllegalArgumentException("receiver is consume or drop (the keeping receiver is "
                                + "transport idts-keep): " + value);
                    }
                    break;
                case "parts":
                    List<String> parts = Arrays.asList(value.split(","));
                    for (String part : parts) {
                        if (!PARTS.contains(part)) {
                            throw new IllegalArgumentException("parts are " + String.join(", ", PARTS) + ": " + part);
                        }
                    }
                    s.rtt = parts.contains("rtt");
                    s.bandwidth = parts.contains("bandwidth");
                    s.setup = parts.contains("setup");
                    s.http = parts.contains("http");
                    s.manyConnections = parts.contains("connections");
                    break;
                case "conns":
                    s.connections = value.isEmpty() ? new int[0]
                            : Arrays.stream(value.split(",")).mapToInt(v -> positive(key, Integer.parseInt(v)))
                            .sorted().distinct().toArray();
                    break;
                case "transports":
                    List<Transport> chosen = new ArrayList<>();
                    for (String k : value.split(",")) {
                        Transport t = Transport.byKey(k.trim());
                        if (!chosen.contains(t)) {
                            chosen.add(t);
                        }
                    }
                    chosen.sort(null);
                    s.transports = chosen;
                    break;
                default:
                    throw new IllegalArgumentException("unknown argument '" + arg + "'; " + usage());
            }
        }
        if (!Arrays.asList("auto", "bar", "lines", "none").contains(s.progress)) {
            throw new IllegalArgumentException("progress must be auto, bar, lines or none: " + s.progress);
        }
        // IDTS's receiver variant without the bandwidth part, Aeron with only connection parts: nothing to measure.
        s.transports.removeIf(t -> !s.measures(t));
        if (s.transports.isEmpty()) {
            throw new IllegalArgumentException("no transport has anything to measure in the parts chosen");
        }
        return s;
    }

    /** The one-way bandwidth part alone, on the transports and receivers it compares; rounds as the full mode's. */
    private void bandwidthPreset() {
        bandwidthPreset = true;
        rtt = false;
        setup = false;
        http = false;
        manyConnections = false;
        bandwidth = true;
        transports = new ArrayList<>(BANDWIDTH_TRANSPORTS);
        transports.sort(null);
    }

    /** Seconds, not minutes: every transport and figure, each measured once and briefly (a smoke test). */
    private void quick() {
        quick = true;
        rounds = 1;
        warmupRound = false;
        warmMillis = 60;
        windowMillis = 150;
        connectionsWarmMillis = 40;
        connectionsWindowMillis = 120;
        idleSettleMillis = 300;
        idleMillis = 500;
    }

    private static int positive(String key, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(key + " must be positive: " + value);
        }
        return value;
    }

    private static long positive(String key, long value) {
        if (value <= 0) {
            throw new IllegalArgumentException(key + " must be positive: " + value);
        }
        return value;
    }

    int maxConnections() {
        return connections.length == 0 || !manyConnections ? 0 : connections[connections.length - 1];
    }

    /** For the JSON file. */
    Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("mode", (quick ? "quick" : "full") + (bandwidthPreset ? " bandwidth" : ""));
        m.put("rounds", rounds);
        m.put("warmupRound", warmupRound);
        m.put("warmMillis", warmMillis);
        m.put("windowMillis", windowMillis);
        m.put("connectionsWarmMillis", connectionsWarmMillis);
        m.put("connectionsWindowMillis", connectionsWindowMillis);
        m.put("idleSettleMillis", idleSettleMillis);
        m.put("idleMillis", idleMillis);
        m.put("parts", parts());
        m.put("connections", Arrays.stream(connections).boxed().toArray());
        m.put("rttSizes", Arrays.stream(RTT_SIZES).boxed().toArray());
        m.put("bandwidthSizes", Arrays.stream(BANDWIDTH_SIZES).boxed().toArray());
        m.put("connectionsPingSize", CONNECTIONS_PING_SIZE);
        m.put("connectionsWriteSize", CONNECTIONS_WRITE_SIZE);
        m.put("setupEchoSize", SETUP_ECHO_SIZE);
        m.put("httpConnections", HTTP_CONNECTIONS);
        m.put("httpResponseBodySize", ServerHandlers.HTTP_BODY_SIZE);
        m.put("idtsSpinNanos", spinNanos);
        m.put("idtsZeroCopyReads", zeroCopyReads == null ? "transport default" : zeroCopyReads);
        m.put("receiver", receiver.key);
        m.put("keepingReceiverHoldsRingCapacities", ServerHandlers.Receiver.KEEP_RINGS);
        m.put("keepingReceiverStallSeconds", keepStallSeconds);
        m.put("writeBufferWaterMark", NettyTransports.WATER_MARK.low() + ".." + NettyTransports.WATER_MARK.high());
        List<String> keys = new ArrayList<>();
        for (Transport t : transports) {
            keys.add(t.key);
        }
        m.put("transports", keys);
        return m;
    }

    /** The parts this run measures, by their names. */
    List<String> parts() {
        List<String> parts = new ArrayList<>();
        boolean[] on = { rtt, bandwidth, setup, http, manyConnections };
        for (int i = 0; i < on.length; i++) {
            if (on[i]) {
                parts.add(PARTS.get(i));
            }
        }
        return parts;
    }

    /** Whether {@code t} has anything to measure in the parts chosen. */
    boolean measures(Transport t) {
        if (t.bandwidthOnly()) {
            return bandwidth;
        }
        return rtt || bandwidth || (t.connects() && (setup || http || manyConnections));
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%s mode%s: %d round%s, windows of %d ms (after %d ms of warm-up)",
                quick ? "quick" : "full", bandwidthPreset ? ", bandwidth only" : "", rounds, rounds == 1 ? "" : "s",
                windowMillis, warmMillis);
    }
}
