package io.idts.testsuite.xen;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

import java.net.SocketAddress;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The figures measured inside the emulated Xen, the same way for IDTS and for TCP: round-trip time of 64-byte
 * messages ping-ponged one at a time ({@link #rtt}), and one-way bandwidth of 64 KiB writes acknowledged by the
 * receiver once it counted them all ({@link #bandwidth}). The server ends are {@link Echo} and {@link Sink}.
 */
final class XenBench {

    static final int RTT_MESSAGE_BYTES = 64;
    static final int BANDWIDTH_WRITE_BYTES = 64 * 1024;

    private XenBench() {
    }

    /** Writes back what it reads. */
    @ChannelHandler.Sharable
    static final class Echo extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.write(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /** Reads an 8-byte count, then that many bytes, then writes the count back as the acknowledgement. */
    static final class Sink extends ChannelInboundHandlerAdapter {
        private long expected = -1;
        private long received;
        private final ByteBuf header = Unpooled.buffer(8);

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            try {
                if (expected < 0) {
                    buf.readBytes(header, Math.min(buf.readableBytes(), header.writableBytes()));
                    if (header.isWritable()) {
                        return;
                    }
                    expected = header.readLong();
                }
                received += buf.readableBytes();
            } finally {
                buf.release();
            }
            if (received == expected) {
                ctx.writeAndFlush(ctx.alloc().buffer(8).writeLong(received));
            } else if (received > expected) {
                ctx.close();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /** Round-trip times in nanoseconds, sorted, of {@code count} ping-pongs after {@code warmup} unmeasured ones. */
    static long[] rtt(Bootstrap bootstrap, SocketAddress address, int warmup, int count, long timeoutSeconds)
            throws Exception {
        PingPong pingPong = new PingPong(warmup, count);
        Channel channel = bootstrap.clone().handler(pingPong).connect(address).sync().channel();
        try {
            long[] rtts = pingPong.done.get(timeoutSeconds, TimeUnit.SECONDS);
            Arrays.sort(rtts);
            return rtts;
        } finally {
            channel.close().sync();
        }
    }

    /** The value at {@code percentile} (0 to 100) of sorted {@code values}. */
    static long percentile(long[] sorted, double percentile) {
        int index = (int) Math.ceil(percentile / 100 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, index))];
    }

    /** Nanoseconds from the first write of {@code total} bytes to the receiver's acknowledgement of all of them. */
    static long bandwidth(Bootstrap bootstrap, SocketAddress address, long total, long timeoutSeconds)
            throws Exception {
        Blast blast = new Blast(total);
        Channel channel = bootstrap.clone().handler(blast).connect(address).sync().channel();
        try {
            return blast.done.get(timeoutSeconds, TimeUnit.SECONDS);
        } finally {
            channel.close().sync();
        }
    }

    private static final class PingPong extends ChannelInboundHandlerAdapter {
        final CompletableFuture<long[]> done = new CompletableFuture<>();
        private final int warmup;
        private final long[] rtts;
        private ByteBuf message;
        private int round;
        private int pending;
        private long sentAt;

        PingPong(int warmup, int count) {
            this.warmup = warmup;
            this.rtts = new long[count];
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            message = ctx.alloc().directBuffer(RTT_MESSAGE_BYTES).writeZero(RTT_MESSAGE_BYTES);
            ping(ctx);
        }

        private void ping(ChannelHandlerContext ctx) {
            pending = RTT_MESSAGE_BYTES;
            sentAt = System.nanoTime();
            ctx.writeAndFlush(message.retainedDuplicate());
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            pending -= buf.readableBytes();
            buf.release();
            if (pending > 0) {
                return;
            }
            long now = System.nanoTime();
            if (pending < 0) {
                done.completeExceptionally(new IllegalStateException("echo sent more than was pinged"));
                return;
            }
            if (round >= warmup) {
                rtts[round - warmup] = now - sentAt;
            }
            if (++round < warmup + rtts.length) {
                ping(ctx);
            } else {
                done.complete(rtts);
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (message != null) {
                message.release();
                message = null;
            }
            done.completeExceptionally(new IllegalStateException("channel closed after " + round + " round trips"));
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            done.completeExceptionally(cause);
            ctx.close();
        }
    }

    private static final class Blast extends ChannelInboundHandlerAdapter {
        final CompletableFuture<Long> done = new CompletableFuture<>();
        private final long total;
        private ByteBuf chunk;
        private long start;
        private final ByteBuf ack = Unpooled.buffer(8);
        private long sent;

        Blast(long total) {
            this.total = total;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            chunk = ctx.alloc().directBuffer(BANDWIDTH_WRITE_BYTES).writeZero(BANDWIDTH_WRITE_BYTES);
            start = System.nanoTime();
            ctx.write(ctx.alloc().buffer(8).writeLong(total));
            send(ctx);
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            send(ctx);
        }

        private void send(ChannelHandlerContext ctx) {
            while (sent < total && ctx.channel().isWritable()) {
                int n = (int) Math.min(BANDWIDTH_WRITE_BYTES, total - sent);
                ctx.write(chunk.retainedSlice(0, n)).addListener(f -> {
                    if (!f.isSuccess()) {
                        done.completeExceptionally(f.cause());
                    }
                });
                sent += n;
            }
            ctx.flush();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            long now = System.nanoTime();
            try {
                if (buf.readableBytes() > ack.writableBytes()) {
                    done.completeExceptionally(new IllegalStateException("the receiver sent more than its count"));
                    return;
                }
                ack.writeBytes(buf);
            } finally {
                buf.release();
            }
            if (!ack.isWritable()) {
                long count = ack.readLong();
                if (count == total) {
                    done.complete(now - start);
                } else {
                    done.completeExceptionally(new IllegalStateException("receiver counted " + count + " bytes, "
                            + total + " were sent"));
                }
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (chunk != null) {
                chunk.release();
                chunk = null;
            }
            done.completeExceptionally(new IllegalStateException("channel closed after " + sent + " bytes"));
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            done.completeExceptionally(cause);
            ctx.close();
        }
    }
}
