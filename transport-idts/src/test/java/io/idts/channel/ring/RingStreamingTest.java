package io.idts.channel.ring;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.zip.CRC32;

import static io.idts.channel.ring.RegionLayout.FLAG_WAITING_FOR_DATA;
import static io.idts.channel.ring.RegionLayout.FLAG_WAITING_FOR_SPACE;
import static io.idts.channel.ring.RegionLayout.MIN_RING_CAPACITY;
import static io.idts.channel.ring.RegionLayout.STATE_OPEN;
import static io.idts.channel.ring.RegionLayout.STATE_OUTPUT_SHUTDOWN;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two threads stream 256 MiB through a 64 KiB ring (and 64 MiB through a 4 KiB one, whose 64-byte slices make it the
 * slowest per byte and the richest in handshakes) with random write and read sizes, sleeping only
 * through the notification-suppression handshake, as the event loops will: a reader that finds the ring empty
 * prepares to sleep and then waits for a notification, a writer that finds it full likewise, and each side notifies
 * only when the other set its flag. A sixteenth of the writes are claims (contiguous room in one slice, which may
 * leave the current slice early; a quarter of them aborted, publishing an empty END_OF_SLICE alone). Now and then a
 * side holds back between its last look and its flag so that the other side's publication lands in that window. A lost wakeup leaves a thread waiting for a notification that never
 * comes: each wait has a long but finite limit, and the test asserts that no wait ever reached it.
 */
class RingStreamingTest {

    /** Far longer than any legitimate wait; a wait that lasts this long was a lost wakeup. */
    private static final long WAIT_LIMIT_NANOS = TimeUnit.SECONDS.toNanos(10);
    /** The byte at stream position p is PATTERN[p % PERIOD]: a prime, so no ring offset error can line up with it. */
    private static final int PERIOD = 1_000_003;
    /** Sizes of writes and reads go up to 1.5 times the largest ring tested. */
    private static final int MAX_SIZE = 96 * 1024;

    /** One direction's notification, as an eventfd: a counter the notifier adds to and the waiter takes. */
    private static final class Notification {
        private final AtomicLong count = new AtomicLong();
        private volatile Thread waiter;
        private volatile boolean stopped;
        long sent;
        long waits;
        long waitsThatTimedOut;

        void signal() {
            sent++;
            count.incrementAndGet();
            LockSupport.unpark(waiter);
        }

