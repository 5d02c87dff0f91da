package io.idts.testsuite;

import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsChannel;
import io.idts.channel.IdtsEventLoopGroup;
import io.idts.channel.IdtsServerChannel;
import io.idts.channel.ring.RegionLayout;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http2.DefaultHttp2DataFrame;
import io.netty.handler.codec.http2.DefaultHttp2Headers;
import io.netty.handler.codec.http2.DefaultHttp2HeadersFrame;
import io.netty.handler.codec.http2.Http2DataFrame;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2HeadersFrame;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamChannelBootstrap;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * HTTP/2 over IDTS (prior knowledge, {@code Http2FrameCodec} and {@code Http2MultiplexHandler} on both ends) with the
 * transport's defaults: the server keeps every DATA frame of a request until its end, then echoes it, so that held
 * buffers and HTTP/2's own flow control meet. A body of 4 times the ring on one stream, and 100 concurrent streams.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class IdtsHttp2Test {

    private static final int RING = RegionLayout.DEFAULT_RING_CAPACITY; // the default
    private static final long TIMEOUT_SECONDS = 60;

    private EventLoopGroup serverGroup;
    private EventLoopGroup clientGroup;
    private Channel server;
    private Channel connection;
    /** The server's end of the connection. */
    private final CompletableFuture<IdtsChannel> accepted = new CompletableFuture<>();

    @BeforeEach
    void setUp() throws InterruptedException {
        serverGroup = new IdtsEventLoopGroup(1);
        clientGroup = new IdtsEventLoopGroup(1);
        IdtsAddress address = IdtsSocketTestPermutation.newSocketAddress("h2");
        server = new ServerBootstrap().group(serverGroup).channel(IdtsServerChannel.class)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        accepted.complete((IdtsChannel) ch);
                        ch.pipeline().addLast(Http2FrameCodecBuilder.forServer().build(),
                                new Http2MultiplexHandler(new ChannelInitializer<Http2StreamChannel>() {
                                    @Override
                                    protected void initChannel(Http2StreamChannel stream) {
                                        stream.pipeline().addLast(new EchoStream());
                                    }
                                }));
                    }
                }).bind(address).sync().channel();
        connection = new Bootstrap().group(clientGroup).channel(IdtsChannel.class)
                .handler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(Http2FrameCodecBuilder.forClient().build(),
                                new Http2MultiplexHandler(new ChannelInboundHandlerAdapter()));
                    }
                }).connect(address).sync().channel();
    }

    @AfterEach
    void tearDown() throws InterruptedException {
        connection.close().sync();
        server.close().sync();
        clientGroup.shutdownGracefully(0, 5, TimeUnit.SECONDS).sync();
        serverGroup.shutdownGracefully(0, 5, TimeUnit.SECONDS).sync();
    }

    @Test
    void aBodyOfFourRingsOnOneStream() throws Exception {
        byte[] body = Digests.body(4 * RING, 4);
        assertEquals(Digests.sha256(body), answer(post(body)), "SHA-256 of the body echoed");
        assertViewsWereRead();
    }

    @Test
    void aHundredConcurrentStreams() throws Exception {
        List<byte[]> bodies = new ArrayList<>();
        List<CompletableFuture<String>> answers = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            byte[] body = Digests.body(64 * 1024 + i, 100 + i);
            bodies.add(body);
            answers.add(post(body));
        }
        for (int i = 0; i < 100; i++) {
            assertEquals(Digests.sha256(bodies.get(i)), answer(answers.get(i)),
                    "SHA-256 of the body echoed on stream " + i);
        }
        assertViewsWereRead();
    }

    private static String answer(CompletableFuture<String> answer) throws Exception {
        try {
            return answer.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            throw new AssertionError("no echo within " + TIMEOUT_SECONDS + " s: the connection stalled", e);
        }
    }

    /** Zero copy was on at both ends: the server kept views of its receive ring, the client read views. */
    private void assertViewsWereRead() throws Exception {
        IdtsChannel serverEnd = accepted.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        IdtsChannel clientEnd = (IdtsChannel) connection;
        long serverViews = serverEnd.eventLoop().submit(serverEnd::zeroCopyReadBytes).get();
        long clientViews = clientEnd.eventLoop().submit(clientEnd::zeroCopyReadBytes).get();
        assertTrue(serverViews > 0, "the server read views of the ring");
        assertTrue(clientViews > 0, "the client read views of the ring");
    }

    /** Opens a stream, posts {@code body}, and completes with the SHA-256 of the body that comes back. */
    private CompletableFuture<String> post(byte[] body) throws InterruptedException {
        CompletableFuture<String> answer = new CompletableFuture<>();
        Http2StreamChannel stream = new Http2StreamChannelBootstrap(connection)
                .handler(new ChannelInboundHandlerAdapter() {
                    private CompositeByteBuf received;

                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        if (received == null) {
                            received = ctx.alloc().compositeBuffer(Integer.MAX_VALUE);
                        }
                        if (msg instanceof Http2DataFrame) {
                            Http2DataFrame data = (Http2DataFrame) msg;
                            received.addComponent(true, data.content().retain());
                            if (data.isEndStream()) {
                                answer.complete(Digests.sha256(received));
                            }
                        } else if (msg instanceof Http2HeadersFrame && ((Http2HeadersFrame) msg).isEndStream()) {
                            answer.complete(Digests.sha256(received));
                        }
                        ReferenceCountUtil.release(msg);
                    }

                    @Override
                    public void channelInactive(ChannelHandlerContext ctx) {
                        if (received != null) {
                            received.release();
                        }
                        answer.completeExceptionally(new AssertionError("stream closed before its end"));
                    }

                    @Override
                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                        answer.completeExceptionally(cause);
                    }
                }).open().sync().getNow();
        stream.write(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().method("POST").path("/echo")
                .scheme("http").authority("idts"), false));
        stream.writeAndFlush(new DefaultHttp2DataFrame(Unpooled.wrappedBuffer(body), true));
        return answer;
    }

    /** Keeps the request's DATA until its end, then answers with all of it. */
    private static final class EchoStream extends ChannelInboundHandlerAdapter {
        private CompositeByteBuf body;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (body == null) {
                body = ctx.alloc().compositeBuffer(Integer.MAX_VALUE);
            }
            boolean end = false;
            if (msg instanceof Http2DataFrame) {
                ByteBuf content = ((Http2DataFrame) msg).content();
                body.addComponent(true, content.retain());
                end = ((Http2DataFrame) msg).isEndStream();
            } else if (msg instanceof Http2HeadersFrame) {
                end = ((Http2HeadersFrame) msg).isEndStream();
            }
            ReferenceCountUtil.release(msg);
            if (end) {
                ctx.write(new DefaultHttp2HeadersFrame(new DefaultHttp2Headers().status("200"), false));
                ctx.writeAndFlush(new DefaultHttp2DataFrame(body, true));
                body = null;
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            if (body != null) {
                body.release();
                body = null;
            }
        }
    }
}
