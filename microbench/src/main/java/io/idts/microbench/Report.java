package io.idts.microbench;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToDoubleFunction;

/** The tables on the terminal, the targets, and the JSON form of every figure. */
final class Report {

    static final double[] PERCENTILES = { 50, 90, 99, 99.9 };
    private static final String[] PERCENTILE_NAMES = { "p50", "p90", "p99", "p99.9" };
    private static final int NAME = 22;
    private static final int CELL = 15;
    /** The bandwidth table's cells: its headings ("64 KiB CPU s/GB") are longer. */
    private static final int WIDE_CELL = 17;

    /** Idle CPU (both processes, percent of one core) below which the idle target counts as "no measurable CPU". */
    static final double IDLE_CPU_PERCENT_LIMIT = 1.0;

    private Report() {
    }

    // ---------------------------------------------------------------------------------------------------------
    // Terminal.

    static void print(PrintStream out, Results r) {
        out.println();
        out.println("Results (" + r.settings + "; " + Progress.clock(r.seconds) + ")");
        out.println("machine: " + r.machine.get("summary"));
        out.println("In brackets: times better than epoll TCP in the same run (higher is better; for times and CPU "
                + "it is TCP's figure over this one).");
        out.println("Percentiles: the median of the rounds' own (every round weighs the same); max: of all rounds.");
        out.println("CPU: both processes' own accounting (" + Cpu.source() + "), summed; spinning transports "
                + "pay for their spin.");
        for (int size : Settings.RTT_SIZES) {
            if (r.transports().stream().noneMatch(t -> r.get(t).hasRtt(size))) {
                continue;
            }
            out.println();
            out.println("Round trips of " + Benchmark.size(size) + ", one connection, microseconds");
            List<String> head = new ArrayList<>();
            for (String p : PERCENTILE_NAMES) {
                head.add(p);
            }
            head.add("max");
            head.add("CPU us/trip");
            header(out, "transport", head);
            for (Transport t : r.transports()) {
                Results.PerTransport pt = r.get(t);
                if (!pt.hasRtt(size)) {
                    continue;
                }
                List<String> cells = new ArrayList<>();
                for (double p : PERCENTILES) {
                    cells.add(lower(r, t, x -> x.rtt(size).micros(p)));
                }
                cells.add(lower(r, t, x -> x.rtt(size).maxMicros()));
                cells.add(lower(r, t, x -> x.rtt(size).cpuMicrosPerRoundTrip()));
                row(out, t.label, cells);
            }
        }

        if (r.transports().stream().anyMatch(t -> anyBandwidth(r.get(t)))) {
            bandwidthTable(out, r);
        }

        int[] conns = r.settings.connections;
        if (conns.length > 0 && r.transports().stream().anyMatch(t -> !r.get(t).connectionsRtt.isEmpty())) {
            List<String> nHead = new ArrayList<>();
            for (int n : conns) {
                nHead.add(n + " conn" + (n == 1 ? "" : "s"));
            }
            out.println();
            out.println("Many connections: aggregate bandwidth, MB/s (" + Benchmark.size(Settings.CONNECTIONS_WRITE_SIZE)
                    + " writes on every connection at once)");
            header(out, "transport", nHead);
            for (Transport t : r.transports()) {
                if (r.get(t).connectionsBandwidth.isEmpty()) {
                    continue;
                }
                List<String> cells = new ArrayList<>();
                for (int n : conns) {
                    cells.add(higher(r, t, x -> x.connectionsBandwidth.containsKey(n)
                            ? x.connectionsBandwidth(n).megabytesPerSecond() : Double.NaN));
                }
                row(out, t.label, cells);
            }
            out.println();
            out.println("Many connections: aggregate round trips per second (one " + Settings.CONNECTIONS_PING_SIZE
                    + " B ping in flight on every connection)");
            header(out, "transport", nHead);
            for (Transport t : r.transports()) {
                if (r.get(t).connectionsRtt.isEmpty()) {
                    continue;
                }
                List<String> cells = new ArrayList<>();
                for (int n : conns) {
                    cells.add(higher(r, t, x -> x.connectionsRtt.containsKey(n)
                            ? x.connectionsRtt(n).roundTripsPerSecond() : Double.NaN));
                }
                row(out, t.label, cells);
            }
            for (int pi : new int[] { 0, 2 }) {
                double p = PERCENTILES[pi];
                out.println();
                out.println("Many connections: round-trip " + PERCENTILE_NAMES[pi] + ", microseconds");
                header(out, "transport", nHead);
                for (Transport t : r.transports()) {
                    if (r.get(t).connectionsRtt.isEmpty()) {
                        continue;
                    }
                    List<String> cells = new ArrayList<>();
                    for (int n : conns) {
                        cells.add(lower(r, t, x -> x.connectionsRtt.containsKey(n)
                                ? x.connectionsRtt(n).micros(p) : Double.NaN));
                    }
                    row(out, t.label, cells);
                }
            }
            out.println();
            out.println("Idle: CPU while " + r.settings.maxConnections() + " connections sit open with nothing to do, "
                    + "% of one core");
            header(out, "transport", List.of("both", "client", "server"));
            for (Transport t : r.transports()) {
                Results.Idle idle = r.get(t).idle();
                if (idle == null) {
                    continue;
                }
                row(out, t.label, List.of(plain(idle.percentOfCore()), plain(idle.clientPercent()),
                        plain(idle.serverPercent())));
            }
            if (r.baseline != null) {
                row(out, "(no connection open)", List.of(plain(r.baseline.percentOfCore()),
                        plain(r.baseline.clientPercent()), plain(r.baseline.serverPercent())));
            }
        }

        out.println();
        out.println("Targets (IDTS's goals; shown, never asserted)");
        int unmeasured = 0;
        for (Target target : targets(r)) {
            if (target.met == null && !r.settings.rtt) {
                unmeasured++; // a part left out (e.g. the bandwidth preset): not worth a line each
                continue;
            }
            out.println("  " + (target.met == null ? "n/a   " : target.met ? "MET   " : "MISSED") + "  "
                    + target.name + ": " + target.measured);
        }
        if (unmeasured > 0) {
            out.println("  (" + unmeasured + (unmeasured == targets(r).size() ? "" : " more") + " need figures "
                    + "this run did not measure)");
        }
        if (r.settings.quick) {
            out.println("  (quick mode: these short windows say nothing about the targets)");
        }
        out.println("Benchmarks on a shared or small machine are noisy: compare transports within one run.");
    }

