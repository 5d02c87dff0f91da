package io.idts.linux;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/** Reads what the kernel reports about this process, to check the bindings independently of them. */
final class Procfs {

    private Procfs() {
    }

    /**
     * Every open descriptor of this process and what its {@code /proc/self/fd} link names, by number.
     *
     * @throws IllegalStateException if {@code /proc/self/fd} cannot be listed
     */
    static Map<Integer, String> openFds() {
        String[] entries = new File("/proc/self/fd").list();
        if (entries == null) {
            throw new IllegalStateException("/proc/self/fd cannot be listed");
        }
        Map<Integer, String> fds = new TreeMap<>();
        for (String entry : entries) {
            int fd = Integer.parseInt(entry);
            fds.put(fd, FileDescriptors.describe(fd));
        }
        return fds;
    }

    /** The open-file flags of {@code fd}, from the octal "flags:" line of /proc/self/fdinfo/fd. */
    static int fdFlags(int fd) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/fdinfo/" + fd))) {
            if (line.startsWith("flags:")) {
                return Integer.parseInt(line.substring("flags:".length()).trim(), 8);
            }
        }
        throw new IOException("no flags in /proc/self/fdinfo/" + fd);
    }

    /** Whether close-on-exec is set: fdinfo reports it as O_CLOEXEC in the flags. */
    static boolean isCloseOnExec(int fd) throws IOException {
        return (fdFlags(fd) & 02000000) != 0;
    }

    static boolean isNonBlocking(int fd) throws IOException {
        return (fdFlags(fd) & 04000) != 0;
    }

    /** The real uid, from the "Uid:" line of /proc/self/status. */
    static int uid() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("Uid:")) {
                return Integer.parseInt(line.substring("Uid:".length()).trim().split("\\s+")[0]);
            }
        }
        throw new IOException("no Uid in /proc/self/status");
    }

    static int gid() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("Gid:")) {
                return Integer.parseInt(line.substring("Gid:".length()).trim().split("\\s+")[0]);
            }
        }
        throw new IOException("no Gid in /proc/self/status");
    }
}
