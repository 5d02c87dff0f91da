package io.idts.microbench;

import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsChannel;
import io.idts.channel.IdtsEventLoopGroup;
import io.idts.channel.IdtsServerChannel;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The main example of the README, compiled by the build and run by {@code QuickStartTest}, which also checks that the
 * README shows the code between the markers below, character for character: a server that serves one service over
 * IDTS and TCP, and the one client configuration that reaches it either way. In real use the two halves run in
 * different processes, containers or machines.
 */
public final class QuickStart {

    private QuickStart() {
    }

    public static void main(String[] args) throws Exception {
        System.out.println(run("quickstart", "localhost", 7000));
    }

    /**
     * Serves {@code service} on IDTS and on TCP {@code port}, connects to it with the TCP address {@code host:port},
     * sends a line, and returns the echo and the route it came by (here always IDTS: the server is on this machine).
     */
    public static String run(String service, String host, int port) throws Exception {
        ChannelHandler echoHandler = new EchoHandler();
        ReplyHandler replyHandler = new ReplyHandler();
        // --- README main example begins ---
        EventLoopGroup group = new IdtsEventLoopGroup();         // runs IDTS channels and Netty's epoll TCP ones
        Channel server = new ServerBootstrap()                   // one server for both routes, one pipeline
                .group(group)
                .channel(IdtsServerChannel.class)
                .childHandler(echoHandler)                       // any pipeline: HTTP, HTTP/2, gRPC, TLS, ...
                .bind(IdtsAddress.of(service).withTcp(new InetSocketAddress(port))).sync().channel();
        Channel client = new Bootstrap()                         // one client configuration, wherever it runs
                .group(group)
                .channel(IdtsChannel.class)
                .handler(replyHandler)
                .connect(IdtsAddress.of(service).withTcp(host, port)).sync().channel();
        client.writeAndFlush(Unpooled.copiedBuffer("hello\n", StandardCharsets.UTF_8));
        // --- README main example ends ---
        try {
            String echo = replyHandler.reply.get(10, TimeUnit.SECONDS);
            String reply = echo + " through " + ((IdtsChannel) client).route();
            client.close().sync();
            server.close().sync();
            return reply;
        } finally {
            group.shutdownGracefully();
        }
    }

    /** The server's child handler: writes back every byte it reads. */
    @ChannelHandler.Sharable
    private static final class EchoHandler extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.writeAndFlush(msg);
        }
    }

    /** The client's handler: collects the echo up to the newline. */
    private static final class ReplyHandler extends SimpleChannelInboundHandler<ByteBuf> {
        private final StringBuilder received = new StringBuilder();
        final CompletableFuture<String> reply = new CompletableFuture<>();

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, ByteBuf msg) {
            received.append(msg.toString(StandardCharsets.UTF_8));
            if (received.indexOf("\n") >= 0) {
                reply.complete(received.toString().trim());
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            reply.completeExceptionally(cause);
            ctx.close();
        }
    }
}
