package io.idts.linux;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.io.IOException;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Fails a test whose {@link FileDescriptors#openCount()} is not back to its starting value at the end,
 * naming the descriptors that changed. The JVM itself may hold a descriptor briefly (e.g. reading a class
 * file), so a mismatch is re-read for a moment before failing; a real leak does not go away.
 */
final class NoFdLeaks implements BeforeEachCallback, AfterEachCallback {

    private static final ExtensionContext.Namespace NAMESPACE = ExtensionContext.Namespace.create(NoFdLeaks.class);
    private static final String BASELINE = "openCount";
    private static final String BASELINE_FDS = "fds";
    private static final int SETTLE_ATTEMPTS = 50;
    private static final long SETTLE_PAUSE_MILLIS = 20;

    @Override
    public void beforeEach(ExtensionContext context) throws IOException {
        // Let what keeps descriptors for the life of the JVM open them before the baseline: loading JNA and
        // libc, and the JDK's first FileChannel (its dispatcher keeps a socket for pre-closing descriptors),
        // which the tests' own /proc reads use.
        LinuxHost.ensureAvailability();
        Procfs.fdFlags(0);
        context.getStore(NAMESPACE).put(BASELINE_FDS, Procfs.openFds());
        context.getStore(NAMESPACE).put(BASELINE, FileDescriptors.openCount());
    }

    @Override
    public void afterEach(ExtensionContext context) throws InterruptedException {
        int baseline = context.getStore(NAMESPACE).get(BASELINE, Integer.class);
        int now = FileDescriptors.openCount();
        for (int i = 0; i < SETTLE_ATTEMPTS && now > baseline; i++) {
            Thread.sleep(SETTLE_PAUSE_MILLIS);
            now = FileDescriptors.openCount();
        }
        // Fewer descriptors than at the baseline is no leak: the baseline may have caught one that the JVM held for a
        // moment (it reads its cgroup's memory.limit_in_bytes now and then).
        if (now > baseline) {
            Map<?, ?> before = context.getStore(NAMESPACE).get(BASELINE_FDS, Map.class);
            assertEquals(baseline, now, "open file descriptors at the end of the test; before: " + before
                    + ", after: " + Procfs.openFds());
        }
    }
}
