package io.idts.testsuite.xen;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.socket.DuplexChannel;
import io.netty.util.ReferenceCountUtil;

import java.net.ConnectException;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;

/**
 * The two ends of the transfer checks between domains, each run by one of {@link XenInterDomainServerMain} and
 * {@link XenInterDomainClientMain}.
 *
 * <p>Stream ({@link StreamEnd}): both ends send {@link #STREAM_BYTES} bytes of their own {@link XenPattern} at once,
 * as fast as writability allows, and shut their output down when everything is written. Each end checks what it
 * receives against the other's pattern and computes its CRC32. The server, once its input is shut down and its own
 * stream written, appends a trailer (CRC32 and count of what it received, CRC32 and count of what it sent) before it
 * shuts its output down, so that the client compares the checksums of both directions as the two ends computed
 * them.
 *
 * <p>Half-close ({@link HalfCloseServer}): the client writes {@link #HALF_CLOSE_BYTES} bytes and shuts its output
 * down; the server holds everything until it sees its input shut down, then writes it all back and shuts its own
 * output down: every byte the client reads arrives after its own output was shut down.
 */
final class XenTransfers {

    static final long STREAM_BYTES = 64L << 20;
    static final int HALF_CLOSE_BYTES = 256 << 10;
    static final int TRAILER_BYTES = 32;
    static final long CLIENT_SEED = 0x1D75_C11EL;
    static final long SERVER_SEED = 0x1D75_D0D0L;

    private XenTransfers() {
    }

    /**
     * Connects, retrying every second while nobody answers (the server's JVM in the other domain may start after this
     * one) for up to {@code timeoutSeconds}; any other failure ends it at once.
     */
    static Channel connectWithRetry(Bootstrap bootstrap, SocketAddress address, long timeoutSeconds, XenCheckLog log)
            throws InterruptedException {
        long start = System.nanoTime();
        long end = start + TimeUnit.SECONDS.toNanos(timeoutSeconds);
        for (int attempt = 1;; attempt++) {
            ChannelFuture connect = bootstrap.connect(address).await();
            if (connect.isSuccess()) {
                log.info("connected to " + address + " after " + attempt + " attempt(s), "
                        + (System.nanoTime() - start) / 1_000_000 + " ms");
                return connect.channel();
            }
            // Refused while nobody listens; anything else is a failure to report.
            if (!(connect.cause() instanceof ConnectException) || System.nanoTime() > end) {
                throw new IllegalStateException("connect to " + address + " failed after " + attempt
                        + " attempt(s)", connect.cause());
            }
            if (attempt == 1) {
                log.info("waiting for " + address + ": " + connect.cause().getMessage());
            }
            Thread.sleep(1000);
        }
    }

    static void update(CRC32 crc, ByteBuf buf, int index, int length) {
        for (ByteBuffer b : buf.nioBuffers(index, length)) {
            crc.update(b);
        }
    }

    static String crc(long value) {
        return String.format("%08x", value);
    }

    /** The outcome of one end of a stream transfer. */
    static final class StreamResult {
        final long received;
        final long receivedCrc;
        final String patternFailure;
        final long sent;
        final long sentCrc;
        final byte[] trailer;
        final boolean inputShutdown;
        final long nanos;

        StreamResult(long received, long receivedCrc, String patternFailure, long sent, long sentCrc, byte[] trailer,
                     boolean inputShutdown, long nanos) {
            this.received = received;
            this.receivedCrc = receivedCrc;
            this.patternFailure = patternFailure;
            this.sent = sent;
            this.sentCrc = sentCrc;
            this.trailer = trailer;
            this.inputShutdown = inputShutdown;
            this.nanos = nanos;
        }
    }

