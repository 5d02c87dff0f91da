package io.idts.linux;

import io.netty.util.internal.EmptyArrays;

import java.util.Arrays;

/**
 * What one {@link UnixDomainSocket#receive} got.
 *
 * <p>Internal API.
 */
public final class ReceivedMessage {

    /** Nothing was available ({@code EAGAIN}). */
    static final ReceivedMessage NOTHING = new ReceivedMessage(-1, EmptyArrays.EMPTY_INTS);

    private final int bytes;
    private final int[] fds;

    ReceivedMessage(int bytes, int[] fds) {
        this.bytes = bytes;
        this.fds = fds;
    }

    /** Bytes read (&gt; 0), 0 at end of stream (the peer closed), or -1 if nothing was available. */
    public int bytes() {
        return bytes;
    }

    /** The descriptors received, never {@code null} (empty when none). The caller owns and must close them. */
    public int[] fds() {
        return fds;
    }

    @Override
    public String toString() {
        return "ReceivedMessage(bytes=" + bytes + ", fds=" + Arrays.toString(fds) + ')';
    }
}
