package io.idts.channel;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The last handler of a test pipeline that receives {@link StreamPattern}: checks every byte, releases every buffer,
 * and records exceptions and the channel's end.
 *
 * <p>{@link #done()} completes with the byte count when {@code expected} bytes arrived; exceptionally at the first
 * wrong byte, on an exception, or if the channel closes first. {@link #reached(long)} completes once that many bytes
 * arrived. {@link #closed()} completes when the channel goes inactive, with the {@link System#nanoTime()} of that.
 */
public final class PatternReceiver extends ChannelInboundHandlerAdapter {

    private final long expected;
    private final StreamPattern.Verifier verifier = new StreamPattern.Verifier();
    private final CompletableFuture<Long> done = new CompletableFuture<>();
    private final CompletableFuture<Long> closed = new CompletableFuture<>();
    private final List<Throwable> exceptions = new CopyOnWriteArrayList<>();
    private volatile long received;
    private volatile long threshold = Long.MAX_VALUE;
    private volatile CompletableFuture<Long> thresholdReached = new CompletableFuture<>();

    /** @param expected bytes to wait for; {@link Long#MAX_VALUE} for an endless stream */
    public PatternReceiver(long expected) {
        this.expected = expected;
    }

    public CompletableFuture<Long> done() {
        return done;
    }

    public CompletableFuture<Long> closed() {
        return closed;
    }

    /** Completes once {@code bytes} bytes arrived (set it before they can arrive). */
    public CompletableFuture<Long> reached(long bytes) {
        CompletableFuture<Long> future = new CompletableFuture<>();
        thresholdReached = future;
        threshold = bytes;
        if (received >= bytes) {
            future.complete(received);
        }
        return future;
    }

    /** Bytes received and checked so far. */
    public long received() {
        return received;
    }

    /** The exceptions that reached this handler. */
    public List<Throwable> exceptions() {
        return exceptions;
    }

    /** The first wrong byte, or {@code null}. */
    public String failure() {
        return verifier.failure();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            ByteBuf buf = (ByteBuf) msg;
            if (!verifier.verify(buf)) {
                done.completeExceptionally(new AssertionError(verifier.failure()));
                ctx.close();
                return;
            }
            received = verifier.position();
            if (received >= threshold) {
                thresholdReached.complete(received);
            }
            if (received > expected) {
                done.completeExceptionally(new AssertionError("received " + received + " bytes, more than the "
                        + expected + " sent"));
            } else if (received == expected) {
                done.complete(received);
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        exceptions.add(cause);
        done.completeExceptionally(cause);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        closed.complete(System.nanoTime());
        done.completeExceptionally(new AssertionError(ctx.channel() + " closed after " + received + " of "
                + expected + " bytes"));
        super.channelInactive(ctx);
    }
}