    /** One-way bandwidth per transport and write size: MB/s, messages/s, CPU seconds per GB; stalls marked. */
    private static void bandwidthTable(PrintStream out, Results r) {
        out.println();
        out.println("One-way bandwidth, one connection (MB = 10^6 bytes; every write flushed; "
                + receiverText(r.settings.receiver) + ")");
        List<String> head = new ArrayList<>();
        for (int size : Settings.BANDWIDTH_SIZES) {
            String s = Benchmark.size(size);
            head.add(s + " MB/s");
            head.add(s + " msg/s");
            head.add(s + " CPU s/GB");
        }
        header(out, "transport", head, WIDE_CELL);
        boolean stalls = false;
        for (Transport t : r.transports()) {
            if (!anyBandwidth(r.get(t))) {
                continue;
            }
            List<String> cells = new ArrayList<>();
            for (int size : Settings.BANDWIDTH_SIZES) {
                Results.PerTransport pt = r.get(t);
                if (!pt.triedBandwidth(size)) {
                    cells.add("");
                    cells.add("");
                    cells.add("");
                    continue;
                }
                Results.Bandwidth bw = pt.bandwidth(size);
                if (bw.measuredRounds() == 0) {
                    cells.add("stalled");
                    cells.add("");
                    cells.add("");
                    stalls = true;
                    continue;
                }
                String mark = bw.stalledRounds() > 0 ? "*" : "";
                stalls |= bw.stalledRounds() > 0;
                cells.add(higher(r, t, x -> x.bandwidth(size).megabytesPerSecond()) + mark);
                cells.add(higher(r, t, x -> x.bandwidth(size).messagesPerSecond()));
                cells.add(lower(r, t, x -> x.bandwidth(size).cpuSecondsPerGigabyte()));
            }
            row(out, t.label, cells, WIDE_CELL);
        }
        out.println("MB/s: received by the server, the median of the rounds. CPU s/GB: seconds of CPU of both processes "
                + "per 10^9 bytes carried (= ms per MB).");
        if (stalls) {
            out.println("stalled: the stream stopped (no progress for " + r.settings.keepStallSeconds + " s, or nothing "
                    + "received in a window) in every round; *: in some rounds (the figure is the median of the "
                    + "others). The run went on.");
        }
        if (r.transports().contains(Transport.IDTS_KEEP)) {
            out.println(Transport.IDTS_KEEP.label + ": IDTS notify only, the receiver keeping every buffer until it "
                    + "holds " + ServerHandlers.Receiver.KEEP_RINGS + "x the ring capacity, then reading and "
                    + "releasing them all.");
        }
        if (r.transports().contains(Transport.IDTS_NOTIFY_COPY)) {
            out.println(Transport.IDTS_NOTIFY_COPY.label + ": IDTS notify only with ZERO_COPY_READS false (copies "
                    + "into buffers of the channel's allocator).");
        }
        StringBuilder reads = new StringBuilder();
        for (Transport t : r.transports()) {
            if (!t.isIdts() || !anyBandwidth(r.get(t))) {
                continue;
            }
            List<String> shares = new ArrayList<>();
            for (int size : Settings.BANDWIDTH_SIZES) {
                double share = r.get(t).triedBandwidth(size) ? r.get(t).bandwidth(size).viewShare() : Double.NaN;
                if (!Double.isNaN(share)) {
                    shares.add(String.format(Locale.ROOT, "%s %.0f%%", Benchmark.size(size), share * 100));
                }
            }
            if (!shares.isEmpty()) {
                reads.append(reads.length() == 0 ? "" : "; ").append(t.label).append(": ")
                        .append(String.join(", ", shares));
            }
        }
        if (reads.length() > 0) {
            out.println("IDTS bytes read as zero-copy views (the rest copied): " + reads + ".");
        }
        if (r.receivedBytes > 0 || r.checkedBytes > 0) {
            out.println(String.format(Locale.ROOT, "Receivers: %.2f GB taken in over the run; %.2f GB of it read and "
                    + "its checksum compared with the bytes sent: all matched.", r.receivedBytes / 1e9,
                    r.checkedBytes / 1e9));
        }
    }

