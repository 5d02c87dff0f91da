package io.idts.channel.host;

import io.idts.channel.IdtsAddress;
import io.idts.channel.ring.RegionLayout;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The messages of the host backend's connect handshake over the rendezvous socket (docs/protocol.md, "Host connect
 * handshake"): the connector's HELLO, carrying the region's memfd and the two eventfds, and the acceptor's one-byte
 * reply.
 */
public final class HostHandshake {

    /** HELLO: u32 magic, u16 version, u16 name length n, then n bytes of the connector's local service name. */
    public static final int HELLO_MAGIC_OFFSET = 0;
    public static final int HELLO_VERSION_OFFSET = 4;
    public static final int HELLO_NAME_LENGTH_OFFSET = 6;
    public static final int HELLO_NAME_OFFSET = 8;
    static final int HELLO_MAX_SIZE = HELLO_NAME_OFFSET + IdtsAddress.MAX_SERVICE_LENGTH;

    /** The descriptors of a HELLO, in this order. */
    public static final int FD_REGION = 0;
    public static final int FD_TO_ACCEPTOR = 1;
    public static final int FD_TO_CONNECTOR = 2;
    public static final int FD_COUNT = 3;

    /** Reply codes: one byte from the acceptor. */
    public static final byte ACCEPTED = 0;
    static final byte BAD_HELLO = 1;
    static final byte BAD_VERSION = 2;
    static final byte BAD_REGION = 3;
    static final byte PERMISSION_DENIED = 4;

    /** How long an accepted socket may take to send its HELLO before the acceptor drops it. */
    static final long HELLO_TIMEOUT_MILLIS = 10_000;

    private HostHandshake() {
    }

    static byte[] encodeHello(String localName) {
        byte[] name = localName.getBytes(StandardCharsets.US_ASCII);
        ByteBuffer hello = ByteBuffer.allocate(HELLO_NAME_OFFSET + name.length).order(ByteOrder.nativeOrder());
        hello.putInt(HELLO_MAGIC_OFFSET, RegionLayout.MAGIC);
        hello.putShort(HELLO_VERSION_OFFSET, (short) RegionLayout.VERSION);
        hello.putShort(HELLO_NAME_LENGTH_OFFSET, (short) name.length);
        hello.position(HELLO_NAME_OFFSET);
        hello.put(name);
        return hello.array();
    }

    /** Thrown by the acceptor for a HELLO it refuses; {@link #code()} is sent back as the reply. */
    static final class Rejection extends Exception {
        private static final long serialVersionUID = 1L;
        private final byte code;

        Rejection(byte code, String message) {
            super(message, null, false, false);
            this.code = code;
        }

        byte code() {
            return code;
        }
    }

    /**
     * Reads a HELLO received in {@code data[0, length)}.
     *
     * @return the connector's local service name
     * @throws Rejection if the message is malformed or of another protocol version
     */
    static String decodeHello(byte[] data, int length) throws Rejection {
        if (length < HELLO_NAME_OFFSET) {
            throw new Rejection(BAD_HELLO, "HELLO of " + length + " bytes is shorter than its "
                    + HELLO_NAME_OFFSET + "-byte header");
        }
        ByteBuffer hello = ByteBuffer.wrap(data, 0, length).order(ByteOrder.nativeOrder());
        int magic = hello.getInt(HELLO_MAGIC_OFFSET);
        if (magic != RegionLayout.MAGIC) {
            throw new Rejection(BAD_HELLO, "HELLO magic 0x" + Integer.toHexString(magic) + " is not IDTS's 0x"
                    + Integer.toHexString(RegionLayout.MAGIC));
        }
        int version = Short.toUnsignedInt(hello.getShort(HELLO_VERSION_OFFSET));
        if (version != RegionLayout.VERSION) {
            throw new Rejection(BAD_VERSION, "peer speaks IDTS protocol version " + version + ", this side "
                    + RegionLayout.VERSION + " (run releases of the same protocol version on both ends)");
        }
        int nameLength = Short.toUnsignedInt(hello.getShort(HELLO_NAME_LENGTH_OFFSET));
        if (nameLength != length - HELLO_NAME_OFFSET) {
            throw new Rejection(BAD_HELLO, "HELLO announces a " + nameLength + "-byte name but carries "
                    + (length - HELLO_NAME_OFFSET) + " bytes");
        }
        String name = new String(data, HELLO_NAME_OFFSET, nameLength, StandardCharsets.US_ASCII);
        if (!IdtsAddress.isValidService(name)) {
            throw new Rejection(BAD_HELLO, "HELLO carries an invalid name '" + name + '\'');
        }
        return name;
    }

    /** What a reply code means, for the connector's exception message. */
    public static String describeReply(int code) {
        switch (code) {
            case ACCEPTED:
                return "accepted";
            case BAD_HELLO:
                return "the server rejected the handshake message (protocol mismatch)";
            case BAD_VERSION:
                return "the server does not speak IDTS protocol version " + RegionLayout.VERSION + " (it runs an IDTS "
                        + "release of another protocol version, such as 1): run releases of the same protocol version "
                        + "on both ends";
            case BAD_REGION:
                return "the server rejected the shared region (header, size or seals)";
            case PERMISSION_DENIED:
                return "permission denied: the server runs as another user";
            default:
                return "the server answered with unknown code " + code;
        }
    }
}
