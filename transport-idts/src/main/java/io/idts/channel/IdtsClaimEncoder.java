package io.idts.channel;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.internal.TypeParameterMatcher;

/**
 * An encoder (as Netty's {@code MessageToByteEncoder}: messages of type {@code I} become bytes, other messages pass
 * through) that, on an {@link IdtsChannel}, encodes each message straight into the transmit
 * ring through {@link IdtsChannel#claim(int)} and {@link IdtsChannel#commit(ByteBuf)}: no buffer is allocated and
 * no byte is copied. Where a claim cannot be had (another channel type, writes pending, the ring full or the message
 * larger than a slice of the ring, the encoder not first in the pipeline) it encodes into an allocated buffer as any
 * {@code MessageToByteEncoder} does, so it is always correct and zero-copy whenever it can be.
 *
 * <p>Subclasses tell the exact encoded size of a message ({@link #encodedLength}) and {@link #encode} exactly that
 * many bytes. Add it as the pipeline's <em>first</em> handler: a claim goes straight to the ring, so no outbound
 * handler may sit between this encoder and the channel (it checks, and falls back otherwise). A write that went
 * through a claim is complete (its promise succeeds) when {@code write} returns: the bytes are published, as after
 * {@code writeAndFlush}.
 */
public abstract class IdtsClaimEncoder<I> extends ChannelOutboundHandlerAdapter {

    private final TypeParameterMatcher matcher;
    private long claimedWrites;

    /** Encodes the messages of this class's type parameter {@code I}. */
    protected IdtsClaimEncoder() {
        matcher = TypeParameterMatcher.find(this, IdtsClaimEncoder.class, "I");
    }

    /** Encodes the messages of {@code outboundMessageType}. */
    protected IdtsClaimEncoder(Class<? extends I> outboundMessageType) {
        matcher = TypeParameterMatcher.get(outboundMessageType);
    }

    /** Whether {@code msg} is encoded here; other messages pass on unchanged. */
    public boolean acceptOutboundMessage(Object msg) {
        return matcher.match(msg);
    }

    /** The exact number of bytes {@link #encode} will write for {@code msg}. */
    protected abstract int encodedLength(ChannelHandlerContext ctx, I msg) throws Exception;

    /**
     * Writes {@code msg} into {@code out}: {@link #encodedLength} bytes from its writer index. {@code out} is a claim
     * of the transmit ring or an allocated buffer; the encoder does not release {@code msg} (this class does).
     */
    protected abstract void encode(ChannelHandlerContext ctx, I msg, ByteBuf out) throws Exception;

    /** Messages encoded in place through a claim (the rest went through an allocated buffer). */
    public long claimedWrites() {
        return claimedWrites;
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
        Channel channel = ctx.channel();
        if (channel instanceof IdtsChannel && ctx.pipeline().first() == this && acceptOutboundMessage(msg)) {
            @SuppressWarnings("unchecked")
            I cast = (I) msg;
            int length = encodedLength(ctx, cast);
            ByteBuf claim = length > 0 ? ((IdtsChannel) channel).claim(length) : null;
            if (claim != null) {
                IdtsChannel idts = (IdtsChannel) channel;
                try {
                    encode(ctx, cast, claim);
                } catch (Throwable t) {
                    idts.abort(claim);
                    ReferenceCountUtil.release(msg);
                    promise.tryFailure(t);
                    return;
                }
                ReferenceCountUtil.release(msg);
                try {
                    idts.commit(claim);
                } catch (Throwable t) {
                    promise.tryFailure(t);
                    return;
                }
                claimedWrites++;
                promise.trySuccess();
                return;
            }
        }
        if (!acceptOutboundMessage(msg)) {
            ctx.write(msg, promise);
            return;
        }
        @SuppressWarnings("unchecked")
        I cast = (I) msg;
        ByteBuf buf = null;
        try {
            buf = ctx.alloc().ioBuffer(Math.max(encodedLength(ctx, cast), 1));
            encode(ctx, cast, buf);
        } catch (Throwable t) {
            if (buf != null) {
                buf.release();
            }
            promise.tryFailure(t);
            return;
        } finally {
            ReferenceCountUtil.release(msg);
        }
        ctx.write(buf, promise);
    }
}
