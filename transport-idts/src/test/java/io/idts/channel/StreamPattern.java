package io.idts.channel;

import io.netty.buffer.ByteBuf;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * A deterministic, non-periodic-looking byte stream for transfer tests: byte {@code i} of the stream is
 * {@code TABLE[i % PERIOD]}, where the table is random bytes from a fixed seed and {@code PERIOD} is a prime, so the
 * pattern never lines up with a power-of-two ring and a byte delivered at the wrong position (or twice, or lost) is
 * caught. Both ends of a test compute it independently: gigabytes can be checked without being stored.
 */
public final class StreamPattern {

    /** The longest slice {@link #write} and {@link #verify} handle in one step. */
    public static final int MAX_CHUNK = 256 * 1024;
    /** A prime: the pattern's period. */
    static final int PERIOD = 1_000_003;
    private static final byte[] TABLE = new byte[PERIOD + MAX_CHUNK];

    static {
        SplittableRandom random = new SplittableRandom(0x1D75_5EEDL);
        for (int i = 0; i < PERIOD; i++) {
            TABLE[i] = (byte) random.nextInt(256);
        }
        System.arraycopy(TABLE, 0, TABLE, PERIOD, MAX_CHUNK);
    }

    private StreamPattern() {
    }

    /** The byte at {@code position} of the stream. */
    public static byte at(long position) {
        return TABLE[(int) (position % PERIOD)];
    }

    /** Appends the {@code length} stream bytes from {@code position} to {@code dst}. */
    public static void write(ByteBuf dst, long position, int length) {
        while (length > 0) {
            int n = Math.min(length, MAX_CHUNK);
            dst.writeBytes(TABLE, (int) (position % PERIOD), n);
            position += n;
            length -= n;
        }
    }

    /** A checker of one received stream. Not thread-safe; use it on one event loop. */
    public static final class Verifier {
        private final byte[] scratch = new byte[MAX_CHUNK];
        private long position;
        private String failure;

        /** Stream bytes checked so far. */
        public long position() {
            return position;
        }

        /** The first mismatch, or {@code null}. */
        public String failure() {
            return failure;
        }

        /**
         * Checks the readable bytes of {@code buf} (without consuming them) as the next bytes of the stream.
         *
         * @return {@code true} if they match; after the first mismatch always {@code false}
         */
        public boolean verify(ByteBuf buf) {
            if (failure != null) {
                return false;
            }
            int index = buf.readerIndex();
            int remaining = buf.readableBytes();
            while (remaining > 0) {
                int n = Math.min(remaining, MAX_CHUNK);
                buf.getBytes(index, scratch, 0, n);
                int offset = (int) (position % PERIOD);
                int mismatch = Arrays.mismatch(scratch, 0, n, TABLE, offset, offset + n);
                if (mismatch >= 0) {
                    failure = "byte " + (position + mismatch) + " of the stream is " + scratch[mismatch]
                            + ", expected " + TABLE[offset + mismatch];
                    position += mismatch;
                    return false;
                }
                position += n;
                index += n;
                remaining -= n;
            }
            return true;
        }
    }
}
