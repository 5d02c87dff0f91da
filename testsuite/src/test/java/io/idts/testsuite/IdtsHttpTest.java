package io.idts.testsuite;

import io.idts.channel.ChildJvm;
import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsChannel;
import io.idts.channel.IdtsChannelOption;
import io.idts.channel.IdtsEventLoopGroup;
import io.idts.channel.ring.RegionLayout;
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
import java.util.concurrent.TimeoutException;
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

    /** 0: the default ring (16 MiB); 4096: the smallest allowed, set on the client and as the server's childOption. */
    @ParameterizedTest(name = "ring capacity {0} (0: default)")
    @ValueSource(ints = { 0, 4096 })
    // Against hangs only: the default ring's case moves 1.3 GB through aggregators at PARANOID (about a minute here).
    @Timeout(value = 300, unit = TimeUnit.SECONDS)
    void aggregatingEchoOfBodiesLargerThanTheRing(int ringCapacity) throws Exception {
        IdtsAddress address = IdtsSocketTestPermutation.newSocketAddress("http");
        String[] serverArgs = ringCapacity == 0 ? new String[] { address.toString() }
                : new String[] { address.toString(), Integer.toString(ringCapacity) };
        try (ChildJvm server = ChildJvm.start(HttpEchoServerMain.class, serverArgs)) {
            server.awaitLine(line -> line.startsWith("READY"), STARTUP);
            EventLoopGroup group = new IdtsEventLoopGroup(1);
            try {
                AtomicReference<CompletableFuture<FullHttpResponse>> next =
                        new AtomicReference<>(new CompletableFuture<>());
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
                                                if (!next.get().complete(response.retain())) {
                                                    response.release(); // an answer nobody asked for
                                                }
                                            }

                                            @Override
                                            public void exceptionCaught(ChannelHandlerContext ctx, Throwable t) {
                                                next.get().completeExceptionally(t);
                                            }

                                            @Override
                                            public void channelInactive(ChannelHandlerContext ctx) {
                                                next.get().completeExceptionally(new AssertionError(
                                                        "the connection closed before the answer came"));
                                            }
                                        });
                            }
                        });
                if (ringCapacity != 0) {
                    bootstrap.option(IdtsChannelOption.RING_CAPACITY, ringCapacity);
                }
                Channel client = bootstrap.connect(address).sync().channel();
                IdtsChannel idts = (IdtsChannel) client;
                int ring = client.config().getOption(IdtsChannelOption.RING_CAPACITY);
                assertEquals(ringCapacity == 0 ? RegionLayout.DEFAULT_RING_CAPACITY : ringCapacity, ring, "the client's ring capacity");

                // The server's check is real: a body that does not match its digest is refused.
                byte[] small = Digests.body(1000, 7);
                FullHttpResponse refused = exchange(client, next, small, Digests.sha256(Digests.body(1000, 8)),
                        false, ring);
                try {
                    assertEquals(400, refused.status().code(), "a body whose digest does not match is refused");
                } finally {
                    refused.release();
                }

                int request = 0;
                long serverZeroCopy = 0;
                long serverHoldLimitCopies = 0;
                for (int times : new int[] { 1, 4, 16 }) {
                    for (boolean chunked : new boolean[] { false, true }) {
                        byte[] body = Digests.body(times * ring, 31L * times + (chunked ? 1 : 0));
                        String digest = Digests.sha256(body);
                        String what = "request " + ++request + ": a body of " + times + "x the ring of " + ring
                                + " bytes" + (chunked ? ", chunked" : "");
                        FullHttpResponse response = exchange(client, next, body, digest, chunked, ring);
                        try {
                            assertEquals(200, response.status().code(),
                                    what + ": the server found a body whose SHA-256 did not match");
                            assertEquals(digest, response.headers().get(HttpEchoServerMain.DIGEST_HEADER),
                                    what + ": the SHA-256 of the body the server got");
                            assertEquals(body.length, response.content().readableBytes(),
                                    what + ": length of the echoed body");
                            assertEquals(digest, Digests.sha256(response.content()),
                                    what + ": SHA-256 of the echoed body");
                            assertEquals(idts.pinnedBytesLimit(), Long.parseLong(response.headers().get(
                                    HttpEchoServerMain.PINNED_LIMIT_HEADER)),
                                    what + ": the server's receive ring is not the client's size");
                            serverZeroCopy = Long.parseLong(response.headers().get(
                                    HttpEchoServerMain.ZERO_COPY_HEADER));
                            serverHoldLimitCopies = Long.parseLong(response.headers().get(
                                    HttpEchoServerMain.HOLD_LIMIT_COPIES_HEADER));
                        } finally {
                            response.release();
                        }
                    }
                }
                assertTrue(serverZeroCopy > 0, "the server read views (zero copy on), so its aggregator kept them");
                assertTrue(idts.zeroCopyReadBytes() > 0, "the client read views (zero copy on)");
                System.out.println("IdtsHttpTest ring " + ring + ": server read " + serverZeroCopy
                        + " bytes as views, " + serverHoldLimitCopies + " reads copied past the pinned bound; client "
                        + idts.zeroCopyReadBytes() + " bytes as views, " + idts.holdLimitCopies() + " copies");
                client.close().sync();
            } finally {
                group.shutdownGracefully(0, 5, TimeUnit.SECONDS).sync();
            }
            assertEquals(0, server.closeStdinAndWait(STARTUP), "the server's exit status (3: a buffer leaked) "
                    + server.describeOutput());
        }
    }

    /** Sends a POST of {@code body} with {@code digest} and waits for the answer (the caller releases it). */
    private static FullHttpResponse exchange(Channel client, AtomicReference<CompletableFuture<FullHttpResponse>> next,
                                             byte[] body, String digest, boolean chunked, int ring)
            throws Exception {
        CompletableFuture<FullHttpResponse> answer = new CompletableFuture<>();
        next.set(answer);
        send(client, body, digest, chunked, ring);
        try {
            return answer.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            throw new AssertionError("no answer within " + TIMEOUT_SECONDS + " s to a POST of " + body.length
                    + " bytes" + (chunked ? ", chunked" : "") + " (rings of " + ring + " bytes): the connection "
                    + "stalled", e);
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
