package io.idts.microbench;

import io.netty.buffer.ByteBuf;
import org.agrona.DirectBuffer;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

/**
 * What a consuming receiver does with the bytes it gets: it reads every one of them, 8 bytes at a time with
 * {@code getLong} folded into a sum, the bytes that do not make a whole word one at a time, before it lets the buffer
 * go; as an application that parses or copies its input does.
 *
 * <p>The sum is of the stream's 8-byte words at stream offsets 0, 8, 16...: a word that a buffer boundary splits is
 * put together from its bytes, so the value does not depend on how the transport cut the stream. The sender sends
 * the same {@link #payload payload} of {@code size} bytes over and over ({@code size} a multiple of 8), so after any
 * number of bytes the sum is known in advance ({@link Expected}): the receivers compare it, which both checks every
 * byte that came through and keeps the JIT from dropping the reads.
 */
final class StreamChecksum {

    private final boolean bigEndian;
    private long sum;
    /** The bytes of the word in progress (fewer than 8), in the order {@code getLong} reads them. */
    private long carry;
    private int carryBytes;
    private long bytes;

    /**
     * @param order the byte order of the {@code getLong} used: Netty's {@code ByteBuf.getLong} is big-endian,
     *              Agrona's {@code DirectBuffer.getLong} native
     */
    StreamChecksum(ByteOrder order) {
        this.bigEndian = order == ByteOrder.BIG_ENDIAN;
    }

    /** The bytes of one message, over and over, that every stream of {@code size}-byte writes carries. */
    static byte[] payload(int size) {
        byte[] bytes = new byte[size];
        new SplittableRandom(size).nextBytes(bytes);
        return bytes;
    }

    /** Reads the readable bytes of {@code buf} (its indexes stay as they are). */
    void update(ByteBuf buf) {
        int i = buf.readerIndex();
        int end = buf.writerIndex();
        bytes += end - i;
        while (carryBytes != 0 && i < end) {
            add(buf.getByte(i++));
        }
        long s = sum;
        for (; end - i >= 8; i += 8) {
            s += buf.getLong(i);
        }
        sum = s;
        while (i < end) {
            add(buf.getByte(i++));
        }
    }

    /** Reads {@code length} bytes of {@code buffer} from {@code offset}, with the buffer's native-order getLong. */
    void update(DirectBuffer buffer, int offset, int length) {
        int i = offset;
        int end = offset + length;
        bytes += length;
        while (carryBytes != 0 && i < end) {
            add(buffer.getByte(i++));
        }
        long s = sum;
        for (; end - i >= 8; i += 8) {
            s += buffer.getLong(i);
        }
        sum = s;
        while (i < end) {
            add(buffer.getByte(i++));
        }
    }

    private void add(byte b) {
        if (bigEndian) {
            carry = carry << 8 | (b & 0xFF);
        } else {
            carry |= (long) (b & 0xFF) << (carryBytes << 3);
        }
        if (++carryBytes == 8) {
            sum += carry;
            carry = 0;
            carryBytes = 0;
        }
    }

    /** Bytes read so far. */
    long bytes() {
        return bytes;
    }

    /** The sum of every word read so far, a last incomplete word counted as if zeros followed it. */
    long value() {
        if (carryBytes == 0) {
            return sum;
        }
        return sum + (bigEndian ? carry << ((8 - carryBytes) << 3) : carry);
    }

    void reset() {
        sum = 0;
        carry = 0;
        carryBytes = 0;
        bytes = 0;
    }

    /** The checksum of the first {@code n} bytes of a stream of one payload repeated, for any {@code n}, in O(1). */
    static final class Expected {
        final int size;
        private final byte[] payload;
        private final boolean bigEndian;
        /** {@code prefix[k]}: the sum of the payload's first {@code k} words. */
        private final long[] prefix;

        Expected(int size, ByteOrder order) {
            if (size <= 0 || size % 8 != 0) {
                throw new IllegalArgumentException("the payload size must be a positive multiple of 8: " + size);
            }
            this.size = size;
            this.payload = payload(size);
            this.bigEndian = order == ByteOrder.BIG_ENDIAN;
            ByteBuffer words = ByteBuffer.wrap(payload).order(order);
            prefix = new long[size / 8 + 1];
            for (int k = 0; k < size / 8; k++) {
                prefix[k + 1] = prefix[k] + words.getLong(k * 8);
            }
        }

        long value(long n) {
            long whole = n / size;
            int rest = (int) (n % size);
            int words = rest >>> 3;
            long v = whole * prefix[size / 8] + prefix[words];
            for (int j = 0; j < (rest & 7); j++) {
                long b = payload[words * 8 + j] & 0xFF;
                v += bigEndian ? b << ((7 - j) << 3) : b << (j << 3);
            }
            return v;
        }
    }
}
