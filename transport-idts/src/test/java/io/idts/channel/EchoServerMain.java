package io.idts.channel;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;

/**
 * A child JVM's main: an IDTS echo server. {@code EchoServerMain <address>} binds the address (as
 * {@link IdtsAddress#parse} reads it), prints {@code READY <pid>}, echoes every byte of every connection back, and
 * stops cleanly when its stdin closes (see {@link ChildJvm}). It stops reading from a connection while that
 * connection cannot take more writes, so a client that does not read cannot make it buffer without bound.
 */
public final class EchoServerMain {

    private EchoServerMain() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: EchoServerMain <address>");
            System.exit(2);
        }
        LeakRecorder recorder = ChildMains.installLeakRecorder();
        IdtsAddress address = IdtsAddress.parse(args[0]);
        EventLoopGroup group = new IdtsEventLoopGroup(1);
        Channel server = new ServerBootstrap()
                .group(group)
                .channel(IdtsServerChannel.class)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(512 * 1024, 1024 * 1024))
                .childHandler(new EchoHandler())
                .bind(address).sync().channel();
        System.out.println("READY " + ProcessHandle.current().pid());
        ChildMains.runUntilStdinClosed(recorder, server, group);
    }

    /** Writes back what it reads; reads only while the channel is writable. */
    @ChannelHandler.Sharable
    static final class EchoHandler extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ctx.write(msg);
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
            System.err.println("echo connection " + ctx.channel() + " failed: " + cause);
            ctx.close();
        }
    }
}
