package io.idts.channel;

import io.netty.buffer.ByteBuf;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.util.List;

/**
 * Fails every test class after which Netty reported a resource leak (an unreleased {@link ByteBuf}, ...), with the
 * leak records in the failure.
 *
 * <p>Registered for every test class automatically: {@code META-INF/services/org.junit.jupiter.api.extension.Extension}
 * names it and {@code junit-platform.properties} sets {@code junit.jupiter.extensions.autodetection.enabled=true}
 * (both in this module's test resources, so in its test-jar too). JUnit instantiates auto-detected extensions before
 * it initializes any test class; the constructor installs {@link LeakRecorder}'s factory then, before Netty makes its
 * static leak detectors.
 *
 * <p>After each class it forces garbage collection and a few allocations so that pending leak reports surface, then
 * fails the class if any leak was recorded since the previous check. Run with
 * {@code -Dio.netty.leakDetection.level=PARANOID} (the build does) so that every buffer is tracked, with records.
 * A leak found after a class may in rare cases come from the class before it (a buffer that only became garbage
 * later); the records say where it was allocated.
 */
public final class LeakDetectionExtension implements BeforeAllCallback, AfterAllCallback {

    /** The configuration parameters that {@link #beforeAll} saw last, for the harness's own test. */
    public static volatile String lastClass;
    public static volatile String lastAutodetection;
    public static volatile String lastTimeoutDefault;

    private final LeakRecorder recorder;

    public LeakDetectionExtension() {
        recorder = LeakRecorder.install();
    }

    /** The JVM's recorder, installed. */
    public static LeakRecorder recorder() {
        return LeakRecorder.install();
    }

    @Override
    public void beforeAll(ExtensionContext context) {
        lastClass = context.getRequiredTestClass().getName();
        lastAutodetection = context.getConfigurationParameter("junit.jupiter.extensions.autodetection.enabled")
                .orElse(null);
        lastTimeoutDefault = context.getConfigurationParameter("junit.jupiter.execution.timeout.default")
                .orElse(null);
        if (!recorder.isRecording(ByteBuf.class)) {
            throw new IllegalStateException("leak detection harness installed too late: Netty's ByteBuf leak "
                    + "detector was created before " + LeakRecorder.class.getName() + " was installed, so leaks "
                    + "would go unnoticed; something initialized io.netty.buffer.AbstractByteBuf before JUnit "
                    + "loaded " + LeakDetectionExtension.class.getName());
        }
    }

    @Override
    public void afterAll(ExtensionContext context) {
        verifyNoLeaks(context.getRequiredTestClass().getName());
    }

    /**
     * Surfaces pending leak reports, then throws an {@link AssertionError} listing every leak recorded since the
     * last check, if any (they are drained, so the next check starts clean).
     */
    public void verifyNoLeaks(String where) {
        recorder.surfacePendingLeaks();
        List<LeakRecorder.Leak> leaks = recorder.drain();
        if (!leaks.isEmpty()) {
            throw new AssertionError(leaks.size() + " resource leak(s) reported by Netty during or before " + where
                    + ':' + LeakRecorder.describe(leaks));
        }
    }
}
