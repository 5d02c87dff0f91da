package io.idts.testsuite.xen;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * The PASS/FAIL lines of a program that runs inside a Xen domain under {@code testsuite/xen/run}: the harness reads
 * them from the console, so every line is printed and flushed at once and starts with the program's prefix
 * ({@code SERVER}, {@code CLIENT}).
 */
final class XenCheckLog {

    /** A check: {@code null} when it passed, otherwise why not. */
    interface Check {
        String run() throws Exception;
    }

    private final String prefix;
    private final long start = System.nanoTime();
    private final List<String> failures = new ArrayList<>();

    XenCheckLog(String prefix) {
        this.prefix = prefix;
    }

    /** Runs {@code check}; an exception fails it, with the exception as the reason. */
    void check(String name, Check check) {
        String failure;
        try {
            failure = check.run();
        } catch (Throwable t) {
            failure = t.toString();
        }
        result(name, failure);
    }

    synchronized void result(String name, String failure) {
        if (failure == null) {
            System.out.println(prefix + " PASS: " + name);
        } else {
            failures.add(name);
            System.out.println(prefix + " FAIL: " + name + ": " + failure);
        }
        System.out.flush();
    }

    synchronized void info(String message) {
        System.out.printf("%s info: [%.1f s] %s%n", prefix, (System.nanoTime() - start) / 1e9, message);
        System.out.flush();
    }

    /** A figure for the harness's table: {@code <prefix> figure: <key> <value>}. */
    synchronized void figure(String key, String value) {
        System.out.println(prefix + " figure: " + key + ' ' + value);
        System.out.flush();
    }

    /**
     * The end of a harness main: exits with the code {@code run} returns; if it throws, prints
     * {@code <prefix> FAIL: the <who> ended with <exception>} and the stack trace (the harness reads both from the
     * console) and exits with 1.
     */
    static void exitWith(String prefix, String who, Callable<Integer> run) {
        int code;
        try {
            code = run.call();
        } catch (Throwable t) {
            System.out.println(prefix + " FAIL: the " + who + " ended with " + t);
            t.printStackTrace(System.out);
            code = 1;
        }
        System.out.flush();
        System.exit(code);
    }

    synchronized int failures() {
        return failures.size();
    }

    /** Prints the summary and returns the exit status: 0 when every check passed. */
    synchronized int exitCode() {
        info(failures.isEmpty() ? "all passed" : "failed: " + failures);
        return failures.isEmpty() ? 0 : 1;
    }
}
