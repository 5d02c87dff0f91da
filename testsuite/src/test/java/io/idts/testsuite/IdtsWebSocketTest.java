package io.idts.testsuite;

import io.idts.channel.ChildJvm;
import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsChannel;
import io.idts.channel.IdtsEventLoopGroup;
import io.idts.channel.ring.RegionLayout;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.ContinuationWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketClientHandshakerFactory;
import io.netty.handler.codec.http.websocketx.WebSocketClientProtocolHandler;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrameAggregator;
import io.netty.handler.codec.http.websocketx.WebSocketVersion;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.pkitesting.CertificateBuilder;
import io.netty.pkitesting.X509Bundle;
import io.netty.util.ReferenceCountUtil;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.File;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * WebSocket over IDTS between two JVMs, plain and over TLS, with Netty's own handshake, codecs and
 * {@code WebSocketFrameAggregator} on both ends and the transport's defaults (zero-copy reads on, the default ring):
 * a binary message a quarter larger than the ring in one frame and in fragments, then thousands of small text messages
 * pipelined. Every byte is checked on both sides. The server's frame decoder unmasks the client's payloads in place,
 * in the buffers it read (views of the ring when the connection is plain), and both aggregators keep every fragment
 * of a message until it is complete.
 */
class IdtsWebSocketTest {

    private static final Duration STARTUP = Duration.ofSeconds(60);
    private static final long TIMEOUT_SECONDS = 60;
    /**
     * A quarter more than the ring, so that each side's aggregator keeps more than the ring holds. Not more: at
     * PARANOID the leak detector records a stack trace for every 8 bytes the frame codecs mask and unmask (about 25
     * s per 64 MiB here, on epoll as much as on IDTS).
     */
    private static final int MESSAGE = WebSocketEchoServerMain.MAX_MESSAGE;
    private static final int TEXT_MESSAGES = 2000;

