package io.idts.testsuite;

import io.netty.buffer.ByteBuf;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.SplittableRandom;

/** Bodies of the protocol-stack tests and their SHA-256, read without moving the buffers' indexes. */
final class Digests {

    private Digests() {
    }

    static String sha256(ByteBuf buf) {
        MessageDigest digest = newDigest();
        for (ByteBuffer part : buf.nioBuffers(buf.readerIndex(), buf.readableBytes())) {
            digest.update(part);
        }
        return HexFormat.of().formatHex(digest.digest());
    }

    static String sha256(byte[] bytes) {
        return HexFormat.of().formatHex(newDigest().digest(bytes));
    }

    /** {@code length} pseudo-random bytes, different for every seed. */
    static byte[] body(int length, long seed) {
        byte[] bytes = new byte[length];
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < length; i += 8) {
            long value = random.nextLong();
            for (int j = 0; j < 8 && i + j < length; j++) {
                bytes[i + j] = (byte) (value >>> 8 * j);
            }
        }
        return bytes;
    }

    private static MessageDigest newDigest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
