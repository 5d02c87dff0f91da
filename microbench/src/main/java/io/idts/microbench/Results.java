package io.idts.microbench;

import org.HdrHistogram.Histogram;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Every figure of one run, accumulated over its rounds. */
public final class Results {

    /**
     * Round trips of one size (over one or many connections) over the rounds. Each percentile is the median of the
     * rounds' percentiles, so that every round weighs the same (a window holds more round trips when the machine is
     * fast); the maximum is the highest of all. The histogram merged over the rounds is kept for the JSON file.
     */
    public static final class Rtt {
        /** Nanoseconds, every round merged. */
        final Histogram histogram = new Histogram(3);
        /** Per round, microseconds at each of {@link Report#PERCENTILES}. */
        final List<double[]> roundPercentiles = new ArrayList<>();
        double seconds;
        long cpuNanos;
        final List<Double> roundRates = new ArrayList<>();
        final List<Double> roundP50Micros = new ArrayList<>();

        void add(Histogram round, double windowSeconds, long cpu) {
            histogram.add(round);
            seconds += windowSeconds;
            cpuNanos += cpu;
            roundRates.add(round.getTotalCount() / windowSeconds);
            roundP50Micros.add(round.getValueAtPercentile(50) / 1e3);
            double[] p = new double[Report.PERCENTILES.length];
            for (int i = 0; i < p.length; i++) {
                p[i] = round.getValueAtPercentile(Report.PERCENTILES[i]) / 1e3;
            }
            roundPercentiles.add(p);
        }

        public long count() {
            return histogram.getTotalCount();
        }

        /** Microseconds at {@code percentile} (one of {@link Report#PERCENTILES}): the median of the rounds. */
        public double micros(double percentile) {
            int index = -1;
            for (int i = 0; i < Report.PERCENTILES.length; i++) {
                if (Report.PERCENTILES[i] == percentile) {
                    index = i;
                }
            }
            if (index < 0) {
                return mergedMicros(percentile);
            }
            List<Double> values = new ArrayList<>();
            for (double[] round : roundPercentiles) {
                values.add(round[index]);
            }
            return median(values);
        }

        /** Microseconds at {@code percentile} of every round's round trips together. */
        public double mergedMicros(double percentile) {
            return histogram.getValueAtPercentile(percentile) / 1e3;
        }

        public double maxMicros() {
            return histogram.getMaxValue() / 1e3;
        }

        public double meanMicros() {
            return histogram.getMean() / 1e3;
        }

        public double roundTripsPerSecond() {
            return median(roundRates);
        }

        /** CPU of both processes per round trip, microseconds. */
        public double cpuMicrosPerRoundTrip() {
            return count() == 0 ? Double.NaN : cpuNanos / 1e3 / count();
        }

        /**
         * CPU seconds of both processes per {@code units} round trips (set-ups, requests): the unit of work the
         * tables use, e.g. 100,000 round trips or 1,000 set-ups.
         */
        public double cpuSecondsPer(double units) {
            return count() == 0 ? Double.NaN : cpuNanos / 1e9 / count() * units;
        }
    }

    /**
     * One-way bandwidth of one write size (over one or many connections): one rate per round, or a stall (the
     * keeping receiver's part only: any other stall fails the run).
     */
    public static final class Bandwidth {
        final int writeSize;
        final List<Double> roundMegabytesPerSecond = new ArrayList<>();
        long bytes;
        double seconds;
        long cpuNanos;
        /** Rounds in which the stream stalled: no figure. */
        int stalledRounds;
        /** Bytes whose checksum the receiver compared with the bytes sent (and found equal), every round. */
        long checkedBytes;
        /** IDTS: bytes the receiving channels read as zero-copy views of the ring, and as copies, every round. */
        long viewBytes;
        long copiedBytes;

        Bandwidth(int writeSize) {
            this.writeSize = writeSize;
        }

        void add(long roundBytes, double windowSeconds, long cpu) {
            bytes += roundBytes;
            seconds += windowSeconds;
            cpuNanos += cpu;
            roundMegabytesPerSecond.add(roundBytes / windowSeconds / 1e6);
        }

        void stalled() {
            stalledRounds++;
        }

        void checked(long n) {
            checkedBytes += n;
        }

        void idtsReads(long views, long copies) {
            viewBytes += views;
            copiedBytes += copies;
        }

        /** IDTS: the share of the bytes received that were read as zero-copy views; NaN for other transports. */
        public double viewShare() {
            long all = viewBytes + copiedBytes;
            return all == 0 ? Double.NaN : viewBytes / (double) all;
        }

        public int stalledRounds() {
            return stalledRounds;
        }

        public int measuredRounds() {
            return roundMegabytesPerSecond.size();
        }

        /** CPU seconds of both processes per GB (10^9 bytes) carried: the same figure as us per MB, over 1000. */
        public double cpuSecondsPerGigabyte() {
            return bytes == 0 ? Double.NaN : cpuNanos / (double) bytes;
        }

        /** Decimal megabytes per second received by the server: the median of the rounds. */
        public double megabytesPerSecond() {
            return median(roundMegabytesPerSecond);
        }

        public double messagesPerSecond() {
            return megabytesPerSecond() * 1e6 / writeSize;
        }

        /** CPU of both processes per megabyte carried, microseconds. */
        public double cpuMicrosPerMegabyte() {
            return bytes == 0 ? Double.NaN : cpuNanos / 1e3 / (bytes / 1e6);
        }
    }

