package io.idts.channel;

import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

import java.util.SplittableRandom;

/**
 * Writes the first {@code total} bytes of {@link StreamPattern} when the channel becomes active, in writes of random
 * sizes (fixed seed), as fast as the channel's writability allows: it stops while the channel is not writable and
 * goes on when it becomes writable again, so the outbound buffer stays near the high water mark. The first failed
 * write is kept ({@link #writeFailure()}); failures do not reach {@code exceptionCaught}.
 */
public final class PatternSender extends ChannelInboundHandlerAdapter {

    private final long total;
    private final int maxChunk;
    private final SplittableRandom random;
    private volatile Throwable writeFailure;
    private final ChannelFutureListener onWritten = future -> {
        if (!future.isSuccess() && writeFailure == null) {
            writeFailure = future.cause();
        }
    };
    private long sent;
    private int writes;

    /**
     * @param maxChunk the largest write, at most {@link StreamPattern#MAX_CHUNK}; sizes are spread evenly over
     *                 their binary orders of magnitude (as many 2-byte writes as 100 KiB ones, roughly)
     */
    public PatternSender(long total, int maxChunk, long seed) {
        if (maxChunk < 1 || maxChunk > StreamPattern.MAX_CHUNK) {
            throw new IllegalArgumentException("maxChunk: " + maxChunk);
        }
        this.total = total;
        this.maxChunk = maxChunk;
        this.random = new SplittableRandom(seed);
    }

    /** Bytes handed to the channel so far (on its event loop). */
    public long sent() {
        return sent;
    }

    /** The first write that failed, or {@code null}. */
    public Throwable writeFailure() {
        return writeFailure;
    }

    /** Writes made so far. */
    public int writes() {
        return writes;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        send(ctx);
        super.channelActive(ctx);
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
        send(ctx);
        super.channelWritabilityChanged(ctx);
    }

    private int nextSize() {
        int orders = 32 - Integer.numberOfLeadingZeros(maxChunk); // maxChunk < 2^orders
        int bound = Math.min(maxChunk, 1 << random.nextInt(orders));
        return 1 + random.nextInt(bound);
    }

    private void send(ChannelHandlerContext ctx) {
        Channel channel = ctx.channel();
        boolean wrote = false;
        while (sent < total && channel.isActive() && channel.isWritable()) {
            int size = (int) Math.min(nextSize(), total - sent);
            ByteBuf buf = ctx.alloc().directBuffer(size);
            StreamPattern.write(buf, sent, size);
            sent += size;
            writes++;
            ctx.write(buf).addListener(onWritten);
            wrote = true;
        }
        if (wrote) {
            ctx.flush();
        }
    }
}
