package io.idts.microbench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The benchmark's smoke test: its quick mode, as {@code bash microbench/bench quick} runs it (a server JVM, every
 * transport, every figure, briefly), so that the benchmark never rots. It checks that every figure was measured and
 * is sane, and that the table, the JSON file and the chart were written; never how fast anything is.
 */
class BenchmarkQuickTest {

    @Test
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
                if (t == Transport.IDTS_NOTIFY_COPY) {
                    assertEquals(0.0, views, t + " views " + size);
                } else if (t.isIdts()) {
                    assertTrue(views > 0 && views <= 1, t + " views " + size + ": " + views);
                } else {
                    assertTrue(Double.isNaN(views), t + " views " + size);
                }
            }
            if (!t.isNetty() || t.bandwidthOnly()) {
                assertTrue(pt.connectionsRtt.isEmpty() && pt.connectionsBandwidth.isEmpty(), t + " connections");
                continue;
            }
            for (int n : results.settings.connections) {
                checkRtt(t + " " + n + " connections", pt.connectionsRtt(n));
                assertTrue(pt.connectionsBandwidth(n).megabytesPerSecond() > 0, t + " " + n + " connections");
            }
            assertNotNull(pt.idle(), t + " idle CPU");
            assertTrue(pt.idle().percentOfCore() >= 0, t + " idle CPU");
        }
        assertEquals(1000, results.settings.maxConnections());
        assertTrue(results.checkedBytes > 0 && results.checkedBytes <= results.receivedBytes, printed);

        assertTrue(printed.contains("Round trips of 64 B"), printed);
        assertTrue(printed.contains("times better than epoll TCP"), printed);
        assertTrue(printed.contains("Idle: CPU while 1000 connections"), printed);
        assertTrue(printed.contains("Targets"), printed);
        assertTrue(printed.contains("CPU s/GB") && printed.contains("IDTS, keeping receiver"), printed);
        assertTrue(printed.contains("[100%]") || printed.contains("%] round 1/1"), "progress lines: " + printed);

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
        assertEquals(Arrays.asList(Transport.IDTS_NOTIFY, Transport.IDTS_NOTIFY_COPY, Transport.IDTS_KEEP,
                Transport.EPOLL_TCP, Transport.IDTS_FALLBACK, Transport.EPOLL_UDS, Transport.AERON_IPC),
                bandwidth.transports);
        assertEquals(ServerHandlers.Receiver.CONSUME, bandwidth.receiver);
        assertEquals(ServerHandlers.Receiver.DROP, Settings.parse("receiver=drop").receiver);
        assertThrows(IllegalArgumentException.class, () -> Settings.parse("receiver=keep"));
        // The receiver variants of IDTS have nothing to measure without the bandwidth part.
        assertEquals(Arrays.asList(Transport.IDTS_NOTIFY, Transport.IDTS_NOTIFY_COPY),
                Settings.parse("parts=rtt", "transports=idts-notify,idts-notify-copy,idts-keep").transports);
        assertThrows(IllegalArgumentException.class, () -> Settings.parse("parts=rtt", "transports=idts-keep"));
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
