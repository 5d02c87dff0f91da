package io.idts.microbench;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;

/**
 * The process's own CPU accounting: {@code clock_gettime(CLOCK_PROCESS_CPUTIME_ID)}, the kernel's nanosecond clock of
 * every thread of the process, living or ended. (The JDK's {@code getProcessCpuTime} reads {@code times()}, which
 * counts in clock ticks of 10 ms: too coarse for idle connections.) Falls back to the JDK where JNA cannot bind libc.
 *
 * <p>{@link #procStatNanos} reads the same accounting from {@code /proc/<pid>/stat} ({@code utime + stime}, in clock
 * ticks): the run checks its clocks against it once, at the end, for both processes.
 */
final class Cpu {

    private static final int CLOCK_PROCESS_CPUTIME_ID = 2;
    /** {@code sysconf}'s name of the clock tick rate (USER_HZ) on Linux. */
    private static final int SC_CLK_TCK = 2;
    /** In {@code /proc/<pid>/stat}, after the command's closing parenthesis: utime and stime are the 12th and 13th. */
    private static final int UTIME_AFTER_COMM = 11;
    private static final int STIME_AFTER_COMM = 12;
    private static final boolean NATIVE;
    /** Clock ticks per second of {@code /proc}'s times: USER_HZ, 100 on every Linux build in use. */
    private static final long TICKS_PER_SECOND;

    static {
        boolean bound;
        long ticks = 100;
        try {
            Native.register(Cpu.class, NativeLibrary.getInstance(Platform.C_LIBRARY_NAME));
            bound = clock_gettime(CLOCK_PROCESS_CPUTIME_ID, new long[2]) == 0;
            long hz = sysconf(SC_CLK_TCK);
            if (hz > 0) {
                ticks = hz;
            }
        } catch (Throwable t) {
            bound = false;
        }
        NATIVE = bound;
        TICKS_PER_SECOND = ticks;
    }

    private Cpu() {
    }

    /** {@code struct timespec} on 64-bit Linux is two longs: seconds, nanoseconds. */
    private static native int clock_gettime(int clockId, long[] timespec);

    private static native long sysconf(int name);

    /** CPU time used by every thread of this process so far (user and system), in nanoseconds. */
    static long processNanos() {
        if (NATIVE) {
            long[] ts = new long[2];
            if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, ts) == 0) {
                return ts[0] * 1_000_000_000L + ts[1];
            }
        }
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    /**
     * CPU time used by every thread of process {@code pid} so far (user and system), from {@code /proc/<pid>/stat},
     * in nanoseconds, with the resolution of a clock tick (10 ms); -1 where it cannot be read.
     */
    static long procStatNanos(long pid) {
        try {
            String stat = new String(Files.readAllBytes(Paths.get("/proc", String.valueOf(pid), "stat")),
                    StandardCharsets.US_ASCII);
            // The command (field 2) is in parentheses and may hold spaces: count the fields after its last ')'.
            String[] fields = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
            long ticks = Long.parseLong(fields[UTIME_AFTER_COMM]) + Long.parseLong(fields[STIME_AFTER_COMM]);
            return ticks * (1_000_000_000L / TICKS_PER_SECOND);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** Where the figures come from, for the JSON file. */
    static String source() {
        return NATIVE ? "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)" : "OperatingSystemMXBean.getProcessCpuTime()";
    }
}
