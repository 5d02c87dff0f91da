package io.idts.microbench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The run's chart as SVG: round-trip percentiles of the smallest ping per transport (log scale), one-way bandwidth
 * per transport and write size, connection set-ups per second and HTTP/1.1 requests per second (each bar with its
 * p50 and p99, and the CPU per unit of work); a panel only if the run measured its figures.
 */
final class Chart {

    private static final int WIDTH = 1100;
    private static final int PANEL = 330;
    private static final int LEFT = 80;
    private static final int RIGHT = 20;
    private static final int TOP = 60;
    private static final int BOTTOM = 70;
    private static final String[] RTT_COLORS = { "#1b9e77", "#7570b3", "#d95f02", "#e7298a" };
    private static final String[] BW_COLORS = { "#1f78b4", "#a6cee3" };
    private static final String SETUP_COLOR = "#66a61e";
    private static final String HTTP_COLOR = "#e6ab02";

    private Chart() {
    }

    static String svg(Results r) {
        List<Transport> ts = r.transports();
        int ping = Settings.RTT_SIZES[0];
        List<Transport> withRtt = new ArrayList<>();
        List<Transport> withBandwidth = new ArrayList<>();
        for (Transport t : ts) {
            if (r.get(t).hasRtt(ping)) {
                withRtt.add(t);
            }
            for (int size : Settings.BANDWIDTH_SIZES) {
                if (r.get(t).triedBandwidth(size) && !withBandwidth.contains(t)) {
                    withBandwidth.add(t);
                }
            }
        }
        List<Transport> withSetups = new ArrayList<>();
        List<Transport> withHttp = new ArrayList<>();
        for (Transport t : ts) {
            if (r.get(t).hasSetups()) {
                withSetups.add(t);
            }
            if (r.get(t).hasHttp()) {
                withHttp.add(t);
            }
        }
        boolean nothing = withRtt.isEmpty() && withBandwidth.isEmpty() && withSetups.isEmpty() && withHttp.isEmpty();
        boolean rtt = !withRtt.isEmpty() || nothing;
        boolean bandwidth = !withBandwidth.isEmpty() || nothing;
        int panels = (rtt ? 1 : 0) + (bandwidth ? 1 : 0) + (withSetups.isEmpty() ? 0 : 1)
                + (withHttp.isEmpty() ? 0 : 1);
        int height = TOP + panels * (PANEL + BOTTOM) + 20;
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                + "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">%n", WIDTH, height, WIDTH, height));
        b.append(String.format(Locale.ROOT, "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>%n", WIDTH, height));
        b.append(text(WIDTH / 2.0, 22, "IDTS benchmark (" + r.settings + ")", "middle", 16, "bold"));
        b.append(text(WIDTH / 2.0, 40, String.valueOf(r.machine.get("summary")), "middle", 11, "normal"));

        int top = TOP;
        if (rtt) {
            rttPanel(b, r, withRtt.isEmpty() ? ts : withRtt, ping, top);
            top += PANEL + BOTTOM;
        }
        if (bandwidth) {
            bandwidthPanel(b, r, withBandwidth.isEmpty() ? ts : withBandwidth, top);
            top += PANEL + BOTTOM;
        }
        if (!withSetups.isEmpty()) {
            ratePanel(b, r, withSetups, "Connection set-ups per second: connect, " + Benchmark.size(
                    Settings.SETUP_ECHO_SIZE) + " echo, close, one at a time; p50/p99 from connect to echo",
                    Results.PerTransport::setups, "CPU s/1000", Report.SETUPS_PER_CPU_FIGURE, SETUP_COLOR, top);
            top += PANEL + BOTTOM;
        }
        if (!withHttp.isEmpty()) {
            ratePanel(b, r, withHttp, "HTTP/1.1 requests per second: " + Settings.HTTP_CONNECTIONS
                    + " keep-alive connections, one GET in flight each, Netty's HTTP codec on both ends",
                    Results.PerTransport::http, "CPU s/100k", Report.REQUESTS_PER_CPU_FIGURE, HTTP_COLOR, top);
        }
        b.append("</svg>\n");
        return b.toString();
    }

