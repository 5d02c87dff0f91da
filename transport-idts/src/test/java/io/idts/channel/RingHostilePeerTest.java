package io.idts.channel;

import io.idts.channel.RingCanaryTest.Region;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.util.ArrayList;
import java.util.List;

import static io.idts.channel.RegionLayout.FLAG_WAITING_FOR_DATA;
import static io.idts.channel.RegionLayout.FLAG_WAITING_FOR_SPACE;
import static io.idts.channel.RegionLayout.MIN_RING_CAPACITY;
import static io.idts.channel.RegionLayout.STATE_CLOSED;
import static io.idts.channel.RegionLayout.STATE_NEW;
import static io.idts.channel.RegionLayout.STATE_OPEN;
import static io.idts.channel.RegionLayout.STATE_OUTPUT_SHUTDOWN;
import static io.idts.channel.RingWriterTest.advance;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A peer that writes whatever it likes to its lines. Each test plays the peer by writing the region directly, then
 * checks that the endpoint under test throws {@link IdtsProtocolException} naming the field, that it wrote nothing
 * outside its own line (and, for a writer, its own data ring), and that every later call throws the same exception.
 */
class RingHostilePeerTest {

    private static final int CAP = MIN_RING_CAPACITY;
    /** The acceptor reads ring 0, produced by a (hostile) connector. */
    private static final int RX = 0;
    /** The acceptor writes ring 1, consumed by a (hostile) connector. */
    private static final int TX = 1;

    private final List<ByteBuf> buffers = new ArrayList<>();

    @AfterEach
    void releaseBuffers() {
        buffers.forEach(ByteBuf::release);
    }

    private ByteBuf buffer(int capacity) {
        ByteBuf buf = Unpooled.directBuffer(capacity, capacity);
        buffers.add(buf);
        return buf;
    }

    private ByteBuf filled(int length) {
        return buffer(length).writerIndex(length);
    }

    // ---- the reader, facing a hostile producer ----

    @Test
    void producerPositionAheadByCapacityPlusOne() {
        Region r = new Region(CAP, CAP);
        RingReader rd = r.reader(RX);
        r.putLong(RegionLayout.producerPositionOffset(RX), CAP + 1);
        assertReaderViolation(r, rd, rd::readableBytes, "producer position 0x1001 of ring 0",
                "4097 bytes past the consumer position 0x0", "beyond the ring capacity 4096");
    }

    @Test
    void producerPositionAheadOfTheReleasedPositionByMoreThanTheCapacity() throws Exception {
        // 100 bytes read but not released: the producer may not have reused their space yet.
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(RX);
        RingReader rd = r.reader(RX);
        w.write(filled(100), 0, 100);
        w.publish();
        assertEquals(100, rd.readableBytes());
        assertEquals(100, rd.read(buffer(100), 100));
        r.putLong(RegionLayout.producerPositionOffset(RX), CAP + 50);
        assertReaderViolation(r, rd, rd::readableBytes, "producer position 0x1032",
                "4146 bytes past the consumer position 0x0", "capacity 4096");
    }

    @Test
    void producerPositionExactlyACapacityAheadIsAFullRing() throws Exception {
        // The bound itself is legal, also when the full ring wraps: exactly the ring is read, nothing around it.
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(RX);
        RingReader rd = r.reader(RX);
        advance(w, rd, CAP - 7);
        r.snapshot();
        r.putLong(RegionLayout.producerPositionOffset(RX), 2L * CAP - 7);
        assertEquals(CAP, rd.readableBytes());
        ByteBuf dst = buffer(CAP + 1);
        assertEquals(CAP, rd.read(dst, CAP + 1));
        for (int i = 0; i < CAP; i++) {
            assertEquals(r.dataByte(RX, (CAP - 7 + i) & CAP - 1), dst.getByte(i));
        }
        rd.release();
        r.assertUnchangedExcept(RegionLayout.producerLineOffset(RX), RegionLayout.LINE_SIZE,
                RegionLayout.consumerLineOffset(RX), RegionLayout.LINE_SIZE);
    }

