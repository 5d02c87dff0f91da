package io.idts.microbench;

import io.aeron.Aeron;
import io.aeron.FragmentAssembler;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import io.aeron.logbuffer.FragmentHandler;
import io.aeron.logbuffer.FrameDescriptor;
import io.aeron.logbuffer.Header;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.concurrent.TimeUnit;

/**
 * Aeron IPC ({@code aeron:ipc}) between the two processes, the outside reference: a media driver embedded in the
 * benchmark's process (shared threading mode, Aeron's default idle strategy: it only manages the streams here), and
 * in each process one busy-spinning thread that does the messaging, as an event loop does for Netty.
 *
 * <p>Streams: the client publishes pings on {@value #ECHO_STREAM} and one-way traffic on {@value #SINK_STREAM}; the
 * server echoes every ping, whole (reassembled), on {@value #REPLY_STREAM}, and its fragment handler reads every byte
 * of the sink stream ({@link Consumer}), or only counts them with the {@code drop} receiver.
 */
final class AeronIpc {

    /** The channel of every stream; system property {@code idts.bench.aeronChannel} overrides it (both sides). */
    static final String CHANNEL = System.getProperty("idts.bench.aeronChannel", "aeron:ipc");
    static final int ECHO_STREAM = 1001;
    static final int SINK_STREAM = 1002;
    static final int REPLY_STREAM = 1003;

    private AeronIpc() {
    }

    /** An Aeron directory of this process: in {@code /dev/shm} when there is one, as Aeron does by default. */
    static String newDirectory() {
        Path shm = Paths.get("/dev/shm");
        Path base = Files.isDirectory(shm) && Files.isWritable(shm) ? shm
                : Paths.get(System.getProperty("java.io.tmpdir"));
        return base.resolve("idts-bench-aeron-" + ProcessHandle.current().pid()).toString();
    }

    /** Aeron's Agrona uses jdk.internal.misc.Unsafe: the JVM must export it (Java 17+). */
    static void checkAccess() {
        if (!Object.class.getModule().isExported("jdk.internal.misc", AeronIpc.class.getModule())) {
            throw new IllegalStateException("Aeron needs the JVM option --add-exports "
                    + "java.base/jdk.internal.misc=ALL-UNNAMED (microbench/bench sets it), or leave aeron-ipc out "
                    + "with transports=...");
        }
    }

    static MediaDriver launchDriver(String directory) {
        checkAccess();
        return MediaDriver.launch(new MediaDriver.Context()
                .aeronDirectoryName(directory)
                .threadingMode(ThreadingMode.SHARED)
                .dirDeleteOnStart(true)
                .dirDeleteOnShutdown(true)
                .printConfigurationOnStart(false)
                .warnIfDirectoryExists(false));
    }

    static Aeron connect(String directory) {
        return Aeron.connect(new Aeron.Context().aeronDirectoryName(directory));
    }