    /**
     * One end of the stream transfer. The channel must allow half-closure. {@link #result()} completes when the
     * channel's input is shut down (or it closes), or exceptionally on an exception or a failed write.
     */
    static final class StreamEnd extends ChannelInboundHandlerAdapter {
        private final boolean server;
        private final XenPattern outPattern;
        private final XenPattern.Verifier verifier;
        private final CRC32 inCrc = new CRC32();
        private final CRC32 outCrc = new CRC32();
        private final ByteBuffer trailer = ByteBuffer.allocate(TRAILER_BYTES);
        private final CompletableFuture<StreamResult> result = new CompletableFuture<>();
        private final CompletableFuture<Void> outputDone = new CompletableFuture<>();
        private long start;
        // Written on the event loop only; volatile for describe(), which a watchdog calls from another thread.
        private volatile long sent;
        private volatile long received;
        private volatile boolean inputShutdown;
        private volatile boolean finishing;
        private volatile Channel channel;

        StreamEnd(boolean server) {
            this.server = server;
            this.outPattern = new XenPattern(server ? SERVER_SEED : CLIENT_SEED);
            this.verifier = new XenPattern(server ? CLIENT_SEED : SERVER_SEED).new Verifier();
        }

        CompletableFuture<StreamResult> result() {
            return result;
        }

        /** Completes when this end's output is shut down after everything it had to write was written. */
        CompletableFuture<Void> outputDone() {
            return outputDone;
        }

        /** Where the transfer stands, for the log of a transfer that takes too long. */
        String describe() {
            Channel ch = channel;
            return "sent " + sent + ", received " + received + ", input shut down " + inputShutdown
                    + ", trailer " + (finishing ? "written" : "not written")
                    + (ch == null ? ", no channel yet" : ", channel " + (ch.isActive() ? "active" : "inactive")
                    + (ch.isWritable() ? ", writable" : ", not writable (" + ch.bytesBeforeWritable()
                    + " bytes pending before writable)"));
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) throws Exception {
            start = System.nanoTime();
            channel = ctx.channel();
            send(ctx);
            super.channelActive(ctx);
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
            send(ctx);
            super.channelWritabilityChanged(ctx);
        }

        private void send(ChannelHandlerContext ctx) {
            boolean wrote = false;
            while (sent < STREAM_BYTES && ctx.channel().isActive() && ctx.channel().isWritable()) {
                int n = (int) Math.min(XenPattern.MAX_CHUNK, STREAM_BYTES - sent);
                ByteBuf buf = ctx.alloc().directBuffer(n);
                outPattern.write(buf, sent, n);
                update(outCrc, buf, buf.readerIndex(), n);
                sent += n;
                ChannelFuture written = ctx.write(buf);
                written.addListener(f -> {
                    if (!f.isSuccess()) {
                        fail(ctx, f.cause());
                    }
                });
                wrote = true;
                if (sent == STREAM_BYTES) {
                    // Shutting the output down fails the writes still queued: wait until the last one is done.
                    written.addListener(f -> {
                        if (f.isSuccess()) {
                            streamWritten(ctx);
                        }
                    });
                }
            }
            if (wrote) {
                ctx.flush();
            }
        }

        private void streamWritten(ChannelHandlerContext ctx) {
            if (!server) {
                shutdownOutput(ctx);
            } else {
                maybeFinish(ctx);
            }
        }

        private void shutdownOutput(ChannelHandlerContext ctx) {
            ((DuplexChannel) ctx.channel()).shutdownOutput().addListener(f -> {
                if (!f.isSuccess()) {
                    fail(ctx, f.cause());
                    return;
                }
                outputDone.complete(null);
                if (server) {
                    // Both directions are shut down: with half-closure allowed the channel stays open until
                    // closed, as a socket does.
                    complete();
                    ctx.close();
                }
            });
        }

