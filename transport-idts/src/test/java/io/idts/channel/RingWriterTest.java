package io.idts.channel;

import io.idts.channel.RingCanaryTest.Region;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static io.idts.channel.RegionLayout.DESCRIPTORS_PER_RING;
import static io.idts.channel.RegionLayout.FLAG_WAITING_FOR_DATA;
import static io.idts.channel.RegionLayout.FLAG_WAITING_FOR_SPACE;
import static io.idts.channel.RegionLayout.MIN_RING_CAPACITY;
import static io.idts.channel.RegionLayout.SLICES_PER_RING;
import static io.idts.channel.RegionLayout.STATE_CLOSED;
import static io.idts.channel.RegionLayout.STATE_NEW;
import static io.idts.channel.RegionLayout.STATE_OPEN;
import static io.idts.channel.RegionLayout.STATE_OUTPUT_SHUTDOWN;
import static io.idts.channel.RegionLayout.descriptor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RingWriterTest {

    private static final int CAP = MIN_RING_CAPACITY;
    /** 64 bytes: a 4 KiB ring has 64 slices. */
    private static final int SLICE = CAP / SLICES_PER_RING;

    private final List<ByteBuf> buffers = new ArrayList<>();

    @AfterEach
    void releaseBuffers() {
        buffers.forEach(ByteBuf::release);
    }

    private ByteBuf pattern(int length, int seed) {
        ByteBuf buf = Unpooled.directBuffer(Math.max(length, 1));
        buffers.add(buf);
        for (int i = 0; i < length; i++) {
            buf.writeByte(seed + i * 31);
        }
        return buf;
    }

    @Test
    void constructorTakesOverItsProducerLine() {
        Region r = new Region(CAP, CAP);
        for (int ring = 0; ring < 2; ring++) {
            r.putLong(RegionLayout.producerPositionOffset(ring), 12345);
            r.putInt(RegionLayout.producerFlagsOffset(ring), -1);
            r.putInt(RegionLayout.producerStateOffset(ring), 77);
        }
        r.snapshot();
        RingWriter w0 = r.writer(0);
        RingWriter w1 = r.writer(1);
        assertEquals(STATE_OPEN, w0.state(), "the connector is open from the start");
        assertEquals(STATE_NEW, w1.state(), "the acceptor is new until it accepts");
        for (int ring = 0; ring < 2; ring++) {
            assertEquals(0, r.getLong(RegionLayout.producerPositionOffset(ring)));
            assertEquals(0, r.getInt(RegionLayout.producerFlagsOffset(ring)));
        }
        assertEquals(STATE_OPEN, r.getInt(RegionLayout.producerStateOffset(0)));
        assertEquals(STATE_NEW, r.getInt(RegionLayout.producerStateOffset(1)));
        assertEquals(CAP, w0.capacity());
        assertEquals(SLICE, w0.sliceSize());
        assertEquals(0, w0.position());
        r.assertUnchangedExcept(RegionLayout.producerLineOffset(0), RegionLayout.LINE_SIZE,
                RegionLayout.producerLineOffset(1), RegionLayout.LINE_SIZE);
    }

    @Test
    void writeCopiesIntoTheFirstSliceWithoutMovingSourceIndexes() throws Exception {
        Region r = new Region(CAP, 2 * CAP);
        RingWriter w = r.writer(1);
        ByteBuf src = pattern(100, 3);
        src.readerIndex(10);
        assertEquals(40, w.write(src, 20, 40));
        assertEquals(10, src.readerIndex());
        assertEquals(100, src.writerIndex());
        for (int i = 0; i < 40; i++) {
            assertEquals(src.getByte(20 + i), r.dataByte(1, i), "byte " + i);
        }
        assertEquals(40, w.position());
        assertEquals(0, r.getLong(RegionLayout.producerPositionOffset(1)), "not published yet");
        r.assertUnchangedExcept(r.writerRanges(1));
    }

    @Test
    void writeChecksTheSourceRange() {
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(0);
        ByteBuf src = pattern(10, 0);
        assertThrows(IndexOutOfBoundsException.class, () -> w.write(src, 5, 10));
        assertThrows(IndexOutOfBoundsException.class, () -> w.write(src, -1, 2));
        assertThrows(IndexOutOfBoundsException.class, () -> w.write(src, 0, -1));
        assertThrows(NullPointerException.class, () -> w.write(null, 0, 0));
    }

    @Test
    void publishDescribesTheWritesSinceTheLastPublication() throws Exception {
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(0);
        w.write(pattern(10, 1), 0, 10);
        w.write(pattern(20, 2), 0, 20);
        w.publish();
        assertEquals(1, r.getLong(RegionLayout.producerPositionOffset(0)), "two writes, one descriptor");
        assertEquals(descriptor(0, 30, false), r.descriptorAt(0, 0));
        w.write(pattern(5, 3), 0, 5);
        assertFalse(w.publish(), "nobody waits");
        assertEquals(2, r.getLong(RegionLayout.producerPositionOffset(0)));
        assertEquals(descriptor(0, 5, false), r.descriptorAt(0, 1), "adjacent bytes of the same slice");
        assertFalse(w.publish(), "nothing new");
        assertEquals(2, r.getLong(RegionLayout.producerPositionOffset(0)));
        r.assertUnchangedExcept(r.writerRanges(0));
    }

    @Test
    void aFullSliceEndsAndTheNextOneIsTaken() throws Exception {
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(0);
        ByteBuf src = pattern(100, 7);
        assertEquals(100, w.write(src, 0, 100));
        w.publish();
        assertEquals(2, r.getLong(RegionLayout.producerPositionOffset(0)));
        assertEquals(descriptor(0, SLICE, true), r.descriptorAt(0, 0), "slice 0 full: its end");
        assertEquals(descriptor(1, 100 - SLICE, false), r.descriptorAt(0, 1));
        for (int i = 0; i < 100; i++) {
            assertEquals(src.getByte(i), r.dataByte(0, i), "slices 0 and 1 are adjacent in the data");
        }
        // A slice that is full but not yet left ends with an empty descriptor when the writer moves on.
        Region r2 = new Region(CAP, CAP);
        RingWriter w2 = r2.writer(0);
        w2.write(pattern(SLICE, 0), 0, SLICE);
        w2.publish();
        assertEquals(descriptor(0, SLICE, false), r2.descriptorAt(0, 0));
        w2.write(pattern(1, 0), 0, 1);
        w2.publish();
        assertEquals(descriptor(0, 0, true), r2.descriptorAt(0, 1));
        assertEquals(descriptor(1, 1, false), r2.descriptorAt(0, 2));
    }

    @Test
    void aFullRingTakesNothingMoreUntilSlicesComeBack() throws Exception {
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(0);
        RingReader rd = r.reader(0);
        assertEquals(CAP, w.write(pattern(CAP + 10, 0), 0, CAP + 10), "every slice");
        assertEquals(0, w.write(pattern(10, 0), 0, 10));
        assertEquals(0, w.writableBytes());
        w.publish();
        drain(rd, CAP);
        assertEquals(0, w.writableBytes(), "nothing returned before the reader releases");
        rd.release();
        // Slices 0..62 came back; 63 is still the writer's current slice, so the reader keeps it too.
        assertEquals(SLICES_PER_RING - 1, r.getLong(RegionLayout.returnPositionOffset(0)));
        assertEquals(SLICE, w.writableBytes());
        assertEquals(CAP - SLICE, w.write(pattern(CAP, 1), 0, CAP));
        w.publish();
        drain(rd, CAP - SLICE);
        rd.release();
        // Slice 63 (left with an empty end) and 62 of the 63 slices just filled; the last one is current again.
        assertEquals(2 * (SLICES_PER_RING - 1), r.getLong(RegionLayout.returnPositionOffset(0)));
        boolean slice63 = false;
        for (int i = SLICES_PER_RING - 1; i < 2 * (SLICES_PER_RING - 1); i++) {
            slice63 |= r.getInt(RegionLayout.returnQueueOffset(0)
                    + (i & SLICES_PER_RING - 1) * RegionLayout.RETURN_ENTRY_SIZE) == SLICES_PER_RING - 1;
        }
        assertTrue(slice63, "slice 63 came back once the writer left it");
    }

    @Test
    void aFullDescriptorQueueTakesNothingMore() throws Exception {
        Region r = new Region(1 << 20, CAP);
        RingWriter w = r.writer(0);
        RingReader rd = r.reader(0);
        ByteBuf one = pattern(1, 9);
        int bytes = 0;
        while (w.write(one, 0, 1) == 1) {
            w.publish();
            bytes++;
        }
        assertEquals(DESCRIPTORS_PER_RING, r.getLong(RegionLayout.producerPositionOffset(0)),
                "every entry of the queue, one per publication");
        assertEquals(DESCRIPTORS_PER_RING, bytes, "one byte each; the data has room for far more");
        assertEquals(0, w.writableBytes());
        assertEquals(10, readSome(rd, 10));
        rd.release();
        assertTrue(w.writableBytes() > 0, "the reader freed descriptor entries");
    }

    private int readSome(RingReader rd, int n) throws IdtsProtocolException {
        ByteBuf dst = Unpooled.buffer(Math.max(n, 1));
        try {
            rd.readableBytes();
            return rd.read(dst, n);
        } finally {
            dst.release();
        }
    }

    @Test
    void returnedSlicesAreWrittenAgainInTheOrderTheyComeBack() throws Exception {
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(0);
        assertEquals(CAP, w.write(pattern(CAP, 0), 0, CAP));
        w.publish();
        // A consumer that read everything and gives back slices 40 and 7, in that order.
        r.putLong(RegionLayout.consumerPositionOffset(0), r.getLong(RegionLayout.producerPositionOffset(0)));
        r.putReturn(0, 0, 40);
        r.putReturn(0, 1, 7);
        r.putLong(RegionLayout.returnPositionOffset(0), 2);
        ByteBuf src = pattern(2 * SLICE, 5);
        assertEquals(2 * SLICE, w.write(src, 0, 2 * SLICE));
        assertEquals(0, w.writableBytes(), "two slices came back, two were filled");
        w.publish();
        int start = Math.toIntExact(r.getLong(RegionLayout.producerPositionOffset(0)) - 3);
        assertEquals(descriptor(63, 0, true), r.descriptorAt(0, start), "slice 63 was left");
        // The free slices are a stack: the last returned is used first, it is the warmest in the caches.
        assertEquals(descriptor(7, SLICE, true), r.descriptorAt(0, start + 1));
        assertEquals(descriptor(40, SLICE, false), r.descriptorAt(0, start + 2));
        for (int i = 0; i < SLICE; i++) {
            assertEquals(src.getByte(i), r.dataByte(0, 7 * SLICE + i));
            assertEquals(src.getByte(SLICE + i), r.dataByte(0, 40 * SLICE + i));
        }
    }

    @Test
    void publishReportsOnlyAWaitingReader() throws Exception {
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(0);
        w.write(pattern(10, 0), 0, 10);
        assertFalse(w.publish());
        r.putInt(RegionLayout.consumerFlagsOffset(0), FLAG_WAITING_FOR_DATA);
        w.write(pattern(10, 0), 0, 10);
        assertTrue(w.publish(), "the reader sleeps: notify it");
        assertFalse(w.publish(), "nothing new: no notification");
    }

    @Test
    void waitingForSpaceSetsTheFlagOnlyWhenTheRingIsStillFull() throws Exception {
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(0);
        RingReader rd = r.reader(0);
        w.write(pattern(CAP, 0), 0, CAP);
        assertThrows(IllegalStateException.class, w::prepareToWaitForSpace, "unpublished bytes");
        w.publish();
        assertFalse(w.prepareToWaitForSpace(), "still full: sleep");
        assertEquals(FLAG_WAITING_FOR_SPACE, r.getInt(RegionLayout.producerFlagsOffset(0)));
        drain(rd, CAP);
        assertTrue(rd.release(), "the writer waits: notify it");
        w.clearWaitingForSpace();
        assertEquals(0, r.getInt(RegionLayout.producerFlagsOffset(0)));
        assertTrue(w.prepareToWaitForSpace(), "slices came back meanwhile: do not sleep");
        assertEquals(0, r.getInt(RegionLayout.producerFlagsOffset(0)), "and the flag is cleared again");
    }

    @Test
    void setStateRaisesOnlyAndPublishesFirst() throws Exception {
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(1);
        int state = RegionLayout.producerStateOffset(1);
        assertEquals(STATE_NEW, r.getInt(state));
        assertTrue(w.setState(STATE_OPEN));
        assertEquals(STATE_OPEN, r.getInt(state));
        assertFalse(w.setState(STATE_OPEN), "no change");

        w.write(pattern(33, 0), 0, 33);
        assertTrue(w.setState(STATE_OUTPUT_SHUTDOWN));
        assertEquals(1, r.getLong(RegionLayout.producerPositionOffset(1)), "published before the state");
        assertEquals(descriptor(0, 33, false), r.descriptorAt(1, 0));
        assertEquals(STATE_OUTPUT_SHUTDOWN, r.getInt(state));
        assertEquals(STATE_OUTPUT_SHUTDOWN, w.state());
        assertFalse(w.publish(), "already published");
        assertThrows(IllegalStateException.class, () -> w.write(pattern(1, 0), 0, 1));
        assertThrows(IllegalStateException.class, () -> w.commit(0));

        assertTrue(w.setState(STATE_CLOSED));
        assertFalse(w.setState(STATE_OUTPUT_SHUTDOWN), "never lowered");
        assertFalse(w.setState(STATE_OPEN), "never lowered");
        assertEquals(STATE_CLOSED, r.getInt(state));
        assertThrows(IllegalArgumentException.class, () -> w.setState(STATE_NEW));
        assertThrows(IllegalArgumentException.class, () -> w.setState(4));
        r.assertUnchangedExcept(r.writerRanges(1));
    }

    @Test
    void aClaimThatDoesNotFitTheRestOfTheSliceGetsANewSlice() throws Exception {
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(0);
        w.write(pattern(10, 0), 0, 10);
        assertEquals(10, w.index());
        assertEquals(SLICE - 10, w.contiguousWritableBytes(SLICE - 10), "fits: the rest of the slice");
        assertEquals(SLICE, w.contiguousWritableBytes(SLICE), "does not fit: slice 0 is left early");
        assertEquals(SLICE, w.index(), "slice 1");
        assertEquals(SLICE, w.contiguousWritableBytes(SLICE + 1), "never more than a slice");
        w.claimMemory().put(w.index(), (byte) 42);
        w.commit(1);
        assertThrows(IllegalArgumentException.class, () -> w.commit(SLICE), "past the slice");
        assertThrows(IllegalArgumentException.class, () -> w.commit(-1));
        w.publish();
        assertEquals(descriptor(0, 10, true), r.descriptorAt(0, 0));
        assertEquals(descriptor(1, 1, false), r.descriptorAt(0, 1));
        assertEquals(42, r.dataByte(0, SLICE));
        assertEquals(11, w.position());
    }

    /** Reads {@code n} bytes (all the ring offers) into a scratch buffer. */
    static void drain(RingReader rd, int n) throws IdtsProtocolException {
        ByteBuf dst = Unpooled.directBuffer(Math.max(n, 1));
        try {
            rd.readableBytes();
            assertEquals(n, rd.read(dst, n));
            assertEquals(0, rd.readableBytes());
        } finally {
            dst.release();
        }
    }
}
