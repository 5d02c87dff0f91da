package io.idts.channel;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Predicate;

/**
 * Another JVM running a {@code main} class of the test classpath: the other process of multi-process tests.
 *
 * <p>It runs the same {@code java} as this JVM with the same classpath and the same Netty and IDTS system properties
 * (leak detection level, rendezvous directory, ...). Its stdout is read line by line by a thread (so a test can
 * {@linkplain #awaitLine wait for a line} such as {@code READY}) and copied to a file; stderr goes to a file. Closing
 * it ends the process: first politely (its stdin is closed),
 * then with {@code SIGKILL}; the output files are deleted unless the process failed. Its {@code main} should
 * call {@link #awaitStdinClosed()} and then shut down.
 *
 * <pre>{@code
 * try (ChildJvm child = ChildJvm.start(EchoServerMain.class, address.toString())) {
 *     child.awaitLine("READY", Duration.ofSeconds(60));
 *     ...
 *     child.destroyForcibly(); // kill -9
 * }
 * }</pre>
 */
public final class ChildJvm implements AutoCloseable {

    /** Prefixes of the system properties handed down to the child. */
    private static final List<String> INHERITED_PROPERTY_PREFIXES = List.of("io.netty.", "io.idts.", "jna.");
    private static final Duration POLITE_EXIT_TIMEOUT = Duration.ofSeconds(10);
    private static final int TAIL_LINES = 40;

    private final String name;
    private final Process process;
    private final Path directory;
    private final Path stdoutFile;
    private final Path stderrFile;
    private final Thread stdoutPump;
    private final List<String> stdoutLines = new ArrayList<>();
    private boolean stdoutEnded;
    private boolean keepFiles;

    private ChildJvm(String name, Process process, Path directory, Path stdoutFile, Path stderrFile) {
        this.name = name;
        this.process = process;
        this.directory = directory;
        this.stdoutFile = stdoutFile;
        this.stderrFile = stderrFile;
        this.stdoutPump = new Thread(this::pumpStdout, "ChildJvm-stdout-" + process.pid());
        stdoutPump.setDaemon(true);
        stdoutPump.start();
    }

    /** Starts {@code mainClass} with {@code args} in a new JVM. */
    public static ChildJvm start(Class<?> mainClass, String... args) throws IOException {
        return start(mainClass, List.of(), args);
    }

    /** Starts {@code mainClass} with {@code args} in a new JVM given the extra {@code jvmOptions} (e.g. -Xmx). */
    public static ChildJvm start(Class<?> mainClass, List<String> jvmOptions, String... args) throws IOException {
        return start(List.of(), mainClass, jvmOptions, args);
    }