    /** CPU the two processes use while connections sit idle. */
    public static final class Idle {
        final int connections;
        long clientCpuNanos;
        long serverCpuNanos;
        double seconds;

        Idle(int connections) {
            this.connections = connections;
        }

        void add(long client, long server, double windowSeconds) {
            clientCpuNanos += client;
            serverCpuNanos += server;
            seconds += windowSeconds;
        }

        /** Percent of one core, both processes together. */
        public double percentOfCore() {
            return seconds == 0 ? Double.NaN : (clientCpuNanos + serverCpuNanos) / 1e9 / seconds * 100;
        }

        public double clientPercent() {
            return seconds == 0 ? Double.NaN : clientCpuNanos / 1e9 / seconds * 100;
        }

        public double serverPercent() {
            return seconds == 0 ? Double.NaN : serverCpuNanos / 1e9 / seconds * 100;
        }
    }

    /**
     * Both processes' CPU at the end of the run from the clock the figures use and from {@code /proc/<pid>/stat}:
     * the same kernel accounting, so they agree within a clock tick or so; a check of the CPU figures' source.
     */
    public static final class CpuClocks {
        final long clientClockNanos;
        /** -1 where {@code /proc} could not be read. */
        final long clientProcStatNanos;
        final long serverClockNanos;
        final long serverProcStatNanos;

        CpuClocks(long clientClockNanos, long clientProcStatNanos, long serverClockNanos, long serverProcStatNanos) {
            this.clientClockNanos = clientClockNanos;
            this.clientProcStatNanos = clientProcStatNanos;
            this.serverClockNanos = serverClockNanos;
            this.serverProcStatNanos = serverProcStatNanos;
        }
    }

    /** Everything measured on one transport. */
    public static final class PerTransport {
        public final Transport transport;
        final Map<Integer, Rtt> rtt = new TreeMap<>();
        final Map<Integer, Bandwidth> bandwidth = new LinkedHashMap<>();
        final Map<Integer, Rtt> connectionsRtt = new TreeMap<>();
        final Map<Integer, Bandwidth> connectionsBandwidth = new TreeMap<>();
        /** Connection set-ups (connect, echo, close), one at a time: their time and rate. */
        final Rtt setups = new Rtt();
        /** HTTP/1.1 requests over {@link Settings#HTTP_CONNECTIONS} keep-alive connections: their time and rate. */
        final Rtt http = new Rtt();
        Idle idle;

        PerTransport(Transport transport) {
            this.transport = transport;
        }

        public Rtt rtt(int size) {
            return rtt.computeIfAbsent(size, s -> new Rtt());
        }

        public Bandwidth bandwidth(int size) {
            return bandwidth.computeIfAbsent(size, Bandwidth::new);
        }

        public Rtt connectionsRtt(int n) {
            return connectionsRtt.computeIfAbsent(n, s -> new Rtt());
        }

        public Bandwidth connectionsBandwidth(int n) {
            return connectionsBandwidth.computeIfAbsent(n, s -> new Bandwidth(Settings.CONNECTIONS_WRITE_SIZE));
        }

        public Idle idle(int n) {
            if (idle == null) {
                idle = new Idle(n);
            }
            return idle;
        }

        public Idle idle() {
            return idle;
        }

        public Rtt setups() {
            return setups;
        }

        public Rtt http() {
            return http;
        }

        public boolean hasSetups() {
            return setups.count() > 0;
        }

        public boolean hasHttp() {
            return http.count() > 0;
        }

        public boolean hasRtt(int size) {
            return rtt.containsKey(size) && rtt.get(size).count() > 0;
        }

        public boolean hasBandwidth(int size) {
            return bandwidth.containsKey(size) && !bandwidth.get(size).roundMegabytesPerSecond.isEmpty();
        }

        /** Whether the bandwidth part of this write size was run: measured, or stalled. */
        public boolean triedBandwidth(int size) {
            return hasBandwidth(size) || bandwidth.containsKey(size) && bandwidth.get(size).stalledRounds > 0;
        }
    }

    final Settings settings;
    final Map<Transport, PerTransport> transports = new EnumMap<>(Transport.class);
    final Map<String, Object> machine;
    /** Both processes' CPU clocks against {@code /proc} at the end of the run. */
    CpuClocks cpuClocks;
    /** Both processes with no transport open at all: the JVMs' own idle CPU, for comparison. */
    Idle baseline;
    /** The server's receivers over the whole run: bytes taken in, bytes whose checksum matched the bytes sent. */
    long receivedBytes;
    long checkedBytes;
    long startedMillis;
    double seconds;
    /** {@link CoreToCore#roundTripNanos} before the first round and after the last: NaN when not measured. */
    double coreToCoreBeforeNanos = Double.NaN;
    double coreToCoreAfterNanos = Double.NaN;

    Results(Settings settings, Map<String, Object> machine) {
        this.settings = settings;
        this.machine = machine;
        for (Transport t : settings.transports) {
            transports.put(t, new PerTransport(t));
        }
    }

    public PerTransport get(Transport t) {
        return transports.get(t);
    }

    public List<Transport> transports() {
        return new ArrayList<>(transports.keySet());
    }

    static double median(List<Double> values) {
        if (values.isEmpty()) {
            return Double.NaN;
        }
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }
}