    static String receiverText(ServerHandlers.Receiver receiver) {
        switch (receiver) {
            case DROP:
                return "the receiver releases each buffer unread";
            case CONSUME:
            default:
                return "the receiver reads every byte, 8 at a time, before it releases each buffer";
        }
    }

    private static boolean anyBandwidth(Results.PerTransport pt) {
        for (int size : Settings.BANDWIDTH_SIZES) {
            if (pt.triedBandwidth(size)) {
                return true;
            }
        }
        return false;
    }

    private static void header(PrintStream out, String first, List<String> cells) {
        row(out, first, cells, CELL);
    }

    private static void header(PrintStream out, String first, List<String> cells, int cell) {
        row(out, first, cells, cell);
    }

    private static void row(PrintStream out, String name, List<String> cells) {
        row(out, name, cells, CELL);
    }

    private static void row(PrintStream out, String name, List<String> cells, int cell) {
        StringBuilder b = new StringBuilder(pad(name, NAME));
        for (String c : cells) {
            b.append(padLeft(c, cell));
        }
        out.println(b);
    }

    private static String pad(String s, int width) {
        StringBuilder b = new StringBuilder(s);
        while (b.length() < width) {
            b.append(' ');
        }
        return b.toString();
    }

    private static String padLeft(String s, int width) {
        StringBuilder b = new StringBuilder();
        while (b.length() + s.length() < width) {
            b.append(' ');
        }
        return b.append(s).toString();
    }

    /** A figure where lower is better, with its ratio to epoll TCP's. */
    private static String lower(Results r, Transport t, ToDoubleFunction<Results.PerTransport> figure) {
        return cell(r, t, figure, true);
    }

    /** A figure where higher is better, with its ratio to epoll TCP's. */
    private static String higher(Results r, Transport t, ToDoubleFunction<Results.PerTransport> figure) {
        return cell(r, t, figure, false);
    }

