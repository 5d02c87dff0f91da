package io.idts.xen;

import java.util.ArrayList;
import java.util.List;

/** PASS/FAIL bookkeeping of the in-domain checks ({@link XenSelfCheckMain}, {@link XenPeerMain}). */
final class XenChecks {

    private final String prefix;
    private final List<String> failures = new ArrayList<>();
    private final long start = System.nanoTime();

    XenChecks(String prefix) {
        this.prefix = prefix;
    }

    interface Check {
        /** @return null when it passed, else why not */
        String run() throws Exception;
    }

    void check(String name, Check check) {
        String failure;
        try {
            failure = check.run();
        } catch (Throwable t) {
            failure = t.toString();
        }
        result(name, failure);
    }

    void result(String name, String failure) {
        if (failure == null) {
            System.out.println(prefix + " PASS: " + name);
        } else {
            failures.add(name);
            System.out.println(prefix + " FAIL: " + name + ": " + failure);
        }
        System.out.flush();
    }

    void info(String message) {
        System.out.printf("%s info: [%.2f s] %s%n", prefix, (System.nanoTime() - start) / 1e9, message);
        System.out.flush();
    }

    static String expect(boolean ok, String what) {
        return ok ? null : what;
    }

    int exitCode() {
        info(failures.isEmpty() ? "all passed" : "failed: " + failures);
        return failures.isEmpty() ? 0 : 1;
    }
}