    /**
     * Starts {@code mainClass} with {@code args} in a new JVM launched through {@code launcher}, a command that runs
     * the rest of its command line in place (e.g. {@code unshare --net}): the child's pid is then the JVM's.
     */
    public static ChildJvm start(List<String> launcher, Class<?> mainClass, List<String> jvmOptions, String... args)
            throws IOException {
        List<String> command = new ArrayList<>(launcher);
        command.add(javaExecutable());
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        for (Map.Entry<Object, Object> property : System.getProperties().entrySet()) {
            String key = String.valueOf(property.getKey());
            if (INHERITED_PROPERTY_PREFIXES.stream().anyMatch(key::startsWith)) {
                command.add("-D" + key + '=' + property.getValue());
            }
        }
        command.addAll(jvmOptions);
        command.add(mainClass.getName());
        command.addAll(Arrays.asList(args));

        Path directory = Files.createTempDirectory("idts-child-" + mainClass.getSimpleName() + '-');
        Path stdout = directory.resolve("stdout.txt");
        Path stderr = directory.resolve("stderr.txt");
        Files.write(directory.resolve("command.txt"), command, StandardCharsets.UTF_8);
        ProcessBuilder builder = new ProcessBuilder(command)
                .redirectError(ProcessBuilder.Redirect.to(stderr.toFile()))
                .redirectOutput(ProcessBuilder.Redirect.PIPE)
                .redirectInput(ProcessBuilder.Redirect.PIPE);
        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            deleteQuietly(directory);
            throw e;
        }
        return new ChildJvm(mainClass.getSimpleName(), process, directory, stdout, stderr);
    }

    /** The {@code java} launcher of this JVM. */
    static String javaExecutable() {
        String command = ProcessHandle.current().info().command().orElse(null);
        if (command != null && new File(command).canExecute()) {
            return command;
        }
        return Paths.get(System.getProperty("java.home"), "bin", "java").toString();
    }

    /**
     * For the child's {@code main}: blocks until the parent closes this process's stdin, which {@link #close()} and
     * {@link #closeStdinAndWait} do, so the child can shut down cleanly instead of being killed. Also returns if the
     * parent died.
     */
    public static void awaitStdinClosed() {
        try {
            byte[] buffer = new byte[256];
            while (System.in.read(buffer) >= 0) {
                // Nothing is sent on stdin; just wait for its end.
            }
        } catch (IOException e) {
            // The parent is gone.
        }
    }

    private void pumpStdout() {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(process.getInputStream(),
                StandardCharsets.UTF_8));
             Writer file = Files.newBufferedWriter(stdoutFile, StandardCharsets.UTF_8)) {
            String line;
            while ((line = in.readLine()) != null) {
                file.write(line);
                file.write('\n');
                file.flush();
                synchronized (stdoutLines) {
                    stdoutLines.add(line);
                    stdoutLines.notifyAll();
                }
            }
        } catch (IOException e) {
            // The process is gone.
        } finally {
            synchronized (stdoutLines) {
                stdoutEnded = true;
                stdoutLines.notifyAll();
            }
        }
    }

    /** The process id. */
    public long pid() {
        return process.pid();
    }

    /** The process, e.g. for {@link Process#onExit()}. */
    public Process process() {
        return process;
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /**
     * Waits for a stdout line equal to {@code line} (or starting with it followed by a space) and returns it.
     *
     * @throws TimeoutException if none came within {@code timeout} (a guard against hangs)
     * @throws IllegalStateException if the process ended without printing it; with its output
     */
    public String awaitLine(String line, Duration timeout) throws TimeoutException, InterruptedException {
        return awaitLine(l -> l.equals(line) || l.startsWith(line + ' '), timeout);
    }

    /** Waits for a stdout line {@code matcher} accepts, searching from the first line. */
    public String awaitLine(Predicate<String> matcher, Duration timeout)
            throws TimeoutException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        int next = 0;
        synchronized (stdoutLines) {
            for (;;) {
                for (; next < stdoutLines.size(); next++) {
                    if (matcher.test(stdoutLines.get(next))) {
                        return stdoutLines.get(next);
                    }
                }
                if (stdoutEnded) {
                    keepFiles = true;
                    throw new IllegalStateException(this + " ended its output without the awaited line; "
                            + describeOutput());
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    keepFiles = true;
                    throw new TimeoutException(this + " printed no awaited line within " + timeout + "; "
                            + describeOutput());
                }
                TimeUnit.NANOSECONDS.timedWait(stdoutLines, left);
            }
        }
    }

    /** Every stdout line so far. */
    public List<String> stdoutLines() {
        synchronized (stdoutLines) {
            return Collections.unmodifiableList(new ArrayList<>(stdoutLines));
        }
    }

    /** Everything the process wrote to stderr so far. */
    public String stderr() {
        try {
            return Files.exists(stderrFile) ? Files.readString(stderrFile, StandardCharsets.UTF_8) : "";
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Where the output files are (kept after {@link #close()} if the process failed). */
    public Path directory() {
        return directory;
    }

    /** Kills the process with {@code SIGKILL} ({@code kill -9}) and waits for it to be gone. */
    public void destroyForcibly() throws InterruptedException {
        process.destroyForcibly();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            throw new IllegalStateException(this + " survived SIGKILL for 60 s");
        }
    }

    /**
     * Closes the process's stdin and waits for it to exit.
     *
     * @return its exit status
     * @throws TimeoutException if it did not exit within {@code timeout}
     */
    public int closeStdinAndWait(Duration timeout) throws InterruptedException, TimeoutException {
        closeStdin();
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            keepFiles = true;
            throw new TimeoutException(this + " did not exit within " + timeout + " after its stdin closed; "
                    + describeOutput());
        }
        stdoutPumpJoin();
        return process.exitValue();
    }

    private void closeStdin() {
        try {
            OutputStream stdin = process.getOutputStream();
            stdin.close();
        } catch (IOException e) {
            // Already gone.
        }
    }

    private void stdoutPumpJoin() throws InterruptedException {
        stdoutPump.join(TimeUnit.SECONDS.toMillis(10));
    }

    /** The last lines of stdout and stderr, for failure messages. */
    public String describeOutput() {
        List<String> out = stdoutLines();
        List<String> err = Arrays.asList(stderr().split("\n"));
        return "files in " + directory + System.lineSeparator() + "--- stdout (last lines) ---"
                + System.lineSeparator() + String.join(System.lineSeparator(), tail(out))
                + System.lineSeparator() + "--- stderr (last lines) ---" + System.lineSeparator()
                + String.join(System.lineSeparator(), tail(err));
    }

    private static List<String> tail(List<String> lines) {
        return lines.subList(Math.max(0, lines.size() - TAIL_LINES), lines.size());
    }

    /** Keeps the output files after {@link #close()}, e.g. because the test failed. */
    public void keepFiles() {
        keepFiles = true;
    }

    /**
     * Ends the process if it still runs (stdin closed, then {@code SIGKILL} after a few seconds) and deletes the
     * output files, unless it exited with a non-zero status (other than from {@code SIGKILL}) or
     * {@link #keepFiles()} was called.
     */
    @Override
    public void close() {
        try {
            if (process.isAlive()) {
                closeStdin();
                if (!process.waitFor(POLITE_EXIT_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
                    keepFiles = true;
                    process.destroyForcibly();
                    process.waitFor(60, TimeUnit.SECONDS);
                }
            }
            stdoutPumpJoin();
            if (!process.isAlive()) {
                int status = process.exitValue();
                if (status != 0 && status != 137) {
                    keepFiles = true;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            keepFiles = true;
        } finally {
            if (process.isAlive()) {
                process.destroyForcibly();
            }
            closeStdin();
            if (!keepFiles) {
                deleteQuietly(directory);
            }
        }
    }

    private static void deleteQuietly(Path directory) {
        try (var files = Files.list(directory)) {
            for (Path file : (Iterable<Path>) files::iterator) {
                Files.deleteIfExists(file);
            }
            Files.deleteIfExists(directory);
        } catch (IOException e) {
            // Left in the temporary directory.
        }
    }

    @Override
    public String toString() {
        return "ChildJvm(" + name + ", pid " + process.pid() + ')';
    }
}
