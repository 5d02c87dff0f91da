package io.idts.channel.ring;

import io.idts.channel.IdtsProtocolException;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;

import static io.idts.channel.ring.RegionLayout.DESCRIPTORS_PER_RING;
import static io.idts.channel.ring.RegionLayout.FLAG_WAITING_FOR_DATA;
import static io.idts.channel.ring.RegionLayout.FLAG_WAITING_FOR_SPACE;
import static io.idts.channel.ring.RegionLayout.MIN_RING_CAPACITY;
import static io.idts.channel.ring.RegionLayout.SLICES_PER_RING;
import static io.idts.channel.ring.RegionLayout.STATE_CLOSED;
import static io.idts.channel.ring.RegionLayout.STATE_NEW;
import static io.idts.channel.ring.RegionLayout.STATE_OPEN;
import static io.idts.channel.ring.RegionLayout.STATE_OUTPUT_SHUTDOWN;
import static io.idts.channel.ring.RegionLayout.DESCRIPTOR_KNOWN_BITS;
import static io.idts.channel.ring.RegionLayout.descriptor;
import static io.idts.channel.ring.RegionLayout.descriptorLength;
import static io.idts.channel.ring.RegionLayout.descriptorSlice;
import static io.idts.channel.ring.RegionLayout.isEndOfSlice;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
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
        CanaryRegion r = new CanaryRegion(CAP, CAP);
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
        r.assertUnchangedExcept(
                CanaryRegion.concat(CanaryRegion.producerFieldRanges(0), CanaryRegion.producerFieldRanges(1)));
    }

    @Test
    void writeCopiesIntoTheFirstSliceWithoutMovingSourceIndexes() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, 2 * CAP);
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
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingWriter w = r.writer(0);
        ByteBuf src = pattern(10, 0);
        assertThrows(IndexOutOfBoundsException.class, () -> w.write(src, 5, 10));
        assertThrows(IndexOutOfBoundsException.class, () -> w.write(src, -1, 2));
        assertThrows(IndexOutOfBoundsException.class, () -> w.write(src, 0, -1));
        assertThrows(NullPointerException.class, () -> w.write(null, 0, 0));
    }

    @Test
    void publishDescribesTheWritesSinceTheLastPublication() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
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
    void unpublishedBytesCountTheWritesSinceTheLastPublication() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingWriter w = r.writer(0);
        assertEquals(0, w.unpublishedBytes());
        w.write(pattern(10, 1), 0, 10);
        w.write(pattern(20, 2), 0, 20);
        assertEquals(30, w.unpublishedBytes());
        assertEquals(0, w.publications());
        w.publish();
        assertEquals(0, w.unpublishedBytes());
        assertEquals(1, w.publications());
        w.write(pattern(5, 3), 0, 5);
        assertEquals(5, w.unpublishedBytes());
        w.publish();
        w.publish();
        assertEquals(0, w.unpublishedBytes());
        assertEquals(2, w.publications(), "a publication with nothing new publishes nothing");
    }

    @Test
    void aFullSliceEndsAndTheNextOneIsTaken() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
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
        CanaryRegion r2 = new CanaryRegion(CAP, CAP);
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
        CanaryRegion r = new CanaryRegion(CAP, CAP);
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
        CanaryRegion r = new CanaryRegion(1 << 20, CAP);
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
        CanaryRegion r = new CanaryRegion(CAP, CAP);
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

    /**
     * A stream that filled its slice fast goes on to a fresh slice and cycles through the ring; a slow one takes the
     * slice given back last, so that it keeps writing a few warm slices.
     */
    @ParameterizedTest
    @ValueSource(booleans = { true, false })
    void aSlowStreamReusesTheSliceGivenBackLastAFastOneTakesAFreshOne(boolean slow) throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        AtomicLong clock = new AtomicLong();
        RingWriter w = r.writer(0, clock::get);
        assertEquals(SLICE + 1, w.write(pattern(SLICE + 1, 0), 0, SLICE + 1));
        w.publish();
        // The consumer read everything and gave slice 0 back; slice 1 is current.
        r.putLong(RegionLayout.consumerPositionOffset(0), r.getLong(RegionLayout.producerPositionOffset(0)));
        r.putReturn(0, 0, 0);
        r.putLong(RegionLayout.returnPositionOffset(0), 1);
        // Slice 1 was taken at 0 ns; it is full when the clock says SLICE ns (a byte per ns: slow) or still 0.
        clock.set(slow ? SLICE : SLICE - 1);
        assertEquals(SLICE, w.write(pattern(SLICE, 1), 0, SLICE));
        w.publish();
        long position = r.getLong(RegionLayout.producerPositionOffset(0));
        assertEquals(descriptor(1, SLICE - 1, true), r.descriptorAt(0, Math.toIntExact(position - 2)));
        assertEquals(descriptor(slow ? 0 : 2, 1, false), r.descriptorAt(0, Math.toIntExact(position - 1)),
                slow ? "the slice given back last" : "a fresh slice");
    }

    @Test
    void publishReportsOnlyAWaitingReader() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
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
        CanaryRegion r = new CanaryRegion(CAP, CAP);
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
        CanaryRegion r = new CanaryRegion(CAP, CAP);
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
        CanaryRegion r = new CanaryRegion(CAP, CAP);
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

    @Test
    void everySliceIsWrittenInOrderOnTheFirstPass() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingWriter w = r.writer(0);
        ByteBuf src = pattern(CAP, 11);
        // Writes of 7 bytes: they straddle slice ends, and every slice gets more than one write.
        for (int at = 0; at < CAP; at += 7) {
            assertEquals(Math.min(7, CAP - at), w.write(src, at, Math.min(7, CAP - at)));
        }
        w.publish();
        // One descriptor per slice (no publication in between): 0..62 ended by the next write, 63 current.
        assertEquals(SLICES_PER_RING, r.getLong(RegionLayout.producerPositionOffset(0)));
        for (int slice = 0; slice < SLICES_PER_RING; slice++) {
            assertEquals(descriptor(slice, SLICE, slice < SLICES_PER_RING - 1), r.descriptorAt(0, slice),
                    "descriptor " + slice);
        }
        for (int i = 0; i < CAP; i++) {
            assertEquals(src.getByte(i), r.dataByte(0, i), "byte " + i);
        }
        r.assertUnchangedExcept(r.writerRanges(0));
    }

    @Test
    void slicesReturnedInAnyOrderAreEachWrittenOnceMore() throws Exception {
        for (long seed = 1; seed <= 3; seed++) {
            CanaryRegion r = new CanaryRegion(CAP, CAP);
            RingWriter w = r.writer(0);
            assertEquals(CAP, w.write(pattern(CAP, 0), 0, CAP));
            w.publish();
            long firstPass = r.getLong(RegionLayout.producerPositionOffset(0));
            // Slices 0..62 are finished (63 is full but current): returned in a random order, in random batches.
            List<Integer> back = new ArrayList<>();
            for (int slice = 0; slice < SLICES_PER_RING - 1; slice++) {
                back.add(slice);
            }
            Collections.shuffle(back, new Random(seed));
            r.putLong(RegionLayout.consumerPositionOffset(0), firstPass);
            SplittableRandom random = new SplittableRandom(seed);
            ByteBuf src = pattern(CAP, 99);
            int returned = 0;
            int written = 0;
            while (returned < back.size()) {
                int batch = Math.min(1 + random.nextInt(10), back.size() - returned);
                for (int i = 0; i < batch; i++) {
                    r.putReturn(0, returned + i, back.get(returned + i));
                }
                returned += batch;
                r.putLong(RegionLayout.returnPositionOffset(0), returned);
                // Exactly the slices returned so far fit; then the ring is full again.
                int n = w.write(src, written, CAP - written);
                assertEquals(batch * SLICE, n, "the " + batch + " slices returned, seed " + seed);
                written += n;
                assertEquals(0, w.write(src, written, 1));
            }
            assertEquals(0, w.writableBytes());
            w.publish(); // once: a slice left full then ends with its bytes, one descriptor per slice
            // The second pass: the empty end of 63, then each returned slice once, full, with the bytes in order.
            long end = r.getLong(RegionLayout.producerPositionOffset(0));
            assertEquals(descriptor(SLICES_PER_RING - 1, 0, true), r.descriptorAt(0, firstPass));
            Set<Integer> named = new HashSet<>();
            int streamAt = 0;
            for (long p = firstPass + 1; p < end; p++) {
                long d = r.descriptorAt(0, p);
                int slice = descriptorSlice(d);
                assertEquals(SLICE, descriptorLength(d), "whole slices");
                assertEquals(p < end - 1, isEndOfSlice(d), "all ended but the last, current one");
                assertTrue(named.add(slice), "slice " + slice + " written twice");
                for (int i = 0; i < SLICE; i++) {
                    assertEquals(src.getByte(streamAt + i), r.dataByte(0, slice * SLICE + i));
                }
                streamAt += SLICE;
            }
            assertEquals(new HashSet<>(back), named, "exactly the returned slices");
            r.assertUnchangedExcept(r.endpointRanges(0)); // the test plays the consumer
        }
    }

    @Test
    void aFullDescriptorQueueWaitsForTheConsumerPosition() throws Exception {
        CanaryRegion r = new CanaryRegion(1 << 20, CAP);
        RingWriter w = r.writer(0);
        ByteBuf one = pattern(1, 9);
        for (int i = 0; i < DESCRIPTORS_PER_RING; i++) {
            assertEquals(1, w.write(one, 0, 1));
            w.publish();
        }
        assertEquals(0, w.write(one, 0, 1));
        assertEquals(0, w.contiguousWritableBytes(1), "no claim either: nothing could describe it");
        assertFalse(w.prepareToWaitForSpace(), "no descriptor entry free: sleep");
        assertEquals(FLAG_WAITING_FOR_SPACE, r.getInt(RegionLayout.producerFlagsOffset(0)));
        w.clearWaitingForSpace();
        // The consumer read one descriptor: one entry, so one more publication.
        r.putLong(RegionLayout.consumerPositionOffset(0), 1);
        assertTrue(w.prepareToWaitForSpace());
        assertEquals(0, r.getInt(RegionLayout.producerFlagsOffset(0)));
        assertEquals(1, w.write(one, 0, 1));
        assertEquals(1, w.write(one, 0, 1), "the same descriptor: merged");
        w.publish();
        assertEquals(DESCRIPTORS_PER_RING + 1, r.getLong(RegionLayout.producerPositionOffset(0)));
        assertEquals(descriptor(0, 2, false), r.descriptorAt(0, DESCRIPTORS_PER_RING), "in entry 0, now free");
        assertEquals(descriptor(0, 1, false), r.descriptorAt(0, 1), "entry 1 is still the consumer's");
        assertEquals(0, w.write(one, 0, 1));
        r.assertUnchangedExcept(r.endpointRanges(0)); // the test plays the consumer
    }

    @Test
    void prepareToWaitForSpaceWithRoomDoesNotLeaveTheFlag() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingWriter w = r.writer(0);
        assertTrue(w.prepareToWaitForSpace(), "an empty ring has room");
        assertEquals(0, r.getInt(RegionLayout.producerFlagsOffset(0)));
        w.write(pattern(10, 0), 0, 10);
        w.publish();
        assertTrue(w.prepareToWaitForSpace());
        assertEquals(0, r.getInt(RegionLayout.producerFlagsOffset(0)));
        // The flag is a field of the line, not a counter: waiting twice sets it once, one clear clears it.
        assertEquals(CAP - 10, w.write(pattern(CAP, 0), 0, CAP));
        w.publish();
        assertFalse(w.prepareToWaitForSpace());
        assertFalse(w.prepareToWaitForSpace());
        assertEquals(FLAG_WAITING_FOR_SPACE, r.getInt(RegionLayout.producerFlagsOffset(0)));
        w.clearWaitingForSpace();
        assertEquals(0, r.getInt(RegionLayout.producerFlagsOffset(0)));
        r.assertUnchangedExcept(r.writerRanges(0));
    }

    @Test
    void aClaimLeavesTheSliceOnlyWhenAnotherCanBeTaken() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingWriter w = r.writer(0);
        // Nothing written in the current slice: a claim of a whole slice fits it, nothing is finished.
        assertEquals(SLICE, w.contiguousWritableBytes(SLICE));
        assertEquals(0, w.index());
        // All slices but the current one given away: the claim gets the rest of the slice, not a new one.
        assertEquals(CAP - 10, w.write(pattern(CAP - 10, 0), 0, CAP - 10));
        w.publish();
        long published = r.getLong(RegionLayout.producerPositionOffset(0));
        assertEquals(10, w.contiguousWritableBytes(SLICE), "the rest of slice 63: no other slice is free");
        assertEquals(CAP - 10, w.index());
        assertFalse(w.publish(), "no end of slice was written");
        assertEquals(published, r.getLong(RegionLayout.producerPositionOffset(0)));
        // A slice comes back: now the claim does leave slice 63.
        r.putLong(RegionLayout.consumerPositionOffset(0), published);
        r.putReturn(0, 0, 5);
        r.putLong(RegionLayout.returnPositionOffset(0), 1);
        assertEquals(SLICE, w.contiguousWritableBytes(SLICE));
        assertEquals(5 * SLICE, w.index());
        w.publish();
        assertEquals(descriptor(SLICES_PER_RING - 1, 0, true), r.descriptorAt(0, published),
                "63 ends where its bytes ended: an empty end at offset 54");
        r.assertUnchangedExcept(r.endpointRanges(0)); // the test plays the consumer
    }

    @Test
    void commitTakesOnlyBytesThatADescriptorCanDescribe() throws Exception {
        // The descriptor queue is full and slice 0 has room left: contiguousWritableBytes says 0, and commit must
        // refuse too. Otherwise its bytes would need a 1025th descriptor, written over one the consumer did not read.
        CanaryRegion r = new CanaryRegion(1 << 20, CAP);
        RingWriter w = r.writer(0);
        RingReader rd = r.reader(0);
        ByteBuf one = pattern(1, 9);
        for (int i = 0; i < DESCRIPTORS_PER_RING; i++) {
            assertEquals(1, w.write(one, 0, 1));
            w.publish();
        }
        assertEquals(0, w.contiguousWritableBytes(1));
        assertThrows(IllegalArgumentException.class, () -> w.commit(1));
        assertEquals(DESCRIPTORS_PER_RING, w.position());
        assertFalse(w.publish(), "nothing to publish");
        assertEquals(DESCRIPTORS_PER_RING, r.getLong(RegionLayout.producerPositionOffset(0)));
        assertEquals(descriptor(0, 1, false), r.descriptorAt(0, 0), "the consumer's entry is intact");
        // And the honest reader agrees: 1024 bytes, no protocol violation.
        rd.readableBytes();
        ByteBuf dst = Unpooled.buffer(2 * DESCRIPTORS_PER_RING);
        try {
            assertEquals(DESCRIPTORS_PER_RING, rd.read(dst, 2 * DESCRIPTORS_PER_RING));
        } finally {
            dst.release();
        }
    }

    @Test
    void commitWithoutACurrentSliceTakesNothing() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingWriter w = r.writer(0);
        assertThrows(IllegalArgumentException.class, () -> w.commit(1), "no slice was taken yet");
        w.commit(0);
        assertEquals(0, w.position());
        assertFalse(w.publish());
    }

    /**
     * The writer against a consumer written from docs/protocol.md alone ({@link ModelConsumer}, not RingReader):
     * random writes, claims (some leaving a slice early), publications, descriptor positions released late and slices
     * returned in random order and batches. Every descriptor is checked against the rules, every byte against the
     * stream, every returned slice's bytes against what was read from it (the writer never wrote a slice it did not
     * hold); the writer refuses bytes exactly when it has no slice or no descriptor entry left.
     */
    @Test
    void randomWritesClaimsAndReturnsDescribeTheStreamExactly() throws Exception {
        int sliceRefusals = 0;
        int queueRefusals = 0;
        for (long seed = 1; seed <= 3; seed++) {
            SplittableRandom random = new SplittableRandom(seed);
            CanaryRegion r = new CanaryRegion(CAP, CAP);
            RingWriter w = r.writer(0);
            ModelConsumer c = new ModelConsumer(r, 0);
            // Half the runs release the descriptor position seldom (slices still come back): the queue fills.
            int releaseOdds = seed % 2 == 0 ? 8 : 1500;
            long written = 0;
            long total = 80L * CAP;
            int earlyEnds = 0;
            boolean starved = false;
            while (written < total) {
                if (random.nextInt(starved ? 4 : releaseOdds) == 0) {
                    c.poll();
                    c.release();
                    starved = false;
                }
                int op = random.nextInt(10);
                if (op < 4) {
                    int n = 1 + random.nextInt(3 * SLICE);
                    int k = w.write(streamBuffer(written, n), 0, n);
                    written += k;
                    if (k < n) {
                        w.publish();
                        c.poll();
                        if (c.heldSlices() == SLICES_PER_RING) {
                            sliceRefusals++;
                        } else {
                            assertTrue(c.published() - c.releasedPosition() >= DESCRIPTORS_PER_RING - 1,
                                    "refused bytes with a slice and descriptor entries free; seed " + seed);
                            queueRefusals++;
                            starved = true;
                        }
                    }
                } else if (op < 6) {
                    int wanted = 1 + random.nextInt(SLICE);
                    int before = w.index();
                    int room = w.contiguousWritableBytes(wanted);
                    int at = w.index();
                    if (before % SLICE != 0 && at / SLICE != before / SLICE) {
                        assertTrue(before % SLICE + wanted > SLICE, "left a slice the claim fitted");
                        c.expectEarlyEnd(before / SLICE, before % SLICE);
                        earlyEnds++;
                    }
                    if (room > 0) {
                        assertTrue(room <= SLICE - at % SLICE, "a claim lies in one slice");
                        int k = 1 + random.nextInt(Math.min(room, wanted));
                        for (int i = 0; i < k; i++) {
                            w.claimMemory().put(at + i, streamByte(written + i));
                        }
                        w.commit(k);
                        written += k;
                    }
                } else if (op < 8) {
                    w.publish();
                } else if (op == 8) {
                    c.poll();
                } else {
                    c.poll();
                    c.returnSome(random);
                }
                if (random.nextInt(16) == 0) {
                    // Liveness: with a slice and two descriptor entries free the writer takes bytes.
                    w.publish();
                    c.poll();
                    if (c.heldSlices() < SLICES_PER_RING
                            && c.published() - c.releasedPosition() <= DESCRIPTORS_PER_RING - 2) {
                        assertTrue(w.writableBytes() > 0, "no room with room free; seed " + seed);
                        // And a claim of up to a slice fits: in the rest of the slice, or in the next one.
                        int wanted = 1 + random.nextInt(SLICE);
                        int before = w.index();
                        assertTrue(w.contiguousWritableBytes(wanted) >= wanted,
                                "a claim of " + wanted + " refused with a slice free; seed " + seed);
                        if (before % SLICE != 0 && w.index() / SLICE != before / SLICE) {
                            c.expectEarlyEnd(before / SLICE, before % SLICE);
                        }
                    }
                }
            }
            w.publish();
            c.poll();
            assertEquals(written, c.received(), "every byte described once; seed " + seed);
            assertEquals(written, w.position());
            c.assertNoEarlyEndPending();
            assertTrue(earlyEnds > 0 && c.returns() > 10 * SLICES_PER_RING,
                    "claims left slices early, slices went round: " + earlyEnds + ", " + c.returns());
            r.assertUnchangedExcept(r.endpointRanges(0));
        }
        assertTrue(sliceRefusals > 0 && queueRefusals > 0,
                "refusals for want of a slice, of a descriptor entry: " + sliceRefusals + ", " + queueRefusals);
    }

    static byte streamByte(long position) {
        return (byte) (position * 0x9E37 + (position >>> 9) + (position >>> 17));
    }

    /** Stream bytes {@code [from, from + n)} in a buffer the leak detector does not track (PARANOID is slow). */
    private static ByteBuf streamBuffer(long from, int n) {
        byte[] bytes = new byte[n];
        for (int i = 0; i < n; i++) {
            bytes[i] = streamByte(from + i);
        }
        return Unpooled.wrappedBuffer(bytes);
    }

    /**
     * A consumer written from docs/protocol.md, not from RingReader: it reads the descriptors a writer published
     * (asserting every rule a descriptor must follow and every byte against {@link #streamByte}), publishes its
     * descriptor position when told, and returns finished slices in whatever order the test picks, checking first
     * that the writer did not touch a byte of them while the consumer held them.
     */
    static final class ModelConsumer {
        private final CanaryRegion r;
        private final int ring;
        private final int sliceSize;
        private final int dataOffset;
        private long consumed;
        private long released;
        private long returnPosition;
        private long received;
        private int run = -1;
        private int runEnd;
        /** Slices named by a descriptor and not returned since. */
        private long held;
        private final long[] sliceStart = new long[SLICES_PER_RING];
        private final int[] sliceLength = new int[SLICES_PER_RING];
        private final boolean[] used = new boolean[SLICES_PER_RING];
        private int neverUsedNext;
        private final List<Integer> finished = new ArrayList<>();
        private final Deque<int[]> earlyEnds = new ArrayDeque<>();

        ModelConsumer(CanaryRegion r, int ring) {
            this.r = r;
            this.ring = ring;
            sliceSize = r.layout.capacity(ring) / SLICES_PER_RING;
            dataOffset = r.layout.dataOffset(ring);
        }

        long published() {
            return r.getLong(RegionLayout.producerPositionOffset(ring));
        }

        long releasedPosition() {
            return released;
        }

        long received() {
            return received;
        }

        long returns() {
            return returnPosition;
        }

        int heldSlices() {
            return Long.bitCount(held);
        }

        /** Slices named by a descriptor and not returned since, one bit each. */
        long heldMask() {
            return held;
        }

        /** The slice being described (no END_OF_SLICE yet), or -1. */
        int runSlice() {
            return run;
        }

        List<Integer> finishedSlices() {
            return finished;
        }

        /** The test saw the writer leave {@code slice} early, after {@code length} bytes. */
        void expectEarlyEnd(int slice, int length) {
            earlyEnds.add(new int[] {slice, length});
        }

        void assertNoEarlyEndPending() {
            assertTrue(earlyEnds.isEmpty(), "early ends never described: " + earlyEnds.size());
        }

        /** Reads every descriptor published. */
        void poll() {
            long p = published();
            assertTrue(p - consumed >= 0, "producer position went backwards");
            assertTrue(p - released <= DESCRIPTORS_PER_RING, "producer position " + p + " more than the queue "
                    + "ahead of the consumer position " + released);
            for (; consumed != p; consumed++) {
                accept(r.descriptorAt(ring, consumed));
            }
        }

        private void accept(long d) {
            String where = String.format("descriptor 0x%016x at %d", d, consumed);
            assertEquals(0, d & ~DESCRIPTOR_KNOWN_BITS, where + ": reserved bits");
            int slice = descriptorSlice(d);
            long length = descriptorLength(d);
            boolean end = isEndOfSlice(d);
            assertTrue(slice < SLICES_PER_RING, where);
            if (run == -1) {
                assertEquals(0, held & 1L << slice, where + ": starts a slice the consumer holds");
                if (!used[slice]) {
                    assertEquals(neverUsedNext, slice, where + ": slices never used are taken in order");
                    used[slice] = true;
                    neverUsedNext++;
                }
                run = slice;
                runEnd = 0;
                held |= 1L << slice;
                sliceStart[slice] = received;
            } else {
                assertEquals(run, slice, where + ": the slice being described is not finished");
            }
            assertTrue(length > 0 || end, where + ": empty without END_OF_SLICE");
            assertTrue(runEnd + length <= sliceSize, where + ": beyond the slice");
            int base = dataOffset + slice * sliceSize + runEnd;
            for (int i = 0; i < length; i++) {
                if (r.region.get(base + i) != streamByte(received + i)) {
                    throw new AssertionError(where + ": stream byte " + (received + i));
                }
            }
            received += length;
            runEnd += (int) length;
            if (end) {
                if (runEnd < sliceSize) {
                    int[] expected = earlyEnds.poll();
                    assertTrue(expected != null, where + ": a slice ended early that no claim left");
                    assertEquals(expected[0], slice, where);
                    assertEquals(expected[1], runEnd, where);
                }
                sliceLength[slice] = runEnd;
                finished.add(slice);
                run = -1;
            }
        }

        /** Publishes the descriptor position. */
        void release() {
            released = consumed;
            r.putLong(RegionLayout.consumerPositionOffset(ring), consumed);
        }

        /** Returns a random selection of the finished slices, in random order. */
        void returnSome(SplittableRandom random) {
            Collections.shuffle(finished, new Random(random.nextLong()));
            int n = finished.isEmpty() ? 0 : random.nextInt(finished.size() + 1);
            List<Integer> slices = new ArrayList<>(finished.subList(0, n));
            finished.subList(0, n).clear();
            giveBack(slices);
        }

        void giveBack(List<Integer> slices) {
            for (int slice : slices) {
                assertNotEquals(0, held & 1L << slice);
                int base = dataOffset + slice * sliceSize;
                for (int i = 0; i < sliceLength[slice]; i++) {
                    if (r.region.get(base + i) != streamByte(sliceStart[slice] + i)) {
                        throw new AssertionError("slice " + slice + " changed while the consumer held it: byte " + i);
                    }
                }
                r.putReturn(ring, returnPosition++, slice);
                held &= ~(1L << slice);
            }
            r.putLong(RegionLayout.returnPositionOffset(ring), returnPosition);
        }
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
