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
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The {@code bandwidth} preset (as {@code bash microbench/bench bandwidth quick} runs it): a keeping receiver whose
 * stream stalls is reported as stalled and the run goes on to the next transport, whose figures it still measures.
 */
class BenchmarkBandwidthTest {

    @Test
    void aStalledKeepingReceiverIsReportedAndTheRunGoesOn(@TempDir Path dir) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Results results;
        try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
            // The server's keeping receiver never reads (a test hook of the server JVM).
            results = Benchmark.run(out, "bandwidth", "quick", "transports=idts-keep,epoll-uds", "stall=2",
                    "serverjvm=-Didts.bench.stallKeepingReceiver=true", "out=" + dir, "progress=lines");
        } finally {
            System.out.print(bytes.toString(StandardCharsets.UTF_8));
        }
        String printed = bytes.toString(StandardCharsets.UTF_8);

        assertEquals(Arrays.asList(Transport.IDTS_KEEP, Transport.EPOLL_UDS), results.transports());
        for (int size : Settings.BANDWIDTH_SIZES) {
            Results.Bandwidth keep = results.get(Transport.IDTS_KEEP).bandwidth(size);
            assertEquals(1, keep.stalledRounds(), "idts-keep " + size);
            assertEquals(0, keep.measuredRounds(), "idts-keep " + size);
            Results.Bandwidth uds = results.get(Transport.EPOLL_UDS).bandwidth(size);
            assertEquals(0, uds.stalledRounds(), "epoll-uds " + size);
            assertTrue(uds.megabytesPerSecond() > 0 && uds.cpuSecondsPerGigabyte() > 0, "epoll-uds " + size);
            assertTrue(uds.checkedBytes > 0, "epoll-uds checked " + size);
        }
        assertTrue(printed.contains("stalled"), printed);
        assertTrue(printed.contains("CPU s/GB"), printed);
        assertTrue(!printed.contains("Round trips of"), printed);

        List<Path> files;
        try (Stream<Path> list = Files.list(dir)) {
            files = list.sorted().collect(Collectors.toList());
        }
        assertEquals(2, files.size(), files.toString());
        String json = Files.readString(files.get(0));
        assertTrue(json.contains("\"stalledRounds\": 1") && json.contains("\"receiver\": \"keep\""), json);
        assertTrue(!json.contains("NaN"), json);
        String svg = Files.readString(files.get(1));
        assertTrue(svg.contains("stalled") && svg.contains("IDTS, keeping receiver".split(",")[0]), svg);
    }
}