    static void awaitConnected(Publication publication, String what) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!publication.isConnected()) {
            if (System.nanoTime() - deadline > 0) {
                throw new IOException("Aeron: " + what + " found no subscriber within 30 s");
            }
            Thread.sleep(1);
        }
    }

    /** The benchmark's side: the media driver, and the client's publications and subscription. */
    static final class Client implements AutoCloseable {
        private final MediaDriver driver;
        private final Aeron aeron;
        private final Publication echo;
        private final Publication sink;
        private final Subscription reply;

        private Client(MediaDriver driver, Aeron aeron, Publication echo, Publication sink, Subscription reply) {
            this.driver = driver;
            this.aeron = aeron;
            this.echo = echo;
            this.sink = sink;
            this.reply = reply;
        }

        /**
         * Launches the driver in {@code directory}, then runs {@code startServer} (which must make the server
         * process connect to it) and connects.
         */
        static Client open(String directory, Runnable startServer) throws Exception {
            MediaDriver driver = launchDriver(directory);
            Aeron aeron = null;
            try {
                aeron = connect(directory);
                Publication echo = aeron.addPublication(CHANNEL, ECHO_STREAM);
                Publication sink = aeron.addPublication(CHANNEL, SINK_STREAM);
                Subscription reply = aeron.addSubscription(CHANNEL, REPLY_STREAM);
                startServer.run();
                awaitConnected(echo, "the ping publication");
                awaitConnected(sink, "the stream publication");
                return new Client(driver, aeron, echo, sink, reply);
            } catch (Exception | Error e) {
                CloseHelper.quietCloseAll(aeron, driver);
                throw e;
            }
        }

        Pings pings(int size) {
            Pings load = new Pings(size, echo, reply);
            load.thread.start();
            return load;
        }

        Streams stream(int size) {
            Streams load = new Streams(size, sink);
            load.thread.start();
            return load;
        }

        /** Closes the client; call after the server closed its side. */
        @Override
        public void close() {
            CloseHelper.quietCloseAll(echo, sink, reply, aeron, driver);
        }
    }

    private static UnsafeBuffer message(int size) {
        byte[] bytes = StreamChecksum.payload(size);
        UnsafeBuffer buffer = new UnsafeBuffer(ByteBuffer.allocateDirect(size));
        buffer.putBytes(0, bytes);
        return buffer;
    }

    /** Ping-pongs on one busy-spinning thread: offer the ping, poll until its echo is whole, record, again. */
    static final class Pings extends Load.Pings {
        final Thread thread;
        private final Publication echo;
        private final Subscription reply;
        private final UnsafeBuffer ping;
        private long sequence;
        private boolean replied;

        Pings(int size, Publication echo, Subscription reply) {
            super(size, 1);
            this.echo = echo;
            this.reply = reply;
            this.ping = message(size);
            thread = new Thread(this::run, "bench-aeron-ping");
            thread.setDaemon(true);
        }

        private void run() {
            FragmentHandler assembler = new FragmentAssembler(this::onReply);
            try {
                while (!stopping()) {
                    sequence++;
                    ping.putLong(0, sequence);
                    long sent = System.nanoTime();
                    offer(echo, ping, size, this, false);
                    replied = false;
                    long waitingSince = 0;
                    while (!replied) {
                        if (reply.poll(assembler, 1) == 0) {
                            Thread.onSpinWait();
                            if (stopping()) {
                                if (waitingSince == 0) {
                                    waitingSince = System.nanoTime();
                                } else if (System.nanoTime() - waitingSince > TimeUnit.SECONDS.toNanos(10)) {
                                    throw new IOException("Aeron: no echo of ping " + sequence + " in 10 s");
                                }
                            }
                        }
                    }
                    record(System.nanoTime() - sent);
                }
            } catch (Throwable t) {
                fail(t);
            } finally {
                partyStopped();
            }
        }

        private void onReply(DirectBuffer buffer, int offset, int length, io.aeron.logbuffer.Header header) {
            if (length != size || buffer.getLong(offset) != sequence) {
                throw new IllegalStateException("Aeron: echo of " + length + " bytes, ping "
                        + buffer.getLong(offset) + ", for ping " + sequence + " of " + size + " bytes");
            }
            replied = true;
        }
    }

    /** One-way stream on one busy-spinning thread: offer, and spin while Aeron applies back pressure. */
    static final class Streams extends Load.Stream {
        final Thread thread;
        private final Publication sink;
        private final UnsafeBuffer data;

        Streams(int size, Publication sink) {
            super(size, 1);
            this.sink = sink;
            this.data = message(size);
            thread = new Thread(this::run, "bench-aeron-stream");
            thread.setDaemon(true);
        }

        private void run() {
            try {
                while (!stopping()) {
                    if (offer(sink, data, size, this, true)) {
                        progressed(size);
                    }
                }
            } catch (Throwable t) {
                fail(t);
            } finally {
                partyStopped();
            }
        }
    }

    /**
     * Offers until the publication takes the message, spinning while Aeron applies back pressure.
     *
     * @param giveUpOnStop whether to give up (and return false) once the load is stopping: a stream's last message
     *                     need not go; a ping must, or its echo never comes
     */
    private static boolean offer(Publication publication, DirectBuffer buffer, int length, Load load,
                                 boolean giveUpOnStop) throws IOException {
        long since = 0;
        for (;;) {
            long result = publication.offer(buffer, 0, length);
            if (result > 0) {
                return true;
            }
            if (result == Publication.CLOSED || result == Publication.MAX_POSITION_EXCEEDED) {
                throw new IOException("Aeron: offer failed with " + Publication.errorString(result));
            }
            if (load.stopping()) {
                if (giveUpOnStop) {
                    return false;
                }
                if (since == 0) {
                    since = System.nanoTime();
                } else if (System.nanoTime() - since > TimeUnit.SECONDS.toNanos(10)) {
                    throw new IOException("Aeron: offer refused for 10 s: " + Publication.errorString(result));
                }
            }
            Thread.onSpinWait();
        }
    }

    /** The server's side: echoes pings and counts the stream, on one busy-spinning thread. */
    static final class Server implements AutoCloseable {
        private final Aeron aeron;
        private final Subscription echo;
        private final Subscription sink;
        private final Publication reply;
        private final Thread thread;
        private volatile boolean running = true;

        Server(String directory) throws IOException, InterruptedException {
            aeron = connect(directory);
            try {
                echo = aeron.addSubscription(CHANNEL, ECHO_STREAM);
                sink = aeron.addSubscription(CHANNEL, SINK_STREAM);
                reply = aeron.addPublication(CHANNEL, REPLY_STREAM);
                awaitConnected(reply, "the echo publication");
            } catch (Exception | Error e) {
                aeron.close();
                throw e;
            }
            thread = new Thread(this::run, "bench-aeron-server");
            thread.setDaemon(true);
            thread.start();
        }

        private void run() {
            FragmentHandler echoer = new FragmentAssembler((buffer, offset, length, header) -> {
                while (reply.offer(buffer, offset, length) < 0) {
                    if (!running) {
                        return;
                    }
                    Thread.onSpinWait();
                }
            });
            FragmentHandler counter = (buffer, offset, length, header) -> ServerHandlers.countSunk(length);
            Consumer consumer = new Consumer();
            while (running) {
                FragmentHandler receiver = ServerHandlers.receiver() == ServerHandlers.Receiver.DROP ? counter
                        : consumer;
                int work = echo.poll(echoer, 16) + sink.poll(receiver, 256);
                if (work == 0) {
                    Thread.onSpinWait();
                }
            }
        }

        /**
         * The consuming receiver: reads every byte of every fragment as it comes (Aeron's {@code getLong}, native
         * order), and at the end of every message compares the checksum of the message with that of the payload of
         * its size: every message is one write of the sender.
         */
        static final class Consumer implements FragmentHandler {
            private final StreamChecksum checksum = new StreamChecksum(ByteOrder.nativeOrder());
            private StreamChecksum.Expected expected;
            /** Whether this handler saw the beginning of the message whose fragments come now. */
            private boolean begun;

            @Override
            public void onFragment(DirectBuffer buffer, int offset, int length, Header header) {
                ServerHandlers.countSunk(length);
                byte flags = header.flags();
                if ((flags & FrameDescriptor.BEGIN_FRAG_FLAG) != 0) {
                    checksum.reset();
                    begun = true;
                }
                checksum.update(buffer, offset, length);
                if ((flags & FrameDescriptor.END_FRAG_FLAG) != 0 && begun) {
                    begun = false;
                    long n = checksum.bytes();
                    if (n % 8 != 0) {
                        return; // the benchmark's writes are all multiples of 8 bytes
                    }
                    if (expected == null || expected.size != n) {
                        expected = new StreamChecksum.Expected((int) n, ByteOrder.nativeOrder());
                    }
                    long value = checksum.value();
                    long want = expected.value(n);
                    if (value == want) {
                        ServerHandlers.countChecked(n);
                    } else {
                        ServerHandlers.mismatch("on Aeron, in a message of " + n + " bytes", n, value, want);
                    }
                }
            }
        }

        @Override
        public void close() throws InterruptedException {
            running = false;
            thread.join(10_000);
            CloseHelper.quietCloseAll(echo, sink, reply, aeron);
        }
    }
}
