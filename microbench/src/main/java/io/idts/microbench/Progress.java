package io.idts.microbench;

import java.io.PrintStream;
import java.util.Locale;

/**
 * The progress indicator: on a terminal one line redrawn a few times a second (bar, percent, what runs, time left);
 * elsewhere (CI, a test, a pipe) one line per step. Percent and time left come from the plan's estimated seconds.
 */
final class Progress implements AutoCloseable {

    private static final int BAR = 24;

    private final PrintStream out;
    private final boolean bar;
    private final boolean silent;
    private final double totalSeconds;
    private final long startNanos = System.nanoTime();
    private double doneSeconds;
    private double stepSeconds;
    private volatile String step = "starting";
    private volatile boolean closed;
    private final Thread painter;
    private int lastLength;

    Progress(PrintStream out, String mode, double totalSeconds) {
        this.out = out;
        this.totalSeconds = Math.max(totalSeconds, 1e-3);
        this.silent = mode.equals("none");
        this.bar = mode.equals("bar") || (mode.equals("auto") && System.console() != null && out == System.out);
        if (bar) {
            painter = new Thread(this::paintLoop, "bench-progress");
            painter.setDaemon(true);
            painter.start();
        } else {
            painter = null;
        }
    }

    /** A new step begins, estimated to take {@code seconds}; the previous one is done. */
    synchronized void step(String what, double seconds) {
        doneSeconds += stepSeconds;
        stepSeconds = seconds;
        step = what;
        if (!bar && !silent) {
            out.printf(Locale.ROOT, "[%3.0f%%] %s%n", percent(), what);
            out.flush();
        }
    }

    /** Prints a line above the bar (or as is). */
    synchronized void message(String line) {
        if (silent) {
            return;
        }
        if (bar) {
            clear();
        }
        out.println(line);
        if (bar) {
            paint();
        }
        out.flush();
    }

    private double percent() {
        return Math.min(99.9, doneSeconds / totalSeconds * 100);
    }

    private void paintLoop() {
        while (!closed) {
            synchronized (this) {
                if (!closed) {
                    paint();
                }
            }
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    private void paint() {
        double elapsed = (System.nanoTime() - startNanos) / 1e9;
        double fraction = Math.min(1, doneSeconds / totalSeconds);
        int filled = (int) Math.round(fraction * BAR);
        StringBuilder line = new StringBuilder("\r[");
        for (int i = 0; i < BAR; i++) {
            line.append(i < filled ? '#' : '.');
        }
        double left = fraction > 0.02 ? elapsed / fraction - elapsed : totalSeconds - elapsed;
        line.append(String.format(Locale.ROOT, "] %3.0f%%  %s  %s elapsed, ~%s left", fraction * 100, step,
                clock(elapsed), clock(Math.max(0, left))));
        int length = line.length();
        for (int i = length; i < lastLength; i++) {
            line.append(' ');
        }
        lastLength = length;
        out.print(line);
        out.flush();
    }

    private void clear() {
        StringBuilder line = new StringBuilder("\r");
        for (int i = 1; i < lastLength; i++) {
            line.append(' ');
        }
        out.print(line.append('\r'));
        lastLength = 0;
    }

    static String clock(double seconds) {
        long s = Math.round(seconds);
        return String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }

    @Override
    public synchronized void close() {
        closed = true;
        if (bar) {
            clear();
        }
        out.flush();
    }
}