    private static String cell(Results r, Transport t, ToDoubleFunction<Results.PerTransport> figure,
                               boolean lowerIsBetter) {
        double v = figure.applyAsDouble(r.get(t));
        if (Double.isNaN(v)) {
            return "";
        }
        String value = number(v);
        Results.PerTransport tcp = r.get(Transport.EPOLL_TCP);
        if (tcp == null || t == Transport.EPOLL_TCP) {
            return value;
        }
        double ref;
        try {
            ref = figure.applyAsDouble(tcp);
        } catch (RuntimeException e) {
            return value;
        }
        double ratio = ratio(v, ref, lowerIsBetter);
        return Double.isNaN(ratio) ? value : value + " (" + ratioText(ratio) + ")";
    }

    static double ratio(double value, double tcp, boolean lowerIsBetter) {
        if (Double.isNaN(value) || Double.isNaN(tcp) || value <= 0 || tcp <= 0) {
            return Double.NaN;
        }
        return lowerIsBetter ? tcp / value : value / tcp;
    }

    static String ratioText(double ratio) {
        if (ratio < 0.1) {
            return String.format(Locale.ROOT, "%.2fx", ratio);
        }
        if (ratio >= 100) {
            return String.format(Locale.ROOT, "%.0fx", ratio);
        }
        if (ratio >= 10) {
            return String.format(Locale.ROOT, "%.0fx", ratio);
        }
        return String.format(Locale.ROOT, "%.1fx", ratio);
    }

    /** Three significant digits or so, with k/M for large numbers. */
    static String number(double v) {
        if (Double.isNaN(v)) {
            return "";
        }
        double a = Math.abs(v);
        if (a >= 10e6) {
            return String.format(Locale.ROOT, "%.1fM", v / 1e6);
        }
        if (a >= 100e3) {
            return String.format(Locale.ROOT, "%.0fk", v / 1e3);
        }
        if (a >= 100) {
            return String.format(Locale.ROOT, "%.0f", v);
        }
        if (a >= 10) {
            return String.format(Locale.ROOT, "%.1f", v);
        }
        if (a >= 1) {
            return String.format(Locale.ROOT, "%.2f", v);
        }
        return String.format(Locale.ROOT, "%.3f", v);
    }

