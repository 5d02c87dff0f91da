package io.idts.channel;

import io.idts.channel.ring.RingWriter;
import io.idts.channel.ring.ViewByteBuf;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.util.ReferenceCounted;
import io.netty.util.internal.PlatformDependent;

/**
 * The transmit claims of one channel ({@link IdtsChannel#claim(int)}): space in the transmit ring lent as a
 * {@link ByteBuf} to be written in place, then committed or aborted. One claim is open at a time; the claim buffer is
 * reused while nobody keeps it past its commit. An open claim holds a reference to the region, so that a claim still
 * open when the channel closes never writes into unmapped memory.
 */
final class TransmitClaims implements ViewByteBuf.Owner {

    private ViewByteBuf buf;
    private long address;
    private long lastToken;
    /** Token of the open claim, 0 if none; written on the loop, cleared by any thread that frees it. */
    private volatile long openToken;
    /** The connection's region lifetime, kept after close for the claim still open then. */
    private volatile ReferenceCounted regionLifetime;
    private long claimedBytes;
    /** Run when the open claim ends (committed, aborted or released, on any thread). */
    private final Runnable claimEnded;

    /** @param claimEnded run when the open claim ends, on the thread that ends it */
    TransmitClaims(Runnable claimEnded) {
        this.claimEnded = claimEnded;
    }

    /** Claims of the region kept alive by {@code regionLifetime} from now on. */
    void attach(ReferenceCounted regionLifetime) {
        this.regionLifetime = regionLifetime;
    }

    boolean isOpen() {
        return openToken != 0;
    }

    /** Bytes committed so far. */
    long claimedBytes() {
        return claimedBytes;
    }

    /** A claim of {@code size} bytes at {@code writer}'s write index; the caller checked that they are free. */
    ByteBuf claim(RingWriter writer, int size, ByteBufAllocator alloc) {
        ViewByteBuf buf = this.buf;
        if (buf == null || buf.refCnt() != 0) {
            // Someone kept the last claim past its commit: it is theirs now.
            buf = ViewByteBuf.unpooled();
            this.buf = buf;
            address = PlatformDependent.hasUnsafe() ? PlatformDependent.directBufferAddress(writer.claimMemory()) : 0;
        }
        regionLifetime.retain();
        long token = ++lastToken;
        openToken = token;
        return buf.init(writer.claimMemory(), address, writer.index(), size, true, alloc, this, token);
    }

    /** Whether {@code claim} is the open claim. */
    boolean isOpenClaim(ByteBuf claim) {
        return claim == buf && openToken != 0 && claim.refCnt() != 0;
    }

    /** Commits the bytes written into the open claim {@code claim} to {@code writer} (not published) and frees it. */
    void commit(ByteBuf claim, RingWriter writer) throws IdtsProtocolException {
        try {
            int length = claim.writerIndex();
            writer.commit(length);
            claimedBytes += length;
        } finally {
            free(claim);
        }
    }

    /** Frees the open claim {@code claim}, its space unused. */
    void free(ByteBuf claim) {
        openToken = 0;
        claim.release();
        claimEnded.run();
    }

    /** Any thread: a claim buffer's reference count dropped to zero (committed, aborted, or just released). */
    @Override
    public void released(ViewByteBuf buf, long token) {
        if (openToken == token) {
            openToken = 0; // released without commit: an abort
            claimEnded.run();
        }
        ReferenceCounted lifetime = regionLifetime;
        if (lifetime != null) {
            lifetime.release();
        }
    }
}
