package io.idts.testsuite;

import io.idts.channel.LeakDetectionExtension;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Proves that the testsuite module runs its test classes under {@link LeakDetectionExtension} (from transport-idts's
 * test-jar, auto-detected through this module's {@code junit-platform.properties}). In package
 * {@code io.idts.channel} to read the extension's package-private record of the last class it saw.
 */
class TestsuiteLeakDetectionActiveTest {

    @Test
    void extensionSawThisClass() {
        assertEquals(TestsuiteLeakDetectionActiveTest.class.getName(), LeakDetectionExtension.lastClass,
                "LeakDetectionExtension did not run before this class: is extension autodetection enabled in "
                        + "testsuite/src/test/resources/junit-platform.properties?");
        assertEquals("true", LeakDetectionExtension.lastAutodetection);
    }
}
