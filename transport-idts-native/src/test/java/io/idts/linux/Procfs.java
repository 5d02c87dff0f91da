package io.idts.linux;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads what the kernel reports about this process, to check the bindings independently of them. */
final class Procfs {

    private Procfs() {
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