        /** The server's end: both its stream written and its input shut down, it writes the trailer. */
        private void maybeFinish(ChannelHandlerContext ctx) {
            if (!server || finishing || !inputShutdown || sent < STREAM_BYTES) {
                return;
            }
            finishing = true;
            ByteBuf t = ctx.alloc().buffer(TRAILER_BYTES);
            t.writeLong(inCrc.getValue()).writeLong(received).writeLong(outCrc.getValue()).writeLong(sent);
            ctx.writeAndFlush(t).addListener(f -> {
                if (f.isSuccess()) {
                    shutdownOutput(ctx);
                } else {
                    fail(ctx, f.cause());
                }
            });
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            try {
                int index = buf.readerIndex();
                int length = buf.readableBytes();
                int data = (int) Math.min(length, STREAM_BYTES - received);
                if (data > 0) {
                    verifier.verify(buf, index, data);
                    update(inCrc, buf, index, data);
                    received += data;
                }
                int extra = length - data;
                if (extra > 0) {
                    if (server || extra > trailer.remaining()) {
                        fail(ctx, new IllegalStateException((server ? "server" : "client") + " received "
                                + extra + " bytes beyond the stream" + (server ? "" : " and its trailer")));
                        return;
                    }
                    buf.getBytes(index + data, trailer.array(), trailer.position(), extra);
                    trailer.position(trailer.position() + extra);
                }
            } finally {
                ReferenceCountUtil.release(buf);
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt instanceof ChannelInputShutdownEvent) {
                inputShutdown = true;
                if (server) {
                    maybeFinish(ctx);
                } else {
                    complete();
                    ctx.close();
                }
            }
            super.userEventTriggered(ctx, evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) throws Exception {
            complete();
            super.channelInactive(ctx);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            fail(ctx, cause);
        }

        private void complete() {
            byte[] t = trailer.position() == TRAILER_BYTES ? trailer.array().clone() : null;
            result.complete(new StreamResult(received, inCrc.getValue(), verifier.failure(), sent, outCrc.getValue(),
                    t, inputShutdown, System.nanoTime() - start));
        }

        private void fail(ChannelHandlerContext ctx, Throwable cause) {
            result.completeExceptionally(cause);
            outputDone.completeExceptionally(cause);
            ctx.close();
        }
    }

    /**
     * The server end of the half-close check: keeps what it reads until its input is shut down, then writes it all
     * back and shuts its output down. {@link #result()}: {@code null} if the input shutdown came while the channel
     * was open with its output open, and everything was written back after it; otherwise what went wrong.
     */
    static final class HalfCloseServer extends ChannelInboundHandlerAdapter {
        private final CompletableFuture<String> result = new CompletableFuture<>();
        private ByteBuf held;

        CompletableFuture<String> result() {
            return result;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) throws Exception {
            held = ctx.alloc().buffer(HALF_CLOSE_BYTES);
            super.channelActive(ctx);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            try {
                held.writeBytes(buf);
            } finally {
                buf.release();
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
            if (evt instanceof ChannelInputShutdownEvent) {
                DuplexChannel channel = (DuplexChannel) ctx.channel();
                boolean open = channel.isActive() && !channel.isOutputShutdown();
                int bytes = held.readableBytes();
                ByteBuf reply = held;
                held = null;
                ctx.writeAndFlush(reply).addListener(written -> {
                    if (!written.isSuccess()) {
                        result.complete("writing back " + bytes + " bytes after the input shutdown failed: "
                                + written.cause());
                        return;
                    }
                    channel.shutdownOutput().addListener(shut -> {
                        result.complete(!open ? "the channel was not open for output when its input was shut down"
                                : bytes != HALF_CLOSE_BYTES ? "received " + bytes + " bytes, expected "
                                + HALF_CLOSE_BYTES
                                : shut.isSuccess() ? null : "shutdownOutput failed: " + shut.cause());
                        ctx.close();
                    });
                });
            }
            super.userEventTriggered(ctx, evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) throws Exception {
            if (held != null) {
                held.release();
                held = null;
            }
            result.complete("the channel closed before its input was shut down");
            super.channelInactive(ctx);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            result.complete("exception: " + cause);
            ctx.close();
        }
    }
}
