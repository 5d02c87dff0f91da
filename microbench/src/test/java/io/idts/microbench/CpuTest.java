package io.idts.microbench;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The CPU clock the figures use agrees with /proc's accounting of the same process, and both count work done. */
class CpuTest {

    /** /proc counts in clock ticks (10 ms), and the two are read one after the other. */
    private static final double TOLERANCE_SECONDS = 0.05;

    @Test
    void theClockAndProcStatAgree() {
        long pid = ProcessHandle.current().pid();
        long proc0 = Cpu.procStatNanos(pid);
        burn(200_000_000L);
        long clock1 = Cpu.processNanos();
        long proc1 = Cpu.procStatNanos(pid);
        long clock2 = Cpu.processNanos();
        assertTrue(proc0 > 0, "/proc/" + pid + "/stat: " + proc0);
        // The work shows in /proc too (a machine busy with other work only makes it take longer).
        assertTrue(proc1 - proc0 >= 150_000_000L, "200 ms of CPU in /proc: " + (proc1 - proc0) / 1e6 + " ms");
        assertEquals(clock1 / 1e9, proc1 / 1e9, TOLERANCE_SECONDS + (clock2 - clock1) / 1e9,
                "clock_gettime and /proc/self/stat, seconds");
    }

    @Test
    void aProcessThatIsNotThereReadsAsUnknown() {
        assertEquals(-1, Cpu.procStatNanos(Long.MAX_VALUE));
    }

    /** Keeps this thread busy until the process's clock has counted {@code nanos} more, at most 20 s of wall time. */
    private static void burn(long nanos) {
        long end = Cpu.processNanos() + nanos;
        long deadline = System.nanoTime() + 20_000_000_000L;
        long x = 0;
        while (Cpu.processNanos() - end < 0 && System.nanoTime() - deadline < 0) {
            for (int i = 0; i < 100_000; i++) {
                x += x * 31 + 7;
            }
        }
        if (x == 42) {
            System.out.println(x); // keeps the loop from being removed
        }
    }
}
