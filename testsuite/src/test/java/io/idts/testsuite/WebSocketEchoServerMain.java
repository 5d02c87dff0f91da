package io.idts.testsuite;

import io.idts.channel.ChildMains;
import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsEventLoopGroup;
import io.idts.channel.IdtsServerChannel;
import io.idts.channel.LeakRecorder;
import io.idts.channel.ring.RegionLayout;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.websocketx.BinaryWebSocketFrame;
import io.netty.handler.codec.http.websocketx.TextWebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrame;
import io.netty.handler.codec.http.websocketx.WebSocketFrameAggregator;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolConfig;
import io.netty.handler.codec.http.websocketx.WebSocketServerProtocolHandler;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;

import java.io.File;

/**
 * A child JVM's main: a WebSocket echo server over IDTS with Netty's own codecs, the transport's defaults, as a user
 * would write it. {@code WebSocketEchoServerMain <address> [<certificate chain PEM> <private key PEM>]}: with the two
 * files the connections are TLS ({@code wss}). The path is {@value #PATH}; messages are aggregated up to
 * {@link #MAX_MESSAGE} bytes. A text message comes back as it is; a binary message comes back after a text message
 * that holds the SHA-256 of what the server received, so that the client can tell a corruption on the way in from one
 * on the way out. Prints {@code READY}, stops when its stdin closes, and exits non-zero if a buffer leaked.
 */
public final class WebSocketEchoServerMain {

    static final String PATH = "/echo";
    /** The largest message the tests send, and the limit of both ends: a quarter more than the default ring. */
    static final int MAX_MESSAGE = RegionLayout.DEFAULT_RING_CAPACITY + RegionLayout.DEFAULT_RING_CAPACITY / 4;

    private WebSocketEchoServerMain() {
    }

    public static void main(String[] args) throws Exception {
        LeakRecorder recorder = ChildMains.installLeakRecorder();
        IdtsAddress address = IdtsAddress.parse(args[0]);
        SslContext ssl = args.length > 2
                ? SslContextBuilder.forServer(new File(args[1]), new File(args[2])).build() : null;
        EventLoopGroup group = new IdtsEventLoopGroup(1);
        Channel server = new ServerBootstrap().group(group).channel(IdtsServerChannel.class)
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        if (ssl != null) {
                            ch.pipeline().addLast(ssl.newHandler(ch.alloc()));
                        }
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(65536),
                                new WebSocketServerProtocolHandler(WebSocketServerProtocolConfig.newBuilder()
                                        .websocketPath(PATH).maxFramePayloadLength(MAX_MESSAGE).build()),
                                new WebSocketFrameAggregator(MAX_MESSAGE), new EchoHandler());
                    }
                }).bind(address).sync().channel();
        System.out.println("READY " + ProcessHandle.current().pid());
        ChildMains.runUntilStdinClosed(recorder, server, group);
    }

    static final class EchoHandler extends SimpleChannelInboundHandler<WebSocketFrame> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, WebSocketFrame frame) {
            if (frame instanceof BinaryWebSocketFrame) {
                ctx.write(new TextWebSocketFrame(Digests.sha256(frame.content())));
                ctx.writeAndFlush(new BinaryWebSocketFrame(frame.content().retain()));
            } else if (frame instanceof TextWebSocketFrame) {
                ctx.writeAndFlush(new TextWebSocketFrame(frame.content().retain()));
            } else {
                throw new IllegalStateException("unexpected frame " + frame);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            cause.printStackTrace();
            ctx.close();
        }
    }
}
