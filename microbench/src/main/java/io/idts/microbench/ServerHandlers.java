package io.idts.microbench;

import io.idts.channel.IdtsChannel;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.util.ReferenceCountUtil;

import java.io.IOException;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The server side's pipelines: an echo (round trips, connection set-up), a sink (one-way bandwidth) that receives as
 * {@link #receiver} says, and an HTTP/1.1 server (Netty's codec, a fixed small response), with the counters they keep.
 */
final class ServerHandlers {

    /** What the receiving end of a one-way stream does with what it gets. */
    enum Receiver {
        /** Reads every byte ({@link StreamChecksum}) before it releases the buffer, as an application does. */
        CONSUME("consume"),
        /** Counts the bytes and releases the buffer unread (the benchmark's sink before the consuming one). */
        DROP("drop"),
        /**
         * Keeps (retains) every buffer it gets until it holds {@value #KEEP_RINGS} times the ring capacity in bytes,
         * then reads (checks) and releases them all, in order, and goes on: a handler that aggregates or queues.
         */
        KEEP("keep");

        /** The keeping receiver holds this many ring capacities of bytes before it reads and releases them. */
        static final int KEEP_RINGS = 4;

        final String key;

        Receiver(String key) {
            this.key = key;
        }

        static Receiver byKey(String key) {
            for (Receiver r : values()) {
                if (r.key.equals(key.toLowerCase(Locale.ROOT))) {
                    return r;
                }
            }
            throw new IllegalArgumentException("receiver must be consume, drop or keep: " + key);
        }
    }

    /** Bytes the sinks (Netty or Aeron) have taken in since the server started. Written by one thread at a time. */
    static final AtomicLong SINK_BYTES = new AtomicLong();
    /** Bytes whose checksum a receiver compared with the bytes sent, and found equal. One writer at a time. */
    static final AtomicLong CHECKED_BYTES = new AtomicLong();
    /** Checksums that did not match the bytes sent: a transport that lost or changed bytes (or a bug here). */
    static final AtomicLong MISMATCHES = new AtomicLong();
    /** Bytes the IDTS sink channels closed so far read as zero-copy views of the ring, and as copies. */
    static final AtomicLong IDTS_VIEW_BYTES = new AtomicLong();
    static final AtomicLong IDTS_COPIED_BYTES = new AtomicLong();
    /** Connections open on the server now. */
    static final AtomicInteger OPEN_CHANNELS = new AtomicInteger();

    /**
     * Test hook: the keeping receiver never reads (auto-read off), so that its stream stalls; a test checks that the
     * benchmark reports the stall and goes on.
     */
    static final boolean STALL_KEEPING_RECEIVER_FOR_TEST = Boolean.getBoolean("idts.bench.stallKeepingReceiver");

    static final EchoHandler ECHO = new EchoHandler();

    /** The HTTP part's response body: a fixed, small text of this many bytes, as a health or status page is. */
    static final int HTTP_BODY_SIZE = 64;
    /**
     * What every response's content duplicates: never released, so that the encoder's release of a response leaves
     * it intact (the duplicates only share its bytes; nothing writes them).
     */
    private static final ByteBuf HTTP_BODY = Unpooled.unreleasableBuffer(Unpooled.directBuffer(HTTP_BODY_SIZE)
            .writeBytes(httpBody()));
    static final HttpResponder HTTP_RESPONDER = new HttpResponder();
    /** Largest request body the HTTP server aggregates (the benchmark's requests have none). */
    static final int HTTP_MAX_CONTENT = 64 * 1024;
    /** The HTTP server's pipeline: the codec, the aggregator, the responder, as a small Netty HTTP server has. */
    static final ChannelHandler HTTP = new ChannelInitializer<Channel>() {
        @Override
        protected void initChannel(Channel ch) {
            ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(HTTP_MAX_CONTENT), HTTP_RESPONDER);
        }
    };
    /** The sink's pipeline: a new receiver of the current {@link #receiver} and {@link #expected} per connection. */
    static final ChannelHandler SINK = new ChannelInitializer<Channel>() {
        @Override
        protected void initChannel(Channel ch) {
            Receiver r = receiver;
            StreamChecksum.Expected e = expected;
            ch.pipeline().addLast(r == Receiver.DROP ? new DroppingSink()
                    : r == Receiver.KEEP ? new KeepingSink(e, ringCapacity(ch)) : new ConsumingSink(e));
        }
    };

    /** How the sinks of the next connections receive, and the payload their senders repeat; set by the client. */
    private static volatile Receiver receiver = Receiver.CONSUME;
    private static volatile StreamChecksum.Expected expected = new StreamChecksum.Expected(64 * 1024,
            ByteOrder.BIG_ENDIAN);

    private ServerHandlers() {
    }

    /** The next streams' receiver and write size (Netty's checksums are of big-endian getLong). */
    static void sink(Receiver r, int writeSize) {
        if (expected.size != writeSize) {
            expected = new StreamChecksum.Expected(writeSize, ByteOrder.BIG_ENDIAN);
        }
        receiver = r;
    }

    static Receiver receiver() {
        return receiver;
    }

    /** Adds to {@link #SINK_BYTES} from its single writer without a locked instruction. */
    static void countSunk(long n) {
        SINK_BYTES.lazySet(SINK_BYTES.get() + n);
    }

    static void countChecked(long n) {
        CHECKED_BYTES.lazySet(CHECKED_BYTES.get() + n);
    }

    /** A checksum that did not match: counted, and said on the server's output (the benchmark fails on it). */
    static void mismatch(String what, long bytes, long value, long expected) {
        MISMATCHES.incrementAndGet();
        System.err.printf(Locale.ROOT, "receiver: checksum mismatch %s after %d bytes: %016x, the bytes sent "
                + "give %016x%n", what, bytes, value, expected);
    }

    /** The receive ring's capacity of an IDTS channel (the benchmark leaves both ends at the default). */
    private static int ringCapacity(Channel ch) {
        return ch instanceof IdtsChannel ? ((IdtsChannel) ch).config().getRingCapacity() : 1 << 20;
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

    /** The response body's bytes: a line of text padded to {@link #HTTP_BODY_SIZE}. */
    private static byte[] httpBody() {
        StringBuilder b = new StringBuilder("IDTS benchmark: hello\n");
        while (b.length() < HTTP_BODY_SIZE - 1) {
            b.append('.');
        }
        return b.append('\n').toString().getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    }

    /**
     * Answers every request with 200 and the fixed body, keeping the connection open unless the request asks for
     * {@code Connection: close}; flushes when the read is complete, so that pipelined requests share a flush.
     */
    @Sharable
    static final class HttpResponder extends SimpleChannelInboundHandler<FullHttpRequest> {
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
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            if (!request.decoderResult().isSuccess()) {
                FullHttpResponse bad = new DefaultFullHttpResponse(request.protocolVersion(),
                        HttpResponseStatus.BAD_REQUEST, Unpooled.EMPTY_BUFFER);
                bad.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, 0)
                        .set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                ctx.writeAndFlush(bad).addListener(ChannelFutureListener.CLOSE);
                return;
            }
            boolean keepAlive = HttpUtil.isKeepAlive(request);
            FullHttpResponse response = new DefaultFullHttpResponse(request.protocolVersion(), HttpResponseStatus.OK,
                    HTTP_BODY.duplicate());
            response.headers()
                    .set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.TEXT_PLAIN)
                    .setInt(HttpHeaderNames.CONTENT_LENGTH, HTTP_BODY_SIZE);
            if (keepAlive) {
                ctx.write(response, ctx.voidPromise());
            } else {
                response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
                ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.flush();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            report(cause);
            ctx.close();
        }
    }

    /** The end of a one-way stream: counts the connection, and closes it on an error. */
    abstract static class Sink extends ChannelInboundHandlerAdapter {
        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            OPEN_CHANNELS.incrementAndGet();
            ctx.fireChannelActive();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (ctx.channel() instanceof IdtsChannel) {
                IdtsChannel ch = (IdtsChannel) ctx.channel();
                IDTS_VIEW_BYTES.addAndGet(ch.zeroCopyReadBytes());
                IDTS_COPIED_BYTES.addAndGet(ch.copiedReadBytes());
            }
            OPEN_CHANNELS.decrementAndGet();
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            report(cause);
            ctx.close();
        }
    }

    /** Counts and drops what it reads, unread. */
    static final class DroppingSink extends Sink {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof ByteBuf) {
                countSunk(((ByteBuf) msg).readableBytes());
            }
            ReferenceCountUtil.release(msg);
        }
    }

    /**
     * Reads every byte it gets before it releases the buffer, and compares the stream's checksum with the bytes sent
     * at the end of every read and when the connection closes.
     */
    static class ConsumingSink extends Sink {
        final StreamChecksum checksum = new StreamChecksum(ByteOrder.BIG_ENDIAN);
        private final StreamChecksum.Expected expected;
        private long compared;
        private boolean broken;

        ConsumingSink(StreamChecksum.Expected expected) {
            this.expected = expected;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof ByteBuf) {
                ByteBuf buf = (ByteBuf) msg;
                countSunk(buf.readableBytes());
                checksum.update(buf);
            }
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            compare();
            ctx.fireChannelReadComplete();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            compare();
            super.channelInactive(ctx);
        }

        /** Compares the checksum of everything read so far with that of the same number of bytes sent. */
        final void compare() {
            long n = checksum.bytes();
            if (n == compared || broken) {
                return;
            }
            long value = checksum.value();
            long want = expected.value(n);
            if (value == want) {
                countChecked(n - compared);
                compared = n;
            } else {
                broken = true; // one report per connection: every later sum is off too
                mismatch("on a stream of " + expected.size + "-byte writes", n, value, want);
            }
        }
    }

    /**
     * Keeps every buffer it gets (a zero-copy view pins its slice of the ring meanwhile) until it holds
     * {@link Receiver#KEEP_RINGS} ring capacities of bytes, then reads every byte of them in order, releases them all
     * and compares the checksum; and again. What it still holds when the connection closes it reads and releases then.
     */
    static final class KeepingSink extends ConsumingSink {
        private final ArrayDeque<ByteBuf> kept = new ArrayDeque<>();
        private final long limit;
        private long keptBytes;

        KeepingSink(StreamChecksum.Expected expected, int ringCapacity) {
            super(expected);
            this.limit = (long) Receiver.KEEP_RINGS * ringCapacity;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            if (STALL_KEEPING_RECEIVER_FOR_TEST) {
                ctx.channel().config().setAutoRead(false);
            }
            super.channelActive(ctx);
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof ByteBuf)) {
                ReferenceCountUtil.release(msg);
                return;
            }
            ByteBuf buf = (ByteBuf) msg;
            int n = buf.readableBytes();
            countSunk(n);
            kept.add(buf);
            keptBytes += n;
            if (keptBytes >= limit) {
                checkAndRelease();
            }
        }

        @Override
        public void channelReadComplete(ChannelHandlerContext ctx) {
            ctx.fireChannelReadComplete(); // compares after each batch, not after each read
        }

        private void checkAndRelease() {
            ByteBuf buf;
            while ((buf = kept.poll()) != null) {
                try {
                    checksum.update(buf);
                } finally {
                    buf.release();
                }
            }
            keptBytes = 0;
            compare();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            checkAndRelease();
            super.channelInactive(ctx);
        }

        @Override
        public void handlerRemoved(ChannelHandlerContext ctx) {
            ByteBuf buf;
            while ((buf = kept.poll()) != null) {
                buf.release();
            }
            keptBytes = 0;
        }
    }

    /** A connection the client closes mid-write is normal; anything else is worth a line on the server's output. */
    private static void report(Throwable cause) {
        if (!(cause instanceof IOException)) {
            System.err.println("server pipeline: " + cause);
        }
    }
}
