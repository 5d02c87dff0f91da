package io.idts.microbench;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.ReferenceCountUtil;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/** The server side's pipelines: an echo (round trips) and a sink (one-way bandwidth), with the counters they keep. */
final class ServerHandlers {

    /** Bytes the sinks (Netty or Aeron) have taken in since the server started. Written by one thread at a time. */
    static final AtomicLong SINK_BYTES = new AtomicLong();
    /**
     * A checksum of every byte the sinks read, so that the reads are real work the JIT cannot drop (it is published
     * after every message and printed when the server stops).
     */
    static final AtomicLong SINK_CHECKSUM = new AtomicLong();
    /** Connections open on the server now. */
    static final AtomicInteger OPEN_CHANNELS = new AtomicInteger();

    static final EchoHandler ECHO = new EchoHandler();
    static final SinkHandler SINK = new SinkHandler();

    private ServerHandlers() {
    }

    /** Adds to {@link #SINK_BYTES} from its single writer without a locked instruction. */
    static void countSunk(long n) {
        SINK_BYTES.lazySet(SINK_BYTES.get() + n);
    }

    /** Writes back what it reads, flushes when the read is complete, and stops reading while the way back is full. */
    @Sharable
    static final class EchoHandler extends ChannelInboundHandlerAdapter {
        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            OPEN_CHANNELS.incrementAndGet();
            ctx.fireChannelActive();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            OPEN_CHANNELS.decrementAndGet();
            ctx.fireChannelInactive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.write(msg, ctx.voidPromise());
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
            if (!ctx.channel().isWritable()) {
                ctx.channel().config().setAutoRead(false);
            }
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            if (ctx.channel().isWritable()) {
                ctx.channel().config().setAutoRead(true);
            }
            ctx.fireChannelWritabilityChanged();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            report(cause);
            ctx.close();
        }
    }

    /**
     * Reads every byte it receives, as an application does (8 bytes at a time, folded into a checksum), counts them,
     * then releases the buffer.
     */
    @Sharable
    static final class SinkHandler extends ChannelInboundHandlerAdapter {
        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            OPEN_CHANNELS.incrementAndGet();
            ctx.fireChannelActive();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            OPEN_CHANNELS.decrementAndGet();
            ctx.fireChannelInactive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof ByteBuf) {
                ByteBuf buf = (ByteBuf) msg;
                SINK_CHECKSUM.lazySet(fold(SINK_CHECKSUM.get(), buf));
                countSunk(buf.readableBytes());
            }
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            report(cause);
            ctx.close();
        }
    }

    /** Folds every readable byte of {@code buf} into {@code sum}, 8 bytes at a time, without moving its indexes. */
    static long fold(long sum, ByteBuf buf) {
        if (buf.nioBufferCount() == 1) {
            // Through the buffer's own NIO view: the same reads, and a leak detector at PARANOID (the quick test's)
            // records one access per message instead of one per 8 bytes.
            java.nio.ByteBuffer memory = buf.internalNioBuffer(buf.readerIndex(), buf.readableBytes());
            int i = memory.position();
            int end = memory.limit();
            for (; i + Long.BYTES <= end; i += Long.BYTES) {
                sum = sum * 31 + memory.getLong(i);
            }
            for (; i < end; i++) {
                sum = sum * 31 + memory.get(i);
            }
            return sum;
        }
        int i = buf.readerIndex();
        int end = buf.writerIndex();
        for (; i + Long.BYTES <= end; i += Long.BYTES) {
            sum = sum * 31 + buf.getLong(i);
        }
        for (; i < end; i++) {
            sum = sum * 31 + buf.getByte(i);
        }
        return sum;
    }

    /** The same over Aeron's buffer. */
    static long fold(long sum, org.agrona.DirectBuffer buffer, int offset, int length) {
        int i = offset;
        int end = offset + length;
        for (; i + Long.BYTES <= end; i += Long.BYTES) {
            sum = sum * 31 + buffer.getLong(i);
        }
        for (; i < end; i++) {
            sum = sum * 31 + buffer.getByte(i);
        }
        return sum;
    }

    /** A connection the client closes mid-write is normal; anything else is worth a line on the server's output. */
    private static void report(Throwable cause) {
        if (!(cause instanceof IOException)) {
            System.err.println("server pipeline: " + cause);
        }
    }
}
