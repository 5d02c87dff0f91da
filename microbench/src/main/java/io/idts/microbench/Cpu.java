package io.idts.microbench;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;

import java.lang.management.ManagementFactory;

/**
 * The process's own CPU accounting: {@code clock_gettime(CLOCK_PROCESS_CPUTIME_ID)}, the kernel's nanosecond clock of
 * every thread of the process, living or ended. (The JDK's {@code getProcessCpuTime} reads {@code times()}, which
 * counts in clock ticks of 10 ms: too coarse for idle connections.) Falls back to the JDK where JNA cannot bind libc.
 */
final class Cpu {

    private static final int CLOCK_PROCESS_CPUTIME_ID = 2;
    private static final boolean NATIVE;

    static {
        boolean bound;
        try {
            Native.register(Cpu.class, NativeLibrary.getInstance(Platform.C_LIBRARY_NAME));
            bound = clock_gettime(CLOCK_PROCESS_CPUTIME_ID, new long[2]) == 0;
        } catch (Throwable t) {
            bound = false;
        }
        NATIVE = bound;
    }

    private Cpu() {
    }

    /** {@code struct timespec} on 64-bit Linux is two longs: seconds, nanoseconds. */
    private static native int clock_gettime(int clockId, long[] timespec);

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

    /** Where the figures come from, for the JSON file. */
    static String source() {
        return NATIVE ? "clock_gettime(CLOCK_PROCESS_CPUTIME_ID)" : "OperatingSystemMXBean.getProcessCpuTime()";
    }
}
