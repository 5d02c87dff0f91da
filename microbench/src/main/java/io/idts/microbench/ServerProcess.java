package io.idts.microbench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** The child JVM that runs {@link BenchServer}, and the line protocol that drives it. */
final class ServerProcess implements AutoCloseable {

    /** What the server reported at one moment; {@code atNanos} is this process's clock, mid-way of the request. */
    static final class Stat {
        final long sinkBytes;
        final long cpuNanos;
        final int openChannels;
        /** Bytes whose checksum the server's receivers compared with the bytes sent, and found equal. */
        final long checkedBytes;
        /** Checksums that did not match. */
        final long mismatches;
        /** Bytes the closed IDTS sink connections read as zero-copy views, and as copies. */
        final long viewBytes;
        final long copiedBytes;
        final long atNanos;

        Stat(long sinkBytes, long cpuNanos, int openChannels, long checkedBytes, long mismatches, long viewBytes,
             long copiedBytes, long atNanos) {
            this.sinkBytes = sinkBytes;
            this.cpuNanos = cpuNanos;
            this.openChannels = openChannels;
            this.checkedBytes = checkedBytes;
            this.mismatches = mismatches;
            this.viewBytes = viewBytes;
            this.copiedBytes = copiedBytes;
            this.atNanos = atNanos;
        }
    }

    private static final String EOF = "\u0000eof";

    private final Process process;
    private final OutputStream commands;
    private final BlockingQueue<String> answers = new LinkedBlockingQueue<>();
    final long pid;

    private ServerProcess(Process process, long pid) {
        this.process = process;
        this.commands = process.getOutputStream();
        this.pid = pid;
    }

    /**
     * Starts the server in a child JVM with this JVM's class path and its memory, GC and system-property options
     * (so a test's leak-detection level, or the benchmark's JVM flags, apply to both sides alike).
     */
    static ServerProcess start(PrintStream log, List<String> extraJvmArgs) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>();
        command.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
        for (String arg : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (arg.startsWith("-X") || arg.startsWith("-D") || arg.startsWith("--add-opens")
                    || arg.startsWith("--add-exports")) {
                if (!arg.startsWith("-Xrunjdwp") && !arg.startsWith("-XX:StartFlightRecording")
                        && !arg.startsWith("-XX:FlightRecorderOptions")) {
                    command.add(arg);
                }
            }
        }
        command.addAll(extraJvmArgs);
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(BenchServer.class.getName());
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        ServerProcess server = new ServerProcess(process, process.pid());
        Thread pump = new Thread(() -> server.pump(log), "bench-server-output");
        pump.setDaemon(true);
        pump.start();
        String hello = server.answers.poll(60, TimeUnit.SECONDS);
        if (hello == null || !hello.startsWith("@hello")) {
            process.destroyForcibly();
            throw new IOException("the benchmark's server process did not start: "
                    + (hello == null ? "no answer within 60 s" : hello));
        }
        return server;
    }

    private void pump(PrintStream log) {
        try (BufferedReader reader = new BufferedReader(
                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                if (line.startsWith("@")) {
                    answers.add(line);
                } else {
                    log.println("[server] " + line);
                }
            }
        } catch (IOException | RuntimeException e) {
            log.println("[server] output lost: " + e);
        }
        answers.add(EOF);
    }

    /** Sends one command and returns the answer's words after the leading one; fails on {@code @error}. */
    synchronized String[] request(String line, long timeoutSeconds) throws IOException, InterruptedException {
        answers.clear();
        commands.write((line + "\n").getBytes(StandardCharsets.UTF_8));
        commands.flush();
        String answer = answers.poll(timeoutSeconds, TimeUnit.SECONDS);
        if (answer == null) {
            throw new IOException("the server did not answer '" + line + "' within " + timeoutSeconds + " s");
        }
        if (answer.equals(EOF)) {
            throw new IOException("the server process exited (status " + process.waitFor() + ") on '" + line + "'");
        }
        if (answer.startsWith("@error")) {
            throw new IOException("the server failed '" + line + "': " + answer.substring(6).trim());
        }
        String[] words = answer.split(" ");
        String[] rest = new String[words.length - 1];
        System.arraycopy(words, 1, rest, 0, rest.length);
        return rest;
    }

    Stat stat() throws IOException, InterruptedException {
        long before = System.nanoTime();
        String[] w = request("stat", 30);
        long after = System.nanoTime();
        return new Stat(Long.parseLong(w[0]), Long.parseLong(w[1]), Integer.parseInt(w[2]), Long.parseLong(w[3]),
                Long.parseLong(w[4]), Long.parseLong(w[5]), Long.parseLong(w[6]), (before + after) >>> 1);
    }

    /** Waits until the server has no connection open (the client closed them), at most {@code seconds}. */
    Stat awaitNoConnections(int seconds) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        Stat stat;
        while ((stat = stat()).openChannels > 0) {
            if (System.nanoTime() - deadline > 0) {
                throw new IOException("the server still has " + stat.openChannels + " connections open "
                        + seconds + " s after the client closed them all");
            }
            Thread.sleep(5);
        }
        return stat;
    }

    /** Closes the server's standard input, its cue to exit, and waits for it; kills it if it lingers. */
    @Override
    public void close() {
        try {
            commands.close();
        } catch (IOException ignored) {
            // It is gone already.
        }
        try {
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
