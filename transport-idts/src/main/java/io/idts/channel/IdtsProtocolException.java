package io.idts.channel;

import java.io.IOException;

/**
 * The peer of an IDTS channel broke the ring protocol: it wrote a value to the shared region that the protocol does
 * not allow (a position that goes backwards or runs more than a ring's capacity ahead, an unknown or decreasing
 * state, a reserved flag bit, a bad header). The message names the field, the value read and the rule it broke.
 *
 * <p>The side that detected the violation stops using the ring at once: it never reads or writes a byte outside its
 * rings, never waits for the peer again, and the channel is closed with this exception. A peer that does this is
 * either broken or hostile; nothing it wrote after the last valid value is delivered.
 */
public final class IdtsProtocolException extends IOException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception.
     *
     * @param message which field the peer wrote, the value read and the bound it broke
     */
    public IdtsProtocolException(String message) {
        super(message);
    }
}
