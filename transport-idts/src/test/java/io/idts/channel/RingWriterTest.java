package io.idts.channel;

import io.idts.channel.RingCanaryTest.Region;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static io.idts.channel.RegionLayout.FLAG_WAITING_FOR_DATA;
import static io.idts.channel.RegionLayout.FLAG_WAITING_FOR_SPACE;
import static io.idts.channel.RegionLayout.MIN_RING_CAPACITY;
import static io.idts.channel.RegionLayout.STATE_CLOSED;
import static io.idts.channel.RegionLayout.STATE_NEW;
import static io.idts.channel.RegionLayout.STATE_OPEN;
import static io.idts.channel.RegionLayout.STATE_OUTPUT_SHUTDOWN;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RingWriterTest {

    private static final int CAP = MIN_RING_CAPACITY;

    private final List<ByteBuf> buffers = new ArrayList<>();

    @AfterEach
    void releaseBuffers() {
        buffers.forEach(ByteBuf::release);
    }

    private ByteBuf pattern(int length, int seed) {
        ByteBuf buf = Unpooled.directBuffer(length);
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
        assertEquals(0, w0.position());
        r.assertUnchangedExcept(RegionLayout.producerLineOffset(0), RegionLayout.LINE_SIZE,
                RegionLayout.producerLineOffset(1), RegionLayout.LINE_SIZE);
    }

    @Test
    void writeCopiesIntoTheRingWithoutMovingSourceIndexes() throws Exception {
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
        assertThrows(IndexOutOfBoundsException.class, () -> w.write(src, 5, 6));
        assertThrows(IndexOutOfBoundsException.class, () -> w.write(src, -1, 2));
        assertThrows(IndexOutOfBoundsException.class, () -> w.write(src, 0, -1));
        assertThrows(NullPointerException.class, () -> w.write(null, 0, 0));
        assertEquals(0, w.position());
    }

    @Test
    void fullRingTakesNothingMore() throws Exception {
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(0);
        ByteBuf src = pattern(CAP + 100, 1);
        assertEquals(CAP, w.writableBytes());
        assertEquals(CAP, w.write(src, 0, CAP + 100), "a write longer than the ring copies a ring's worth");
        assertEquals(0, w.writableBytes());
        assertEquals(0, w.write(src, 0, 1));
        assertFalse(w.publish(), "published; the reader is not waiting");
        assertEquals(0, w.writableBytes());
        assertEquals(0, w.write(src, 0, 1));
        assertEquals(CAP, w.position());
        for (int i = 0; i < CAP; i++) {
            assertEquals(src.getByte(i), r.dataByte(0, i));
        }
        r.assertUnchangedExcept(r.writerRanges(0));
    }

    @Test
    void writesStraddlingTheEndWrapToTheStart() throws Exception {
        int[] sizes = {1, 2, 3, 7, 100, CAP / 2 - 1, CAP / 2, CAP / 2 + 1, CAP - 1, CAP};
        for (int size : sizes) {
            for (int start : new int[] {0, 1, CAP / 2, CAP - size / 2 - 1, CAP - 1}) {
                Region r = new Region(CAP, CAP);
                RingWriter w = r.writer(0);
                RingReader rd = r.reader(0);
                advance(w, rd, start);
                ByteBuf src = pattern(size, size + start);
                assertEquals(size, w.write(src, 0, size), "size " + size + " at " + start);
                for (int i = 0; i < size; i++) {
                    assertEquals(src.getByte(i), r.dataByte(0, (start + i) & CAP - 1),
                            "byte " + i + " of " + size + " written at " + start);
                }
                assertEquals(start + size, w.position());
                r.assertUnchangedExcept(r.writerRanges(0)[0], RegionLayout.LINE_SIZE,
                        r.readerRanges(0)[0], RegionLayout.LINE_SIZE,
                        r.layout.dataOffset(0), CAP);
            }
        }
    }

    @Test
    void publishReportsOnlyAWaitingReader() throws Exception {
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(0);
        ByteBuf src = pattern(10, 0);
        assertFalse(w.publish(), "nothing written: nothing to publish");
        w.write(src, 0, 10);
        assertFalse(w.publish(), "the reader is not waiting");
        assertEquals(10, r.getLong(RegionLayout.producerPositionOffset(0)));
        assertFalse(w.publish(), "nothing new");

        r.putInt(RegionLayout.consumerFlagsOffset(0), FLAG_WAITING_FOR_DATA);
        assertFalse(w.publish(), "nothing new, even with the reader waiting");
        w.write(src, 0, 5);
        assertTrue(w.publish(), "the reader is waiting");
        assertEquals(15, r.getLong(RegionLayout.producerPositionOffset(0)));
        assertEquals(FLAG_WAITING_FOR_DATA, r.getInt(RegionLayout.consumerFlagsOffset(0)),
                "the writer never writes the reader's line");
    }

    @Test
    void waitingForSpaceSetsTheFlagOnlyWhenTheRingIsStillFull() throws Exception {
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(0);
        RingReader rd = r.reader(0);
        ByteBuf src = pattern(CAP, 0);
        int flags = RegionLayout.producerFlagsOffset(0);

        assertTrue(w.prepareToWaitForSpace(), "empty ring: space is free");
        assertEquals(0, r.getInt(flags), "flag cleared again");

        assertEquals(CAP, w.write(src, 0, CAP));
        assertThrows(IllegalStateException.class, w::prepareToWaitForSpace, "unpublished bytes would never drain");
        w.publish();
        assertFalse(w.prepareToWaitForSpace(), "full ring: wait");
        assertEquals(FLAG_WAITING_FOR_SPACE, r.getInt(flags));

        ByteBuf dst = Unpooled.directBuffer(CAP);
        buffers.add(dst);
        assertEquals(CAP, rd.readableBytes());
        assertEquals(100, rd.read(dst, 100));
        assertTrue(rd.release(), "the reader sees the waiting writer");
        w.clearWaitingForSpace();
        assertEquals(0, r.getInt(flags));
        assertEquals(100, w.writableBytes());

        // Space freed between the writer's last look and its flag: prepareToWaitForSpace sees it.
        assertEquals(100, w.write(src, 0, 100));
        w.publish();
        assertEquals(0, w.writableBytes());
        assertEquals(CAP, rd.readableBytes());
        assertEquals(50, rd.read(dst.clear(), 50));
        assertFalse(rd.release(), "the writer is not waiting yet");
        assertTrue(w.prepareToWaitForSpace(), "space raced in: do not sleep");
        assertEquals(0, r.getInt(flags), "flag cleared again");
        assertEquals(50, w.writableBytes());
    }

    @Test
    void writableBytesReadsTheSharedPositionOnlyWhenTheCacheSaysFull() throws Exception {
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(0);
        RingReader rd = r.reader(0);
        ByteBuf src = pattern(CAP, 0);
        ByteBuf dst = Unpooled.directBuffer(CAP);
        buffers.add(dst);
        w.write(src, 0, CAP - 10);
        w.publish();
        rd.readableBytes();
        rd.read(dst, CAP - 10);
        rd.release();
        assertEquals(10, w.writableBytes(), "cache: 10 free, enough not to look");
        assertEquals(10, w.write(src, 0, 10), "10 wanted, 10 cached");
        assertEquals(CAP - 10, w.writableBytes(), "cache said full: looked");
        w.publish();
        assertEquals(10, rd.readableBytes());
    }

    @Test
    void writeLooksAtTheSharedPositionWhenItWantsMoreThanTheCacheHas() throws Exception {
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(0);
        RingReader rd = r.reader(0);
        advance(w, rd, CAP - 10);
        ByteBuf src = pattern(CAP, 0);
        w.write(src, 0, CAP);
        w.publish();
        assertEquals(0, w.write(src, 0, 1));
        rd.readableBytes();
        ByteBuf dst = Unpooled.directBuffer(CAP);
        buffers.add(dst);
        rd.read(dst, 300);
        rd.release();
        assertEquals(300, w.write(src, 0, 1000));
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
        assertEquals(33, r.getLong(RegionLayout.producerPositionOffset(1)), "published before the state");
        assertEquals(STATE_OUTPUT_SHUTDOWN, r.getInt(state));
        assertEquals(STATE_OUTPUT_SHUTDOWN, w.state());
        assertFalse(w.publish(), "already published");
        assertThrows(IllegalStateException.class, () -> w.write(pattern(1, 0), 0, 1));

        assertTrue(w.setState(STATE_CLOSED));
        assertFalse(w.setState(STATE_OUTPUT_SHUTDOWN), "never lowered");
        assertFalse(w.setState(STATE_OPEN), "never lowered");
        assertEquals(STATE_CLOSED, r.getInt(state));
        assertThrows(IllegalArgumentException.class, () -> w.setState(STATE_NEW));
        assertThrows(IllegalArgumentException.class, () -> w.setState(4));
        r.assertUnchangedExcept(r.writerRanges(1));
    }

    /** Moves both positions of an empty ring to {@code position}. */
    static void advance(RingWriter w, RingReader rd, int position) throws IdtsProtocolException {
        ByteBuf buf = Unpooled.directBuffer(Math.max(position, 1));
        try {
            buf.writerIndex(Math.max(position, 1));
            assertEquals(position, w.write(buf, 0, position));
            w.publish();
            assertEquals(position, rd.readableBytes());
            assertEquals(position, rd.read(buf.clear(), position));
            rd.release();
            assertEquals(w.capacity(), w.prepareToWaitForSpace() ? w.writableBytes() : -1);
        } finally {
            buf.release();
        }
    }
}
