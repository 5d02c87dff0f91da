package io.idts.microbench;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import java.nio.ByteOrder;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/** The receivers' checksum: the same for any cutting of the stream, known in advance, and it sees a changed byte. */
class StreamChecksumTest {

    @Test
    void anyCuttingOfTheStreamGivesTheExpectedSum() {
        for (int size : new int[] { 8, 1024, 64 * 1024 }) {
            byte[] payload = StreamChecksum.payload(size);
            StreamChecksum.Expected expected = new StreamChecksum.Expected(size, ByteOrder.BIG_ENDIAN);
            StreamChecksum checksum = new StreamChecksum(ByteOrder.BIG_ENDIAN);
            SplittableRandom random = new SplittableRandom(size);
            long sent = 0;
            long total = 5L * size + 3;
            while (sent < total) {
                // A buffer of 1 to 3 payloads' worth of the stream, at an odd place of a larger buffer.
                int n = (int) Math.min(total - sent, 1 + random.nextInt(3 * size));
                ByteBuf buf = Unpooled.buffer(n + 16);
                buf.writerIndex(random.nextInt(16)).readerIndex(buf.writerIndex());
                for (int i = 0; i < n; i++) {
                    buf.writeByte(payload[(int) ((sent + i) % size)]);
                }
                checksum.update(buf);
                sent += n;
                assertEquals(sent, checksum.bytes());
                assertEquals(expected.value(sent), checksum.value(), "after " + sent + " bytes of " + size);
            }
        }
    }

    @Test
    void aeronFragmentsInNativeOrder() {
        int size = 1024;
        byte[] payload = StreamChecksum.payload(size);
        UnsafeBuffer buffer = new UnsafeBuffer(new byte[size + 5]);
        buffer.putBytes(5, payload);
        StreamChecksum.Expected expected = new StreamChecksum.Expected(size, ByteOrder.nativeOrder());
        StreamChecksum checksum = new StreamChecksum(ByteOrder.nativeOrder());
        for (int[] cut : new int[][] { { 0, size }, { 0, 3, size }, { 0, 13, 500, 1000, 1021, size } }) {
            checksum.reset();
            for (int i = 1; i < cut.length; i++) {
                checksum.update(buffer, 5 + cut[i - 1], cut[i] - cut[i - 1]);
            }
            assertEquals(expected.value(size), checksum.value());
        }
    }

    @Test
    void aChangedByteChangesTheSum() {
        int size = 1024;
        byte[] payload = StreamChecksum.payload(size);
        StreamChecksum.Expected expected = new StreamChecksum.Expected(size, ByteOrder.BIG_ENDIAN);
        for (int at : new int[] { 0, 7, 8, 1023 }) {
            ByteBuf buf = Unpooled.wrappedBuffer(payload.clone());
            buf.setByte(at, buf.getByte(at) ^ 0x10);
            StreamChecksum checksum = new StreamChecksum(ByteOrder.BIG_ENDIAN);
            checksum.update(buf);
            assertNotEquals(expected.value(size), checksum.value(), "byte " + at);
        }
        // A stream that stops within a word: the missing bytes count as zeros, not as the payload's.
        StreamChecksum checksum = new StreamChecksum(ByteOrder.BIG_ENDIAN);
        checksum.update(Unpooled.wrappedBuffer(payload, 0, 13));
        assertEquals(expected.value(13), checksum.value());
        assertNotEquals(expected.value(16), checksum.value());
    }
}
