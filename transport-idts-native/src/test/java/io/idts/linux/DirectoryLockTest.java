package io.idts.linux;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link DirectoryLock}: one holder at a time, within a process and across processes, nothing left in the directory,
 * released by close and by the death of its holder, and a clear errno for what is not a directory.
 */
@ExtendWith(NoFdLeaks.class)
class DirectoryLockTest {

    private Path directory;
    private Process holder;

    @BeforeEach
    void setUp() throws IOException {
        directory = Files.createTempDirectory("idts-lock-");
    }

    @AfterEach
    void tearDown() throws Exception {
        if (holder != null) {
            holder.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            // Its pipes, before NoFdLeaks counts.
            holder.getInputStream().close();
            holder.getOutputStream().close();
        }
        Files.delete(directory); // fails if the lock left anything in it
    }

    @Test
    void oneHolderAtATimeWithinAProcess() throws Exception {
        DirectoryLock first = DirectoryLock.lock(directory.toString(), 0, TimeUnit.SECONDS);
        assertNotNull(first);
        try {
            long start = System.nanoTime();
            assertNull(DirectoryLock.lock(directory.toString(), 100, TimeUnit.MILLISECONDS), "held by the first");
            assertTrue(System.nanoTime() - start >= TimeUnit.MILLISECONDS.toNanos(100), "tried for the timeout");
        } finally {
            first.close();
        }
        first.close(); // a second close does nothing
        try (DirectoryLock second = DirectoryLock.lock(directory.toString(), 0, TimeUnit.SECONDS)) {
            assertNotNull(second, "free once the first closed");
        }
        try (var entries = Files.list(directory)) {
            assertEquals(0, entries.count(), "no lock file");
        }
    }

    @Test
    void waiterGetsTheLockWhenTheHolderReleasesIt() throws Exception {
        DirectoryLock first = DirectoryLock.lock(directory.toString(), 0, TimeUnit.SECONDS);
        assertNotNull(first);
        Thread releaser = new Thread(() -> {
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            first.close();
        });
        releaser.start();
        try (DirectoryLock second = DirectoryLock.lock(directory.toString(), 30, TimeUnit.SECONDS)) {
            assertNotNull(second);
        } finally {
            releaser.join();
        }
    }

    @Test
    void lockOfAnotherProcessIsHeldUntilItDies() throws Exception {
        // Another process's plain flock(2): the same lock, and the kernel drops it with the process.
        String script = "import fcntl,os,sys,time\n"
                + "fd=os.open(sys.argv[1],os.O_RDONLY)\nfcntl.flock(fd,fcntl.LOCK_EX)\n"
                + "print('LOCKED',flush=True)\ntime.sleep(600)\n";
        try {
            holder = new ProcessBuilder(List.of("/usr/bin/python3", "-c", script, directory.toString()))
                    .redirectErrorStream(true).start();
        } catch (IOException e) {
            Assumptions.abort("needs /usr/bin/python3 to hold a flock in another process: " + e);
        }
        String line = new String(holder.getInputStream().readNBytes("LOCKED\n".length()), StandardCharsets.UTF_8);
        assertEquals("LOCKED\n", line);
        assertNull(DirectoryLock.lock(directory.toString(), 100, TimeUnit.MILLISECONDS), "held by the other process");
        holder.destroyForcibly();
        try (DirectoryLock lock = DirectoryLock.lock(directory.toString(), 30, TimeUnit.SECONDS)) {
            assertNotNull(lock, "released when its holder was killed");
        }
    }

    @Test
    void onlyADirectoryCanBeLocked() throws Exception {
        Path file = Files.createFile(directory.resolve("file"));
        try {
            NativeIoException notDirectory = assertThrows(NativeIoException.class,
                    () -> DirectoryLock.lock(file.toString(), 0, TimeUnit.SECONDS));
            assertEquals(Errno.ENOTDIR, notDirectory.errno());
            assertTrue(notDirectory.getMessage().contains(file.toString()), notDirectory.getMessage());
        } finally {
            Files.delete(file);
        }
        NativeIoException missing = assertThrows(NativeIoException.class,
                () -> DirectoryLock.lock(directory.resolve("missing").toString(), 0, TimeUnit.SECONDS));
        assertEquals(Errno.ENOENT, missing.errno());
    }
}
