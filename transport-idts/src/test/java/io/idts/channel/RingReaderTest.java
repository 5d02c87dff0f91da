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
import static io.idts.channel.RingWriterTest.advance;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RingReaderTest {

    private static final int CAP = MIN_RING_CAPACITY;

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

    private ByteBuf pattern(int length, int seed) {
        ByteBuf buf = buffer(length);
        for (int i = 0; i < length; i++) {
            buf.writeByte(seed + i * 31);
        }
        return buf;
    }

    @Test
    void constructorTakesOverItsConsumerLine() {
        Region r = new Region(CAP, CAP);
        for (int ring = 0; ring < 2; ring++) {
            r.putLong(RegionLayout.consumerPositionOffset(ring), 999);
            r.putInt(RegionLayout.consumerFlagsOffset(ring), -1);
        }
        r.snapshot();
        RingReader rd = r.reader(1);
        assertEquals(0, r.getLong(RegionLayout.consumerPositionOffset(1)));
        assertEquals(0, r.getInt(RegionLayout.consumerFlagsOffset(1)));
        assertEquals(999, r.getLong(RegionLayout.consumerPositionOffset(0)), "not its line");
        assertEquals(CAP, rd.capacity());
        assertEquals(0, rd.position());
        r.assertUnchangedExcept(r.readerRanges(1));
    }

    @Test
    void emptyRingGivesNothing() throws Exception {
        Region r = new Region(CAP, CAP);
        RingReader rd = r.reader(0);
        ByteBuf dst = buffer(100);
        assertEquals(0, rd.readableBytes());
        assertEquals(0, rd.read(dst, 100));
        assertEquals(0, dst.writerIndex());
        assertFalse(rd.release(), "nothing consumed");
        assertFalse(rd.isEndOfStream());
        r.assertUnchangedExcept(r.readerRanges(0));
    }

    @Test
    void readCopiesAtMostWhatWasValidatedAskedForAndFits() throws Exception {
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(0);
        RingReader rd = r.reader(0);
        ByteBuf src = pattern(1000, 5);
        w.write(src, 0, 600);
        w.publish();
        assertEquals(0, rd.read(buffer(1000), 1000), "the producer position was not read yet");
        assertEquals(600, rd.readableBytes());
        w.write(src, 600, 400);
        w.publish();
        ByteBuf dst = buffer(1000);
        assertEquals(0, rd.read(dst, 0));
        assertEquals(100, rd.read(dst, 100), "maxBytes");
        assertEquals(500, rd.read(dst, 1000), "readable as last validated");
        assertEquals(0, rd.read(dst, 1000));
        assertEquals(400, rd.readableBytes());
        ByteBuf small = buffer(150);
        assertEquals(150, rd.read(small, 1000), "dst.writableBytes()");
        assertEquals(250, rd.read(dst, 1000));
        assertEquals(1000, rd.position());
        assertEquals(0, r.getLong(RegionLayout.consumerPositionOffset(0)), "not released yet");
        assertEquals(src.slice(0, 600), dst.slice(0, 600));
        assertEquals(src.slice(600, 150), small);
        assertEquals(src.slice(750, 250), dst.slice(600, 250));
        assertThrows(IllegalArgumentException.class, () -> rd.read(dst, -1));
        assertThrows(NullPointerException.class, () -> rd.read(null, 1));
    }

    @Test
    void readsStraddlingTheEndComeBackInOrder() throws Exception {
        int[] sizes = {1, 2, 3, 7, 100, CAP / 2 - 1, CAP / 2, CAP / 2 + 1, CAP - 1, CAP};
        for (int size : sizes) {
            for (int start : new int[] {0, 1, CAP / 2, CAP - size / 2 - 1, CAP - 1}) {
                Region r = new Region(CAP, 2 * CAP);
                RingWriter w = r.writer(0);
                RingReader rd = r.reader(0);
                advance(w, rd, start);
                ByteBuf src = pattern(size, start ^ size);
                assertEquals(size, w.write(src, 0, size));
                w.publish();
                assertEquals(size, rd.readableBytes());
                ByteBuf dst = buffer(size);
                // Two reads, so that one of them may also straddle the end.
                int half = size / 2;
                assertEquals(half, rd.read(dst, half));
                assertEquals(size - half, rd.read(dst, size));
                assertEquals(src, dst, "size " + size + " from " + start);
                assertEquals(start + size, rd.position());
                assertFalse(rd.release(), "the writer is not waiting");
                assertEquals(start + size, r.getLong(RegionLayout.consumerPositionOffset(0)));
                assertEquals(0, rd.readableBytes());
                r.assertUnchangedExcept(r.writerRanges(0)[0], RegionLayout.LINE_SIZE,
                        r.readerRanges(0)[0], RegionLayout.LINE_SIZE, r.layout.dataOffset(0), CAP);
            }
        }
    }

    @Test
    void bothRingsAreIndependent() throws Exception {
        Region r = new Region(CAP, 2 * CAP);
        RingWriter w0 = r.writer(0);
        RingWriter w1 = r.writer(1);
        RingReader rd0 = r.reader(0);
        RingReader rd1 = r.reader(1);
        ByteBuf a = pattern(CAP, 1);
        ByteBuf b = pattern(2 * CAP, 2);
        assertEquals(CAP, w0.write(a, 0, CAP));
        assertEquals(2 * CAP, w1.write(b, 0, 2 * CAP));
        w0.publish();
        w1.publish();
        ByteBuf da = buffer(CAP);
        ByteBuf db = buffer(2 * CAP);
        assertEquals(CAP, rd0.readableBytes());
        assertEquals(2 * CAP, rd1.readableBytes());
        rd0.read(da, CAP);
        rd1.read(db, 2 * CAP);
        assertEquals(a, da);
        assertEquals(b, db);
    }

    @Test
    void releaseReportsOnlyAWaitingWriter() throws Exception {
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(0);
        RingReader rd = r.reader(0);
        w.write(pattern(100, 0), 0, 100);
        w.publish();
        rd.readableBytes();
        ByteBuf dst = buffer(100);
        assertFalse(rd.release(), "nothing consumed");
        rd.read(dst, 10);
        assertFalse(rd.release(), "the writer is not waiting");
        assertEquals(10, r.getLong(RegionLayout.consumerPositionOffset(0)));
        r.putInt(RegionLayout.producerFlagsOffset(0), FLAG_WAITING_FOR_SPACE);
        assertFalse(rd.release(), "nothing new, even with the writer waiting");
        rd.read(dst, 10);
        assertTrue(rd.release(), "the writer is waiting");
        assertEquals(20, r.getLong(RegionLayout.consumerPositionOffset(0)));
        assertEquals(FLAG_WAITING_FOR_SPACE, r.getInt(RegionLayout.producerFlagsOffset(0)),
                "the reader never writes the writer's line");
    }

    @Test
    void prepareToSleepSetsTheFlagWhenStillEmpty() throws Exception {
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(0);
        RingReader rd = r.reader(0);
        int flags = RegionLayout.consumerFlagsOffset(0);
        assertEquals(0, rd.readableBytes());
        assertFalse(rd.prepareToSleep(), "empty: sleep");
        assertEquals(FLAG_WAITING_FOR_DATA, r.getInt(flags));
        w.write(pattern(10, 0), 0, 10);
        assertTrue(w.publish(), "the writer sees the sleeping reader and must notify");
        rd.clearWaitingForData();
        assertEquals(0, r.getInt(flags));
        assertEquals(10, rd.readableBytes());
        w.write(pattern(10, 0), 0, 10);
        assertFalse(w.publish(), "the reader is awake: no notification");
    }

    @Test
    void prepareToSleepSeesDataThatRacedIn() throws Exception {
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(0);
        RingReader rd = r.reader(0);
        assertEquals(0, rd.readableBytes());
        // The writer publishes after the reader found the ring empty but before it set its flag.
        w.write(pattern(10, 0), 0, 10);
        assertFalse(w.publish(), "the reader has not set its flag yet");
        assertTrue(rd.prepareToSleep(), "data raced in: do not sleep");
        assertEquals(0, r.getInt(RegionLayout.consumerFlagsOffset(0)), "flag cleared again");
        assertEquals(10, rd.read(buffer(10), 10), "the data it saw is readable");
        assertFalse(rd.prepareToSleep(), "drained: sleep");
    }

    @Test
    void prepareToSleepSeesAStateChange() throws Exception {
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(1); // the acceptor's: starts NEW
        RingReader rd = r.reader(1);
        assertEquals(STATE_NEW, rd.peerState());
        assertFalse(rd.prepareToSleep());
        rd.clearWaitingForData();
        assertTrue(w.setState(STATE_OPEN));
        assertTrue(rd.prepareToSleep(), "NEW -> OPEN");
        assertEquals(STATE_OPEN, rd.peerState());
        assertFalse(rd.prepareToSleep(), "nothing changed");
        rd.clearWaitingForData();
        assertTrue(w.setState(STATE_OUTPUT_SHUTDOWN));
        assertTrue(rd.prepareToSleep(), "OPEN -> OUTPUT_SHUTDOWN");
        assertTrue(rd.isEndOfStream());
    }

    @Test
    void endOfStreamOnlyAfterTheFinalByte() throws Exception {
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(0);
        RingReader rd = r.reader(0);
        assertEquals(STATE_OPEN, rd.peerState());
        w.write(pattern(100, 0), 0, 100);
        assertFalse(rd.isEndOfStream());
        assertTrue(w.setState(STATE_OUTPUT_SHUTDOWN));
        assertEquals(STATE_OUTPUT_SHUTDOWN, rd.peerState());
        assertFalse(rd.isEndOfStream(), "100 bytes left");
        assertEquals(100, rd.readableBytes());
        ByteBuf dst = buffer(100);
        assertEquals(60, rd.read(dst, 60));
        assertFalse(rd.isEndOfStream(), "40 bytes left");
        assertEquals(40, rd.read(dst, 100));
        assertTrue(rd.isEndOfStream());
        assertTrue(w.setState(STATE_CLOSED));
        assertEquals(STATE_CLOSED, rd.peerState());
        assertTrue(rd.isEndOfStream());
    }

    @Test
    void endOfStreamSeesBytesPublishedWithTheStateChange() throws Exception {
        // The reader looks at the state before it ever read the position: the final position is read after the
        // state, so the bytes published with it are not lost.
        Region r = new Region(CAP, CAP);
        RingWriter w = r.writer(0);
        RingReader rd = r.reader(0);
        w.write(pattern(70, 0), 0, 70);
        w.setState(STATE_CLOSED);
        assertFalse(rd.isEndOfStream());
        assertEquals(STATE_CLOSED, rd.peerState());
        assertEquals(70, rd.readableBytes());
        assertEquals(70, rd.read(buffer(70), 70));
        assertTrue(rd.isEndOfStream());
    }
}
