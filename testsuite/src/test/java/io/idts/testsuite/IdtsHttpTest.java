package io.idts.testsuite;

import io.idts.channel.ChildJvm;
import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsChannel;
import io.idts.channel.IdtsChannelOption;
import io.idts.channel.IdtsEventLoopGroup;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * HTTP/1.1 over IDTS between two JVMs, with Netty's codec and {@code HttpObjectAggregator} on both ends and the
 * transport's defaults (zero-copy reads on): bodies of 1, 4 and 16 times the ring capacity, some chunked, echoed whole,
 * SHA-256 checked by the server and by the client. An aggregator keeps every buffer of a message until it is complete:
 * with protocol version 1 the first body of about the ring's size never got an answer.
 */
class IdtsHttpTest {

    private static final Duration STARTUP = Duration.ofSeconds(60);
    private static final long TIMEOUT_SECONDS = 60;

    /** 0: the default ring (1 MiB); 4096: the smallest allowed. */
    @ParameterizedTest(name = "ring capacity {0} (0: default)")
    @ValueSource(ints = { 0, 4096 })
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void aggregatingEchoOfBodiesLargerThanTheRing(int ringCapacity) throws Exception {
        IdtsAddress address = IdtsSocketTestPermutation.newSocketAddress("http");
        try (ChildJvm server = ChildJvm.start(HttpEchoServerMain.class, address.toString())) {
            server.awaitLine(line -> line.startsWith("READY"), STARTUP);
            EventLoopGroup group = new IdtsEventLoopGroup(1);
            try {
                AtomicReference<CompletableFuture<FullHttpResponse>> next = new AtomicReference<>();
                Bootstrap bootstrap = new Bootstrap().group(group).channel(IdtsChannel.class)
                        .handler(new ChannelInitializer<Channel>() {
                            @Override
                            protected void initChannel(Channel ch) {
                                ch.pipeline().addLast(new HttpClientCodec(),
                                        new HttpObjectAggregator(HttpEchoServerMain.MAX_BODY),
                                        new SimpleChannelInboundHandler<FullHttpResponse>() {
                                            @Override
                                            protected void channelRead0(ChannelHandlerContext ctx,
                                                                        FullHttpResponse response) {
                                                next.get().complete(response.retain());
                                            }

                                            @Override
                                            public void exceptionCaught(ChannelHandlerContext ctx, Throwable t) {
                                                next.get().completeExceptionally(t);
                                            }
                                        });
                            }
                        });
                if (ringCapacity != 0) {
                    bootstrap.option(IdtsChannelOption.RING_CAPACITY, ringCapacity);
                }
                Channel client = bootstrap.connect(address).sync().channel();
                int ring = client.config().getOption(IdtsChannelOption.RING_CAPACITY);
                int request = 0;
                for (int times : new int[] { 1, 4, 16 }) {
                    for (boolean chunked : new boolean[] { false, true }) {
                        byte[] body = Digests.body(times * ring, 31L * times + (chunked ? 1 : 0));
                        String digest = Digests.sha256(body);
                        CompletableFuture<FullHttpResponse> answer = new CompletableFuture<>();
                        next.set(answer);
                        send(client, body, digest, chunked, ring);
                        FullHttpResponse response = answer.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
                        try {
                            String what = "request " + ++request + ": " + times + "x the ring of " + ring
                                    + (chunked ? ", chunked" : "");
                            assertEquals(200, response.status().code(), what + ": the server's digest did not match");
                            assertEquals(body.length, response.content().readableBytes(), what);
                            assertEquals(digest, Digests.sha256(response.content()), what + ": echoed body");
                        } finally {
                            response.release();
                        }
                    }
                }
                IdtsChannel idts = (IdtsChannel) client;
                assertTrue(idts.zeroCopyReadBytes() > 0, "the client read views: zero copy was on");
                client.close().sync();
            } finally {
                group.shutdownGracefully(0, 5, TimeUnit.SECONDS).sync();
            }
            assertEquals(0, server.closeStdinAndWait(STARTUP), server.describeOutput());
        }
    }

    private static void send(Channel client, byte[] body, String digest, boolean chunked, int ring) {
        if (!chunked) {
            DefaultFullHttpRequest request = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST,
                    "/echo", Unpooled.wrappedBuffer(body));
            request.headers().set(HttpHeaderNames.CONTENT_LENGTH, body.length);
            request.headers().set(HttpEchoServerMain.DIGEST_HEADER, digest);
            client.writeAndFlush(request);
            return;
        }
        DefaultHttpRequest head = new DefaultHttpRequest(HttpVersion.HTTP_1_1, HttpMethod.POST, "/echo");
        head.headers().set(HttpHeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
        head.headers().set(HttpEchoServerMain.DIGEST_HEADER, digest);
        client.write(head);
        int chunk = Math.max(1000, ring / 3); // chunks that straddle the ring's slices
        for (int offset = 0; offset < body.length; offset += chunk) {
            client.write(new DefaultHttpContent(Unpooled.wrappedBuffer(body, offset,
                    Math.min(chunk, body.length - offset))));
        }
        client.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
    }
}
