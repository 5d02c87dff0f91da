package io.idts.channel.ring;

import io.idts.channel.IdtsProtocolException;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

import static io.idts.channel.ring.RegionLayout.FLAG_WAITING_FOR_DATA;
import static io.idts.channel.ring.RegionLayout.FLAG_WAITING_FOR_SPACE;
import static io.idts.channel.ring.RegionLayout.MIN_RING_CAPACITY;
import static io.idts.channel.ring.RegionLayout.SLICES_PER_RING;
import static io.idts.channel.ring.RegionLayout.STATE_CLOSED;
import static io.idts.channel.ring.RegionLayout.STATE_OUTPUT_SHUTDOWN;
import static io.idts.channel.ring.RegionLayout.descriptor;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RingReaderTest {

    private static final int CAP = MIN_RING_CAPACITY;
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

    private ByteBuf pattern(int length, int seed) {
        ByteBuf buf = buffer(length);
        for (int i = 0; i < length; i++) {
            buf.writeByte(seed + i * 31);
        }
        return buf;
    }

    @Test
    void constructorTakesOverItsConsumerLine() {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        for (int ring = 0; ring < 2; ring++) {
            r.putLong(RegionLayout.consumerPositionOffset(ring), 999);
            r.putLong(RegionLayout.returnPositionOffset(ring), 888);
            r.putInt(RegionLayout.consumerFlagsOffset(ring), -1);
        }
        r.snapshot();
        RingReader rd = r.reader(1);
        assertEquals(0, r.getLong(RegionLayout.consumerPositionOffset(1)));
        assertEquals(0, r.getLong(RegionLayout.returnPositionOffset(1)));
        assertEquals(0, r.getInt(RegionLayout.consumerFlagsOffset(1)));
        assertEquals(999, r.getLong(RegionLayout.consumerPositionOffset(0)), "not its line");
        assertEquals(CAP, rd.capacity());
        assertEquals(SLICE, rd.sliceSize());
        assertEquals(0, rd.position());
        r.assertUnchangedExcept(r.readerRanges(1));
    }

    @Test
    void emptyRingGivesNothing() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingReader rd = r.reader(0);
        ByteBuf dst = buffer(100);
        assertEquals(0, rd.readableBytes());
        assertEquals(0, rd.read(dst, 100));
        assertEquals(0, rd.skip(100));
        assertEquals(0, dst.writerIndex());
        assertFalse(rd.release(), "nothing consumed");
        assertFalse(rd.isEndOfStream());
        r.assertUnchangedExcept(r.readerRanges(0));
    }

    @Test
    void readsComeBackInOrderAcrossSlicesAndPublications() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, 2 * CAP);
        RingWriter w = r.writer(1);
        RingReader rd = r.reader(1);
        SplittableRandom random = new SplittableRandom(42);
        ByteBuf src = pattern(20 * CAP, 5);
        ByteBuf dst = buffer(20 * CAP);
        int written = 0;
        while (dst.writerIndex() < src.writerIndex()) {
            int n = w.write(src, written, Math.min(1 + random.nextInt(300), src.writerIndex() - written));
            written += n;
            if (random.nextBoolean() || n == 0) {
                w.publish();
            }
            if (random.nextInt(3) == 0 || n == 0) {
                rd.readableBytes();
                rd.read(dst, 1 + random.nextInt(500));
                rd.release();
            }
        }
        assertEquals(20L * CAP, rd.position());
        for (int i = 0; i < src.writerIndex(); i++) {
            assertEquals(src.getByte(i), dst.getByte(i), "byte " + i);
        }
        r.assertUnchangedExcept(r.endpointRanges(1));
    }

    @Test
    void readCopiesAtMostWhatWasAskedForAndFits() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingWriter w = r.writer(0);
        RingReader rd = r.reader(0);
        ByteBuf src = pattern(100, 1);
        w.write(src, 0, 100);
        w.publish();
        assertEquals(SLICE, rd.readableBytes(), "what one piece offers: the rest of slice 0");
        ByteBuf small = buffer(30);
        assertEquals(30, rd.read(small, 1000), "what fits");
        assertEquals(SLICE - 30, rd.readableBytes());
        ByteBuf rest = buffer(100);
        assertEquals(50, rd.read(rest, 50), "what was asked for, across the end of slice 0");
        assertEquals(20, rd.read(rest, 1000), "what is there");
        for (int i = 0; i < 30; i++) {
            assertEquals(src.getByte(i), small.getByte(i));
        }
        for (int i = 0; i < 70; i++) {
            assertEquals(src.getByte(30 + i), rest.getByte(i));
        }
        assertEquals(100, rd.position());
    }

    @Test
    void descriptorsOfOneSliceMergeIntoOneRun() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingWriter w = r.writer(0);
        RingReader rd = r.reader(0);
        w.write(pattern(10, 0), 0, 10);
        w.publish();
        w.write(pattern(20, 0), 0, 20);
        w.publish();
        w.write(pattern(5, 0), 0, 5);
        w.publish();
        assertEquals(35, rd.readableBytes(), "three descriptors, adjacent bytes of slice 0: one piece");
        assertEquals(0, rd.runSlice());
        assertEquals(0, rd.index());
    }

    @Test
    void aFinishedSliceGoesBackAtTheNextRelease() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingWriter w = r.writer(0);
        RingReader rd = r.reader(0);
        w.write(pattern(100, 0), 0, 100);
        w.publish();
        rd.readableBytes();
        assertEquals(100, rd.read(buffer(100), 100));
        assertEquals(0, r.getLong(RegionLayout.returnPositionOffset(0)), "not before release()");
        assertFalse(rd.release());
        assertEquals(2, r.getLong(RegionLayout.consumerPositionOffset(0)), "both descriptors read");
        assertEquals(1, r.getLong(RegionLayout.returnPositionOffset(0)), "slice 1 is still being written");
        assertEquals(0, r.getInt(RegionLayout.returnQueueOffset(0)));
        r.assertUnchangedExcept(r.endpointRanges(0));
    }

    @Test
    void anEmptyEndOfSliceReturnsTheSlice() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingWriter w = r.writer(0);
        RingReader rd = r.reader(0);
        w.write(pattern(SLICE, 0), 0, SLICE);
        w.publish();
        rd.readableBytes();
        rd.read(buffer(SLICE), SLICE);
        rd.release();
        assertEquals(0, r.getLong(RegionLayout.returnPositionOffset(0)), "full, but the writer may not have left it");
        w.write(pattern(1, 0), 0, 1);
        w.publish();
        assertEquals(1, rd.readableBytes(), "the empty end of slice 0, then a byte of slice 1");
        assertEquals(1, rd.runSlice());
        rd.release();
        assertEquals(1, r.getLong(RegionLayout.returnPositionOffset(0)));
        assertEquals(0, r.getInt(RegionLayout.returnQueueOffset(0)));
    }

    @Test
    void lookingForDataCanFinishASliceThatMustThenBeReleased() throws Exception {
        // A writer that leaves a full slice and publishes before it writes more: an empty END_OF_SLICE alone.
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingWriter w = r.writer(0);
        RingReader rd = r.reader(0);
        w.write(pattern(SLICE, 0), 0, SLICE);
        w.publish();
        rd.readableBytes();
        rd.read(buffer(SLICE), SLICE);
        rd.release();
        assertFalse(rd.hasUnreleased());
        assertEquals(SLICE, w.writableBytes(), "leaves slice 0 for slice 1");
        w.publish();
        assertEquals(0, rd.readableBytes(), "nothing to read, but slice 0 is finished");
        assertTrue(rd.hasUnreleased(), "the channel must release it although it read nothing");
        rd.release();
        assertFalse(rd.hasUnreleased());
        assertEquals(1, r.getLong(RegionLayout.returnPositionOffset(0)));
    }

    @Test
    void aPinnedSliceGoesBackOnlyAfterItsLastUnpinOnAnyThread() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingWriter w = r.writer(0);
        RingReader rd = r.reader(0);
        w.write(pattern(3 * SLICE, 0), 0, 3 * SLICE);
        w.write(pattern(1, 0), 0, 1);
        w.publish();
        assertEquals(SLICE, rd.readableBytes());
        assertTrue(rd.pin(0), "newly pinned");
        rd.takeForView(10);
        assertFalse(rd.pin(0), "pinned already");
        rd.takeForView(SLICE - 10);
        assertTrue(rd.isPinned(0));
        assertEquals(1, rd.pinnedSlices());
        assertEquals(SLICE, rd.readableBytes());
        rd.read(buffer(2 * SLICE + 1), 2 * SLICE + 1);
        rd.release();
        assertEquals(2, r.getLong(RegionLayout.returnPositionOffset(0)),
                "slices 1 and 2 went back; slice 0 is pinned, slice 3 is still being written");
        assertEquals(1, r.getInt(RegionLayout.returnQueueOffset(0)));
        assertEquals(2, r.getInt(RegionLayout.returnQueueOffset(0) + RegionLayout.RETURN_ENTRY_SIZE));
        assertFalse(rd.unpin(0), "one view still holds it");
        CompletableFuture<Boolean> last = CompletableFuture.supplyAsync(() -> rd.unpin(0));
        assertTrue(last.get(), "the last view, released on another thread");
        assertEquals(0, rd.pinnedSlices());
        assertEquals(2, r.getLong(RegionLayout.returnPositionOffset(0)), "only the loop writes the queue");
        rd.release();
        assertEquals(3, r.getLong(RegionLayout.returnPositionOffset(0)));
        assertEquals(0, r.getInt(RegionLayout.returnQueueOffset(0) + 2 * RegionLayout.RETURN_ENTRY_SIZE));
        assertThrows(IllegalArgumentException.class, () -> rd.takeForView(2), "more than the run offers");
    }

    /** What a reader wrote back: (address, length) pairs, in order. */
    private static final class RecordedWriteback implements MemoryWriteback {
        final List<long[]> calls = new ArrayList<>();

        @Override
        public void writeback(long address, long length) {
            calls.add(new long[] { address, length });
        }

        void assertCalls(CanaryRegion r, int ring, int... sliceAndLength) {
            assertEquals(sliceAndLength.length / 2, calls.size(), "writebacks");
            for (int i = 0; i < calls.size(); i++) {
                int slice = sliceAndLength[2 * i];
                assertEquals(r.dataAddress(ring, slice * SLICE), calls.get(i)[0], "address of writeback " + i);
                assertEquals(sliceAndLength[2 * i + 1], calls.get(i)[1], "length of writeback " + i);
            }
        }
    }

    @Test
    void aFastStreamsSlicesAreWrittenBackAsTheyGoBackAndNotBefore() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingWriter w = r.writer(0);
        RecordedWriteback writeback = new RecordedWriteback();
        RingReader rd = r.reader(0, writeback, () -> 0L);
        w.write(pattern(2 * SLICE, 0), 0, 2 * SLICE);
        w.write(pattern(SLICE / 2, 0), 0, SLICE / 2);
        w.publish();
        assertEquals(SLICE, rd.readableBytes());
        rd.pin(0);
        rd.takeForView(SLICE);
        rd.read(buffer(SLICE + SLICE / 2), SLICE + SLICE / 2);
        assertTrue(writeback.calls.isEmpty(), "nothing before release()");
        rd.release();
        writeback.assertCalls(r, 0, 1, SLICE);
        // A slice the writer leaves early (a claim wanted more than its rest) is written back as far as it was filled.
        assertEquals(SLICE, w.contiguousWritableBytes(SLICE), "slice 2 finished half full, slice 3 taken");
        w.write(pattern(1, 0), 0, 1);
        w.publish();
        assertEquals(1, rd.readableBytes());
        rd.read(buffer(1), 1);
        rd.release();
        writeback.assertCalls(r, 0, 1, SLICE, 2, SLICE / 2);
        rd.unpin(0);
        writeback.assertCalls(r, 0, 1, SLICE, 2, SLICE / 2);
        rd.release();
        writeback.assertCalls(r, 0, 1, SLICE, 2, SLICE / 2, 0, SLICE);
        rd.release();
        writeback.assertCalls(r, 0, 1, SLICE, 2, SLICE / 2, 0, SLICE);
        assertEquals(3, r.getLong(RegionLayout.returnPositionOffset(0)), "each slice went back once");
    }

    @Test
    void aSlowStreamsSliceIsNotWrittenBack() throws Exception {
        for (boolean slow : new boolean[] { false, true }) {
            CanaryRegion r = new CanaryRegion(CAP, CAP);
            RingWriter w = r.writer(0);
            RecordedWriteback writeback = new RecordedWriteback();
            AtomicLong clock = new AtomicLong();
            RingReader rd = r.reader(0, writeback, clock::get);
            w.write(pattern(SLICE / 2, 0), 0, SLICE / 2);
            w.publish();
            assertEquals(SLICE / 2, rd.readableBytes(), "slice 0 started at 0 ns");
            rd.read(buffer(SLICE / 2), SLICE / 2);
            // The rest of the slice, SLICE ns after its first bytes (a byte per ns: slow) or 1 ns sooner.
            clock.set(slow ? SLICE : SLICE - 1);
            w.write(pattern(SLICE, 0), 0, SLICE);
            w.publish();
            assertEquals(SLICE / 2, rd.readableBytes(), "the rest of slice 0");
            rd.read(buffer(SLICE), SLICE);
            rd.release();
            assertEquals(1, r.getLong(RegionLayout.returnPositionOffset(0)), "slow or not, slice 0 went back");
            if (slow) {
                writeback.assertCalls(r, 0);
            } else {
                writeback.assertCalls(r, 0, 0, SLICE);
            }
        }
    }

    @Test
    void bothRingsAreIndependent() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, 2 * CAP);
        RingWriter w0 = r.writer(0);
        RingWriter w1 = r.writer(1);
        RingReader rd0 = r.reader(0);
        RingReader rd1 = r.reader(1);
        w0.write(pattern(50, 1), 0, 50);
        w0.publish();
        assertEquals(0, rd1.readableBytes());
        w1.write(pattern(70, 2), 0, 70);
        w1.publish();
        assertEquals(50, rd0.readableBytes());
        assertEquals(70, rd1.readableBytes());
        ByteBuf d1 = buffer(70);
        rd1.read(d1, 70);
        assertEquals(pattern(70, 2), d1);
    }

    @Test
    void releaseReportsOnlyAWaitingWriter() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingWriter w = r.writer(0);
        RingReader rd = r.reader(0);
        w.write(pattern(10, 0), 0, 10);
        w.publish();
        rd.readableBytes();
        rd.read(buffer(5), 5);
        assertFalse(rd.release(), "the writer is not waiting");
        rd.read(buffer(5), 5);
        r.putInt(RegionLayout.producerFlagsOffset(0), FLAG_WAITING_FOR_SPACE);
        assertFalse(rd.release(), "nothing new to give back: no notification");
        w.write(pattern(10, 0), 0, 10);
        w.publish();
        rd.readableBytes();
        rd.read(buffer(10), 10);
        assertTrue(rd.release(), "a descriptor entry freed for a waiting writer");
    }

    @Test
    void prepareToSleepSetsTheFlagWhenStillEmpty() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingReader rd = r.reader(0);
        assertFalse(rd.prepareToSleep());
        assertEquals(FLAG_WAITING_FOR_DATA, r.getInt(RegionLayout.consumerFlagsOffset(0)));
        rd.clearWaitingForData();
        assertEquals(0, r.getInt(RegionLayout.consumerFlagsOffset(0)));
    }

    @Test
    void prepareToSleepSeesDataThatRacedInOrIsUntaken() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingWriter w = r.writer(0);
        RingReader rd = r.reader(0);
        w.write(pattern(10, 0), 0, 10);
        w.publish();
        assertTrue(rd.prepareToSleep(), "published meanwhile");
        assertEquals(0, r.getInt(RegionLayout.consumerFlagsOffset(0)), "flag cleared again");
        assertEquals(10, rd.readableBytes());
        assertTrue(rd.prepareToSleep(), "read but not taken");
    }

    @Test
    void prepareToSleepSeesAStateChange() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingWriter w = r.writer(0);
        RingReader rd = r.reader(0);
        assertFalse(rd.prepareToSleep());
        rd.clearWaitingForData();
        w.setState(STATE_OUTPUT_SHUTDOWN);
        assertTrue(rd.prepareToSleep());
        assertTrue(rd.isEndOfStream());
    }

    @Test
    void endOfStreamOnlyAfterTheFinalByte() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingWriter w = r.writer(0);
        RingReader rd = r.reader(0);
        w.write(pattern(100, 0), 0, 100);
        w.setState(STATE_CLOSED);
        assertEquals(STATE_CLOSED, rd.peerState());
        assertFalse(rd.isEndOfStream(), "100 bytes left");
        rd.readableBytes();
        assertEquals(99, rd.read(buffer(99), 99));
        assertFalse(rd.isEndOfStream(), "1 byte left");
        assertEquals(1, rd.read(buffer(1), 1));
        assertTrue(rd.isEndOfStream());
        assertEquals(0, rd.readableBytes());
    }

    /** The slice index at return number {@code k} of {@code ring}'s return queue. */
    private static int returned(CanaryRegion r, int ring, long k) {
        return r.getInt(RegionLayout.returnQueueOffset(ring)
                + ((int) k & SLICES_PER_RING - 1) * RegionLayout.RETURN_ENTRY_SIZE);
    }

    /** Takes the whole rest of the run as a view: pins its slice. */
    private static int viewWholeRun(RingReader rd) throws IdtsProtocolException {
        int n = rd.readableBytes();
        int slice = rd.runSlice();
        rd.pin(slice);
        rd.takeForView(n);
        return slice;
    }

    @Test
    void slicesGoBackInTheOrderTheyAreFinishedWith() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingWriter w = r.writer(0);
        RingReader rd = r.reader(0);
        w.write(pattern(4 * SLICE + 1, 0), 0, 4 * SLICE + 1);
        w.publish();
        for (int slice = 0; slice < 3; slice++) {
            assertEquals(slice, viewWholeRun(rd));
        }
        assertEquals(SLICE, rd.readableBytes());
        assertEquals(3, rd.runSlice());
        assertEquals(SLICE, rd.read(buffer(SLICE), SLICE));
        assertEquals(3, rd.pinnedSlices());
        rd.release();
        // Slice 3 was copied: finished with first, though filled last. 4 is the writer's.
        assertEquals(1, r.getLong(RegionLayout.returnPositionOffset(0)));
        assertEquals(3, returned(r, 0, 0));
        int[] order = {2, 0, 1};
        for (int i = 0; i < order.length; i++) {
            assertTrue(rd.unpin(order[i]));
            assertEquals(1 + i, r.getLong(RegionLayout.returnPositionOffset(0)), "not before release()");
            rd.release();
            assertEquals(2 + i, r.getLong(RegionLayout.returnPositionOffset(0)));
            assertEquals(order[i], returned(r, 0, 1 + i));
        }
        assertEquals(0, rd.pinnedSlices());
        assertFalse(rd.release(), "nothing more to give back");
        assertEquals(4, r.getLong(RegionLayout.returnPositionOffset(0)));
        // The writer takes them back: 4 slices free again (and its own current one).
        assertEquals(CAP - 4 * SLICE - 1 + 4 * SLICE, w.write(pattern(CAP, 0), 0, CAP));
        r.assertUnchangedExcept(r.endpointRanges(0));
    }

    @Test
    void slicesFinishedWithBetweenTwoReleasesAllGoBackAtTheNextOneOnce() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingWriter w = r.writer(0);
        RingReader rd = r.reader(0);
        w.write(pattern(6 * SLICE + 1, 0), 0, 6 * SLICE + 1);
        w.publish();
        for (int slice = 0; slice < 6; slice++) {
            assertEquals(slice, viewWholeRun(rd));
        }
        rd.release();
        assertEquals(0, r.getLong(RegionLayout.returnPositionOffset(0)), "every finished slice is pinned");
        for (int slice : new int[] {4, 1, 5}) {
            assertTrue(rd.unpin(slice));
        }
        rd.release();
        assertEquals(3, r.getLong(RegionLayout.returnPositionOffset(0)));
        // The protocol allows any order; what matters is each slice once.
        Set<Integer> back = new HashSet<>();
        for (int k = 0; k < 3; k++) {
            assertTrue(back.add(returned(r, 0, k)));
        }
        assertEquals(Set.of(1, 4, 5), back);
        assertTrue(rd.unpin(0));
        assertTrue(rd.unpin(2));
        assertTrue(rd.unpin(3));
        rd.release();
        assertEquals(6, r.getLong(RegionLayout.returnPositionOffset(0)));
        for (int k = 3; k < 6; k++) {
            assertTrue(back.add(returned(r, 0, k)));
        }
        assertEquals(Set.of(0, 1, 2, 3, 4, 5), back);
        // The writer accepts every one of them (it would fail on a double or a wrong return).
        assertEquals(CAP - 6 * SLICE - 1 + 6 * SLICE, w.write(pattern(CAP, 0), 0, CAP));
    }

    @Test
    void releaseReportsAWaitingWriterWhenOnlyASliceCameBack() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingWriter w = r.writer(0);
        RingReader rd = r.reader(0);
        w.write(pattern(SLICE + 1, 0), 0, SLICE + 1);
        w.publish();
        assertEquals(0, viewWholeRun(rd));
        assertEquals(1, rd.readableBytes());
        rd.read(buffer(1), 1);
        assertFalse(rd.release(), "the writer is not waiting");
        assertEquals(2, r.getLong(RegionLayout.consumerPositionOffset(0)));
        assertEquals(0, r.getLong(RegionLayout.returnPositionOffset(0)));
        r.putInt(RegionLayout.producerFlagsOffset(0), FLAG_WAITING_FOR_SPACE);
        assertFalse(rd.release(), "nothing new");
        assertTrue(rd.unpin(0));
        assertTrue(rd.release(), "slice 0 came back to a waiting writer");
        assertEquals(1, r.getLong(RegionLayout.returnPositionOffset(0)));
        assertEquals(2, r.getLong(RegionLayout.consumerPositionOffset(0)), "no descriptor read meanwhile");
        assertFalse(rd.release(), "and only once");
    }

    @Test
    void skipTakesBytesAcrossSlicesAndGivesTheSlicesBack() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingWriter w = r.writer(0);
        RingReader rd = r.reader(0);
        w.write(pattern(3 * SLICE + 5, 0), 0, 3 * SLICE + 5);
        w.publish();
        rd.readableBytes();
        assertEquals(3 * SLICE + 5, rd.skip(10_000));
        assertEquals(3 * SLICE + 5, rd.position());
        assertEquals(0, rd.readableBytes());
        rd.release();
        assertEquals(3, r.getLong(RegionLayout.returnPositionOffset(0)));
        for (int k = 0; k < 3; k++) {
            assertEquals(k, returned(r, 0, k));
        }
        r.assertUnchangedExcept(r.endpointRanges(0));
    }

    /** A producer played by the test: its descriptors, then its position. */
    private static void publish(CanaryRegion r, long from, long... descriptors) {
        for (int i = 0; i < descriptors.length; i++) {
            r.putDescriptor(0, from + i, descriptors[i]);
        }
        r.putLong(RegionLayout.producerPositionOffset(0), from + descriptors.length);
    }

    @Test
    void endOfStreamAfterAFinalEmptyEndOfSlice() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingReader rd = r.reader(0);
        publish(r, 0, descriptor(0, 10, false));
        assertEquals(10, rd.readableBytes());
        assertEquals(10, rd.read(buffer(10), 10));
        assertFalse(rd.isEndOfStream(), "still OPEN");
        // The last descriptor only ends the slice; then OUTPUT_SHUTDOWN.
        publish(r, 1, descriptor(0, 0, true));
        r.putInt(RegionLayout.producerStateOffset(0), STATE_OUTPUT_SHUTDOWN);
        assertTrue(rd.isEndOfStream());
        assertEquals(0, rd.readableBytes());
        rd.release();
        assertEquals(2, r.getLong(RegionLayout.consumerPositionOffset(0)));
        assertEquals(1, r.getLong(RegionLayout.returnPositionOffset(0)), "the final end gave slice 0 back");
        assertEquals(0, returned(r, 0, 0));
    }

    @Test
    void endOfStreamOnlyOnceTheLastSliceOfTheFinalPositionIsTaken() throws Exception {
        // Final position 3: slice 0 finished, then 5 bytes of slice 1. The end comes after all of them.
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingReader rd = r.reader(0);
        publish(r, 0, descriptor(0, 20, false), descriptor(0, SLICE - 20, true), descriptor(1, 5, false));
        r.putInt(RegionLayout.producerStateOffset(0), STATE_CLOSED);
        assertFalse(rd.isEndOfStream());
        assertEquals(SLICE, rd.readableBytes(), "the run of slice 0; slice 1 is not read before it is taken");
        assertEquals(SLICE - 1, rd.skip(SLICE - 1));
        assertFalse(rd.isEndOfStream(), "a byte of slice 0 left");
        assertEquals(1, rd.skip(1));
        assertFalse(rd.isEndOfStream(), "slice 1's 5 bytes left");
        assertEquals(5, rd.readableBytes());
        assertEquals(1, rd.runSlice());
        assertEquals(4, rd.skip(4));
        assertFalse(rd.isEndOfStream());
        assertEquals(1, rd.skip(1));
        assertTrue(rd.isEndOfStream());
        assertTrue(rd.isEndOfStream(), "and stays so");
        rd.release();
        assertEquals(3, r.getLong(RegionLayout.consumerPositionOffset(0)));
        assertEquals(1, r.getLong(RegionLayout.returnPositionOffset(0)), "slice 1 was never finished");
    }

    @Test
    void theStateIsOnlySeenAfterItsFinalPosition() throws Exception {
        // A producer that raises its state with descriptors published before it: the reader reads the state first
        // (acquire), then the position, so it sees every descriptor the state covers.
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingReader rd = r.reader(0);
        publish(r, 0, descriptor(0, 7, false));
        r.putInt(RegionLayout.producerStateOffset(0), STATE_OUTPUT_SHUTDOWN);
        assertFalse(rd.isEndOfStream(), "7 bytes the reader had not looked at yet");
        assertEquals(7, rd.readableBytes());
        assertEquals(7, rd.skip(7));
        assertTrue(rd.isEndOfStream());
    }

    @Test
    void hasUnreleasedCoversDescriptorsReadAndSlicesUnpinnedOnAnotherThread() throws Exception {
        CanaryRegion r = new CanaryRegion(CAP, CAP);
        RingWriter w = r.writer(0);
        RingReader rd = r.reader(0);
        assertFalse(rd.hasUnreleased());
        w.write(pattern(SLICE + 1, 0), 0, SLICE + 1);
        w.publish();
        assertEquals(SLICE, rd.readableBytes());
        assertTrue(rd.hasUnreleased(), "a descriptor read, nothing taken yet");
        assertEquals(0, viewWholeRun(rd));
        assertEquals(1, rd.readableBytes());
        rd.read(buffer(1), 1);
        rd.release();
        assertFalse(rd.hasUnreleased());
        // The view is released on another thread while the writer waits: a slice done, no descriptor read.
        r.putInt(RegionLayout.producerFlagsOffset(0), FLAG_WAITING_FOR_SPACE);
        assertTrue(CompletableFuture.supplyAsync(() -> rd.unpin(0)).get());
        assertTrue(rd.hasUnreleased(), "slice 0 is done");
        assertTrue(rd.release(), "the waiting writer gets slice 0");
        assertFalse(rd.hasUnreleased());
        assertEquals(1, r.getLong(RegionLayout.returnPositionOffset(0)));
        assertEquals(0, returned(r, 0, 0));
    }
}
