package io.idts.channel;

import io.idts.linux.FileDescriptors;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What IDTS can leak besides buffers: file descriptors (sockets, eventfds, memfds, epoll) and shared mappings. Take a
 * {@link #snapshot()} before a test, shut the event loop groups down after it, then {@link #assertNoneLeaked}.
 */
public final class ProcessResources {

    /** How a memfd mapping of IDTS shows in {@code /proc/self/maps}. */
    public static final String MEMFD_MAPPING_MARKER = "/memfd:idts";
    private static final int SETTLE_ATTEMPTS = 100;
    private static final long SETTLE_PAUSE_MILLIS = 20;

    private static boolean warmedUp;

    private final int openCount;
    private final Map<Integer, String> fds;
    private final List<String> mappings;

    private ProcessResources(int openCount, Map<Integer, String> fds, List<String> mappings) {
        this.openCount = openCount;
        this.fds = fds;
        this.mappings = mappings;
    }

    /**
     * Checks that IDTS is available, then makes one connection and closes it, so that the classes, native libraries
     * and jar files that stay open for the life of the JVM are loaded before a test takes its {@link #snapshot()}.
     * Once per JVM.
     */
    public static synchronized void warmUpIdts() throws Exception {
        Idts.ensureAvailability();
        if (warmedUp) {
            return;
        }
        EventLoopGroup group = new IdtsEventLoopGroup(1);
        try {
            IdtsAddress address = IdtsAddress.of("warmup-" + ProcessHandle.current().pid() + '-' + System.nanoTime());
            Channel server = new ServerBootstrap().group(group).channel(IdtsServerChannel.class)
                    .childHandler(new EchoServerMain.EchoHandler()).bind(address).sync().channel();
            PatternReceiver receiver = new PatternReceiver(10_000);
            Channel client = new Bootstrap().group(group).channel(IdtsChannel.class)
                    .handler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ch.pipeline().addLast(new PatternSender(10_000, 1000, 1), receiver);
                        }
                    }).connect(address).sync().channel();
            receiver.done().get(30, TimeUnit.SECONDS);
            client.close().sync();
            server.close().sync();
        } finally {
            shutDown(group);
        }
        warmedUp = true;
    }

    /**
     * Shuts {@code group} down and waits (30 s at most) until it terminated. The quiet period is short but not zero:
     * with zero, Netty's {@code SingleThreadIoEventLoop} may end without calling {@code IoHandler.prepareToDestroy()}
     * (see {@code IdtsChannelTest.shutdownRequestedByATaskOfTheLoopClosesItsChannels}).
     *
     * @return whether it terminated
     */
    public static boolean shutDown(EventLoopGroup group) throws InterruptedException {
        return group.shutdownGracefully(100, 5000, TimeUnit.MILLISECONDS).await(30, TimeUnit.SECONDS);
    }

    /** This process's open descriptors now. */
    public static ProcessResources snapshot() {
        Map<Integer, String> fds = openFds();
        return new ProcessResources(FileDescriptors.openCount(), fds, idtsMappings());
    }

    /** The number of open descriptors, from {@link FileDescriptors#openCount()}. */
    public int openCount() {
        return openCount;
    }

    /**
     * Asserts that the open descriptor count is back to this snapshot's and that no IDTS memfd is mapped but those
     * mapped at the snapshot (normally none; an earlier test's leak, which failed that test, does not fail this one
     * too). A JVM may hold a descriptor for a moment (reading a class file), so a mismatch is re-read for up to two
     * seconds first; a leak stays. Fewer descriptors than at the snapshot is no leak: the snapshot itself may have
     * caught one the JVM held for a moment (it reads its cgroup's {@code memory.limit_in_bytes} now and then).
     */
    public void assertNoneLeaked(String when) {
        int now = FileDescriptors.openCount();
        List<String> newMappings = newMappings();
        for (int i = 0; i < SETTLE_ATTEMPTS && (now > openCount || !newMappings.isEmpty()); i++) {
            sleep();
            now = FileDescriptors.openCount();
            newMappings = newMappings();
        }
        if (now > openCount) {
            assertEquals(openCount, now, "open file descriptors " + when + "; before: " + fds + ", after: "
                    + openFds() + (newMappings.isEmpty() ? "" : "; IDTS memfd mappings left: " + newMappings));
        }
        assertTrue(newMappings.isEmpty(), "IDTS memfd mappings left " + when + ": " + newMappings);
    }

    /** The IDTS memfd mappings at the snapshot. */
    public List<String> mappings() {
        return mappings;
    }

    private List<String> newMappings() {
        List<String> now = idtsMappings();
        now.removeAll(mappings);
        return now;
    }

    /** The lines of {@code /proc/self/maps} that map an IDTS memfd. */
    public static List<String> idtsMappings() {
        try {
            return Files.readAllLines(Path.of("/proc/self/maps")).stream()
                    .filter(line -> line.contains(MEMFD_MAPPING_MARKER))
                    .collect(Collectors.toList());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Open descriptors and what they are, e.g. {@code 12=anon_inode:[eventfd]}. */
    public static Map<Integer, String> openFds() {
        Map<Integer, String> fds = new TreeMap<>();
        String[] entries = new File("/proc/self/fd").list();
        if (entries != null) {
            for (String entry : entries) {
                int fd = Integer.parseInt(entry);
                fds.put(fd, FileDescriptors.describe(fd));
            }
        }
        return fds;
    }

    private static void sleep() {
        try {
            Thread.sleep(SETTLE_PAUSE_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }
}