        void await() {
            waits++;
            long deadline = System.nanoTime() + WAIT_LIMIT_NANOS;
            while (count.getAndSet(0) == 0 && !stopped) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    waitsThatTimedOut++;
                    return;
                }
                LockSupport.parkNanos(this, left);
            }
        }
    }

    @ParameterizedTest(name = "ring {0} of {1} bytes, {2} MiB")
    // The smallest ring: the most handshakes per byte (some 15,000 sleeps each way in 64 MiB).
    @CsvSource({"0, 65536, 256", "1, 65536, 256", "0, 4096, 64"})
    @Timeout(value = 600, unit = TimeUnit.SECONDS)
    void streams(int ring, int capacity, int mebibytes) throws Exception {
        final long total = (long) mebibytes << 20;
        long seed = System.nanoTime();
        CanaryRegion r = ring == 0
                ? new CanaryRegion(capacity, MIN_RING_CAPACITY) : new CanaryRegion(MIN_RING_CAPACITY, capacity);
        RingWriter writer = r.writer(ring);
        RingReader reader = r.reader(ring);
        writer.setState(STATE_OPEN);
        ByteBuf pattern = untrackedBuffer(PERIOD + MAX_SIZE);
        SplittableRandom patternRandom = new SplittableRandom(seed);
        for (int i = 0; i < PERIOD; i++) {
            pattern.writeByte(patternRandom.nextInt());
        }
        pattern.writeBytes(pattern, 0, MAX_SIZE);

        Notification toReader = new Notification();
        Notification toWriter = new Notification();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        CRC32 writtenCrc = new CRC32();
        CRC32 readCrc = new CRC32();
        long[] read = new long[1];

        Thread writerThread = new Thread(() -> {
            SplittableRandom random = new SplittableRandom(seed + 1);
            long position = 0;
            try {
                while (position < total && failure.get() == null) {
                    int n;
                    if (random.nextInt(16) == 0) {
                        // A claim, as IdtsClaimEncoder and file regions make: contiguous room in one slice, which
                        // may leave the current slice early. A quarter are aborted: nothing written, but the slice
                        // may have been left, and an empty END_OF_SLICE alone gets published.
                        int wanted = 1 + random.nextInt(writer.sliceSize());
                        int room = writer.contiguousWritableBytes(wanted);
                        n = 0;
                        if (room > 0) {
                            if (random.nextInt(4) == 0) {
                                if (writer.publish()) {
                                    toReader.signal();
                                }
                                continue;
                            }
                            n = (int) Math.min(Math.min(room, wanted), total - position);
                            pattern.getBytes((int) (position % PERIOD), writer.claimMemory().slice(writer.index(), n));
                            writer.commit(n);
                        }
                    } else {
                        int length = (int) Math.min(randomSize(random), total - position);
                        n = writer.write(pattern, (int) (position % PERIOD), length);
                    }
                    if (n > 0) {
                        writtenCrc.update(pattern.nioBuffer((int) (position % PERIOD), n));
                        position += n;
                        if (random.nextInt(4) == 0) {
                            continue; // batch: publish later, with more
                        }
                        if (random.nextInt(256) == 0) {
                            // Widen the race: hold the bytes back until the reader is (probably) asleep.
                            waitBriefly(() -> (r.getInt(RegionLayout.consumerFlagsOffset(ring))
                                    & FLAG_WAITING_FOR_DATA) != 0);
                        }
                        if (writer.publish()) {
                            toReader.signal();
                        }
                        continue;
                    }
                    if (writer.publish()) {
                        toReader.signal();
                    }
                    if (random.nextInt(8) == 0) {
                        // Widen the race: let the reader free space (return a slice, or read descriptors) after we
                        // found the ring full, before we flag.
                        long returned = r.getLong(RegionLayout.returnPositionOffset(ring));
                        long consumed = r.getLong(RegionLayout.consumerPositionOffset(ring));
                        waitBriefly(() -> r.getLong(RegionLayout.returnPositionOffset(ring)) != returned
                                || r.getLong(RegionLayout.consumerPositionOffset(ring)) != consumed);
                    }
                    if (!writer.prepareToWaitForSpace()) {
                        toWriter.await();
                        writer.clearWaitingForSpace();
                    }
                }
                if (writer.publish()) {
                    toReader.signal();
                }
                assertTrue(writer.setState(STATE_OUTPUT_SHUTDOWN));
                toReader.signal(); // a state change always notifies
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
                toReader.stopped = true;
                LockSupport.unpark(toReader.waiter);
            }
        }, "ring-writer");

        Thread readerThread = new Thread(() -> {
            SplittableRandom random = new SplittableRandom(seed + 2);
            ByteBuf dst = untrackedBuffer(MAX_SIZE);
            long position = 0;
            try {
                while (failure.get() == null) {
                    if (reader.readableBytes() == 0) {
                        if (reader.isEndOfStream()) {
                            break;
                        }
                        // As IdtsChannel.poll does: looking for data may have read descriptors and finished a slice
                        // (an empty END_OF_SLICE alone); the writer may be waiting for them.
                        if (reader.hasUnreleased() && reader.release()) {
                            toWriter.signal();
                        }
                        if (random.nextInt(8) == 0) {
                            // Widen the race: let the writer publish after we found the ring empty, before we flag.
                            long seen = r.getLong(RegionLayout.producerPositionOffset(ring));
                            waitBriefly(() -> r.getLong(RegionLayout.producerPositionOffset(ring)) != seen);
                        }
                        if (!reader.prepareToSleep()) {
                            toReader.await();
                            reader.clearWaitingForData();
                        }
                        continue;
                    }
                    int n = reader.read(dst.clear(), randomSize(random));
                    assertTrue(n > 0);
                    int expectedIndex = (int) (position % PERIOD);
                    if (!ByteBufUtil.equals(dst, 0, pattern, expectedIndex, n)) {
                        for (int i = 0; i < n; i++) {
                            assertEquals(pattern.getByte(expectedIndex + i), dst.getByte(i),
                                    "stream byte " + (position + i) + " (seed " + seed + ')');
                        }
                    }
                    readCrc.update(dst.nioBuffer(0, n));
                    position += n;
                    if (random.nextInt(256) == 0) {
                        // Widen the race: hold the space back until the writer is (probably) waiting for it.
                        waitBriefly(() -> (r.getInt(RegionLayout.producerFlagsOffset(ring))
                                & FLAG_WAITING_FOR_SPACE) != 0);
                    }
                    if (reader.release()) {
                        toWriter.signal();
                    }
                }
                read[0] = position;
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
                toWriter.stopped = true;
                LockSupport.unpark(toWriter.waiter);
            }
        }, "ring-reader");

        toReader.waiter = readerThread;
        toWriter.waiter = writerThread;
        writerThread.setDaemon(true);
        readerThread.setDaemon(true);
        readerThread.start();
        writerThread.start();
        writerThread.join();
        readerThread.join();

        String stats = "seed " + seed + "; reader: " + toReader.waits + " sleeps, " + toReader.sent
                + " notifications received; writer: " + toWriter.waits + " waits for space, " + toWriter.sent
                + " notifications received";
        System.out.println("ring " + ring + " of " + capacity + " bytes, " + mebibytes + " MiB: " + stats);
        assertNull(failure.get(), stats);
        assertEquals(0, toReader.waitsThatTimedOut, "lost wakeups of the reader; " + stats);
        assertEquals(0, toWriter.waitsThatTimedOut, "lost wakeups of the writer; " + stats);
        assertEquals(total, read[0], stats);
        assertEquals(total, writer.position());
        assertEquals(total, reader.position());
        assertEquals(writtenCrc.getValue(), readCrc.getValue(), "CRC32 of the stream; " + stats);
        assertTrue(reader.isEndOfStream());
        // Both handshakes were exercised, or this test proved nothing about them.
        assertTrue(toReader.waits > 0 && toWriter.waits > 0, stats);
        r.assertUnchangedExcept(r.endpointRanges(ring));
    }

    /**
     * A direct buffer outside the leak detector: at the PARANOID level the build uses, every access to a tracked buffer
     * records a stack trace, which would slow this test a hundredfold and hide the handshake behind it.
     */
    private static ByteBuf untrackedBuffer(int capacity) {
        return Unpooled.wrappedBuffer(ByteBuffer.allocateDirect(capacity)).clear();
    }

    /** Mostly small sizes, some medium ones, some beyond the ring's capacity. */
    private static int randomSize(SplittableRandom random) {
        int kind = random.nextInt(10);
        if (kind < 5) {
            return 1 + random.nextInt(64);
        }
        if (kind < 8) {
            return 1 + random.nextInt(8192);
        }
        return 1 + random.nextInt(MAX_SIZE);
    }

    /** Yields until the condition holds, for a few thousand rounds at most: a nudge for the scheduler, not a wait. */
    private static void waitBriefly(BooleanSupplier condition) {
        for (int i = 0; i < 10_000 && !condition.getAsBoolean(); i++) {
            Thread.yield();
        }
    }
}