    private static String plain(double v) {
        return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.2f", v);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Targets.

    /** One of IDTS's goals, evaluated on this run: {@code met} is null when the run lacks a figure it needs. */
    static final class Target {
        final String name;
        final String measured;
        final Boolean met;

        Target(String name, String measured, Boolean met) {
            this.name = name;
            this.measured = measured;
            this.met = met;
        }
    }

    static List<Target> targets(Results r) {
        List<Target> targets = new ArrayList<>();
        Results.PerTransport spin = r.get(Transport.IDTS_SPIN);
        Results.PerTransport notify = r.get(Transport.IDTS_NOTIFY);
        Results.PerTransport tcp = r.get(Transport.EPOLL_TCP);
        Results.PerTransport uds = r.get(Transport.EPOLL_UDS);
        Results.PerTransport aeron = r.get(Transport.AERON_IPC);
        int ping = Settings.RTT_SIZES[0];
        int big = Settings.BANDWIDTH_SIZES[0];
        int small = Settings.BANDWIDTH_SIZES[1];

        double spinP50 = spin != null && spin.hasRtt(ping) ? spin.rtt(ping).micros(50) : Double.NaN;
        double tcpP50 = tcp != null && tcp.hasRtt(ping) ? tcp.rtt(ping).micros(50) : Double.NaN;
        targets.add(new Target("IDTS spinning, RTT 64 B p50 at most 1 us",
                us(spinP50), known(spinP50) ? spinP50 <= 1.0 : null));
        double rttRatio = tcpP50 / spinP50;
        targets.add(new Target("IDTS spinning, RTT 64 B p50 at least 50x better than epoll TCP",
                String.format(Locale.ROOT, "%s vs %s: %s", us(spinP50), us(tcpP50), x(rttRatio)),
                known(rttRatio) ? rttRatio >= 50 : null));

        double spinBig = bw(spin, big);
        double notifyBig = bw(notify, big);
        double tcpBig = bw(tcp, big);
        double aeronBig = bw(aeron, big);
        targets.add(new Target("IDTS spinning, 64 KiB writes at least 5x epoll TCP",
                String.format(Locale.ROOT, "%s vs %s: %s (notify only: %s, %s)", mbs(spinBig), mbs(tcpBig),
                        x(spinBig / tcpBig), mbs(notifyBig), x(notifyBig / tcpBig)),
                known(spinBig / tcpBig) ? spinBig / tcpBig >= 5 : null));
        targets.add(new Target("IDTS spinning, 64 KiB writes at least Aeron IPC",
                String.format(Locale.ROOT, "%s vs %s: %s", mbs(spinBig), mbs(aeronBig), x(spinBig / aeronBig)),
                known(spinBig / aeronBig) ? spinBig >= aeronBig : null));
        double spinSmall = bw(spin, small);
        double notifySmall = bw(notify, small);
        double udsSmall = bw(uds, small);
        targets.add(new Target("IDTS spinning, 1 KiB writes at least 2x epoll UDS",
                String.format(Locale.ROOT, "%s vs %s: %s (notify only: %s, %s)", mbs(spinSmall), mbs(udsSmall),
                        x(spinSmall / udsSmall), mbs(notifySmall), x(notifySmall / udsSmall)),
                known(spinSmall / udsSmall) ? spinSmall / udsSmall >= 2 : null));
        // Issue 11: with receivers that read every byte, the default (notify only, zero-copy reads) against UDS and
        // against copying reads.
        Results.PerTransport copies = r.get(Transport.IDTS_NOTIFY_COPY);
        for (int size : Settings.BANDWIDTH_SIZES) {
            double n = bw(notify, size);
            double u = bw(uds, size);
            double c = bw(copies, size);
            targets.add(new Target("IDTS notify only (the default), " + Benchmark.size(size)
                    + " writes at least 2x epoll UDS", String.format(Locale.ROOT, "%s vs %s: %s", mbs(n), mbs(u),
                    x(n / u)), known(n / u) ? n / u >= 2 : null));
            targets.add(new Target("IDTS notify only, " + Benchmark.size(size)
                    + " writes: zero-copy reads at least 1.3x copying reads", String.format(Locale.ROOT,
                    "%s vs %s: %s", mbs(n), mbs(c), x(n / c)), known(n / c) ? n / c >= 1.3 : null));
        }
        for (int size : Settings.RTT_SIZES) {
            double n = notify != null && notify.hasRtt(size) ? notify.rtt(size).micros(50) : Double.NaN;
            double u = uds != null && uds.hasRtt(size) ? uds.rtt(size).micros(50) : Double.NaN;
            targets.add(new Target("IDTS notify only, RTT " + Benchmark.size(size) + " p50 no worse than epoll UDS",
                    String.format(Locale.ROOT, "%s vs %s: %s", us(n), us(u), x(u / n)), known(u / n) ? n <= u : null));
        }
        for (Results.PerTransport idts : new Results.PerTransport[] { spin, notify }) {
            if (idts == null) {
                continue;
            }
            Results.Idle idle = idts.idle();
            double pct = idle == null ? Double.NaN : idle.percentOfCore();
            targets.add(new Target(idts.transport.label + ", " + r.settings.maxConnections()
                    + " idle connections: no measurable CPU (under " + IDLE_CPU_PERCENT_LIMIT + "% of a core)",
                    Double.isNaN(pct) ? "not measured" : String.format(Locale.ROOT,
                            "%.2f%% of a core (client %.2f%%, server %.2f%%; the two JVMs with no connection: %s)",
                            pct, idle.clientPercent(), idle.serverPercent(), r.baseline == null ? "n/a"
                                    : String.format(Locale.ROOT, "%.2f%%", r.baseline.percentOfCore())),
                    Double.isNaN(pct) ? null : pct < IDLE_CPU_PERCENT_LIMIT));
        }
        return targets;
    }

    private static boolean known(double v) {
        return !Double.isNaN(v) && !Double.isInfinite(v);
    }

    private static double bw(Results.PerTransport pt, int size) {
        return pt != null && pt.hasBandwidth(size) ? pt.bandwidth(size).megabytesPerSecond() : Double.NaN;
    }

    private static String us(double v) {
        return Double.isNaN(v) ? "n/a" : number(v) + " us";
    }

    private static String mbs(double v) {
        return Double.isNaN(v) ? "n/a" : String.format(Locale.ROOT, "%.0f MB/s", v);
    }

    private static String x(double v) {
        return known(v) ? String.format(Locale.ROOT, "%.2fx", v) : "n/a";
    }

    // ---------------------------------------------------------------------------------------------------------
    // JSON.

    static Map<String, Object> toMap(Results r) {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("benchmark", "io.idts.microbench.Benchmark");
        root.put("startedAtMillis", r.startedMillis);
        root.put("durationSeconds", r.seconds);
        root.put("machine", r.machine);
        root.put("settings", r.settings.toMap());
        root.put("units", Map.of(
                "rtt", "microseconds; each percentile the median of the rounds' (allRoundsMerged: all together)",
                "bandwidth", "MB/s (10^6 bytes) received by the server; messages/s",
                "cpu", "microseconds of CPU, client and server processes summed, per round trip or per MB; "
                        + "cpuSecondsPerGB: seconds per 10^9 bytes",
                "idle", "percent of one core",
                "ratioToEpollTcp", "times better than epoll TCP in this run (higher is better)"));
        Map<String, Object> transports = new LinkedHashMap<>();
        Results.PerTransport tcp = r.get(Transport.EPOLL_TCP);
        for (Transport t : r.transports()) {
            Results.PerTransport pt = r.get(t);
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("label", t.label);
            if (pt.bandwidth.size() > 0) {
                m.put("receiver", t == Transport.IDTS_KEEP ? ServerHandlers.Receiver.KEEP.key
                        : r.settings.receiver.key);
            }
            Map<String, Object> rtt = new LinkedHashMap<>();
            for (Map.Entry<Integer, Results.Rtt> e : pt.rtt.entrySet()) {
                Results.Rtt ref = tcp == null ? null : tcp.rtt.get(e.getKey());
                rtt.put(String.valueOf(e.getKey()), rttMap(e.getValue(), ref));
            }
            m.put("rtt", rtt);
            Map<String, Object> bw = new LinkedHashMap<>();
            for (Map.Entry<Integer, Results.Bandwidth> e : pt.bandwidth.entrySet()) {
                Results.Bandwidth ref = tcp == null ? null : tcp.bandwidth.get(e.getKey());
                bw.put(String.valueOf(e.getKey()), bandwidthMap(e.getValue(), ref));
            }
            m.put("bandwidth", bw);
            Map<String, Object> conns = new LinkedHashMap<>();
            for (int n : r.settings.connections) {
                Map<String, Object> c = new LinkedHashMap<>();
                if (pt.connectionsRtt.containsKey(n)) {
                    c.put("rtt", rttMap(pt.connectionsRtt.get(n), tcp == null ? null : tcp.connectionsRtt.get(n)));
                }
                if (pt.connectionsBandwidth.containsKey(n)) {
                    c.put("bandwidth", bandwidthMap(pt.connectionsBandwidth.get(n),
                            tcp == null ? null : tcp.connectionsBandwidth.get(n)));
                }
                if (!c.isEmpty()) {
                    conns.put(String.valueOf(n), c);
                }
            }
            m.put("connections", conns);
            if (pt.idle() != null) {
                Results.Idle idle = pt.idle();
                Map<String, Object> i = new LinkedHashMap<>();
                i.put("connections", idle.connections);
                i.put("seconds", idle.seconds);
                i.put("percentOfCore", idle.percentOfCore());
                i.put("clientPercent", idle.clientPercent());
                i.put("serverPercent", idle.serverPercent());
                m.put("idle", i);
            }
            transports.put(t.key, m);
        }
        root.put("transports", transports);
        Map<String, Object> receivers = new LinkedHashMap<>();
        receivers.put("receiver", r.settings.receiver.key);
        receivers.put("receivedBytes", r.receivedBytes);
        receivers.put("checksumMatchedBytes", r.checkedBytes);
        receivers.put("checksumMismatches", 0); // any mismatch fails the run
        root.put("receivers", receivers);
        if (r.baseline != null) {
            Map<String, Object> i = new LinkedHashMap<>();
            i.put("seconds", r.baseline.seconds);
            i.put("percentOfCore", r.baseline.percentOfCore());
            i.put("clientPercent", r.baseline.clientPercent());
            i.put("serverPercent", r.baseline.serverPercent());
            root.put("idleBaselineNoConnections", i);
        }
        List<Object> targets = new ArrayList<>();
        for (Target target : targets(r)) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("target", target.name);
            m.put("measured", target.measured);
            m.put("met", target.met);
            targets.add(m);
        }
        root.put("targets", targets);
        return root;
    }

