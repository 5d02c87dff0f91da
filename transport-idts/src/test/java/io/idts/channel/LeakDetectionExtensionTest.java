package io.idts.channel;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Shows that {@link LeakDetectionExtension} sees leaks: each test leaks a buffer on purpose, checks that the recorder
 * (or the extension's check) reports it, and takes that report away so that this class itself passes.
 */
final class LeakDetectionExtensionTest {

    private static final int ATTEMPTS = 20;

    @Test
    void isRegisteredForEveryClassWithTheBuildsParameters() {
        assertEquals(LeakDetectionExtensionTest.class.getName(), LeakDetectionExtension.lastClass,
                "the auto-detected extension's beforeAll did not run for this class");
        assertEquals("true", LeakDetectionExtension.lastAutodetection);
        if (System.getProperty("surefire.test.class.path") != null || System.getProperty("basedir") != null
                || LeakDetectionExtension.lastTimeoutDefault != null) {
            // Under surefire the parent pom passes the timeouts as configuration parameters; the file adds to them.
            assertEquals("120 s", LeakDetectionExtension.lastTimeoutDefault,
                    "junit-platform.properties hid the configuration parameters the build passes");
        }
        assertTrue(LeakDetectionExtension.recorder().isRecording(ByteBuf.class),
                "Netty's ByteBuf leak detector is not the recording one");
        assertEquals(ResourceLeakDetector.Level.PARANOID, ResourceLeakDetector.getLevel(),
                "the build runs tests with -Dio.netty.leakDetection.level=PARANOID");
    }

    @Test
    void recorderSeesALeakedPooledBuffer() {
        String marker = "deliberate-leak-" + UUID.randomUUID();
        leak(PooledByteBufAllocator.DEFAULT.directBuffer(128), marker);
        List<LeakRecorder.Leak> found = awaitLeak(marker);
        assertEquals(1, found.size(), "leaks carrying the marker: " + found);
        LeakRecorder.Leak leak = found.get(0);
        assertEquals("ByteBuf", leak.resourceType());
        assertTrue(leak.isTraced(), "PARANOID leaks carry records");
        assertTrue(leak.records().contains("leak(") || leak.records().contains(getClass().getSimpleName()),
                "records name the allocation site: " + leak.records());
    }

    @Test
    void recorderSeesALeakedUnpooledDirectBuffer() {
        // Netty tracks unpooled direct buffers (not unpooled heap ones: the garbage collector frees those).
        String marker = "deliberate-leak-" + UUID.randomUUID();
        leak(UnpooledByteBufAllocator.DEFAULT.directBuffer(16), marker);
        assertEquals(1, awaitLeak(marker).size());
    }

    @Test
    void recorderStaysQuietWhenBuffersAreReleased() {
        String marker = "released-" + UUID.randomUUID();
        for (int i = 0; i < 100; i++) {
            ByteBuf buf = PooledByteBufAllocator.DEFAULT.directBuffer(128);
            buf.touch(marker);
            buf.writeInt(i);
            buf.release();
        }
        LeakDetectionExtension.recorder().surfacePendingLeaks();
        assertTrue(LeakDetectionExtension.recorder().drain(l -> l.records().contains(marker)).isEmpty());
    }

    @Test
    void verifyNoLeaksFailsWithTheLeakRecords() {
        String marker = "deliberate-leak-" + UUID.randomUUID();
        LeakDetectionExtension extension = new LeakDetectionExtension();
        // The check fails for whatever leaked, so make sure nothing else is pending first.
        extension.verifyNoLeaks("the start of " + getClass().getSimpleName());
        leak(PooledByteBufAllocator.DEFAULT.heapBuffer(32), marker);
        AssertionError failure = null;
        for (int i = 0; i < ATTEMPTS && failure == null; i++) {
            try {
                extension.verifyNoLeaks("a deliberate leak");
            } catch (AssertionError e) {
                failure = e;
            }
        }
        if (failure == null) {
            fail("verifyNoLeaks never reported the deliberate leak " + marker);
        }
        assertTrue(failure.getMessage().contains(marker), failure.getMessage());
        assertTrue(failure.getMessage().contains("a deliberate leak"), failure.getMessage());
        // It drained what it reported: the next check passes.
        extension.verifyNoLeaks("after the deliberate leak");
    }

    @Test
    void drainTakesOnlyMatchingLeaks() {
        LeakRecorder recorder = LeakDetectionExtension.recorder();
        recorder.record("Test", "first");
        recorder.record("Test", "second");
        assertEquals(1, recorder.drain(l -> l.records().equals("first")).size());
        List<LeakRecorder.Leak> rest = recorder.drain(l -> l.resourceType().equals("Test"));
        assertEquals(1, rest.size());
        assertEquals("second", rest.get(0).records());
        assertFalse(recorder.leaks().stream().anyMatch(l -> l.resourceType().equals("Test")));
        assertThrows(UnsupportedOperationException.class, () -> recorder.leaks().clear());
    }

    /** Drops the last reference to {@code buf} without releasing it. */
    private static void leak(ByteBuf buf, String marker) {
        buf.touch(marker);
        buf.writeLong(42);
    }

    private static List<LeakRecorder.Leak> awaitLeak(String marker) {
        LeakRecorder recorder = LeakDetectionExtension.recorder();
        for (int i = 0; i < ATTEMPTS; i++) {
            recorder.surfacePendingLeaks();
            List<LeakRecorder.Leak> found = recorder.drain(l -> l.records().contains(marker));
            if (!found.isEmpty()) {
                return found;
            }
        }
        return fail("the deliberate leak " + marker + " was never reported; recorded: " + recorder.leaks());
    }
}
