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
import static io.idts.channel.RegionLayout.SLICES_PER_RING;
import static io.idts.channel.RegionLayout.descriptor;
import static io.idts.channel.RegionLayout.STATE_CLOSED;
import static io.idts.channel.RegionLayout.STATE_NEW;
import static io.idts.channel.RegionLayout.STATE_OPEN;
import static io.idts.channel.RegionLayout.STATE_OUTPUT_SHUTDOWN;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A peer that writes whatever it likes to its lines. Each test plays the peer by writing the region directly, then
 * checks that the endpoint under test throws {@link IdtsProtocolException} naming the field, that it wrote nothing
 * outside its own lines and queue (and, for a writer, its own data), and that every later call throws the same exception.
 */
class RingHostilePeerTest {

    private static final int CAP = MIN_RING_CAPACITY;
    /** The acceptor reads ring 0, produced by a (hostile) connector. */
    private static final int RX = 0;
    /** The acceptor writes ring 1, consumed by a (hostile) connector. */
    private static final int TX = 1;
    private static final int SLICE = CAP / SLICES_PER_RING;

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

    /** The hostile producer publishes {@code descriptors} from its position {@code from} on. */
    private static void publish(Region r, long from, long... descriptors) {
        for (int i = 0; i < descriptors.length; i++) {
            r.putDescriptor(RX, from + i, descriptors[i]);
        }
        r.putLong(RegionLayout.producerPositionOffset(RX), from + descriptors.length);
    }

    @Test
    void producerPositionMoreThanTheQueueAhead() {
        Region r = new Region(CAP, CAP);
        RingReader rd = r.reader(RX);
        r.putLong(RegionLayout.producerPositionOffset(RX), 1025);
        assertReaderViolation(r, rd, rd::readableBytes, "descriptor producer position 0x401 of ring 0",
                "1025 descriptors past the consumer position 0x0", "beyond the queue's 1024 entries");
    }

    @Test
    void producerPositionExactlyTheQueueAheadIsAFullQueue() throws Exception {
        // The bound itself is legal: 1024 descriptors, 16 of 4 bytes in each of the 64 slices, the data all read.
        Region r = new Region(CAP, CAP);
        RingReader rd = r.reader(RX);
        long[] descriptors = new long[1024];
        for (int i = 0; i < descriptors.length; i++) {
            descriptors[i] = descriptor(i / 16, 4, i % 16 == 15);
        }
        publish(r, 0, descriptors);
        ByteBuf dst = buffer(CAP + 1);
        assertEquals(SLICE, rd.readableBytes());
        assertEquals(CAP, rd.read(dst, CAP + 1));
        for (int i = 0; i < CAP; i++) {
            assertEquals(r.dataByte(RX, i), dst.getByte(i), "byte " + i);
        }
        rd.release();
        assertEquals(1024, r.getLong(RegionLayout.consumerPositionOffset(RX)));
        assertEquals(SLICES_PER_RING, r.getLong(RegionLayout.returnPositionOffset(RX)), "every slice came back");
    }

    @Test
    void producerPositionAheadOfTheReleasedPositionByMoreThanTheQueue() throws Exception {
        // Descriptors read but not released: the producer may not have reused their entries yet.
        Region r = new Region(CAP, CAP);
        RingReader rd = r.reader(RX);
        publish(r, 0, descriptor(0, 10, false));
        assertEquals(10, rd.readableBytes());
        r.putLong(RegionLayout.producerPositionOffset(RX), 1025);
        assertReaderViolation(r, rd, rd::readableBytes, "descriptor producer position 0x401",
                "1025 descriptors past the consumer position 0x0");
    }

    @Test
    void producerPositionGoingBackwards() throws Exception {
        Region r = new Region(CAP, CAP);
        RingReader rd = r.reader(RX);
        publish(r, 0, descriptor(0, 10, false), descriptor(0, 10, false));
        assertEquals(20, rd.readableBytes());
        r.putLong(RegionLayout.producerPositionOffset(RX), 1);
        assertReaderViolation(r, rd, rd::readableBytes, "descriptor producer position 0x1 of ring 0",
                "went backwards from 0x2");
    }

