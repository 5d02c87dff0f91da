package io.idts.microbench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The benchmark's smoke test: its quick mode, as {@code bash microbench/bench quick} runs it (a server JVM, every
 * transport, every part, briefly), so that the benchmark never rots: a part that breaks (a server that stops echoing
 * or answering HTTP, a set-up that never completes) fails the run and this test. It checks that every figure was
 * measured and is sane, and that the table, the JSON file and the chart were written; never how fast anything is.
 */
class BenchmarkQuickTest {

    /**
     * Longer than the build's default of 120 s: with the set-up and HTTP parts, the run took 68 s on 2 cores with a
     * load average of 11; a part that hangs still fails within its own stall and stop timeouts (30 s each).
     */
    @Test
    @Timeout(value = 300, unit = TimeUnit.SECONDS)
    void quickModeMeasuresEveryTransportAndFigure(@TempDir Path dir) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Results results;
        try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
            results = Benchmark.run(out, "quick", "out=" + dir, "progress=lines");
        } finally {
            System.out.print(bytes.toString(StandardCharsets.UTF_8));
        }
        String printed = bytes.toString(StandardCharsets.UTF_8);

        assertEquals(Arrays.asList(Transport.values()), results.transports(), printed);
        for (Transport t : Transport.values()) {
            Results.PerTransport pt = results.get(t);
            for (int size : t.bandwidthOnly() ? new int[0] : Settings.RTT_SIZES) {
                assertTrue(pt.hasRtt(size), t + " round trips of " + size);
                checkRtt(t + " " + size + " B", pt.rtt(size));
            }
            for (int size : Settings.BANDWIDTH_SIZES) {
                assertTrue(pt.hasBandwidth(size), t + " bandwidth " + size);
                assertTrue(pt.bandwidth(size).megabytesPerSecond() > 0, t + " bandwidth " + size);
                assertTrue(pt.bandwidth(size).cpuMicrosPerMegabyte() > 0, t + " CPU per MB " + size);
                assertEquals(pt.bandwidth(size).cpuMicrosPerMegabyte() / 1000,
                        pt.bandwidth(size).cpuSecondsPerGigabyte(), 1e-9, t + " CPU per GB " + size);
                assertEquals(0, pt.bandwidth(size).stalledRounds(), t + " stalled " + size);
                // The consuming (or keeping) receiver compared what it read with the bytes sent.
                assertTrue(pt.bandwidth(size).checkedBytes > 0, t + " checked bytes " + size);
                // How IDTS's receiving side read: copies only with copying reads, views by default.
                double views = pt.bandwidth(size).viewShare();
                if (t == Transport.IDTS_COPY) {
                    assertEquals(0.0, views, t + " views " + size);
                } else if (t.isIdts()) {
                    assertTrue(views > 0 && views <= 1, t + " views " + size + ": " + views);
                } else {
                    assertTrue(Double.isNaN(views), t + " views " + size);
                }
            }
            if (!t.connects()) {
                assertTrue(pt.connectionsRtt.isEmpty() && pt.connectionsBandwidth.isEmpty(), t + " connections");
                assertFalse(pt.hasSetups() || pt.hasHttp(), t + " has no connections to set up or carry HTTP");
                continue;
            }
            // Connection set-ups: whole cycles per second, each timed from its connect to its echo.
            assertTrue(pt.hasSetups(), t + " set-ups");
            checkRtt(t + " set-ups", pt.setups());
            assertTrue(pt.setups().roundTripsPerSecond() > 0, t + " set-ups per second");
            assertEquals(pt.setups().cpuMicrosPerRoundTrip() / 1000, pt.setups().cpuSecondsPer(1000), 1e-9,
                    t + " CPU per 1000 set-ups");
            // HTTP/1.1 over 50 keep-alive connections: every response checked (200, the body's length).
            assertTrue(pt.hasHttp(), t + " HTTP");
            checkRtt(t + " HTTP", pt.http());
            assertTrue(pt.http().roundTripsPerSecond() > 0, t + " HTTP requests per second");
            for (int n : results.settings.connections) {
                checkRtt(t + " " + n + " connections", pt.connectionsRtt(n));
                assertTrue(pt.connectionsBandwidth(n).megabytesPerSecond() > 0, t + " " + n + " connections");
            }
            assertNotNull(pt.idle(), t + " idle CPU");
            assertTrue(pt.idle().percentOfCore() >= 0, t + " idle CPU");
        }
        assertEquals(1000, results.settings.maxConnections());
        // The CPU figures' clock agrees with /proc/<pid>/stat for both processes (ticks of 10 ms, read one after the
        // other: within a tenth of a second, or 2% of the whole run's CPU).
        Results.CpuClocks clocks = results.cpuClocks;
        assertNotNull(clocks);
        assertTrue(clocks.clientProcStatNanos > 0 && clocks.serverProcStatNanos > 0, printed);
        assertEquals(clocks.clientClockNanos / 1e9, clocks.clientProcStatNanos / 1e9,
                0.1 + clocks.clientClockNanos / 1e9 * 0.02, "client CPU, clock and /proc");
        assertEquals(clocks.serverClockNanos / 1e9, clocks.serverProcStatNanos / 1e9,
                0.1 + clocks.serverClockNanos / 1e9 * 0.02, "server CPU, clock and /proc");
        assertTrue(results.checkedBytes > 0 && results.checkedBytes <= results.receivedBytes, printed);

        assertTrue(printed.contains("Round trips of 64 B"), printed);
        assertTrue(printed.contains("times better than epoll TCP"), printed);
        assertTrue(printed.contains("Idle: CPU while 1000 connections"), printed);
        assertTrue(printed.contains("Targets"), printed);
        assertTrue(printed.contains("CPU s/GB") && printed.contains("IDTS, keeping receiver"), printed);
        assertTrue(printed.contains("[100%]") || printed.contains("%] round 1/1"), "progress lines: " + printed);
        assertTrue(printed.contains("Connection set-up: connect, echo 1 B, close") && printed.contains("set-ups/s"),
                printed);
        assertTrue(printed.contains("HTTP/1.1: 50 keep-alive connections") && printed.contains("requests/s"),
                printed);
        assertTrue(printed.contains("CPU per unit of work") && printed.contains("CPU s/100k")
                && printed.contains("CPU s/1000"), printed);
        assertTrue(printed.contains(Report.ISSUE_12_DEFAULT) && printed.contains(Report.ISSUE_12_SPIN), printed);
        // Every figure issue 12's targets need was measured: each target is met or missed, none n/a.
        for (Report.Target target : Report.issue12Targets(results)) {
            assertNotNull(target.met, target.name + ": " + target.measured);
        }

        List<Path> files;
        try (Stream<Path> list = Files.list(dir)) {
            files = list.sorted().collect(Collectors.toList());
        }
        assertEquals(2, files.size(), files.toString());
        String json = Files.readString(files.get(0));
        String svg = Files.readString(files.get(1));
        assertTrue(files.get(0).toString().endsWith(".json") && files.get(1).toString().endsWith(".svg"));
        for (Transport t : Transport.values()) {
            assertTrue(json.contains('"' + t.key + '"'), t.key + " in " + json);
            assertTrue(svg.contains(t.label.split(",")[0]), t.label + " in the chart");
        }
        assertTrue(json.contains("\"p99_9Us\"") && json.contains("\"ratioToEpollTcp\"")
                && json.contains("\"targets\"") && json.contains("\"idle\""), json);
        assertTrue(json.contains("\"setup\"") && json.contains("\"setupsPerSecond\"")
                && json.contains("\"cpuSecondsPer1000Setups\""), json);
        assertTrue(json.contains("\"http\"") && json.contains("\"requestsPerSecond\"")
                && json.contains("\"cpuSecondsPer100kRequests\""), json);
        assertTrue(json.contains("\"cpuSecondsPer100kRoundTrips\"") && json.contains("\"idlePercentOfCore\"")
                && json.contains("\"cpuClocksAtEnd\""), json);
        assertTrue(svg.contains("Connection set-ups per second") && svg.contains("HTTP/1.1 requests per second"),
                "set-up and HTTP panels in the chart");
        assertFalse(json.contains("NaN"), json);
        assertTrue(svg.startsWith("<svg") && svg.trim().endsWith("</svg>"), svg);
    }

    private static void checkRtt(String what, Results.Rtt rtt) {
        assertTrue(rtt.count() > 0, what);
        double previous = 0;
        for (double p : Report.PERCENTILES) {
            double v = rtt.micros(p);
            assertTrue(v > 0 && v >= previous, what + " p" + p + " = " + v);
            previous = v;
        }
        assertTrue(rtt.maxMicros() >= previous, what + " max");
        assertTrue(rtt.cpuMicrosPerRoundTrip() > 0, what + " CPU per round trip");
    }

    @Test
    void argumentsAreChecked() {
        assertThrows(IllegalArgumentException.class, () -> Settings.parse("bogus"));
        assertThrows(IllegalArgumentException.class, () -> Settings.parse("rounds=0"));
        assertThrows(IllegalArgumentException.class, () -> Settings.parse("transports=idts,tcp"));
        Settings quick = Settings.parse("quick", "transports=epoll-tcp,idts-spin", "conns=100,1,10");
        assertTrue(quick.quick);
        assertEquals(1, quick.rounds);
        assertEquals(Arrays.asList(Transport.IDTS_SPIN, Transport.EPOLL_TCP), quick.transports);
        assertEquals(100, quick.maxConnections());
        assertEquals(0, Settings.parse("conns=").connections.length);

        Settings bandwidth = Settings.parse("rounds=5", "bandwidth");
        assertEquals(5, bandwidth.rounds);
        assertTrue(bandwidth.bandwidth && !bandwidth.rtt && !bandwidth.manyConnections);
        assertEquals(Arrays.asList(Transport.IDTS, Transport.IDTS_COPY, Transport.IDTS_NOTIFY, Transport.IDTS_KEEP,
                Transport.EPOLL_TCP, Transport.IDTS_FALLBACK, Transport.EPOLL_UDS, Transport.AERON_IPC),
                bandwidth.transports);
        assertEquals(ServerHandlers.Receiver.CONSUME, bandwidth.receiver);
        assertEquals(ServerHandlers.Receiver.DROP, Settings.parse("receiver=drop").receiver);
        assertThrows(IllegalArgumentException.class, () -> Settings.parse("receiver=keep"));
        // The receiver variants of IDTS have nothing to measure without the bandwidth part.
        assertEquals(Arrays.asList(Transport.IDTS, Transport.IDTS_COPY),
                Settings.parse("parts=rtt", "transports=idts,idts-copy,idts-keep").transports);
        assertThrows(IllegalArgumentException.class, () -> Settings.parse("parts=rtt", "transports=idts-keep"));

        Settings connectionParts = Settings.parse("parts=setup,http");
        assertTrue(connectionParts.setup && connectionParts.http);
        assertFalse(connectionParts.rtt || connectionParts.bandwidth || connectionParts.manyConnections);
        assertEquals(Arrays.asList("setup", "http"), connectionParts.parts());
        // Aeron IPC and the keeping receiver have no connections: nothing to measure in these parts.
        assertFalse(connectionParts.transports.contains(Transport.AERON_IPC), connectionParts.transports.toString());
        assertFalse(connectionParts.transports.contains(Transport.IDTS_KEEP), connectionParts.transports.toString());
        assertTrue(connectionParts.transports.contains(Transport.IDTS));
        assertThrows(IllegalArgumentException.class, () -> Settings.parse("parts=setup", "transports=aeron-ipc"));
        assertThrows(IllegalArgumentException.class, () -> Settings.parse("parts=handshake"));
        Settings all = Settings.parse("quick");
        assertEquals(Settings.PARTS, all.parts());
        Settings preset = Settings.parse("bandwidth");
        assertFalse(preset.setup || preset.http);
    }

    @Test
    void roundsRotateTheOrderOfTransports() {
        List<Integer> order = Arrays.asList(1, 2, 3);
        assertEquals(Arrays.asList(1, 2, 3), Benchmark.rotated(order, 0));
        assertEquals(Arrays.asList(2, 3, 1), Benchmark.rotated(order, 1));
        assertEquals(Arrays.asList(3, 1, 2), Benchmark.rotated(order, 2));
    }

    @Test
    void ratiosSayTimesBetterThanTcp() {
        assertEquals(10, Report.ratio(1, 10, true), 1e-9);   // 1 us against TCP's 10 us
        assertEquals(2, Report.ratio(200, 100, false), 1e-9); // 200 MB/s against TCP's 100
        assertTrue(Double.isNaN(Report.ratio(Double.NaN, 1, true)));
        assertEquals("59x", Report.ratioText(59.2));
        assertEquals("0.5x", Report.ratioText(0.5));
    }

    @Test
    void jsonWritesNumbersStringsAndNulls() {
        String json = Json.write(Map.of("a", List.of(1, 2.5, Double.NaN, "x\"y")));
        assertEquals("{\n  \"a\": [1, 2.5, null, \"x\\\"y\"]\n}\n", json);
        assertEquals("0.000125\n", Json.write(0.000125));
    }
}
