package io.idts.microbench;

import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The round trip of one cache line between two threads, each spinning on its own core: what every message through
 * shared memory pays at least once. On a VM it depends on where the host runs the two vCPUs at the moment (the
 * development VM gave about 60 ns, or 115 to 380 ns, from one minute to the next), and shared-memory bandwidth follows
 * it (docs/benchmarks.md, "the swing between runs"), so the benchmark measures it before and after its rounds.
 */
final class CoreToCore {

    /** Slots of the ping and the pong, 128 bytes apart: each side writes its own line only. */
    private static final int PING = 0;
    private static final int PONG = 16;
    private static final long STOP = -1;

    private CoreToCore() {
    }

    /** The median of five measurements of {@code millis / 5} each, in nanoseconds per round trip. */
    static double roundTripNanos(long millis) throws InterruptedException {
        double[] runs = new double[5];
        for (int i = 0; i < runs.length; i++) {
            runs[i] = measure(TimeUnit.MILLISECONDS.toNanos(Math.max(1, millis / runs.length)));
        }
        Arrays.sort(runs);
        return runs[runs.length / 2];
    }

    private static double measure(long nanos) throws InterruptedException {
        AtomicLongArray lines = new AtomicLongArray(PONG + 16);
        Thread echo = new Thread(() -> {
            long last = 0;
            for (;;) {
                long seen = lines.get(PING);
                if (seen == STOP) {
                    return;
                }
                if (seen != last) {
                    last = seen;
                    lines.set(PONG, seen);
                } else {
                    Thread.onSpinWait();
                }
            }
        }, "bench-core-to-core");
        echo.setDaemon(true);
        echo.start();
        long start = System.nanoTime();
        long trips = 0;
        while (System.nanoTime() - start < nanos) {
            for (int k = 0; k < 1000; k++) {
                long i = ++trips;
                lines.set(PING, i);
                while (lines.get(PONG) != i) {
                    Thread.onSpinWait();
                }
            }
        }
        double perTrip = (System.nanoTime() - start) / (double) trips;
        lines.set(PING, STOP);
        echo.join(1000);
        return perTrip;
    }
}