    @Test
    void producerPositionBehindTheConsumer() throws Exception {
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(RX);
        RingReader rd = r.reader(RX);
        advance(w, rd, 100);
        r.putLong(RegionLayout.producerPositionOffset(RX), 50);
        assertReaderViolation(r, rd, rd::readableBytes, "producer position 0x32 of ring 0",
                "behind the consumer position 0x64");
    }

    @Test
    void producerPositionGoingBackwards() throws Exception {
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(RX);
        RingReader rd = r.reader(RX);
        w.write(filled(100), 0, 100);
        w.publish();
        assertEquals(100, rd.readableBytes());
        assertEquals(10, rd.read(buffer(10), 10));
        r.putLong(RegionLayout.producerPositionOffset(RX), 60);
        assertReaderViolation(r, rd, rd::readableBytes, "producer position 0x3c of ring 0",
                "went backwards from 0x64");
    }

    @Test
    void producerPositionExtremeValues() {
        for (long position : new long[] {-1L, Long.MIN_VALUE, Long.MAX_VALUE, 1L << 32}) {
            Region r = new Region(CAP, CAP);
            RingReader rd = r.reader(RX);
            r.putLong(RegionLayout.producerPositionOffset(RX), position);
            assertReaderViolation(r, rd, rd::readableBytes,
                    "producer position 0x" + Long.toHexString(position) + " of ring 0");
        }
    }

    @Test
    void producerPositionSeenWhilePreparingToSleep() {
        // The re-read after the fence is validated too: a bad value there must not become a sleep.
        Region r = new Region(CAP, CAP);
        RingReader rd = r.reader(RX);
        r.putLong(RegionLayout.producerPositionOffset(RX), CAP + 1);
        assertReaderViolation(r, rd, rd::prepareToSleep, "producer position 0x1001");
    }

    @Test
    void producerPositionMovingAfterOutputShutdown() throws Exception {
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(RX);
        RingReader rd = r.reader(RX);
        w.write(filled(100), 0, 100);
        w.setState(STATE_OUTPUT_SHUTDOWN);
        assertEquals(STATE_OUTPUT_SHUTDOWN, rd.peerState());
        r.putLong(RegionLayout.producerPositionOffset(RX), 150);
        assertReaderViolation(r, rd, rd::readableBytes, "producer position 0x96 of ring 0",
                "moved after its state became OUTPUT_SHUTDOWN at the final position 0x64");
    }

    @Test
    void producerStateUnknown() {
        for (int state : new int[] {4, -1, 0x101, Integer.MIN_VALUE}) {
            Region r = new Region(CAP, CAP);
            RingReader rd = r.reader(RX);
            r.putInt(RegionLayout.producerStateOffset(RX), state);
            assertReaderViolation(r, rd, rd::peerState,
                    "producer state " + Integer.toUnsignedString(state) + " of ring 0", "not a known state");
        }
    }

    @Test
    void producerStateUnknownSeenByEndOfStreamAndSleep() {
        Region r = new Region(CAP, CAP);
        RingReader rd = r.reader(RX);
        r.putInt(RegionLayout.producerStateOffset(RX), 9);
        assertReaderViolation(r, rd, rd::isEndOfStream, "producer state 9", "not a known state");
        Region r2 = new Region(CAP, CAP);
        RingReader rd2 = r2.reader(RX);
        r2.putInt(RegionLayout.producerStateOffset(RX), 9);
        assertReaderViolation(r2, rd2, rd2::prepareToSleep, "producer state 9", "not a known state");
    }

    @Test
    void producerStateDecreasing() throws Exception {
        Region r = new Region(CAP, CAP);
        RingReader rd = r.reader(RX);
        r.putInt(RegionLayout.producerStateOffset(RX), STATE_CLOSED);
        assertEquals(STATE_CLOSED, rd.peerState());
        r.putInt(RegionLayout.producerStateOffset(RX), STATE_OPEN);
        assertReaderViolation(r, rd, rd::peerState, "producer state 1 (OPEN) of ring 0",
                "lower than the state it had, 3 (CLOSED)");
    }