    @Test
    void producerPositionExtremeValues() {
        for (long position : new long[] {-1L, Long.MIN_VALUE, Long.MAX_VALUE, 1L << 32}) {
            Region r = new Region(CAP, CAP);
            RingReader rd = r.reader(RX);
            r.putLong(RegionLayout.producerPositionOffset(RX), position);
            assertReaderViolation(r, rd, rd::readableBytes,
                    "descriptor producer position 0x" + Long.toHexString(position) + " of ring 0");
        }
    }

    @Test
    void producerPositionSeenWhilePreparingToSleep() {
        // The re-read after the fence is validated too: a bad value there must not become a sleep.
        Region r = new Region(CAP, CAP);
        RingReader rd = r.reader(RX);
        r.putLong(RegionLayout.producerPositionOffset(RX), 2000);
        assertReaderViolation(r, rd, rd::prepareToSleep, "descriptor producer position 0x7d0");
    }

    @Test
    void producerPositionMovingAfterOutputShutdown() throws Exception {
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(RX);
        RingReader rd = r.reader(RX);
        w.write(filled(100), 0, 100);
        w.setState(STATE_OUTPUT_SHUTDOWN);
        assertEquals(STATE_OUTPUT_SHUTDOWN, rd.peerState());
        r.putLong(RegionLayout.producerPositionOffset(RX), 3);
        assertReaderViolation(r, rd, rd::readableBytes, "descriptor producer position 0x3 of ring 0",
                "moved after its state became OUTPUT_SHUTDOWN at the final position 0x2");
    }

    @Test
    void descriptorWithReservedBits() {
        for (long bits : new long[] {1L << 48, 1L << 62, -1L}) {
            Region r = new Region(CAP, CAP);
            RingReader rd = r.reader(RX);
            long bad = descriptor(0, 1, false) | bits;
            publish(r, 0, bad);
            assertReaderViolation(r, rd, rd::readableBytes,
                    String.format("descriptor 0x%016x at position 0x0 of ring 0", bad), "reserved bits");
        }
    }

    @Test
    void descriptorNamingNoSlice() {
        for (int slice : new int[] {SLICES_PER_RING, 0xffff}) {
            Region r = new Region(CAP, CAP);
            RingReader rd = r.reader(RX);
            publish(r, 0, descriptor(slice, 1, false));
            assertReaderViolation(r, rd, rd::readableBytes, "names slice " + slice, "not a slice index (0..63)");
        }
    }

    @Test
    void descriptorLengthBeyondTheSlice() {
        Region r = new Region(CAP, CAP);
        RingReader rd = r.reader(RX);
        publish(r, 0, descriptor(5, SLICE + 1, false));
        assertReaderViolation(r, rd, rd::readableBytes, "gives 65 bytes at offset 0 of slice 5",
                "beyond the slice size 64");
        // Adjacent descriptors add up: 40 then 40 bytes do not fit 64.
        Region r2 = new Region(CAP, CAP);
        RingReader rd2 = r2.reader(RX);
        publish(r2, 0, descriptor(5, 40, false), descriptor(5, 40, true));
        assertReaderViolation(r2, rd2, rd2::readableBytes, "gives 40 bytes at offset 40 of slice 5");
        Region r3 = new Region(CAP, CAP);
        RingReader rd3 = r3.reader(RX);
        publish(r3, 0, descriptor(5, (int) 0xffff_ffffL, false));
        assertReaderViolation(r3, rd3, rd3::readableBytes, "gives 4294967295 bytes");
    }

    @Test
    void descriptorEmptyWithoutEndOfSlice() {
        Region r = new Region(CAP, CAP);
        RingReader rd = r.reader(RX);
        publish(r, 0, descriptor(0, 0, false));
        assertReaderViolation(r, rd, rd::readableBytes, "gives 0 bytes", "empty without END_OF_SLICE");
    }

    @Test
    void descriptorStartingASliceThatWasNotReturned() throws Exception {
        // Slice 3 is the reader's (a view may be reading it) until it returns it: the producer may not reuse it.
        Region r = new Region(CAP, CAP);
        RingReader rd = r.reader(RX);
        publish(r, 0, descriptor(3, 10, true));
        assertEquals(10, rd.readableBytes());
        rd.pin(3);
        rd.takeForView(10);
        publish(r, 1, descriptor(3, 5, false));
        assertReaderViolation(r, rd, rd::readableBytes, "starts slice 3, which was not returned to it");
    }