    private static Map<String, Object> rttMap(Results.Rtt rtt, Results.Rtt tcp) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < PERCENTILES.length; i++) {
            m.put(PERCENTILE_NAMES[i].replace(".", "_") + "Us", rtt.micros(PERCENTILES[i]));
        }
        m.put("maxUs", rtt.maxMicros());
        Map<String, Object> merged = new LinkedHashMap<>();
        for (int i = 0; i < PERCENTILES.length; i++) {
            merged.put(PERCENTILE_NAMES[i].replace(".", "_") + "Us", rtt.mergedMicros(PERCENTILES[i]));
        }
        m.put("allRoundsMerged", merged);
        m.put("meanUs", rtt.meanMicros());
        m.put("roundTrips", rtt.count());
        m.put("seconds", rtt.seconds);
        m.put("roundTripsPerSecond", rtt.roundTripsPerSecond());
        m.put("cpuUsPerRoundTrip", rtt.cpuMicrosPerRoundTrip());
        m.put("roundsP50Us", rtt.roundP50Micros);
        List<Object> rounds = new ArrayList<>();
        for (double[] p : rtt.roundPercentiles) {
            Map<String, Object> round = new LinkedHashMap<>();
            for (int i = 0; i < PERCENTILES.length; i++) {
                round.put(PERCENTILE_NAMES[i].replace(".", "_") + "Us", p[i]);
            }
            rounds.add(round);
        }
        m.put("roundsPercentilesUs", rounds);
        m.put("roundsRoundTripsPerSecond", rtt.roundRates);
        if (tcp != null && tcp.count() > 0) {
            Map<String, Object> ratios = new LinkedHashMap<>();
            for (int i = 0; i < PERCENTILES.length; i++) {
                ratios.put(PERCENTILE_NAMES[i].replace(".", "_"),
                        ratio(rtt.micros(PERCENTILES[i]), tcp.micros(PERCENTILES[i]), true));
            }
            ratios.put("max", ratio(rtt.maxMicros(), tcp.maxMicros(), true));
            ratios.put("roundTripsPerSecond", ratio(rtt.roundTripsPerSecond(), tcp.roundTripsPerSecond(), false));
            ratios.put("cpuPerRoundTrip", ratio(rtt.cpuMicrosPerRoundTrip(), tcp.cpuMicrosPerRoundTrip(), true));
            m.put("ratioToEpollTcp", ratios);
        }
        return m;
    }

    private static Map<String, Object> bandwidthMap(Results.Bandwidth bw, Results.Bandwidth tcp) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("writeSize", bw.writeSize);
        m.put("mbPerSecond", bw.megabytesPerSecond());
        m.put("messagesPerSecond", bw.messagesPerSecond());
        m.put("cpuUsPerMB", bw.cpuMicrosPerMegabyte());
        m.put("cpuSecondsPerGB", bw.cpuSecondsPerGigabyte());
        m.put("bytes", bw.bytes);
        m.put("seconds", bw.seconds);
        m.put("roundsMbPerSecond", bw.roundMegabytesPerSecond);
        m.put("stalledRounds", bw.stalledRounds);
        m.put("checksumMatchedBytes", bw.checkedBytes);
        if (bw.viewBytes + bw.copiedBytes > 0) {
            m.put("idtsZeroCopyReadBytes", bw.viewBytes);
            m.put("idtsCopiedReadBytes", bw.copiedBytes);
        }
        if (tcp != null && tcp.bytes > 0 && bw.bytes > 0) {
            Map<String, Object> ratios = new LinkedHashMap<>();
            ratios.put("mbPerSecond", ratio(bw.megabytesPerSecond(), tcp.megabytesPerSecond(), false));
            ratios.put("cpuPerMB", ratio(bw.cpuMicrosPerMegabyte(), tcp.cpuMicrosPerMegabyte(), true));
            m.put("ratioToEpollTcp", ratios);
        }
        return m;
    }
}