    @Test
    void connectorStateNewIsADecrease() {
        // The connector is OPEN from the moment it creates the region.
        Region r = new Region(CAP, CAP);
        RingReader rd = r.reader(RX);
        r.putInt(RegionLayout.producerStateOffset(RX), STATE_NEW);
        assertReaderViolation(r, rd, rd::peerState, "producer state 0 (NEW) of ring 0", "lower", "1 (OPEN)");
    }

    @Test
    void producerFlagsWithReservedBits() throws Exception {
        for (int flags : new int[] {2, FLAG_WAITING_FOR_SPACE | 0x80000000, -1}) {
            Region r = new Region(CAP, CAP);
            RingWriter w = r.writer(RX);
            RingReader rd = r.reader(RX);
            w.write(filled(10), 0, 10);
            w.publish();
            rd.readableBytes();
            rd.read(buffer(10), 10);
            r.putInt(RegionLayout.producerFlagsOffset(RX), flags);
            assertReaderViolation(r, rd, rd::release,
                    String.format("producer flags 0x%08x of ring 0", flags), "reserved bits");
            assertEquals(10, r.getLong(RegionLayout.consumerPositionOffset(RX)),
                    "the position was released before the flags were read");
        }
    }

    // ---- the writer, facing a hostile consumer ----

    @Test
    void consumerPositionGoingBackwards() throws Exception {
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(TX);
        w.write(filled(CAP), 0, CAP);
        w.publish();
        r.putLong(RegionLayout.consumerPositionOffset(TX), 100);
        assertEquals(100, w.writableBytes());
        r.putLong(RegionLayout.consumerPositionOffset(TX), 50);
        assertWriterViolation(r, w, w::prepareToWaitForSpace, "consumer position 0x32 of ring 1",
                "went backwards from 0x64");
    }

    @Test
    void consumerPositionGoingBackwardsSeenByWrite() throws Exception {
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(TX);
        w.write(filled(CAP), 0, CAP);
        w.publish();
        r.putLong(RegionLayout.consumerPositionOffset(TX), 100);
        assertEquals(100, w.writableBytes());
        r.putLong(RegionLayout.consumerPositionOffset(TX), 99);
        assertWriterViolation(r, w, () -> w.write(filled(CAP), 0, CAP), "consumer position 0x63 of ring 1",
                "backwards");
    }

    @Test
    void consumerPositionPastTheProducer() throws Exception {
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(TX);
        w.write(filled(100), 0, 100);
        w.publish();
        r.putLong(RegionLayout.consumerPositionOffset(TX), 101);
        assertWriterViolation(r, w, w::prepareToWaitForSpace, "consumer position 0x65 of ring 1",
                "1 bytes past the producer position 0x64");
    }

    @Test
    void consumerPositionPastThePublishedPosition() throws Exception {
        // Bytes written but not published are not the consumer's to take.
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(TX);
        w.write(filled(CAP), 0, CAP - 50);
        w.publish();
        w.write(filled(50), 0, 50);
        r.putLong(RegionLayout.consumerPositionOffset(TX), CAP);
        assertWriterViolation(r, w, w::writableBytes, "consumer position 0x1000 of ring 1",
                "50 bytes past the producer position 0xfce");
    }

    @Test
    void consumerPositionExtremeValues() throws Exception {
        for (long position : new long[] {-1L, Long.MIN_VALUE, Long.MAX_VALUE, 1L << 40}) {
            Region r = new Region(CAP, CAP);
            RingWriter w = r.writer(TX);
            w.write(filled(CAP), 0, CAP);
            w.publish();
            r.putLong(RegionLayout.consumerPositionOffset(TX), position);
            assertWriterViolation(r, w, w::writableBytes,
                    "consumer position 0x" + Long.toHexString(position) + " of ring 1");
        }
    }

    @Test
    void consumerFlagsWithReservedBits() throws Exception {
        for (int flags : new int[] {2, FLAG_WAITING_FOR_DATA | 0x80000000, -1}) {
            Region r = new Region(CAP, CAP);
            RingWriter w = r.writer(TX);
            w.write(filled(10), 0, 10);
            r.putInt(RegionLayout.consumerFlagsOffset(TX), flags);
            assertWriterViolation(r, w, w::publish,
                    String.format("consumer flags 0x%08x of ring 1", flags), "reserved bits");
            assertEquals(10, r.getLong(RegionLayout.producerPositionOffset(TX)),
                    "the position was published before the flags were read");
        }
    }

