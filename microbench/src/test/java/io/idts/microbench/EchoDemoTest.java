package io.idts.microbench;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Runs the two-process echo demo in quick mode (a child JVM, 2000 ping-pongs, 4 MiB verified, per transport). */
class EchoDemoTest {

    @Test
    void quickRunMeasuresEveryTransport() throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        List<EchoDemo.Result> results;
        try (PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8)) {
            results = EchoDemo.run(out, "quick");
        } finally {
            System.out.print(bytes.toString(StandardCharsets.UTF_8));
        }
        String printed = bytes.toString(StandardCharsets.UTF_8);

        assertEquals(3, results.size(), printed);
        assertTrue(results.get(0).transport.startsWith("IDTS"), printed);
        assertTrue(results.get(1).transport.startsWith("IDTS, spin"), printed);
        assertTrue(results.get(2).transport.startsWith("TCP"), printed);
        for (EchoDemo.Result result : results) {
            assertEquals(2000, result.pings, printed);
            assertEquals(4L * 1024 * 1024, result.streamBytes, printed);
            assertTrue(result.p50Micros > 0 && result.p50Micros <= result.p99Micros, printed);
            assertTrue(result.streamSeconds > 0, printed);
        }
        assertTrue(printed.contains("[server] pid "), "the server runs in a child JVM and says so: " + printed);
        assertTrue(printed.contains("Summary"), printed);
    }

    @Test
    void percentileIsNearestRank() {
        long[] sorted = new long[100];
        for (int i = 0; i < sorted.length; i++) {
            sorted[i] = i + 1;
        }
        assertEquals(50, EchoDemo.percentile(sorted, 50));
        assertEquals(99, EchoDemo.percentile(sorted, 99));
        assertEquals(7, EchoDemo.percentile(new long[] { 7 }, 99));
    }

    @Test
    void rejectsUnknownArguments() {
        assertThrows(IllegalArgumentException.class, () -> EchoDemo.Settings.parse("bogus"));
        assertThrows(IllegalArgumentException.class, () -> EchoDemo.Settings.parse("pings=0"));
        EchoDemo.Settings quick = EchoDemo.Settings.parse("quick");
        assertEquals(2000, quick.pings);
        assertTrue(quick.verify);
    }
}