    @ParameterizedTest(name = "tls {0}")
    @ValueSource(booleans = { false, true })
    // Against hangs only: about 40 MB each way through the codecs at PARANOID (20 s with TLS here).
    @Timeout(value = 300, unit = TimeUnit.SECONDS)
    void echoOfMessagesLargerThanTheRing(boolean tls) throws Exception {
        IdtsAddress address = IdtsSocketTestPermutation.newSocketAddress("ws");
        X509Bundle certificate = tls ? new CertificateBuilder().subject("CN=localhost").addSanDnsName("localhost")
                .setIsCertificateAuthority(true).buildSelfSigned() : null;
        List<File> files = new ArrayList<>();
        List<String> serverArgs = new ArrayList<>(List.of(address.toString()));
        if (tls) {
            files.add(certificate.toTempCertChainPem());
            files.add(certificate.toTempPrivateKeyPem());
            files.forEach(file -> serverArgs.add(file.getAbsolutePath()));
        }
        try (ChildJvm server = ChildJvm.start(WebSocketEchoServerMain.class, serverArgs.toArray(new String[0]))) {
            server.awaitLine(line -> line.startsWith("READY"), STARTUP);
            EventLoopGroup group = new IdtsEventLoopGroup(1);
            try {
                SslContext ssl = tls ? SslContextBuilder.forClient()
                        .trustManager(certificate.toTrustManagerFactory()).build() : null;
                BlockingQueue<Object> received = new LinkedBlockingQueue<>();
                CompletableFuture<Void> handshake = new CompletableFuture<>();
                Channel client = new Bootstrap().group(group).channel(IdtsChannel.class)
                        .handler(new ChannelInitializer<Channel>() {
                            @Override
                            protected void initChannel(Channel ch) {
                                if (ssl != null) {
                                    ch.pipeline().addLast(ssl.newHandler(ch.alloc(), "localhost", 443));
                                }
                                URI uri = URI.create((tls ? "wss" : "ws") + "://localhost"
                                        + WebSocketEchoServerMain.PATH);
                                ch.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(65536),
                                        new WebSocketClientProtocolHandler(WebSocketClientHandshakerFactory
                                                .newHandshaker(uri, WebSocketVersion.V13, null, false,
                                                        EmptyHttpHeaders.INSTANCE,
                                                        WebSocketEchoServerMain.MAX_MESSAGE)),
                                        new WebSocketFrameAggregator(WebSocketEchoServerMain.MAX_MESSAGE),
                                        new Collector(received, handshake));
                            }
                        }).connect(address).sync().channel();
                try {
                    handshake.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
                } catch (TimeoutException e) {
                    throw new AssertionError("the WebSocket handshake did not finish within " + TIMEOUT_SECONDS
                            + " s", e);
                }
                assertEquals(tls, client.pipeline().get(SslHandler.class) != null, "TLS in the client's pipeline");

                byte[] whole = Digests.body(MESSAGE, 1);
                client.writeAndFlush(new BinaryWebSocketFrame(Unpooled.wrappedBuffer(whole)));
                expectBinaryEcho(received, whole, "a binary message of 1.25x the ring in one frame");

                byte[] fragmented = Digests.body(MESSAGE, 2);
                int fragment = RegionLayout.DEFAULT_RING_CAPACITY / 3; // fragments that straddle the ring's slices
                for (int offset = 0; offset < fragmented.length; offset += fragment) {
                    int length = Math.min(fragment, fragmented.length - offset);
                    boolean last = offset + length == fragmented.length;
                    client.write(offset == 0
                            ? new BinaryWebSocketFrame(false, 0, Unpooled.wrappedBuffer(fragmented, offset, length))
                            : new ContinuationWebSocketFrame(last, 0,
                                    Unpooled.wrappedBuffer(fragmented, offset, length)));
                }
                client.flush();
                expectBinaryEcho(received, fragmented, "a binary message of 1.25x the ring in fragments of "
                        + fragment + " bytes");

                SplittableRandom random = new SplittableRandom(3);
                List<String> texts = new ArrayList<>(TEXT_MESSAGES);
                for (int i = 0; i < TEXT_MESSAGES; i++) {
                    String text = i + ":" + "x".repeat(random.nextInt(2000));
                    texts.add(text);
                    client.write(new TextWebSocketFrame(text));
                }
                client.flush();
                for (int i = 0; i < TEXT_MESSAGES; i++) {
                    Object echo = take(received, "the echo of text message " + i + " of " + TEXT_MESSAGES);
                    try {
                        assertInstanceOf(TextWebSocketFrame.class, echo, "the echo of text message " + i);
                        assertEquals(texts.get(i), ((TextWebSocketFrame) echo).text(), "text message " + i);
                    } finally {
                        ReferenceCountUtil.release(echo);
                    }
                }
                assertTrue(((IdtsChannel) client).zeroCopyReadBytes() > 0,
                        "the client read views of the ring (zero copy is on by default)");
                client.close().sync();
                assertTrue(received.isEmpty(), "nothing more came than was sent: " + received);
            } finally {
                group.shutdownGracefully(0, 5, TimeUnit.SECONDS).sync();
            }
            assertEquals(0, server.closeStdinAndWait(STARTUP), "the server's exit status (3: a buffer leaked) "
                    + server.describeOutput());
        } finally {
            files.forEach(File::delete);
        }
    }

    /** The server answers a binary message with the SHA-256 of what it received, then the message itself. */
    private static void expectBinaryEcho(BlockingQueue<Object> received, byte[] sent, String what) throws Exception {
        String digest = Digests.sha256(sent);
        Object answer = take(received, "the server's digest of " + what);
        try {
            assertInstanceOf(TextWebSocketFrame.class, answer, "the server's digest of " + what);
            assertEquals(digest, ((TextWebSocketFrame) answer).text(), "the SHA-256 of what the server got of "
                    + what);
        } finally {
            ReferenceCountUtil.release(answer);
        }
        Object echo = take(received, "the echo of " + what);
        try {
            assertInstanceOf(BinaryWebSocketFrame.class, echo, "the echo of " + what);
            BinaryWebSocketFrame frame = (BinaryWebSocketFrame) echo;
            assertEquals(sent.length, frame.content().readableBytes(), "the length of the echo of " + what);
            assertEquals(digest, Digests.sha256(frame.content()), "the SHA-256 of the echo of " + what);
        } finally {
            ReferenceCountUtil.release(echo);
        }
    }

    private static Object take(BlockingQueue<Object> received, String what) throws Exception {
        Object next = received.poll(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        assertNotNull(next, "no " + what + " within " + TIMEOUT_SECONDS + " s: the connection stalled");
        if (next instanceof Throwable) {
            throw new AssertionError("the client failed before " + what, (Throwable) next);
        }
        return next;
    }

    /** Queues every aggregated frame (retained), and what went wrong; completes the handshake's future. */
    private static final class Collector extends SimpleChannelInboundHandler<WebSocketFrame> {
        private final BlockingQueue<Object> received;
        private final CompletableFuture<Void> handshake;

        Collector(BlockingQueue<Object> received, CompletableFuture<Void> handshake) {
            this.received = received;
            this.handshake = handshake;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, WebSocketFrame frame) {
            received.add(frame.retain());
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object event) throws Exception {
            if (event == WebSocketClientProtocolHandler.ClientHandshakeStateEvent.HANDSHAKE_COMPLETE) {
                handshake.complete(null);
            }
            super.userEventTriggered(ctx, event);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            handshake.completeExceptionally(cause);
            received.add(cause);
            ctx.close();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) throws Exception {
            handshake.completeExceptionally(new AssertionError("the connection closed during the handshake"));
            super.channelInactive(ctx);
        }
    }
}
