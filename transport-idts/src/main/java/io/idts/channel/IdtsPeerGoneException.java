package io.idts.channel;

import java.io.IOException;

/**
 * The peer of an {@link IdtsChannel} went away without closing the channel: its process died or was killed. The
 * bytes it had put in the ring before that were delivered; nothing after them will come. The channel is closed.
 */
public final class IdtsPeerGoneException extends IOException {
    private static final long serialVersionUID = 1L;

    public IdtsPeerGoneException(String message) {
        super(message);
    }
}
