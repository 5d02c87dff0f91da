package io.idts.testsuite.xen;

import io.netty.buffer.ByteBuf;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * A deterministic byte stream of one seed for the transfer checks between domains: byte {@code i} is
 * {@code table[i % PERIOD]}, the table being random bytes of the seed and {@code PERIOD} a prime, so that a byte
 * lost, duplicated or delivered at another position never lines up with a power-of-two ring and is caught. Each
 * direction has its own seed, so an echo of the other direction's stream does not pass for it.
 */
final class XenPattern {

    /** The longest slice {@link #write} and {@link Verifier#verify} handle in one step. */
    static final int MAX_CHUNK = 64 * 1024;
    /** A prime: the pattern's period. */
    private static final int PERIOD = 262_147;

    private final byte[] table = new byte[PERIOD + MAX_CHUNK];

    XenPattern(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < PERIOD; i++) {
            table[i] = (byte) random.nextInt(256);
        }
        System.arraycopy(table, 0, table, PERIOD, MAX_CHUNK);
    }

    /** Appends the {@code length} (at most {@link #MAX_CHUNK}) stream bytes from {@code position} to {@code dst}. */
    void write(ByteBuf dst, long position, int length) {
        dst.writeBytes(table, (int) (position % PERIOD), length);
    }

    /** Checks one received stream against the pattern. Not thread-safe: use it on one event loop. */
    final class Verifier {
        private final byte[] scratch = new byte[MAX_CHUNK];
        private long position;
        private String failure;

        /** Bytes checked so far. */
        long position() {
            return position;
        }

        /** The first mismatch, or {@code null}. */
        String failure() {
            return failure;
        }

        /** Checks {@code length} bytes of {@code buf} from {@code index} as the next bytes of the stream. */
        boolean verify(ByteBuf buf, int index, int length) {
            while (failure == null && length > 0) {
                int n = Math.min(length, MAX_CHUNK);
                buf.getBytes(index, scratch, 0, n);
                int offset = (int) (position % PERIOD);
                int mismatch = Arrays.mismatch(scratch, 0, n, table, offset, offset + n);
                if (mismatch >= 0) {
                    failure = "byte " + (position + mismatch) + " of the stream is " + scratch[mismatch]
                            + ", expected " + table[offset + mismatch];
                    return false;
                }
                position += n;
                index += n;
                length -= n;
            }
            return failure == null;
        }
    }
}
