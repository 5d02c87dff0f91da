package io.idts.channel.host;

import com.sun.jna.Function;
import com.sun.jna.Platform;
import io.idts.channel.ChildJvm;
import io.idts.channel.IdtsAddress;
import io.idts.channel.ring.RegionLayout;
import io.idts.linux.FileDescriptors;
import io.idts.linux.MemFd;
import io.idts.linux.NotificationSocket;
import io.idts.linux.ReceivedMessage;
import io.idts.linux.SharedMapping;
import io.idts.linux.UnixDomainSocket;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The other process of {@link HostConnectionTest}: connects {@code count} times to the server at {@code args[0]}
 * through a raw host handshake and, on each connection, does its worst to the notifications the server sends it (issue
 * 14, item 1): it keeps a duplicate of the server's end of the notification socket pair (it made the pair), clears
 * {@code O_NONBLOCK} on every descriptor it shares with the server, fills the server's sending direction until the
 * kernel takes no more, never reads, asks to be woken ({@code WAITING_FOR_DATA}) and shuts its output down, which
 * makes the server close its side and notify. Prints {@code ATTACKED} when every connection is set up so, then holds
 * everything until stdin closes.
 */
public final class NotificationAttackerMain {

    private static final int F_GETFL = 3;
    private static final int F_SETFL = 4;
    private static final int O_NONBLOCK = 04000;
    private static final int CAPACITY = RegionLayout.MIN_RING_CAPACITY;
    private static final byte[] FILLER = new byte[4096];
    private static final int[] NO_FDS = new int[0];
    private static final long REPLY_TIMEOUT_NANOS = TimeUnit.SECONDS.toNanos(60);

    private NotificationAttackerMain() {
    }

    public static void main(String[] args) throws Exception {
        IdtsAddress server = IdtsAddress.parse(args[0]);
        int count = Integer.parseInt(args[1]);
        List<SharedMapping> mappings = new ArrayList<>();
        List<Integer> fds = new ArrayList<>();
        List<Runnable> triggers = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            triggers.add(attack(server, "attacker-" + i, mappings, fds));
        }
        // Only once every connection is set up: the server's loop may not be able to accept any more afterwards.
        for (Runnable trigger : triggers) {
            trigger.run();
        }
        System.out.println("ATTACKED");
        System.out.flush();
        ChildJvm.awaitStdinClosed();
        for (int fd : fds) {
            FileDescriptors.closeQuietly(fd);
        }
        for (SharedMapping mapping : mappings) {
            mapping.close();
        }
    }

    /** Sets a connection up for the attack; the trigger asks to be woken and shuts the output down. */
    private static Runnable attack(IdtsAddress server, String name, List<SharedMapping> mappings, List<Integer> fds)
            throws Exception {
        int socket = UnixDomainSocket.connect(server.abstractSocketName());
        fds.add(socket);
        long size = RegionLayout.regionSize(CAPACITY, CAPACITY);
        int memfd = MemFd.createSealed("idts:" + name, size);
        SharedMapping mapping = SharedMapping.map(memfd, size);
        mappings.add(mapping);
        ByteBuffer region = mapping.buffer();
        RegionLayout.initialize(region, CAPACITY, CAPACITY);
        int[] pair = NotificationSocket.createPair();
        int own = pair[0];
        int servers = pair[1];
        fds.add(own);
        // Kept: the server's end shares its open file with this duplicate.
        fds.add(servers);
        byte[] hello = HostHandshake.encodeHello(name);
        int[] helloFds = new int[HostHandshake.FD_COUNT];
        helloFds[HostHandshake.FD_REGION] = memfd;
        helloFds[HostHandshake.FD_NOTIFICATIONS] = servers;
        if (UnixDomainSocket.send(socket, hello, 0, hello.length, helloFds) != hello.length) {
            throw new IllegalStateException("HELLO not sent");
        }
        FileDescriptors.closeQuietly(memfd);
        awaitAccepted(socket);

        // The server's end and ours block from now on, as far as file status flags go.
        clearNonBlocking(servers);
        clearNonBlocking(own);
        // Fill what the server sends to us: from the duplicate of its end, until the kernel takes no more.
        while (UnixDomainSocket.send(servers, FILLER, 0, FILLER.length, NO_FDS) > 0) {
            // Never read: every later notification of the server finds the buffer full.
        }
        return () -> {
            trigger(region);
            try {
                NotificationSocket.signal(own);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        };
    }

    private static void trigger(ByteBuffer region) {
        RegionLayout.INT.setVolatile(region, RegionLayout.consumerFlagsOffset(RegionLayout.RING_ACCEPTOR_TO_CONNECTOR),
                RegionLayout.FLAG_WAITING_FOR_DATA);
        RegionLayout.INT.setRelease(region, RegionLayout.producerStateOffset(RegionLayout.RING_CONNECTOR_TO_ACCEPTOR),
                RegionLayout.STATE_OUTPUT_SHUTDOWN);
        VarHandle.fullFence();
    }

    private static void awaitAccepted(int socket) throws Exception {
        byte[] reply = new byte[1];
        long deadline = System.nanoTime() + REPLY_TIMEOUT_NANOS;
        while (System.nanoTime() < deadline) {
            ReceivedMessage message = UnixDomainSocket.receive(socket, reply, 0, 1, 0);
            if (message.bytes() > 0) {
                if (reply[0] != HostHandshake.ACCEPTED) {
                    throw new IllegalStateException("refused: " + HostHandshake.describeReply(reply[0]));
                }
                return;
            }
            if (message.bytes() == 0) {
                throw new IllegalStateException("the server hung up");
            }
            Thread.sleep(1);
        }
        throw new IllegalStateException("no reply within 60 s");
    }

    private static void clearNonBlocking(int fd) {
        Function fcntl = Function.getFunction(Platform.C_LIBRARY_NAME, "fcntl");
        int flags = fcntl.invokeInt(new Object[] { fd, F_GETFL, 0L });
        if (flags < 0 || fcntl.invokeInt(new Object[] { fd, F_SETFL, (long) (flags & ~O_NONBLOCK) }) < 0) {
            throw new IllegalStateException("fcntl failed on fd " + fd);
        }
    }
}