    // ---- helpers ----

    /**
     * Runs {@code call}, which must fail with a message containing every {@code expected} part, then checks that the
     * reader wrote nothing but its own line, and that every method that reads the peer's line keeps throwing the same
     * exception, even once the peer's values look sane again.
     */
    private void assertReaderViolation(Region r, RingReader rd, Executable call, String... expected) {
        r.snapshot();
        long position = rd.position();
        IdtsProtocolException e = assertViolation(call, expected);
        ByteBuf dst = buffer(CAP);
        assertSame(e, assertThrows(IdtsProtocolException.class, rd::readableBytes));
        assertSame(e, assertThrows(IdtsProtocolException.class, () -> rd.read(dst, CAP)));
        assertSame(e, assertThrows(IdtsProtocolException.class, rd::release));
        assertSame(e, assertThrows(IdtsProtocolException.class, rd::prepareToSleep));
        assertSame(e, assertThrows(IdtsProtocolException.class, rd::peerState));
        assertSame(e, assertThrows(IdtsProtocolException.class, rd::isEndOfStream));
        assertEquals(0, dst.writerIndex());
        assertEquals(position, rd.position());
        r.assertUnchangedExcept(r.readerRanges(RX));
        // A peer that "repairs" its line is not believed again.
        r.putLong(RegionLayout.producerPositionOffset(RX), rd.position());
        r.putInt(RegionLayout.producerStateOffset(RX), STATE_OPEN);
        r.putInt(RegionLayout.producerFlagsOffset(RX), 0);
        assertSame(e, assertThrows(IdtsProtocolException.class, rd::readableBytes));
        assertSame(e, assertThrows(IdtsProtocolException.class, rd::peerState));
        rd.clearWaitingForData(); // our own line: still allowed
        assertEquals(0, r.getInt(RegionLayout.consumerFlagsOffset(RX)));
    }

    private void assertWriterViolation(Region r, RingWriter w, Executable call, String... expected) {
        r.snapshot();
        long position = w.position();
        IdtsProtocolException e = assertViolation(call, expected);
        ByteBuf src = filled(CAP);
        assertSame(e, assertThrows(IdtsProtocolException.class, w::writableBytes));
        assertSame(e, assertThrows(IdtsProtocolException.class, () -> w.write(src, 0, CAP)));
        assertSame(e, assertThrows(IdtsProtocolException.class, w::publish));
        assertSame(e, assertThrows(IdtsProtocolException.class, w::prepareToWaitForSpace));
        assertEquals(position, w.position());
        r.assertUnchangedExcept(RegionLayout.producerLineOffset(TX), RegionLayout.LINE_SIZE);
        r.putLong(RegionLayout.consumerPositionOffset(TX), 0);
        r.putInt(RegionLayout.consumerFlagsOffset(TX), 0);
        assertSame(e, assertThrows(IdtsProtocolException.class, w::writableBytes));
        w.clearWaitingForSpace();
        // Raising our own state is still allowed, so the peer learns we closed; it publishes nothing more.
        long published = r.getLong(RegionLayout.producerPositionOffset(TX));
        assertTrue(w.setState(STATE_CLOSED));
        assertEquals(STATE_CLOSED, r.getInt(RegionLayout.producerStateOffset(TX)));
        assertEquals(published, r.getLong(RegionLayout.producerPositionOffset(TX)));
        r.assertUnchangedExcept(RegionLayout.producerLineOffset(TX), RegionLayout.LINE_SIZE,
                RegionLayout.consumerLineOffset(TX), RegionLayout.LINE_SIZE);
    }

    private static IdtsProtocolException assertViolation(Executable call, String... expected) {
        IdtsProtocolException e = assertThrows(IdtsProtocolException.class, call);
        for (String part : expected) {
            assertTrue(e.getMessage().contains(part), "'" + e.getMessage() + "' should contain '" + part + "'");
        }
        assertTrue(e.getMessage().startsWith("peer's "), e.getMessage());
        return e;
    }
}