    private static void rttPanel(StringBuilder b, Results r, List<Transport> ts, int size, int top) {
        int plotTop = top + 30;
        int plotBottom = top + PANEL;
        double plotWidth = WIDTH - LEFT - RIGHT;
        b.append(text(LEFT, top + 14, "Round-trip time, " + Benchmark.size(size)
                + " ping-pong, one connection: p50, p90, p99, p99.9 (bars) and max (tick); microseconds, log scale",
                "start", 13, "bold"));
        double min = Double.MAX_VALUE;
        double max = 0;
        for (Transport t : ts) {
            Results.PerTransport pt = r.get(t);
            if (!pt.hasRtt(size)) {
                continue;
            }
            min = Math.min(min, pt.rtt(size).micros(50));
            max = Math.max(max, pt.rtt(size).maxMicros());
        }
        if (max == 0) {
            b.append(text(LEFT, plotTop + 40, "no round trips measured", "start", 12, "normal"));
            return;
        }
        double lo = Math.pow(10, Math.floor(Math.log10(Math.max(min, 1e-3))));
        double hi = Math.pow(10, Math.ceil(Math.log10(max)));
        if (hi <= lo) {
            hi = lo * 10;
        }
        double logLo = Math.log10(lo);
        double logHi = Math.log10(hi);
        // Grid: one line per decade.
        for (double d = logLo; d <= logHi + 1e-9; d++) {
            double y = plotBottom - (d - logLo) / (logHi - logLo) * (plotBottom - plotTop);
            b.append(line(LEFT, y, WIDTH - RIGHT, y, "#dddddd"));
            b.append(text(LEFT - 6, y + 4, decade(Math.round(d)), "end", 11, "normal"));
        }
        double group = plotWidth / ts.size();
        double bar = group * 0.8 / Report.PERCENTILES.length;
        for (int i = 0; i < ts.size(); i++) {
            Transport t = ts.get(i);
            double x0 = LEFT + i * group + group * 0.1;
            b.append(label(x0 + group * 0.4, plotBottom + 16, t.label));
            Results.PerTransport pt = r.get(t);
            if (!pt.hasRtt(size)) {
                continue;
            }
            Results.Rtt rtt = pt.rtt(size);
            for (int p = 0; p < Report.PERCENTILES.length; p++) {
                double v = Math.max(lo, rtt.micros(Report.PERCENTILES[p]));
                double y = plotBottom - (Math.log10(v) - logLo) / (logHi - logLo) * (plotBottom - plotTop);
                b.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                        + "fill=\"%s\"><title>%s p%s: %s us</title></rect>%n", x0 + p * bar, y, bar * 0.92,
                        plotBottom - y, RTT_COLORS[p], t.label, trim(Report.PERCENTILES[p]), Report.number(v)));
                if (p == 0) {
                    b.append(text(x0 + bar * 0.46, y - 4, Report.number(rtt.micros(50)), "middle", 10, "normal"));
                }
            }
            double m = rtt.maxMicros();
            double ym = plotBottom - (Math.log10(m) - logLo) / (logHi - logLo) * (plotBottom - plotTop);
            b.append(line(x0, ym, x0 + bar * Report.PERCENTILES.length, ym, "#333333"));
        }
        String[] names = { "p50", "p90", "p99", "p99.9" };
        for (int p = 0; p < names.length; p++) {
            double x = WIDTH - RIGHT - 330 + p * 70;
            b.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>%n",
                    x, top + 20, RTT_COLORS[p]));
            b.append(text(x + 16, top + 30, names[p], "start", 11, "normal"));
        }
        b.append(line(WIDTH - RIGHT - 50, top + 26, WIDTH - RIGHT - 36, top + 26, "#333333"));
        b.append(text(WIDTH - RIGHT - 32, top + 30, "max", "start", 11, "normal"));
    }

    private static void bandwidthPanel(StringBuilder b, Results r, List<Transport> ts, int top) {
        int plotTop = top + 30;
        int plotBottom = top + PANEL;
        double plotWidth = WIDTH - LEFT - RIGHT;
        b.append(text(LEFT, top + 14, "One-way bandwidth, one connection, MB/s (10^6 bytes) received; "
                + Report.receiverText(r.settings.receiver), "start", 13, "bold"));
        double max = 0;
        for (Transport t : ts) {
            for (int size : Settings.BANDWIDTH_SIZES) {
                if (r.get(t).hasBandwidth(size)) {
                    max = Math.max(max, r.get(t).bandwidth(size).megabytesPerSecond());
                }
            }
        }
        if (max == 0) {
            b.append(text(LEFT, plotTop + 40, "no bandwidth measured", "start", 12, "normal"));
            return;
        }
        double step = niceStep(max / 5);
        double hi = Math.ceil(max / step) * step;
        for (double v = 0; v <= hi + step / 2; v += step) {
            double y = plotBottom - v / hi * (plotBottom - plotTop);
            b.append(line(LEFT, y, WIDTH - RIGHT, y, "#dddddd"));
            b.append(text(LEFT - 6, y + 4, v == 0 ? "0" : Report.number(v), "end", 11, "normal"));
        }
        double group = plotWidth / ts.size();
        double bar = group * 0.8 / Settings.BANDWIDTH_SIZES.length;
        for (int i = 0; i < ts.size(); i++) {
            Transport t = ts.get(i);
            double x0 = LEFT + i * group + group * 0.1;
            b.append(label(x0 + group * 0.4, plotBottom + 16, t.label));
            for (int s = 0; s < Settings.BANDWIDTH_SIZES.length; s++) {
                int size = Settings.BANDWIDTH_SIZES[s];
                if (!r.get(t).hasBandwidth(size)) {
                    if (r.get(t).triedBandwidth(size)) {
                        b.append(text(x0 + s * bar + bar * 0.46, plotBottom - 4, "stalled", "middle", 10, "normal"));
                    }
                    continue;
                }
                double v = r.get(t).bandwidth(size).megabytesPerSecond();
                double y = plotBottom - v / hi * (plotBottom - plotTop);
                b.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                        + "fill=\"%s\"><title>%s, %s writes: %s MB/s</title></rect>%n", x0 + s * bar, y, bar * 0.92,
                        plotBottom - y, BW_COLORS[s], t.label, Benchmark.size(size), Report.number(v)));
                b.append(text(x0 + s * bar + bar * 0.46, y - 4, Report.number(v), "middle", 10, "normal"));
            }
        }
        for (int s = 0; s < Settings.BANDWIDTH_SIZES.length; s++) {
            double x = WIDTH - RIGHT - 260 + s * 130;
            b.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>%n",
                    x, top + 20, BW_COLORS[s]));
            b.append(text(x + 16, top + 30, Benchmark.size(Settings.BANDWIDTH_SIZES[s]) + " writes", "start", 11,
                    "normal"));
        }
    }

    /**
     * One bar per transport of a part's rate (set-ups or requests per second), its p50 and p99 in microseconds and
     * its CPU per {@code cpuUnits} written under the bar's value.
     */
    private static void ratePanel(StringBuilder b, Results r, List<Transport> ts, String title,
                                  java.util.function.Function<Results.PerTransport, Results.Rtt> part, String cpuName,
                                  double cpuUnits, String color, int top) {
        int plotTop = top + 64; // room for the three lines above the tallest bar
        int plotBottom = top + PANEL;
        double plotWidth = WIDTH - LEFT - RIGHT;
        b.append(text(LEFT, top + 14, title, "start", 13, "bold"));
        double max = 0;
        for (Transport t : ts) {
            max = Math.max(max, part.apply(r.get(t)).roundTripsPerSecond());
        }
        if (!(max > 0)) {
            b.append(text(LEFT, plotTop + 40, "nothing measured", "start", 12, "normal"));
            return;
        }
        double step = niceStep(max / 5);
        double hi = Math.ceil(max / step) * step;
        for (double v = 0; v <= hi + step / 2; v += step) {
            double y = plotBottom - v / hi * (plotBottom - plotTop);
            b.append(line(LEFT, y, WIDTH - RIGHT, y, "#dddddd"));
            b.append(text(LEFT - 6, y + 4, v == 0 ? "0" : Report.number(v), "end", 11, "normal"));
        }
        double group = plotWidth / ts.size();
        double bar = group * 0.6;
        for (int i = 0; i < ts.size(); i++) {
            Transport t = ts.get(i);
            Results.Rtt rtt = part.apply(r.get(t));
            double x0 = LEFT + i * group + group * 0.2;
            b.append(label(x0 + bar / 2, plotBottom + 16, t.label));
            double v = rtt.roundTripsPerSecond();
            double y = plotBottom - v / hi * (plotBottom - plotTop);
            b.append(String.format(Locale.ROOT, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                    + "fill=\"%s\"><title>%s: %s/s, p50 %s us, p99 %s us, p99.9 %s us, %s %s</title></rect>%n", x0,
                    y, bar, plotBottom - y, color, t.label, Report.number(v), Report.number(rtt.micros(50)),
                    Report.number(rtt.micros(99)), Report.number(rtt.micros(99.9)), cpuName,
                    Report.number(rtt.cpuSecondsPer(cpuUnits))));
            b.append(text(x0 + bar / 2, y - 30, Report.number(v) + "/s", "middle", 10, "bold"));
            b.append(text(x0 + bar / 2, y - 17, "p50 " + Report.number(rtt.micros(50)) + ", p99 "
                    + Report.number(rtt.micros(99)) + " us", "middle", 9, "normal"));
            b.append(text(x0 + bar / 2, y - 5, cpuName + " " + Report.number(rtt.cpuSecondsPer(cpuUnits)), "middle",
                    9, "normal"));
        }
    }

    /** 10^exponent as an axis label: 0.01, 0.1, 1, 10, 100, 1000, 10k, 100k, 1M... */
    static String decade(long exponent) {
        if (exponent < 0) {
            return java.math.BigDecimal.ONE.scaleByPowerOfTen((int) exponent).toPlainString();
        }
        if (exponent < 4) {
            return String.valueOf((long) Math.pow(10, exponent));
        }
        if (exponent < 6) {
            return (long) Math.pow(10, exponent - 3) + "k";
        }
        return (long) Math.pow(10, exponent - 6) + "M";
    }

    static double niceStep(double raw) {
        double magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
        for (double m : new double[] { 1, 2, 2.5, 5, 10 }) {
            if (m * magnitude >= raw) {
                return m * magnitude;
            }
        }
        return 10 * magnitude;
    }

    private static String trim(double p) {
        return p == Math.rint(p) ? String.valueOf((long) p) : String.valueOf(p);
    }

    private static String label(double x, double y, String s) {
        // Long names in two lines, split at the comma.
        List<String> lines = new ArrayList<>();
        int comma = s.indexOf(", ");
        if (comma > 0) {
            lines.add(s.substring(0, comma + 1));
            lines.add(s.substring(comma + 2));
        } else {
            lines.add(s);
        }
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < lines.size(); i++) {
            b.append(text(x, y + i * 14, lines.get(i), "middle", 11, "normal"));
        }
        return b.toString();
    }

    private static String line(double x1, double y1, double x2, double y2, String color) {
        return String.format(Locale.ROOT, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>%n",
                x1, y1, x2, y2, color);
    }

    private static String text(double x, double y, String s, String anchor, int size, String weight) {
        return String.format(Locale.ROOT, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%d\" "
                + "font-weight=\"%s\">%s</text>%n", x, y, anchor, size, weight, escape(s));
    }

    private static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }
}