    @Test
    void descriptorNamingAnotherSliceWhileTheRunIsNotFinished() throws Exception {
        Region r = new Region(CAP, CAP);
        RingReader rd = r.reader(RX);
        publish(r, 0, descriptor(1, 10, false), descriptor(2, 10, false));
        assertReaderViolation(r, rd, rd::readableBytes, "names slice 2 while slice 1 is not finished");
    }

    @Test
    void dataIsReadOnlyWithinTheSliceADescriptorNames() throws Exception {
        // Slice 63 is the last of the ring: its bytes are the ring's last, never the next ring's or the guard's.
        Region r = new Region(CAP, CAP);
        RingReader rd = r.reader(RX);
        publish(r, 0, descriptor(63, SLICE, true));
        ByteBuf dst = buffer(SLICE);
        rd.readableBytes();
        assertEquals(SLICE, rd.read(dst, SLICE));
        for (int i = 0; i < SLICE; i++) {
            assertEquals(r.dataByte(RX, CAP - SLICE + i), dst.getByte(i));
        }
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
            assertEquals(1, r.getLong(RegionLayout.consumerPositionOffset(RX)),
                    "the position was released before the flags were read");
        }
    }

    // ---- the writer, facing a hostile consumer ----

    /** Fills every slice of the transmit ring and publishes. */
    private RingWriter fullWriter(Region r) throws IdtsProtocolException {
        RingWriter w = r.writer(TX);
        assertEquals(CAP, w.write(filled(CAP), 0, CAP));
        w.publish();
        assertEquals(0, w.writableBytes());
        return w;
    }

    /** The hostile consumer read every descriptor published and returns {@code slices} from {@code from} on. */
    private static void giveBack(Region r, long from, int... slices) {
        r.putLong(RegionLayout.consumerPositionOffset(TX), r.getLong(RegionLayout.producerPositionOffset(TX)));
        for (int i = 0; i < slices.length; i++) {
            r.putReturn(TX, from + i, slices[i]);
        }
        r.putLong(RegionLayout.returnPositionOffset(TX), from + slices.length);
    }

    @Test
    void consumerPositionGoingBackwards() throws Exception {
        Region r = new Region(CAP, CAP);
        RingWriter w = fullWriter(r);
        r.putLong(RegionLayout.consumerPositionOffset(TX), 40);
        assertFalse(w.prepareToWaitForSpace(), "descriptors read, but no slice back");
        w.clearWaitingForSpace();
        r.putLong(RegionLayout.consumerPositionOffset(TX), 30);
        assertWriterViolation(r, w, w::prepareToWaitForSpace, "descriptor consumer position 0x1e of ring 1",
                "went backwards from 0x28");
    }

    @Test
    void consumerPositionPastThePublishedPosition() throws Exception {
        // Descriptors written but not published are not the consumer's to take.
        Region r = new Region(CAP, CAP);
        RingWriter w = fullWriter(r);
        long published = r.getLong(RegionLayout.producerPositionOffset(TX));
        r.putLong(RegionLayout.consumerPositionOffset(TX), published + 1);
        assertWriterViolation(r, w, w::prepareToWaitForSpace,
                String.format("descriptor consumer position 0x%x of ring 1", published + 1),
                String.format("1 descriptors past the producer position 0x%x", published));
    }

    @Test
    void consumerPositionExtremeValues() throws Exception {
        for (long position : new long[] {-1L, Long.MIN_VALUE, Long.MAX_VALUE, 1L << 40}) {
            Region r = new Region(CAP, CAP);
            RingWriter w = fullWriter(r);
            r.putLong(RegionLayout.consumerPositionOffset(TX), position);
            assertWriterViolation(r, w, w::prepareToWaitForSpace,
                    "descriptor consumer position 0x" + Long.toHexString(position) + " of ring 1");
        }
    }

    @Test
    void returnPositionOutOfBounds() throws Exception {
        for (long position : new long[] {SLICES_PER_RING + 1, -1L, Long.MIN_VALUE}) {
            Region r = new Region(CAP, CAP);
            RingWriter w = fullWriter(r);
            r.putLong(RegionLayout.returnPositionOffset(TX), position);
            assertWriterViolation(r, w, w::writableBytes,
                    String.format("return position 0x%x of ring 1", position), "not within 64 slices");
        }
    }

    @Test
    void returnPositionGoingBackwards() throws Exception {
        Region r = new Region(CAP, CAP);
        RingWriter w = fullWriter(r);
        giveBack(r, 0, 4, 5);
        assertEquals(SLICE, w.writableBytes());
        r.putLong(RegionLayout.returnPositionOffset(TX), 1);
        w.write(filled(SLICE), 0, SLICE);
        w.publish();
        assertWriterViolation(r, w, w::prepareToWaitForSpace, "return position 0x1 of ring 1");
    }

    @Test
    void returnedSliceThatIsNoSlice() throws Exception {
        for (int slice : new int[] {SLICES_PER_RING, -1, Integer.MAX_VALUE}) {
            Region r = new Region(CAP, CAP);
            RingWriter w = fullWriter(r);
            giveBack(r, 0, slice);
            assertWriterViolation(r, w, w::writableBytes,
                    "returned slice " + Integer.toUnsignedString(slice) + " of ring 1", "not a slice index");
        }
    }

    @Test
    void returnedSliceStillBeingWritten() throws Exception {
        Region r = new Region(CAP, CAP);
        RingWriter w = fullWriter(r);
        giveBack(r, 0, 63);
        assertWriterViolation(r, w, w::writableBytes, "returned slice 63 of ring 1", "still being written");
    }

    @Test
    void returnedSliceThatIsFree() throws Exception {
        // Never given: the writer has written only slice 0.
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(TX);
        w.write(filled(2 * SLICE), 0, 2 * SLICE);
        w.publish();
        giveBack(r, 0, 9);
        assertWriterViolation(r, w, w::prepareToWaitForSpace, "returned slice 9 of ring 1", "free");
        // Returned twice: the second time the writer is already writing it again.
        Region r2 = new Region(CAP, CAP);
        RingWriter w2 = fullWriter(r2);
        giveBack(r2, 0, 4);
        assertEquals(SLICE, w2.writableBytes());
        w2.publish(); // the end of slice 63, written when the writer moved to slice 4
        giveBack(r2, 1, 4);
        assertWriterViolation(r2, w2, w2::prepareToWaitForSpace, "returned slice 4 of ring 1",
                "still being written");
        // Returned twice before the writer took it back.
        Region r3 = new Region(CAP, CAP);
        RingWriter w3 = fullWriter(r3);
        giveBack(r3, 0, 4, 4);
        assertWriterViolation(r3, w3, w3::writableBytes, "returned slice 4 of ring 1", "already returned");
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
            assertEquals(1, r.getLong(RegionLayout.producerPositionOffset(TX)),
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
        // A publication writes its descriptor before it reads the consumer's flags.
        r.assertUnchangedExcept(RegionLayout.producerLineOffset(TX), RegionLayout.LINE_SIZE,
                RegionLayout.descriptorQueueOffset(TX), RegionLayout.DESCRIPTOR_QUEUE_SIZE);
        r.putLong(RegionLayout.consumerPositionOffset(TX), 0);
        r.putLong(RegionLayout.returnPositionOffset(TX), 0);
        r.putInt(RegionLayout.consumerFlagsOffset(TX), 0);
        assertSame(e, assertThrows(IdtsProtocolException.class, w::writableBytes));
        w.clearWaitingForSpace();
        // Raising our own state is still allowed, so the peer learns we closed; it publishes nothing more.
        long published = r.getLong(RegionLayout.producerPositionOffset(TX));
        assertTrue(w.setState(STATE_CLOSED));
        assertEquals(STATE_CLOSED, r.getInt(RegionLayout.producerStateOffset(TX)));
        assertEquals(published, r.getLong(RegionLayout.producerPositionOffset(TX)));
        r.assertUnchangedExcept(RegionLayout.producerLineOffset(TX), RegionLayout.LINE_SIZE,
                RegionLayout.descriptorQueueOffset(TX), RegionLayout.DESCRIPTOR_QUEUE_SIZE,
                RegionLayout.consumerLineOffset(TX), RegionLayout.LINE_SIZE,
                RegionLayout.returnQueueOffset(TX), RegionLayout.RETURN_QUEUE_SIZE);
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
