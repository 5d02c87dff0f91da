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

    /** Counts and drops what it reads. */
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
                countSunk(((ByteBuf) msg).readableBytes());
            }
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            report(cause);
            ctx.close();
        }
    }

    /** A connection the client closes mid-write is normal; anything else is worth a line on the server's output. */
    private static void report(Throwable cause) {
        if (!(cause instanceof IOException)) {
            System.err.println("server pipeline: " + cause);
        }
    }
}
