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

    /** The units of work that CPU is reported per: round trips and HTTP requests by 100,000, set-ups by 1,000. */
    static final double ROUND_TRIPS_PER_CPU_FIGURE = 100_000;
    static final double SETUPS_PER_CPU_FIGURE = 1_000;
    static final double REQUESTS_PER_CPU_FIGURE = 100_000;

    /** Issue 12's set-up target: p99 of a set-up (connect to echo) under this many microseconds. */
    static final double SETUP_P99_LIMIT_MICROS = 2_000;
    /** Issue 12's spin-mode tail target: RTT 64 B p99.9 under this many microseconds. */
    static final double SPIN_P999_LIMIT_MICROS = 20;

    private Report() {
    }

    // ---------------------------------------------------------------------------------------------------------
    // Terminal.

    static void print(PrintStream out, Results r) {
        out.println();
        out.println("Results (" + r.settings + "; " + Progress.clock(r.seconds) + ")");
        out.println("machine: " + r.machine.get("summary"));
        if (!Double.isNaN(r.coreToCoreBeforeNanos)) {
            out.printf(Locale.ROOT, "a cache line between the two cores, round trip: %.0f ns before the rounds, %.0f ns "
                    + "after (shared-memory bandwidth follows it: on a VM it moves with where the host runs the "
                    + "vCPUs)%n", r.coreToCoreBeforeNanos, r.coreToCoreAfterNanos);
        }
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
            head.add("CPU s/100k");
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
                cells.add(lower(r, t, x -> x.rtt(size).cpuSecondsPer(ROUND_TRIPS_PER_CPU_FIGURE)));
                row(out, t.label, cells);
            }
        }
        if (r.transports().stream().anyMatch(t -> r.get(t).hasRtt(Settings.RTT_SIZES[0]))) {
            out.println("CPU s/100k: CPU seconds of both processes per 100,000 round trips.");
        }

        if (r.transports().stream().anyMatch(t -> anyBandwidth(r.get(t)))) {
            bandwidthTable(out, r);
        }

        if (r.transports().stream().anyMatch(t -> r.get(t).hasSetups())) {
            out.println();
            out.println("Connection set-up: connect, echo " + Benchmark.size(Settings.SETUP_ECHO_SIZE)
                    + ", close, one connection at a time; microseconds from the connect call to the echo");
            timedTable(out, r, "set-ups/s", "CPU s/1000", Results.PerTransport::setups, SETUPS_PER_CPU_FIGURE);
            out.println("set-ups/s: whole cycles (the next connect waits for the close); CPU s/1000: CPU seconds of "
                    + "both processes per 1,000 set-ups.");
        }

        if (r.transports().stream().anyMatch(t -> r.get(t).hasHttp())) {
            out.println();
            out.println("HTTP/1.1: " + Settings.HTTP_CONNECTIONS + " keep-alive connections, one GET in flight on "
                    + "each, a " + ServerHandlers.HTTP_BODY_SIZE + " B response; microseconds from the request's "
                    + "write to its whole response");
            timedTable(out, r, "requests/s", "CPU s/100k", Results.PerTransport::http, REQUESTS_PER_CPU_FIGURE);
            out.println("Netty's HttpServerCodec and HttpObjectAggregator on the server, HttpClientCodec and "
                    + "HttpObjectAggregator on the client. CPU s/100k: per 100,000 requests.");
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
            out.println();
            out.println("Many connections: CPU seconds of both processes per GB carried (the bandwidth runs)");
            header(out, "transport", nHead);
            for (Transport t : r.transports()) {
                if (r.get(t).connectionsBandwidth.isEmpty()) {
                    continue;
                }
                List<String> cells = new ArrayList<>();
                for (int n : conns) {
                    cells.add(lower(r, t, x -> x.connectionsBandwidth.containsKey(n)
                            ? x.connectionsBandwidth(n).cpuSecondsPerGigabyte() : Double.NaN));
                }
                row(out, t.label, cells);
            }
            out.println();
            out.println("Many connections: CPU seconds of both processes per 100,000 round trips (the round-trip "
                    + "runs)");
            header(out, "transport", nHead);
            for (Transport t : r.transports()) {
                if (r.get(t).connectionsRtt.isEmpty()) {
                    continue;
                }
                List<String> cells = new ArrayList<>();
                for (int n : conns) {
                    cells.add(lower(r, t, x -> x.connectionsRtt.containsKey(n)
                            ? x.connectionsRtt(n).cpuSecondsPer(ROUND_TRIPS_PER_CPU_FIGURE) : Double.NaN));
                }
                row(out, t.label, cells);
            }
        }

        cpuTable(out, r);
        if (r.cpuClocks != null) {
            Results.CpuClocks c = r.cpuClocks;
            out.println(String.format(Locale.ROOT, "CPU over the whole run, by the clock above and by /proc/<pid>/stat "
                    + "(utime + stime): client %.2f s and %s, server %.2f s and %s.", c.clientClockNanos / 1e9,
                    seconds(c.clientProcStatNanos), c.serverClockNanos / 1e9, seconds(c.serverProcStatNanos)));
        }

        out.println();
        out.println("Targets (IDTS's goals; shown, never asserted)");
        int unmeasured = 0;
        boolean everyPart = r.settings.parts().size() == Settings.PARTS.size();
        String group = null;
        for (Target target : targets(r)) {
            if (target.met == null && !everyPart) {
                unmeasured++; // a part left out (e.g. the bandwidth preset): not worth a line each
                continue;
            }
            if (!target.group.equals(group)) {
                group = target.group;
                out.println(" " + group + ":");
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

    /** The percentiles of the set-up and HTTP tables (p90 is in the JSON file): the table stays within 120 columns. */
    private static final double[] TIMED_PERCENTILES = { 50, 99, 99.9 };

    /**
     * A part timed per unit (set-ups, requests): its rate, p50, p99, p99.9, max and CPU per {@code cpuUnits} units,
     * with ratios to epoll TCP.
     */
    private static void timedTable(PrintStream out, Results r, String rateName, String cpuName,
                                   java.util.function.Function<Results.PerTransport, Results.Rtt> part,
                                   double cpuUnits) {
        List<String> head = new ArrayList<>();
        head.add(rateName);
        for (double p : TIMED_PERCENTILES) {
            head.add("p" + trim(p));
        }
        head.add("max");
        head.add(cpuName);
        header(out, "transport", head);
        for (Transport t : r.transports()) {
            if (part.apply(r.get(t)).count() == 0) {
                continue;
            }
            List<String> cells = new ArrayList<>();
            cells.add(higher(r, t, x -> rateOf(part.apply(x))));
            for (double p : TIMED_PERCENTILES) {
                cells.add(lower(r, t, x -> microsOf(part.apply(x), p)));
            }
            cells.add(lower(r, t, x -> part.apply(x).count() == 0 ? Double.NaN : part.apply(x).maxMicros()));
            cells.add(lower(r, t, x -> part.apply(x).cpuSecondsPer(cpuUnits)));
            row(out, t.label, cells);
        }
    }

    private static double rateOf(Results.Rtt rtt) {
        return rtt.count() == 0 ? Double.NaN : rtt.roundTripsPerSecond();
    }

    private static double microsOf(Results.Rtt rtt, double percentile) {
        return rtt.count() == 0 ? Double.NaN : rtt.micros(percentile);
    }

    /**
     * CPU per unit of work, every part side by side: seconds of CPU of both processes per GB (one-way, one
     * connection), per 100,000 round trips of 64 B, per 1,000 set-ups, per 100,000 HTTP requests; and the idle
     * connections' share of a core. A faster figure bought with a busier core shows here.
     */
    private static void cpuTable(PrintStream out, Results r) {
        List<String> head = new ArrayList<>();
        for (int size : Settings.BANDWIDTH_SIZES) {
            head.add(Benchmark.size(size) + " s/GB");
        }
        head.add("RTT s/100k");
        head.add("set-up s/1k");
        head.add("HTTP s/100k");
        boolean idle = r.transports().stream().anyMatch(t -> r.get(t).idle() != null);
        if (idle) {
            head.add("idle %");
        }
        List<Transport> rows = new ArrayList<>();
        for (Transport t : r.transports()) {
            Results.PerTransport pt = r.get(t);
            if (anyBandwidth(pt) || pt.hasRtt(Settings.RTT_SIZES[0]) || pt.hasSetups() || pt.hasHttp()
                    || pt.idle() != null) {
                rows.add(t);
            }
        }
        if (rows.isEmpty()) {
            return;
        }
        out.println();
        out.println("CPU per unit of work: seconds of CPU of both processes per GB carried (one connection), per "
                + "100,000 round trips of " + Benchmark.size(Settings.RTT_SIZES[0]) + ", per 1,000 set-ups, per "
                + "100,000 HTTP requests" + (idle ? "; idle: % of a core with " + r.settings.maxConnections()
                + " connections open and idle" : ""));
        header(out, "transport", head);
        for (Transport t : rows) {
            Results.PerTransport pt = r.get(t);
            List<String> cells = new ArrayList<>();
            for (int size : Settings.BANDWIDTH_SIZES) {
                cells.add(lower(r, t, x -> x.hasBandwidth(size) ? x.bandwidth(size).cpuSecondsPerGigabyte()
                        : Double.NaN));
            }
            int ping = Settings.RTT_SIZES[0];
            cells.add(lower(r, t, x -> x.hasRtt(ping) ? x.rtt(ping).cpuSecondsPer(ROUND_TRIPS_PER_CPU_FIGURE)
                    : Double.NaN));
            cells.add(lower(r, t, x -> x.setups().cpuSecondsPer(SETUPS_PER_CPU_FIGURE)));
            cells.add(lower(r, t, x -> x.http().cpuSecondsPer(REQUESTS_PER_CPU_FIGURE)));
            if (idle) {
                cells.add(pt.idle() == null ? "" : plain(pt.idle().percentOfCore()));
            }
            row(out, t.label, cells);
        }
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
            out.println(Transport.IDTS_KEEP.label + ": IDTS with its defaults, the receiver keeping every buffer until it "
                    + "holds " + ServerHandlers.Receiver.KEEP_RINGS + "x the ring capacity, then reading and "
                    + "releasing them all.");
        }
        if (r.transports().contains(Transport.IDTS_COPY)) {
            out.println(Transport.IDTS_COPY.label + ": IDTS's defaults but ZERO_COPY_READS false (copies into buffers "
                    + "of the channel's allocator).");
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

    private static String seconds(long nanos) {
        return nanos < 0 ? "n/a" : String.format(Locale.ROOT, "%.2f s", nanos / 1e9);
    }

    private static String plain(double v) {
        return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.2f", v);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Targets.

    /** The groups of targets, in the order they are printed. */
    static final String ISSUE_12_DEFAULT = "Issue 12, the default mode (idts: the adaptive spin, zero-copy reads)";
    static final String ISSUE_12_SPIN = "Issue 12, spin mode (idts-spin)";
    static final String ISSUE_11 = "Issue 11, zero copy with the defaults (idts against idts-copy)";
    static final String EARLIER = "Earlier goals (protocol version 1)";

    /** One of IDTS's goals, evaluated on this run: {@code met} is null when the run lacks a figure it needs. */
    static final class Target {
        final String group;
        final String name;
        final String measured;
        final Boolean met;

        Target(String group, String name, String measured, Boolean met) {
            this.group = group;
            this.name = name;
            this.measured = measured;
            this.met = met;
        }

        Target(String name, String measured, Boolean met) {
            this(EARLIER, name, measured, met);
        }
    }

    /** Every target: issue 12's first, then the earlier ones that issue 12 does not restate. */
    static List<Target> targets(Results r) {
        List<Target> targets = issue12Targets(r);
        List<Target> earlier = earlierTargets(r);
        // Issue 11's group right after issue 12's, so that each group is printed once.
        for (Target target : earlier) {
            if (target.group.equals(ISSUE_11)) {
                targets.add(target);
            }
        }
        for (Target target : earlier) {
            if (!target.group.equals(ISSUE_11)) {
                targets.add(target);
            }
        }
        return targets;
    }

    /**
     * Issue 12's targets. Default mode: 64 KiB writes at least 2x epoll UDS, 1 KiB writes at least 1.5x; RTT 64 B
     * p50 at most half of UDS's and p99 no worse; 1,000 connections streaming at least 80% of 10 connections' aggregate
     * and at least UDS's at 1,000; 1,000 idle connections near 0% CPU; set-ups per second at least UDS's with p99
     * under 2 ms; HTTP/1.1 requests per second at least UDS's. Spin mode: RTT 64 B p99 at most 2x Aeron IPC's and
     * p99.9 under 20 us; 1 KiB writes at least Aeron IPC's.
     */
    static List<Target> issue12Targets(Results r) {
        List<Target> targets = new ArrayList<>();
        Results.PerTransport notify = r.get(Transport.IDTS);
        Results.PerTransport spin = r.get(Transport.IDTS_SPIN);
        Results.PerTransport uds = r.get(Transport.EPOLL_UDS);
        Results.PerTransport aeron = r.get(Transport.AERON_IPC);
        int ping = Settings.RTT_SIZES[0];
        int big = Settings.BANDWIDTH_SIZES[0];
        int small = Settings.BANDWIDTH_SIZES[1];
        String d = ISSUE_12_DEFAULT;

        double[][] writes = { { big, 2 }, { small, 1.5 } };
        for (double[] w : writes) {
            int size = (int) w[0];
            double n = bw(notify, size);
            double u = bw(uds, size);
            targets.add(new Target(d, Benchmark.size(size) + " writes at least " + trim(w[1]) + "x epoll UDS",
                    String.format(Locale.ROOT, "%s vs %s: %s", mbs(n), mbs(u), x(n / u)),
                    known(n / u) ? n / u >= w[1] : null));
        }

        double nP50 = rttMicros(notify, ping, 50);
        double uP50 = rttMicros(uds, ping, 50);
        targets.add(new Target(d, "RTT " + Benchmark.size(ping) + " p50 at most half of epoll UDS's",
                String.format(Locale.ROOT, "%s vs %s: %s", us(nP50), us(uP50), x(uP50 / nP50)),
                known(uP50 / nP50) ? nP50 <= uP50 / 2 : null));
        double nP99 = rttMicros(notify, ping, 99);
        double uP99 = rttMicros(uds, ping, 99);
        targets.add(new Target(d, "RTT " + Benchmark.size(ping) + " p99 no worse than epoll UDS's",
                String.format(Locale.ROOT, "%s vs %s: %s", us(nP99), us(uP99), x(uP99 / nP99)),
                known(uP99 / nP99) ? nP99 <= uP99 : null));

        double n1000 = connectionsBw(notify, 1000);
        double n10 = connectionsBw(notify, 10);
        double u1000 = connectionsBw(uds, 1000);
        targets.add(new Target(d, "1000 connections streaming: aggregate at least 80% of 10 connections'",
                String.format(Locale.ROOT, "%s vs %s: %s", mbs(n1000), mbs(n10), percent(n1000 / n10)),
                known(n1000 / n10) ? n1000 >= 0.8 * n10 : null));
        targets.add(new Target(d, "1000 connections streaming: aggregate at least epoll UDS's at 1000",
                String.format(Locale.ROOT, "%s vs %s: %s", mbs(n1000), mbs(u1000), x(n1000 / u1000)),
                known(n1000 / u1000) ? n1000 >= u1000 : null));
        targets.add(idleTarget(d, r, notify));

        double nSetups = notify != null && notify.hasSetups() ? notify.setups().roundTripsPerSecond() : Double.NaN;
        double uSetups = uds != null && uds.hasSetups() ? uds.setups().roundTripsPerSecond() : Double.NaN;
        targets.add(new Target(d, "connection set-ups per second at least epoll UDS's",
                String.format(Locale.ROOT, "%s vs %s: %s", perSecond(nSetups), perSecond(uSetups),
                        x(nSetups / uSetups)), known(nSetups / uSetups) ? nSetups >= uSetups : null));
        double setupP99 = notify != null && notify.hasSetups() ? notify.setups().micros(99) : Double.NaN;
        double udsSetupP99 = uds != null && uds.hasSetups() ? uds.setups().micros(99) : Double.NaN;
        targets.add(new Target(d, "connection set-up p99 under 2 ms",
                String.format(Locale.ROOT, "%s (epoll UDS: %s)", us(setupP99), us(udsSetupP99)),
                known(setupP99) ? setupP99 < SETUP_P99_LIMIT_MICROS : null));

        double nHttp = notify != null && notify.hasHttp() ? notify.http().roundTripsPerSecond() : Double.NaN;
        double uHttp = uds != null && uds.hasHttp() ? uds.http().roundTripsPerSecond() : Double.NaN;
        targets.add(new Target(d, "HTTP/1.1 requests per second at least epoll UDS's",
                String.format(Locale.ROOT, "%s vs %s: %s", perSecond(nHttp), perSecond(uHttp), x(nHttp / uHttp)),
                known(nHttp / uHttp) ? nHttp >= uHttp : null));

        String sp = ISSUE_12_SPIN;
        double sP99 = rttMicros(spin, ping, 99);
        double aP99 = rttMicros(aeron, ping, 99);
        targets.add(new Target(sp, "RTT " + Benchmark.size(ping) + " p99 at most 2x Aeron IPC's p99",
                String.format(Locale.ROOT, "%s vs %s: %s of it", us(sP99), us(aP99), x(sP99 / aP99)),
                known(sP99 / aP99) ? sP99 <= 2 * aP99 : null));
        double sP999 = rttMicros(spin, ping, 99.9);
        targets.add(new Target(sp, "RTT " + Benchmark.size(ping) + " p99.9 under 20 us",
                String.format(Locale.ROOT, "%s (Aeron IPC: %s)", us(sP999), us(rttMicros(aeron, ping, 99.9))),
                known(sP999) ? sP999 < SPIN_P999_LIMIT_MICROS : null));
        double sSmall = bw(spin, small);
        double aSmall = bw(aeron, small);
        targets.add(new Target(sp, Benchmark.size(small) + " writes at least Aeron IPC's",
                String.format(Locale.ROOT, "%s vs %s: %s", mbs(sSmall), mbs(aSmall), x(sSmall / aSmall)),
                known(sSmall / aSmall) ? sSmall >= aSmall : null));
        return targets;
    }

    /** The idle connections of {@code idts} use no measurable CPU: under {@link #IDLE_CPU_PERCENT_LIMIT}. */
    private static Target idleTarget(String group, Results r, Results.PerTransport idts) {
        Results.Idle idle = idts == null ? null : idts.idle();
        double pct = idle == null ? Double.NaN : idle.percentOfCore();
        return new Target(group, (idts == null ? "" : idts.transport.label + ", ") + r.settings.maxConnections()
                + " idle connections: no measurable CPU (under " + IDLE_CPU_PERCENT_LIMIT + "% of a core)",
                Double.isNaN(pct) ? "not measured" : String.format(Locale.ROOT,
                        "%.2f%% of a core (client %.2f%%, server %.2f%%; the two JVMs with no connection: %s)",
                        pct, idle.clientPercent(), idle.serverPercent(), r.baseline == null ? "n/a"
                                : String.format(Locale.ROOT, "%.2f%%", r.baseline.percentOfCore())),
                Double.isNaN(pct) ? null : pct < IDLE_CPU_PERCENT_LIMIT);
    }

    /** The targets from before issue 12 that it does not restate. */
    static List<Target> earlierTargets(Results r) {
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
        // Issue 11: with receivers that read every byte, the defaults (zero-copy reads) against UDS and against
        // copying reads.
        Results.PerTransport defaults = r.get(Transport.IDTS);
        Results.PerTransport copies = r.get(Transport.IDTS_COPY);
        for (int size : Settings.BANDWIDTH_SIZES) {
            double n = bw(defaults, size);
            double u = bw(uds, size);
            double c = bw(copies, size);
            if (size != big) { // issue 12 restates 2x at 64 KiB
                targets.add(new Target(ISSUE_11, "IDTS defaults, " + Benchmark.size(size)
                        + " writes at least 2x epoll UDS", String.format(Locale.ROOT, "%s vs %s: %s", mbs(n),
                        mbs(u), x(n / u)), known(n / u) ? n / u >= 2 : null));
            }
            targets.add(new Target(ISSUE_11, "IDTS defaults, " + Benchmark.size(size)
                    + " writes: zero-copy reads at least 1.3x copying reads", String.format(Locale.ROOT,
                    "%s vs %s: %s", mbs(n), mbs(c), x(n / c)), known(n / c) ? n / c >= 1.3 : null));
        }
        for (int size : Settings.RTT_SIZES) {
            double n = notify != null && notify.hasRtt(size) ? notify.rtt(size).micros(50) : Double.NaN;
            double u = uds != null && uds.hasRtt(size) ? uds.rtt(size).micros(50) : Double.NaN;
            targets.add(new Target("IDTS notify only, RTT " + Benchmark.size(size) + " p50 no worse than epoll UDS",
                    String.format(Locale.ROOT, "%s vs %s: %s", us(n), us(u), x(u / n)), known(u / n) ? n <= u : null));
        }
        if (spin != null) { // issue 12 restates it for the default mode
            targets.add(idleTarget(EARLIER, r, spin));
        }
        return targets;
    }

    private static boolean known(double v) {
        return !Double.isNaN(v) && !Double.isInfinite(v);
    }

    private static double bw(Results.PerTransport pt, int size) {
        return pt != null && pt.hasBandwidth(size) ? pt.bandwidth(size).megabytesPerSecond() : Double.NaN;
    }

    private static double connectionsBw(Results.PerTransport pt, int n) {
        return pt != null && pt.connectionsBandwidth.containsKey(n)
                && pt.connectionsBandwidth.get(n).measuredRounds() > 0
                ? pt.connectionsBandwidth.get(n).megabytesPerSecond() : Double.NaN;
    }

    private static double rttMicros(Results.PerTransport pt, int size, double percentile) {
        return pt != null && pt.hasRtt(size) ? pt.rtt(size).micros(percentile) : Double.NaN;
    }

    private static String perSecond(double v) {
        return Double.isNaN(v) ? "n/a" : number(v) + "/s";
    }

    private static String percent(double v) {
        return known(v) ? String.format(Locale.ROOT, "%.0f%%", v * 100) : "n/a";
    }

    private static String trim(double v) {
        return v == Math.rint(v) ? String.valueOf((long) v) : String.valueOf(v);
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
        if (!Double.isNaN(r.coreToCoreBeforeNanos)) {
            root.put("coreToCoreRoundTripNanos", Map.of("beforeRounds", r.coreToCoreBeforeNanos,
                    "afterRounds", r.coreToCoreAfterNanos));
        }
        root.put("settings", r.settings.toMap());
        root.put("units", Map.of(
                "rtt", "microseconds; each percentile the median of the rounds' (allRoundsMerged: all together)",
                "bandwidth", "MB/s (10^6 bytes) received by the server; messages/s",
                "cpu", "CPU of the client and server processes summed (each its own clock_gettime"
                        + "(CLOCK_PROCESS_CPUTIME_ID), every thread) over the windows: cpuUsPerRoundTrip and "
                        + "cpuUsPerMB in microseconds; cpuSecondsPerGB per 10^9 bytes, cpuSecondsPer100kRoundTrips, "
                        + "cpuSecondsPer1000Setups, cpuSecondsPer100kRequests in seconds",
                "setup", "connect, echo of settings.setupEchoSize bytes, close, one at a time: setupsPerSecond (whole "
                        + "cycles), microseconds from the connect call to the echo",
                "http", "HTTP/1.1 GETs over settings.httpConnections keep-alive connections, one in flight each: "
                        + "requestsPerSecond, microseconds from the request's write to its whole response",
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
            if (pt.hasSetups()) {
                m.put("setup", timedMap(pt.setups(), tcp == null ? null : tcp.setups(), "setups",
                        "cpuSecondsPer1000Setups", SETUPS_PER_CPU_FIGURE));
            }
            if (pt.hasHttp()) {
                m.put("http", timedMap(pt.http(), tcp == null ? null : tcp.http(), "requests",
                        "cpuSecondsPer100kRequests", REQUESTS_PER_CPU_FIGURE));
            }
            m.put("cpu", cpuMap(pt));
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
        if (r.cpuClocks != null) {
            Map<String, Object> c = new LinkedHashMap<>();
            c.put("clientClockSeconds", r.cpuClocks.clientClockNanos / 1e9);
            c.put("clientProcStatSeconds", r.cpuClocks.clientProcStatNanos < 0 ? null
                    : r.cpuClocks.clientProcStatNanos / 1e9);
            c.put("serverClockSeconds", r.cpuClocks.serverClockNanos / 1e9);
            c.put("serverProcStatSeconds", r.cpuClocks.serverProcStatNanos < 0 ? null
                    : r.cpuClocks.serverProcStatNanos / 1e9);
            root.put("cpuClocksAtEnd", c);
        }
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
            m.put("group", target.group);
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
        m.put("cpuSecondsPer100kRoundTrips", rtt.cpuSecondsPer(ROUND_TRIPS_PER_CPU_FIGURE));
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

    /** A part timed per unit (set-ups, requests): its rate, percentiles, CPU per {@code cpuUnits}, ratios to TCP. */
    private static Map<String, Object> timedMap(Results.Rtt part, Results.Rtt tcp, String unit, String cpuKey,
                                                double cpuUnits) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put(unit + "PerSecond", part.roundTripsPerSecond());
        for (int i = 0; i < PERCENTILES.length; i++) {
            m.put(PERCENTILE_NAMES[i].replace(".", "_") + "Us", part.micros(PERCENTILES[i]));
        }
        m.put("maxUs", part.maxMicros());
        m.put("meanUs", part.meanMicros());
        m.put(unit, part.count());
        m.put("seconds", part.seconds);
        m.put(cpuKey, part.cpuSecondsPer(cpuUnits));
        m.put("rounds" + Character.toUpperCase(unit.charAt(0)) + unit.substring(1) + "PerSecond", part.roundRates);
        List<Object> rounds = new ArrayList<>();
        for (double[] p : part.roundPercentiles) {
            Map<String, Object> round = new LinkedHashMap<>();
            for (int i = 0; i < PERCENTILES.length; i++) {
                round.put(PERCENTILE_NAMES[i].replace(".", "_") + "Us", p[i]);
            }
            rounds.add(round);
        }
        m.put("roundsPercentilesUs", rounds);
        if (tcp != null && tcp.count() > 0) {
            Map<String, Object> ratios = new LinkedHashMap<>();
            ratios.put(unit + "PerSecond", ratio(part.roundTripsPerSecond(), tcp.roundTripsPerSecond(), false));
            for (int i = 0; i < PERCENTILES.length; i++) {
                ratios.put(PERCENTILE_NAMES[i].replace(".", "_"),
                        ratio(part.micros(PERCENTILES[i]), tcp.micros(PERCENTILES[i]), true));
            }
            ratios.put("cpu", ratio(part.cpuSecondsPer(1), tcp.cpuSecondsPer(1), true));
            m.put("ratioToEpollTcp", ratios);
        }
        return m;
    }

    /** CPU per unit of work of one transport, every part that ran (the table "CPU per unit of work"). */
    private static Map<String, Object> cpuMap(Results.PerTransport pt) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int size : Settings.BANDWIDTH_SIZES) {
            if (pt.hasBandwidth(size)) {
                m.put("bandwidth" + size + "SecondsPerGB", pt.bandwidth(size).cpuSecondsPerGigabyte());
            }
        }
        for (int size : Settings.RTT_SIZES) {
            if (pt.hasRtt(size)) {
                m.put("rtt" + size + "SecondsPer100kRoundTrips",
                        pt.rtt(size).cpuSecondsPer(ROUND_TRIPS_PER_CPU_FIGURE));
            }
        }
        if (pt.hasSetups()) {
            m.put("setupSecondsPer1000Setups", pt.setups().cpuSecondsPer(SETUPS_PER_CPU_FIGURE));
        }
        if (pt.hasHttp()) {
            m.put("httpSecondsPer100kRequests", pt.http().cpuSecondsPer(REQUESTS_PER_CPU_FIGURE));
        }
        for (Map.Entry<Integer, Results.Bandwidth> e : pt.connectionsBandwidth.entrySet()) {
            if (e.getValue().bytes > 0) {
                m.put("connections" + e.getKey() + "BandwidthSecondsPerGB", e.getValue().cpuSecondsPerGigabyte());
            }
        }
        for (Map.Entry<Integer, Results.Rtt> e : pt.connectionsRtt.entrySet()) {
            if (e.getValue().count() > 0) {
                m.put("connections" + e.getKey() + "SecondsPer100kRoundTrips",
                        e.getValue().cpuSecondsPer(ROUND_TRIPS_PER_CPU_FIGURE));
            }
        }
        if (pt.idle() != null) {
            m.put("idlePercentOfCore", pt.idle().percentOfCore());
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
