package io.idts.channel.ring;

import io.idts.channel.IdtsProtocolException;

import io.idts.channel.ring.RingWriterTest.ModelConsumer;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.SplittableRandom;

import static io.idts.channel.ring.RegionLayout.DESCRIPTORS_PER_RING;
import static io.idts.channel.ring.RegionLayout.FLAG_WAITING_FOR_DATA;
import static io.idts.channel.ring.RegionLayout.FLAG_WAITING_FOR_SPACE;
import static io.idts.channel.ring.RegionLayout.MIN_RING_CAPACITY;
import static io.idts.channel.ring.RegionLayout.SLICES_PER_RING;
import static io.idts.channel.ring.RegionLayout.descriptor;
import static io.idts.channel.ring.RegionLayout.STATE_CLOSED;
import static io.idts.channel.ring.RegionLayout.STATE_NEW;
import static io.idts.channel.ring.RegionLayout.STATE_OPEN;
import static io.idts.channel.ring.RegionLayout.STATE_OUTPUT_SHUTDOWN;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
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
    private static void publish(CanaryRegion r, long from, long... descriptors) {
        for (int i = 0; i < descriptors.length; i++) {
            r.putDescriptor(RX, from + i, descriptors[i]);
        }
        r.putLong(RegionLayout.producerPositionOffset(RX), from + descriptors.length);
    }

    @Test
    void producerPositionMoreThanTheQueueAhead() {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingReader rd = r.reader(RX);
        r.putLong(RegionLayout.producerPositionOffset(RX), 1025);
        assertReaderViolation(r, rd, rd::readableBytes, "descriptor producer position 0x401 of ring 0",
                "1025 descriptors past the consumer position 0x0", "beyond the queue's 1024 entries");
    }

    @Test
    void producerPositionExactlyTheQueueAheadIsAFullQueue() throws Exception {
        // The bound itself is legal: 1024 descriptors, 16 of 4 bytes in each of the 64 slices, the data all read.
        CanaryRegion r = new CanaryRegion(CAP, CAP);
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
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingReader rd = r.reader(RX);
        publish(r, 0, descriptor(0, 10, false));
        assertEquals(10, rd.readableBytes());
        r.putLong(RegionLayout.producerPositionOffset(RX), 1025);
        assertReaderViolation(r, rd, rd::readableBytes, "descriptor producer position 0x401",
                "1025 descriptors past the consumer position 0x0");
    }

    @Test
    void producerPositionGoingBackwards() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
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
            CanaryRegion r = new CanaryRegion(CAP, CAP);
            RingReader rd = r.reader(RX);
            r.putLong(RegionLayout.producerPositionOffset(RX), position);
            assertReaderViolation(r, rd, rd::readableBytes,
                    "descriptor producer position 0x" + Long.toHexString(position) + " of ring 0");
        }
    }

    @Test
    void producerPositionSeenWhilePreparingToSleep() {
        // The re-read after the fence is validated too: a bad value there must not become a sleep.
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingReader rd = r.reader(RX);
        r.putLong(RegionLayout.producerPositionOffset(RX), 2000);
        assertReaderViolation(r, rd, rd::prepareToSleep, "descriptor producer position 0x7d0");
    }

    @Test
    void producerPositionMovingAfterOutputShutdown() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
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
            CanaryRegion r = new CanaryRegion(CAP, CAP);
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
            CanaryRegion r = new CanaryRegion(CAP, CAP);
            RingReader rd = r.reader(RX);
            publish(r, 0, descriptor(slice, 1, false));
            assertReaderViolation(r, rd, rd::readableBytes, "names slice " + slice, "not a slice index (0..63)");
        }
    }

    @Test
    void descriptorLengthBeyondTheSlice() {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingReader rd = r.reader(RX);
        publish(r, 0, descriptor(5, SLICE + 1, false));
        assertReaderViolation(r, rd, rd::readableBytes, "gives 65 bytes at offset 0 of slice 5",
                "beyond the slice size 64");
        // Adjacent descriptors add up: 40 then 40 bytes do not fit 64.
        CanaryRegion r2 = new CanaryRegion(CAP, CAP);
        RingReader rd2 = r2.reader(RX);
        publish(r2, 0, descriptor(5, 40, false), descriptor(5, 40, true));
        assertReaderViolation(r2, rd2, rd2::readableBytes, "gives 40 bytes at offset 40 of slice 5");
        CanaryRegion r3 = new CanaryRegion(CAP, CAP);
        RingReader rd3 = r3.reader(RX);
        publish(r3, 0, descriptor(5, (int) 0xffff_ffffL, false));
        assertReaderViolation(r3, rd3, rd3::readableBytes, "gives 4294967295 bytes");
    }

    @Test
    void descriptorEmptyWithoutEndOfSlice() {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingReader rd = r.reader(RX);
        publish(r, 0, descriptor(0, 0, false));
        assertReaderViolation(r, rd, rd::readableBytes, "gives 0 bytes", "empty without END_OF_SLICE");
    }

    @Test
    void descriptorStartingASliceThatWasNotReturned() throws Exception {
        // Slice 3 is the reader's (a view may be reading it) until it returns it: the producer may not reuse it.
        CanaryRegion r = new CanaryRegion(CAP, CAP);
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
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingReader rd = r.reader(RX);
        publish(r, 0, descriptor(1, 10, false), descriptor(2, 10, false));
        assertReaderViolation(r, rd, rd::readableBytes, "names slice 2 while slice 1 is not finished");
    }

    @Test
    void dataIsReadOnlyWithinTheSliceADescriptorNames() throws Exception {
        // Slice 63 is the last of the ring: its bytes are the ring's last, never the next ring's or the guard's.
        CanaryRegion r = new CanaryRegion(CAP, CAP);
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
            CanaryRegion r = new CanaryRegion(CAP, CAP);
            RingReader rd = r.reader(RX);
            r.putInt(RegionLayout.producerStateOffset(RX), state);
            assertReaderViolation(r, rd, rd::peerState,
                    "producer state " + Integer.toUnsignedString(state) + " of ring 0", "not a known state");
        }
    }

    @Test
    void producerStateUnknownSeenByEndOfStreamAndSleep() {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingReader rd = r.reader(RX);
        r.putInt(RegionLayout.producerStateOffset(RX), 9);
        assertReaderViolation(r, rd, rd::isEndOfStream, "producer state 9", "not a known state");
        CanaryRegion r2 = new CanaryRegion(CAP, CAP);
        RingReader rd2 = r2.reader(RX);
        r2.putInt(RegionLayout.producerStateOffset(RX), 9);
        assertReaderViolation(r2, rd2, rd2::prepareToSleep, "producer state 9", "not a known state");
    }

    @Test
    void producerStateDecreasing() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
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
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingReader rd = r.reader(RX);
        r.putInt(RegionLayout.producerStateOffset(RX), STATE_NEW);
        assertReaderViolation(r, rd, rd::peerState, "producer state 0 (NEW) of ring 0", "lower", "1 (OPEN)");
    }

    @Test
    void producerFlagsWithReservedBits() throws Exception {
        for (int flags : new int[] {2, FLAG_WAITING_FOR_SPACE | 0x80000000, -1}) {
            CanaryRegion r = new CanaryRegion(CAP, CAP);
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
    private RingWriter fullWriter(CanaryRegion r) throws IdtsProtocolException {
        RingWriter w = r.writer(TX);
        assertEquals(CAP, w.write(filled(CAP), 0, CAP));
        w.publish();
        assertEquals(0, w.writableBytes());
        return w;
    }

    /** The hostile consumer read every descriptor published and returns {@code slices} from {@code from} on. */
    private static void giveBack(CanaryRegion r, long from, int... slices) {
        r.putLong(RegionLayout.consumerPositionOffset(TX), r.getLong(RegionLayout.producerPositionOffset(TX)));
        for (int i = 0; i < slices.length; i++) {
            r.putReturn(TX, from + i, slices[i]);
        }
        r.putLong(RegionLayout.returnPositionOffset(TX), from + slices.length);
    }

    @Test
    void consumerPositionGoingBackwards() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
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
        CanaryRegion r = new CanaryRegion(CAP, CAP);
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
            CanaryRegion r = new CanaryRegion(CAP, CAP);
            RingWriter w = fullWriter(r);
            r.putLong(RegionLayout.consumerPositionOffset(TX), position);
            assertWriterViolation(r, w, w::prepareToWaitForSpace,
                    "descriptor consumer position 0x" + Long.toHexString(position) + " of ring 1");
        }
    }

    @Test
    void returnPositionOutOfBounds() throws Exception {
        for (long position : new long[] {SLICES_PER_RING + 1, -1L, Long.MIN_VALUE}) {
            CanaryRegion r = new CanaryRegion(CAP, CAP);
            RingWriter w = fullWriter(r);
            r.putLong(RegionLayout.returnPositionOffset(TX), position);
            assertWriterViolation(r, w, w::writableBytes,
                    String.format("return position 0x%x of ring 1", position), "not within 64 slices");
        }
    }

    @Test
    void returnPositionGoingBackwards() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
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
            CanaryRegion r = new CanaryRegion(CAP, CAP);
            RingWriter w = fullWriter(r);
            giveBack(r, 0, slice);
            assertWriterViolation(r, w, w::writableBytes,
                    "returned slice " + Integer.toUnsignedString(slice) + " of ring 1", "not a slice index");
        }
    }

    @Test
    void returnedSliceStillBeingWritten() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingWriter w = fullWriter(r);
        giveBack(r, 0, 63);
        assertWriterViolation(r, w, w::writableBytes, "returned slice 63 of ring 1", "still being written");
    }

    @Test
    void returnedSliceThatIsFree() throws Exception {
        // Never given: the writer has written only slice 0.
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingWriter w = r.writer(TX);
        w.write(filled(2 * SLICE), 0, 2 * SLICE);
        w.publish();
        giveBack(r, 0, 9);
        assertWriterViolation(r, w, w::prepareToWaitForSpace, "returned slice 9 of ring 1", "free");
        // Returned twice: the second time the writer is already writing it again.
        CanaryRegion r2 = new CanaryRegion(CAP, CAP);
        RingWriter w2 = fullWriter(r2);
        giveBack(r2, 0, 4);
        assertEquals(SLICE, w2.writableBytes());
        w2.publish(); // the end of slice 63, written when the writer moved to slice 4
        giveBack(r2, 1, 4);
        assertWriterViolation(r2, w2, w2::prepareToWaitForSpace, "returned slice 4 of ring 1",
                "still being written");
        // Returned twice before the writer took it back.
        CanaryRegion r3 = new CanaryRegion(CAP, CAP);
        RingWriter w3 = fullWriter(r3);
        giveBack(r3, 0, 4, 4);
        assertWriterViolation(r3, w3, w3::writableBytes, "returned slice 4 of ring 1", "already returned");
    }

    @Test
    void consumerFlagsWithReservedBits() throws Exception {
        for (int flags : new int[] {2, FLAG_WAITING_FOR_DATA | 0x80000000, -1}) {
            CanaryRegion r = new CanaryRegion(CAP, CAP);
            RingWriter w = r.writer(TX);
            w.write(filled(10), 0, 10);
            r.putInt(RegionLayout.consumerFlagsOffset(TX), flags);
            assertWriterViolation(r, w, w::publish,
                    String.format("consumer flags 0x%08x of ring 1", flags), "reserved bits");
            assertEquals(1, r.getLong(RegionLayout.producerPositionOffset(TX)),
                    "the position was published before the flags were read");
        }
    }

    // ---- read once: a value validated and used is never read again ----

    @Test
    void aDescriptorIsReadOnce() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingReader rd = r.reader(RX);
        publish(r, 0, descriptor(0, 10, false));
        assertEquals(10, rd.readableBytes());
        // The peer rewrites the entry it published: garbage now, but the reader validated and used the old value.
        r.putDescriptor(RX, 0, -1L);
        assertEquals(10, rd.readableBytes());
        ByteBuf dst = buffer(20);
        assertEquals(10, rd.read(dst, 20));
        publish(r, 1, descriptor(0, 5, false));
        assertEquals(5, rd.readableBytes(), "the run goes on at offset 10");
        assertEquals(10, rd.index());
        assertEquals(5, rd.read(dst, 20));
        for (int i = 0; i < 15; i++) {
            assertEquals(r.dataByte(RX, i), dst.getByte(i));
        }
        rd.release();
        assertEquals(2, r.getLong(RegionLayout.consumerPositionOffset(RX)));
    }

    @Test
    void readWorksOnTheDescriptorsLastValidated() throws Exception {
        // read() does not look at the producer position: a bad descriptor published after readableBytes() is seen,
        // and fails the ring, only at the next readableBytes().
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingReader rd = r.reader(RX);
        publish(r, 0, descriptor(0, 10, false));
        assertEquals(10, rd.readableBytes());
        publish(r, 1, descriptor(0, SLICE, false));
        ByteBuf dst = buffer(100);
        assertEquals(10, rd.read(dst, 100));
        assertReaderViolation(r, rd, rd::readableBytes, "gives 64 bytes at offset 10 of slice 0");
    }

    @Test
    void aReturnIsReadOnce() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingWriter w = fullWriter(r);
        giveBack(r, 0, 4);
        assertEquals(SLICE, w.writableBytes(), "slice 4 taken back");
        // The peer rewrites the entry it returned: never read again, as long as its return position stays.
        r.putReturn(TX, 0, 99);
        assertEquals(SLICE, w.write(filled(SLICE), 0, SLICE));
        w.publish();
        assertFalse(w.prepareToWaitForSpace(), "full again; the old entry is not looked at");
        w.clearWaitingForSpace();
        giveBack(r, 1, 7);
        assertTrue(w.prepareToWaitForSpace(), "return 1 only");
        assertEquals(SLICE, w.write(filled(SLICE), 0, SLICE));
    }

    // ---- more descriptors and positions ----

    @Test
    void descriptorStartingASliceFinishedButNotYetReturned() throws Exception {
        // Every byte of slice 3 was taken, but release() has not returned it: it is still the reader's.
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingReader rd = r.reader(RX);
        publish(r, 0, descriptor(3, 10, true));
        assertEquals(10, rd.readableBytes());
        assertEquals(10, rd.skip(10));
        publish(r, 1, descriptor(3, 5, false));
        assertReaderViolation(r, rd, rd::readableBytes, "descriptor 0x0000000300000005 at position 0x1 of ring 0",
                "starts slice 3, which was not returned to it");
        // Once returned, the same descriptor is fine.
        CanaryRegion r2 = new CanaryRegion(CAP, CAP);
        RingReader rd2 = r2.reader(RX);
        publish(r2, 0, descriptor(3, 10, true));
        rd2.readableBytes();
        rd2.skip(10);
        rd2.release();
        assertEquals(1, r2.getLong(RegionLayout.returnPositionOffset(RX)));
        publish(r2, 1, descriptor(3, 5, false));
        assertEquals(5, rd2.readableBytes());
        assertEquals(3, rd2.runSlice());
    }

    @Test
    void descriptorsExactlyFillingASliceAreFine() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingReader rd = r.reader(RX);
        publish(r, 0, descriptor(5, 40, false), descriptor(5, SLICE - 40, false), descriptor(5, 0, true),
                descriptor(6, SLICE, true), descriptor(7, 0, true), descriptor(8, 1, false));
        assertEquals(SLICE, rd.readableBytes());
        assertEquals(5 * SLICE, rd.index());
        assertEquals(2 * SLICE + 1, rd.skip(1000));
        assertEquals(8, rd.runSlice());
        rd.release();
        // 5, 6 and 7 (only ended, never given a byte) go back; 8 is being written.
        assertEquals(3, r.getLong(RegionLayout.returnPositionOffset(RX)));
        assertEquals(6, r.getLong(RegionLayout.consumerPositionOffset(RX)));
    }

    @Test
    void producerPositionMovingAfterClosed() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingReader rd = r.reader(RX);
        publish(r, 0, descriptor(0, 10, false));
        r.putInt(RegionLayout.producerStateOffset(RX), STATE_CLOSED);
        assertFalse(rd.isEndOfStream());
        assertEquals(10, rd.skip(10));
        assertTrue(rd.isEndOfStream());
        // Backwards, then forwards: both move the final position.
        r.putLong(RegionLayout.producerPositionOffset(RX), 0);
        assertReaderViolation(r, rd, rd::readableBytes, "descriptor producer position 0x0 of ring 0",
                "went backwards from 0x1");
        CanaryRegion r2 = new CanaryRegion(CAP, CAP);
        RingReader rd2 = r2.reader(RX);
        publish(r2, 0, descriptor(0, 10, false));
        r2.putInt(RegionLayout.producerStateOffset(RX), STATE_OUTPUT_SHUTDOWN);
        assertEquals(STATE_OUTPUT_SHUTDOWN, rd2.peerState());
        r2.putInt(RegionLayout.producerStateOffset(RX), STATE_CLOSED);
        assertEquals(STATE_CLOSED, rd2.peerState(), "raising the state again is fine");
        publish(r2, 1, descriptor(0, 10, false));
        assertFalse(rd2.isEndOfStream(), "10 bytes left (it judges by the final position, read once)");
        assertReaderViolation(r2, rd2, rd2::readableBytes, "descriptor producer position 0x2 of ring 0",
                "moved after its state became CLOSED at the final position 0x1");
    }

    @Test
    void producerStateLoweredFromOutputShutdownToOpen() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingReader rd = r.reader(RX);
        r.putInt(RegionLayout.producerStateOffset(RX), STATE_OUTPUT_SHUTDOWN);
        assertTrue(rd.isEndOfStream());
        r.putInt(RegionLayout.producerStateOffset(RX), STATE_OPEN);
        assertReaderViolation(r, rd, rd::isEndOfStream, "producer state 1 (OPEN) of ring 0",
                "lower than the state it had, 2 (OUTPUT_SHUTDOWN)");
    }

    // ---- random hostile producers and consumers ----

    /**
     * What an honest reader makes of a producer's descriptors, written from docs/protocol.md: the reference the
     * random hostile producer is checked against. The test drains the reader after every batch, so each descriptor is
     * accepted with the state the oracle had when it generated it.
     */
    private static final class ReaderOracle {
        int run = -1;
        int runEnd;
        /** Slices started and not returned. */
        long held;
        /** Slices whose END_OF_SLICE was accepted, not returned. */
        long finished;
        final int[] pins = new int[SLICES_PER_RING];
        long published;
        long released;
        long returns;
        /** Bytes the valid descriptors describe, in stream order. */
        final ByteBuf expected = Unpooled.wrappedBuffer(new byte[1 << 20]).clear();

        long pinnedMask() {
            long mask = 0;
            for (int slice = 0; slice < SLICES_PER_RING; slice++) {
                if (pins[slice] > 0) {
                    mask |= 1L << slice;
                }
            }
            return mask;
        }

        int freeSlice(SplittableRandom random) {
            long free = ~held;
            int skip = random.nextInt(Long.bitCount(free));
            for (int i = 0; i < skip; i++) {
                free &= free - 1;
            }
            return Long.numberOfTrailingZeros(free);
        }

        long validDescriptor(SplittableRandom random) {
            int slice = run == -1 ? freeSlice(random) : run;
            int remaining = SLICE - (run == -1 ? 0 : runEnd);
            int length = remaining == 0 ? 0 : random.nextInt(4) == 0 ? remaining : random.nextInt(remaining + 1);
            boolean end = length == 0 || random.nextInt(3) == 0;
            return descriptor(slice, length, end);
        }

        /** Applies a valid descriptor, appending its bytes (read from the region's data) to the expected stream. */
        void accept(CanaryRegion r, long d) {
            int slice = RegionLayout.descriptorSlice(d);
            int length = (int) RegionLayout.descriptorLength(d);
            if (run == -1) {
                run = slice;
                runEnd = 0;
                held |= 1L << slice;
            }
            for (int i = 0; i < length; i++) {
                expected.writeByte(r.dataByte(RX, slice * SLICE + runEnd + i));
            }
            runEnd += length;
            if (RegionLayout.isEndOfSlice(d)) {
                finished |= 1L << slice;
                run = -1;
            }
        }
    }

    /**
     * A producer that publishes random batches of descriptors, mostly valid, now and then one that breaks exactly one
     * rule (or a position that does), while the reader drains every batch (copies and views of random sizes), unpins
     * views in random order and releases now and then. Checked against {@link ReaderOracle}: the bytes delivered are
     * the valid descriptors' bytes, read from the slices they name (random data: a wrong slice or offset shows);
     * unpin says a slice is done exactly when the oracle does; each release returns exactly the slices finished and
     * not pinned; a violation is the IdtsProtocolException naming the descriptor or position and the rule, after
     * which the reader is failed for good; and whatever the values, the reader writes nothing but its fields and its
     * return queue, and throws nothing else (an access out of bounds would).
     */
    @Test
    void randomHostileProducers() throws Exception {
        int violations = 0;
        int returnsSeen = 0;
        for (long seed = 1; seed <= 40; seed++) {
            SplittableRandom random = new SplittableRandom(seed * 7919);
            CanaryRegion r = new CanaryRegion(CAP, CAP);
            for (int i = 0; i < CAP; i++) {
                r.region.put(r.layout.dataOffset(RX) + i, (byte) random.nextInt());
            }
            RingReader rd = r.reader(RX);
            ReaderOracle o = new ReaderOracle();
            ByteBuf delivered = Unpooled.wrappedBuffer(new byte[1 << 20]).clear();
            List<Integer> views = new ArrayList<>();
            String context = "seed " + seed;
            for (int step = 0; step < 40; step++) {
                // The peer's batch.
                List<String> violation = null;
                int beforeBatch = o.expected.writerIndex();
                int guaranteed = beforeBatch;
                int batchBytesOfRun = 0;
                int n = 1 + random.nextInt(8);
                if (o.published + n - o.released > DESCRIPTORS_PER_RING || o.run == -1 && o.held == -1L) {
                    n = 0;
                }
                boolean bad = random.nextInt(12) == 0;
                int badAt = bad ? random.nextInt(n + 1) : -1;
                long position = o.published;
                for (int i = 0; i < n && violation == null; i++) {
                    long d;
                    if (i == badAt) {
                        d = badDescriptor(o, random);
                        violation = expectedViolation(o, d, position);
                        guaranteed = o.expected.writerIndex() - batchBytesOfRun;
                    } else {
                        d = o.validDescriptor(random);
                        int lengthBefore = o.expected.writerIndex();
                        boolean continuesRun = o.run != -1;
                        o.accept(r, d);
                        batchBytesOfRun = RegionLayout.isEndOfSlice(d) ? 0
                                : (continuesRun ? batchBytesOfRun : 0) + o.expected.writerIndex() - lengthBefore;
                    }
                    r.putDescriptor(RX, position++, d);
                }
                if (violation == null && badAt == n && n > 0 || bad && n == 0) {
                    // The position itself: backwards, or more than the queue ahead of the released position.
                    if (o.published > 0 && random.nextBoolean()) {
                        position = o.published - 1 - random.nextLong(o.published);
                        violation = List.of(String.format("descriptor producer position 0x%x of ring 0 went "
                                + "backwards from 0x%x", position, o.published));
                    } else {
                        position = o.released + DESCRIPTORS_PER_RING + 1 + random.nextInt(1 << 20);
                        violation = List.of(String.format("descriptor producer position 0x%x of ring 0 is %d "
                                + "descriptors past the consumer position 0x%x, beyond the queue's 1024 entries",
                                position, position - o.released, o.released));
                    }
                    // The reader fails as it reads the position: nothing of this batch is delivered.
                    guaranteed = beforeBatch;
                }
                r.putLong(RegionLayout.producerPositionOffset(RX), position);
                o.published = position;
                r.snapshot();

                // The reader drains.
                IdtsProtocolException failure = null;
                try {
                    int readable;
                    while ((readable = rd.readableBytes()) > 0) {
                        int take = 1 + random.nextInt(readable);
                        if (random.nextInt(3) == 0) {
                            int slice = rd.runSlice();
                            int index = rd.index();
                            assertTrue(index >= slice * SLICE && index + take <= (slice + 1) * SLICE, context);
                            assertEquals(o.pins[slice] == 0, rd.pin(slice), context);
                            o.pins[slice]++;
                            views.add(slice);
                            for (int i = 0; i < take; i++) {
                                delivered.writeByte(rd.viewMemory().get(index + i));
                            }
                            rd.takeForView(take);
                        } else {
                            assertEquals(take, rd.read(delivered, take), context);
                        }
                    }
                } catch (IdtsProtocolException e) {
                    failure = e;
                }
                int got = delivered.writerIndex();
                assertTrue(got >= guaranteed && got <= o.expected.writerIndex(), context + ": delivered " + got
                        + " bytes, expected " + guaranteed + ".." + o.expected.writerIndex());
                assertTrue(ByteBufUtil.equals(delivered, 0, o.expected, 0, got), context + ": the bytes delivered");
                if (violation != null) {
                    assertNotNull(failure, context + ": no violation; expected " + violation);
                    for (String part : violation) {
                        assertTrue(failure.getMessage().contains(part),
                                context + ": '" + failure.getMessage() + "' should contain '" + part + "'");
                    }
                    assertTrue(failure.getMessage().startsWith("peer's "), failure.getMessage());
                    assertReaderFailed(r, rd, failure);
                    violations++;
                    break;
                }
                if (failure != null) {
                    throw new AssertionError(context + ": unexpected violation", failure);
                }
                assertEquals(o.expected.writerIndex(), got, context + ": everything valid was delivered");

                // Views released in random order; now and then a release.
                Collections.shuffle(views, new Random(random.nextLong()));
                int unpins = random.nextInt(views.size() + 1);
                for (int i = 0; i < unpins; i++) {
                    int slice = views.remove(views.size() - 1);
                    o.pins[slice]--;
                    boolean done = o.pins[slice] == 0 && (o.finished & 1L << slice) != 0;
                    assertEquals(done, rd.unpin(slice), context + ": unpin of slice " + slice);
                }
                assertEquals(Long.bitCount(o.pinnedMask()), rd.pinnedSlices(), context);
                if (random.nextInt(3) != 0) {
                    long back = o.finished & ~o.pinnedMask();
                    assertFalse(rd.release(), context + ": the producer's flags say nobody waits");
                    assertEquals(o.returns + Long.bitCount(back), r.getLong(RegionLayout.returnPositionOffset(RX)),
                            context);
                    long seen = 0;
                    for (long k = o.returns; k < o.returns + Long.bitCount(back); k++) {
                        int slice = r.getInt(RegionLayout.returnQueueOffset(RX)
                                + ((int) k & SLICES_PER_RING - 1) * RegionLayout.RETURN_ENTRY_SIZE);
                        assertTrue(slice >= 0 && slice < SLICES_PER_RING && (seen & 1L << slice) == 0, context);
                        seen |= 1L << slice;
                    }
                    assertEquals(back, seen, context + ": the slices returned");
                    returnsSeen += Long.bitCount(back);
                    o.returns += Long.bitCount(back);
                    o.held &= ~back;
                    o.finished &= ~back;
                    o.released = o.published;
                    assertEquals(o.released, r.getLong(RegionLayout.consumerPositionOffset(RX)), context);
                }
                r.assertUnchangedExcept(r.readerRanges(RX));
            }
        }
        assertTrue(violations >= 10 && returnsSeen > 200, violations + " violations, " + returnsSeen + " returns");
    }

    /** A descriptor that breaks exactly one rule, given the oracle's state. */
    private static long badDescriptor(ReaderOracle o, SplittableRandom random) {
        for (;;) {
            switch (random.nextInt(6)) {
                case 0: // reserved bits
                    return o.validDescriptor(random) | 1L << 48 + random.nextInt(15);
                case 1: // no slice
                    return descriptor(SLICES_PER_RING + random.nextInt(0x10000 - SLICES_PER_RING),
                            1 + random.nextInt(SLICE), random.nextBoolean());
                case 2: // a slice the reader holds
                    if (o.run == -1 && o.held != 0) {
                        long held = o.held;
                        for (int skip = random.nextInt(Long.bitCount(held)); skip > 0; skip--) {
                            held &= held - 1;
                        }
                        return descriptor(Long.numberOfTrailingZeros(held), 1 + random.nextInt(SLICE),
                                random.nextBoolean());
                    }
                    break;
                case 3: // another slice while the run is not finished
                    if (o.run != -1) {
                        int other = (o.run + 1 + random.nextInt(SLICES_PER_RING - 1)) % SLICES_PER_RING;
                        return descriptor(other, 1 + random.nextInt(SLICE), random.nextBoolean());
                    }
                    break;
                case 4: { // beyond the slice
                    if (o.run == -1 && o.held == -1L) {
                        break;
                    }
                    int slice = o.run == -1 ? o.freeSlice(random) : o.run;
                    long beyond = SLICE - (o.run == -1 ? 0 : o.runEnd) + 1;
                    long length = random.nextBoolean() ? beyond + random.nextInt(SLICE)
                            : beyond + random.nextLong(0x1_0000_0000L - beyond);
                    return descriptor(slice, (int) length, random.nextBoolean());
                }
                default: // empty without END_OF_SLICE
                    if (o.run != -1 || o.held != -1L) {
                        return descriptor(o.run == -1 ? o.freeSlice(random) : o.run, 0, false);
                    }
                    break;
            }
        }
    }

    /** The parts of the message a reader must give for {@code d} at {@code position}, given the oracle's state. */
    private static List<String> expectedViolation(ReaderOracle o, long d, long position) {
        String where = String.format("descriptor 0x%016x at position 0x%x of ring 0", d, position);
        int slice = RegionLayout.descriptorSlice(d);
        long length = RegionLayout.descriptorLength(d);
        if ((d & ~RegionLayout.DESCRIPTOR_KNOWN_BITS) != 0) {
            return List.of(where, "has reserved bits set");
        }
        if (slice >= SLICES_PER_RING) {
            return List.of(where, String.format("names slice %d, not a slice index (0..63)", slice));
        }
        if (o.run == -1 && (o.held & 1L << slice) != 0) {
            return List.of(where, "starts slice " + slice + ", which was not returned to it");
        }
        if (o.run != -1 && slice != o.run) {
            return List.of(where, "names slice " + slice + " while slice " + o.run + " is not finished");
        }
        int offset = o.run == -1 ? 0 : o.runEnd;
        if (length == 0) {
            return List.of(where, "gives 0 bytes at offset " + offset + " of slice " + slice,
                    "(or empty without END_OF_SLICE)");
        }
        return List.of(where, "gives " + length + " bytes at offset " + offset + " of slice " + slice
                + ", beyond the slice size " + SLICE);
    }

    /**
     * An honest writer against a consumer that is honest for a while ({@link ModelConsumer}: every descriptor and
     * byte checked, slices returned in random order) and then breaks one rule: its descriptor position backwards or
     * past the published one, its return position backwards or more than 64 ahead, a returned slice that is no
     * slice, the current one, a free one or one returned twice, reserved consumer flags. The writer must fail with
     * the message naming the field and value, for good, having written nothing but its own fields, queue and data.
     */
    @Test
    void randomHostileConsumers() throws Exception {
        Set<Integer> kindsSeen = new HashSet<>();
        for (long seed = 1; seed <= 40; seed++) {
            SplittableRandom random = new SplittableRandom(seed * 104729);
            CanaryRegion r = new CanaryRegion(CAP, CAP);
            RingWriter w = r.writer(TX);
            ModelConsumer c = new ModelConsumer(r, TX);
            long written = 0;
            String context = "seed " + seed;
            boolean failed = false;
            // Reserved consumer flags are read only when the writer publishes: they wait for that.
            List<String> flagsViolation = null;
            for (int step = 0; step < 60 && !failed; step++) {
                // The consumer acts.
                c.poll();
                List<String> violation = flagsViolation;
                boolean writeFirst = true;
                if (violation == null && step > 3 && random.nextInt(10) == 0) {
                    int kind = random.nextInt(9);
                    violation = breakOneRule(r, w, c, kind, random);
                    if (violation != null) {
                        kindsSeen.add(kind);
                        // Returning the current or a free slice is only wrong until the writer finishes that slice
                        // itself, which a write may do before it reads the return: then the writer must not write
                        // first. (The writer cannot tell a return that came early from one that did not.)
                        writeFirst = kind == 8 || kind != 5 && kind != 6 && random.nextBoolean();
                        if (kind == 8) {
                            flagsViolation = violation;
                        }
                    }
                }
                if (violation == null || violation == flagsViolation) {
                    if (random.nextBoolean()) {
                        c.release();
                    }
                    if (random.nextBoolean()) {
                        c.returnSome(random);
                    }
                }
                r.snapshot();
                long publishedBefore = c.published();
                // The writer acts.
                try {
                    if (writeFirst) {
                        int n = 1 + random.nextInt(3 * SLICE);
                        byte[] bytes = new byte[n];
                        for (int i = 0; i < n; i++) {
                            bytes[i] = RingWriterTest.streamByte(written + i);
                        }
                        written += w.write(Unpooled.wrappedBuffer(bytes), 0, n);
                        w.publish();
                    }
                    if (!w.prepareToWaitForSpace()) {
                        w.clearWaitingForSpace();
                    }
                    w.publish();
                    if (violation != flagsViolation || c.published() != publishedBefore) {
                        assertNull(violation, context + ": no violation; expected " + violation);
                    }
                    r.assertUnchangedExcept(r.writerRanges(TX));
                } catch (IdtsProtocolException e) {
                    assertNotNull(violation, context + ": unexpected violation: " + e.getMessage());
                    for (String part : violation) {
                        assertTrue(e.getMessage().contains(part),
                                context + ": '" + e.getMessage() + "' should contain '" + part + "'");
                    }
                    assertTrue(e.getMessage().startsWith("peer's "), e.getMessage());
                    // The bytes of this step's write may be in the data; nothing else outside the writer's own.
                    r.assertUnchangedExcept(r.writerRanges(TX));
                    r.snapshot();
                    assertWriterFailed(r, w, e);
                    failed = true;
                }
            }
            if (!failed) {
                c.poll();
                assertEquals(written, c.received(), context);
            }
        }
        assertEquals(9, kindsSeen.size(), "every kind of violation was tried: " + kindsSeen);
    }

    /**
     * The consumer breaks rule number {@code kind} (if it can in this state), writing its line and return queue.
     *
     * @return the parts of the message the writer must give, or null if this rule cannot be broken now
     */
    private static List<String> breakOneRule(CanaryRegion r, RingWriter w, ModelConsumer c, int kind,
                                             SplittableRandom random) {
        long released = c.releasedPosition();
        long published = c.published();
        long returns = c.returns();
        switch (kind) {
            case 0: { // descriptor position backwards
                if (released == 0) {
                    return null;
                }
                long position = released - 1 - random.nextLong(released);
                r.putLong(RegionLayout.consumerPositionOffset(TX), position);
                return List.of(String.format("descriptor consumer position 0x%x of ring 1 went backwards from 0x%x",
                        position, released));
            }
            case 1: { // descriptor position past the published one
                // By more than the writer publishes in one step (it publishes before it reads the position again).
                long position = published + 16 + (random.nextBoolean() ? random.nextInt(10) : random.nextLong(1L << 62));
                r.putLong(RegionLayout.consumerPositionOffset(TX), position);
                return List.of(String.format("descriptor consumer position 0x%x of ring 1 is ", position),
                        " descriptors past the producer position 0x");
            }
            case 2: { // return position backwards
                if (returns == 0) {
                    return null;
                }
                long position = returns - 1 - random.nextLong(returns);
                r.putLong(RegionLayout.returnPositionOffset(TX), position);
                return List.of(String.format("return position 0x%x of ring 1 is not within 64 slices after the slices "
                        + "taken back, 0x%x", position, returns));
            }
            case 3: { // return position more than 64 ahead
                long position = returns + SLICES_PER_RING + 1 + random.nextInt(1000);
                r.putLong(RegionLayout.returnPositionOffset(TX), position);
                return List.of(String.format("return position 0x%x of ring 1 is not within 64 slices", position));
            }
            case 4: { // a returned slice that is no slice
                int slice = random.nextBoolean() ? SLICES_PER_RING + random.nextInt(1000) : -1 - random.nextInt(1000);
                r.putReturn(TX, returns, slice);
                r.putLong(RegionLayout.returnPositionOffset(TX), returns + 1);
                return List.of("returned slice " + Integer.toUnsignedString(slice) + " of ring 1 is not a slice index");
            }
            case 5: { // the writer's current slice
                int current = c.runSlice();
                if (current == -1) {
                    return null;
                }
                r.putReturn(TX, returns, current);
                r.putLong(RegionLayout.returnPositionOffset(TX), returns + 1);
                return List.of("returned slice " + current + " of ring 1 is not one it holds (still being written)");
            }
            case 6: { // a slice the consumer does not hold: never given, or returned already
                long notHeld = ~c.heldMask();
                if (notHeld == 0) {
                    return null;
                }
                for (int skip = random.nextInt(Long.bitCount(notHeld)); skip > 0; skip--) {
                    notHeld &= notHeld - 1;
                }
                int slice = Long.numberOfTrailingZeros(notHeld);
                r.putReturn(TX, returns, slice);
                r.putLong(RegionLayout.returnPositionOffset(TX), returns + 1);
                // Free, or (if the writer took it since, without a descriptor yet) its current slice.
                return List.of("returned slice " + slice + " of ring 1 is not one it holds");
            }
            case 7: { // a finished slice returned twice in one batch
                List<Integer> finished = c.finishedSlices();
                if (finished.isEmpty()) {
                    return null;
                }
                int slice = finished.get(random.nextInt(finished.size()));
                r.putReturn(TX, returns, slice);
                r.putReturn(TX, returns + 1, slice);
                r.putLong(RegionLayout.returnPositionOffset(TX), returns + 2);
                return List.of("returned slice " + slice + " of ring 1 is not one it holds (free: never given or "
                        + "already returned)");
            }
            default: { // reserved consumer flags
                int flags = FLAG_WAITING_FOR_DATA << 1 + random.nextInt(31) | random.nextInt(2);
                r.putInt(RegionLayout.consumerFlagsOffset(TX), flags);
                return List.of(String.format("consumer flags 0x%08x of ring 1 have reserved bits set", flags));
            }
        }
    }

    // ---- helpers ----

    /**
     * Runs {@code call}, which must fail with a message containing every {@code expected} part, then checks that the
     * reader wrote nothing but its own line, and that every method that reads the peer's line keeps throwing the same
     * exception, even once the peer's values look sane again.
     */
    private void assertReaderViolation(CanaryRegion r, RingReader rd, Executable call, String... expected) {
        r.snapshot();
        assertReaderFailed(r, rd, assertViolation(call, expected));
    }

    /**
     * The reader failed with {@code e}: every method that reads the peer's line throws it again, delivers nothing,
     * and the reader wrote nothing since the last {@link CanaryRegion#snapshot()} outside its own fields and return queue.
     */
    private void assertReaderFailed(CanaryRegion r, RingReader rd, IdtsProtocolException e) {
        long position = rd.position();
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

    private void assertWriterViolation(CanaryRegion r, RingWriter w, Executable call, String... expected) {
        r.snapshot();
        assertWriterFailed(r, w, assertViolation(call, expected));
    }

    /**
     * The writer failed with {@code e}: every method that reads the peer's line throws it again, takes no byte, and
     * the writer wrote nothing since the last {@link CanaryRegion#snapshot()} outside its producer line's fields and its
     * descriptor queue (a publication writes its descriptor before it reads the consumer's flags).
     */
    private void assertWriterFailed(CanaryRegion r, RingWriter w, IdtsProtocolException e) {
        long position = w.position();
        ByteBuf src = filled(CAP);
        assertSame(e, assertThrows(IdtsProtocolException.class, w::writableBytes));
        assertSame(e, assertThrows(IdtsProtocolException.class, () -> w.write(src, 0, CAP)));
        assertSame(e, assertThrows(IdtsProtocolException.class, w::publish));
        assertSame(e, assertThrows(IdtsProtocolException.class, w::prepareToWaitForSpace));
        assertEquals(position, w.position());
        r.assertUnchangedExcept(CanaryRegion.writerControlRanges(TX));
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
        r.assertUnchangedExcept(CanaryRegion.concat(CanaryRegion.writerControlRanges(TX), r.readerRanges(TX)));
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
