package io.idts.testsuite;

import io.idts.channel.ChildMains;
import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsChannel;
import io.idts.channel.IdtsChannelOption;
import io.idts.channel.IdtsEventLoopGroup;
import io.idts.channel.IdtsServerChannel;
import io.idts.channel.LeakRecorder;
import io.idts.channel.ring.RegionLayout;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;

/**
 * A child JVM's main: an HTTP/1.1 echo server over IDTS with Netty's own codec and aggregator, the transport's
 * defaults, as a user would write it. {@code HttpEchoServerMain <address> [<ring capacity>]}: every POST body comes
 * back whole; a body whose SHA-256 is not the request's {@value #DIGEST_HEADER} header is answered 400. A ring
 * capacity, if given, is set as the accepted channels' {@code RING_CAPACITY} (the connecting side chooses the rings;
 * the client sets the same). Every answer says what the server's channel did in {@value #ZERO_COPY_HEADER},
 * {@value #HOLD_LIMIT_COPIES_HEADER} and {@value #PINNED_LIMIT_HEADER}, so that the client can check that the server's
 * aggregator really kept views of the ring. Prints {@code READY}, stops when its stdin closes, and exits non-zero if
 * a buffer leaked.
 */
public final class HttpEchoServerMain {

    static final String DIGEST_HEADER = "x-body-sha256";
    /** The server channel's {@code IdtsChannel.zeroCopyReadBytes()} when it answered. */
    static final String ZERO_COPY_HEADER = "x-idts-zero-copy-read-bytes";
    /** The server channel's {@code IdtsChannel.holdLimitCopies()} when it answered. */
    static final String HOLD_LIMIT_COPIES_HEADER = "x-idts-hold-limit-copies";
    /** The server channel's {@code IdtsChannel.pinnedBytesLimit()}: a share of its receive ring's capacity. */
    static final String PINNED_LIMIT_HEADER = "x-idts-pinned-bytes-limit";
    /** The largest body the tests send: 16 times the default ring. */
    static final int MAX_BODY = 16 * RegionLayout.DEFAULT_RING_CAPACITY;

    private HttpEchoServerMain() {
    }

    public static void main(String[] args) throws Exception {
        LeakRecorder recorder = ChildMains.installLeakRecorder();
        IdtsAddress address = IdtsAddress.parse(args[0]);
        EventLoopGroup group = new IdtsEventLoopGroup(1);
        ServerBootstrap bootstrap = new ServerBootstrap().group(group).channel(IdtsServerChannel.class);
        if (args.length > 1) {
            bootstrap.childOption(IdtsChannelOption.RING_CAPACITY, Integer.parseInt(args[1]));
        }
        Channel server = bootstrap.childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(MAX_BODY),
                                new EchoHandler());
                    }
                }).bind(address).sync().channel();
        System.out.println("READY " + ProcessHandle.current().pid());
        ChildMains.runUntilStdinClosed(recorder, server, group);
    }

    static final class EchoHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            ByteBuf body = request.content();
            boolean intact = Digests.sha256(body).equals(request.headers().get(DIGEST_HEADER));
            FullHttpResponse response = intact
                    ? new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, body.retain())
                    : new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.BAD_REQUEST);
            response.headers().set(HttpHeaderNames.CONTENT_LENGTH, response.content().readableBytes());
            response.headers().set(DIGEST_HEADER, Digests.sha256(body));
            IdtsChannel channel = (IdtsChannel) ctx.channel();
            response.headers().set(ZERO_COPY_HEADER, channel.zeroCopyReadBytes());
            response.headers().set(HOLD_LIMIT_COPIES_HEADER, channel.holdLimitCopies());
            response.headers().set(PINNED_LIMIT_HEADER, channel.pinnedBytesLimit());
            HttpUtil.setKeepAlive(response, HttpUtil.isKeepAlive(request));
            ctx.writeAndFlush(response);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            cause.printStackTrace();
            ctx.close();
        }
    }
}
