package io.idts.channel;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

final class ChildJvmTest {

    private static final Duration TIMEOUT = Duration.ofSeconds(60);

    /** Prints its pid and the leak detection level it was given, READY, then waits for stdin to close. */
    public static final class Main {
        public static void main(String[] args) {
            System.err.println("to stderr");
            System.out.println("PID " + ProcessHandle.current().pid());
            System.out.println("LEVEL " + System.getProperty("io.netty.leakDetection.level"));
            System.out.println("ARGS " + String.join(",", args));
            if (args.length > 0 && "exit".equals(args[0])) {
                System.exit(5);
            }
            System.out.println("READY");
            ChildJvm.awaitStdinClosed();
            System.out.println("BYE");
        }
    }

    @Test
    void runsAMainWithTheTestClasspathAndProperties() throws Exception {
        Path directory;
        try (ChildJvm child = ChildJvm.start(Main.class, "a", "b c")) {
            assertEquals("READY", child.awaitLine("READY", TIMEOUT));
            assertEquals("PID " + child.pid(), child.awaitLine("PID", TIMEOUT));
            assertEquals("LEVEL " + System.getProperty("io.netty.leakDetection.level"),
                    child.awaitLine("LEVEL", TIMEOUT));
            assertEquals("ARGS a,b c", child.awaitLine("ARGS", TIMEOUT));
            assertTrue(child.isAlive());
            assertEquals(0, child.closeStdinAndWait(TIMEOUT));
            assertTrue(child.stdoutLines().contains("BYE"), child.stdoutLines().toString());
            assertTrue(child.stderr().contains("to stderr"), child.stderr());
            directory = child.directory();
            assertTrue(Files.isDirectory(directory));
        }
        assertFalse(Files.exists(directory), "output files are deleted after a clean run");
    }

    @Test
    void destroyForciblyKillsTheProcess() throws Exception {
        try (ChildJvm child = ChildJvm.start(Main.class)) {
            child.awaitLine("READY", TIMEOUT);
            ProcessHandle handle = ProcessHandle.of(child.pid()).orElseThrow();
            child.destroyForcibly();
            assertFalse(child.isAlive());
            assertFalse(handle.isAlive());
            assertEquals(137, child.process().exitValue(), "128 + SIGKILL");
            assertFalse(child.stdoutLines().contains("BYE"), "a killed process runs no more code");
        }
    }

    @Test
    void awaitLineFailsWhenTheProcessEndsWithoutIt() throws Exception {
        Path directory;
        try (ChildJvm child = ChildJvm.start(Main.class, "exit")) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> child.awaitLine("READY", TIMEOUT));
            assertTrue(e.getMessage().contains("ARGS exit"), e.getMessage());
            assertTrue(e.getMessage().contains("to stderr"), e.getMessage());
            assertEquals(5, child.process().waitFor());
            directory = child.directory();
        }
        assertTrue(Files.isDirectory(directory), "output of a failed child is kept");
        try (var files = Files.list(directory)) {
            files.forEach(f -> f.toFile().delete());
        }
        Files.delete(directory);
    }

    @Test
    void closeEndsAProcessThatIsStillRunning() throws Exception {
        ChildJvm child = ChildJvm.start(Main.class);
        child.awaitLine("READY", TIMEOUT);
        ProcessHandle handle = ProcessHandle.of(child.pid()).orElseThrow();
        child.close();
        assertFalse(handle.isAlive());
        assertFalse(Files.exists(child.directory()));
    }
}
