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
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * The quick start of the README, compiled by the build and run by {@code QuickStartTest}: an echo server and a
 * client on IDTS. In real use the two halves run in different processes of the same user.
 */
public final class QuickStart {

    private QuickStart() {
    }

    public static void main(String[] args) throws Exception {
        System.out.println(run(IdtsAddress.of("quickstart")));
    }

    /** Starts an echo server on {@code address}, connects to it, sends a line and returns the echo. */
    public static String run(IdtsAddress address) throws Exception {
        // --- README quick start begins ---
        EventLoopGroup group = new IdtsEventLoopGroup();
        try {
            // Server: echoes every byte back.
            Channel server = new ServerBootstrap()
                    .group(group)
                    .channel(IdtsServerChannel.class)
                    .childHandler(new ChannelInboundHandlerAdapter() {
                        @Override
                        public void channelRead(ChannelHandlerContext ctx, Object msg) {
                            ctx.writeAndFlush(msg);
                        }
                    })
                    .bind(address).sync().channel();

            // Client: sends a line, collects the echo until the newline.
            CompletableFuture<String> reply = new CompletableFuture<>();
            Channel client = new Bootstrap()
                    .group(group)
                    .channel(IdtsChannel.class)
                    .handler(new SimpleChannelInboundHandler<ByteBuf>() {
                        private final StringBuilder received = new StringBuilder();

                        @Override
                        protected void channelRead0(ChannelHandlerContext ctx, ByteBuf msg) {
                            received.append(msg.toString(StandardCharsets.UTF_8));
                            if (received.indexOf("\n") >= 0) {
                                reply.complete(received.toString().trim());
                            }
                        }
                    })
                    .connect(address).sync().channel();

            client.writeAndFlush(Unpooled.copiedBuffer("hello over shared memory\n", StandardCharsets.UTF_8));
            String echo = reply.get(10, TimeUnit.SECONDS);
            client.close().sync();
            server.close().sync();
            return echo;
        } finally {
            group.shutdownGracefully();
        }
        // --- README quick start ends ---
    }
}
