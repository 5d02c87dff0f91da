package io.idts.channel;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import io.netty.util.ReferenceCountUtil;

/**
 * A child JVM's main that streams {@link StreamPattern} to its peer without end, as fast as the peer takes it, and
 * discards what it receives: the victim of the kill -9 tests.
 *
 * <ul>
 *   <li>{@code StreamingPeerMain server <address>}: binds, prints {@code READY <pid>}, streams to every connection;
 *   <li>{@code StreamingPeerMain client <address>}: connects, prints {@code CONNECTED <pid>}, streams.
 * </ul>
 * Either stops cleanly when its stdin closes.
 */
public final class StreamingPeerMain {

    private static final int CHUNK = 64 * 1024;

    private StreamingPeerMain() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2 || !("server".equals(args[0]) || "client".equals(args[0]))) {
            System.err.println("usage: StreamingPeerMain server|client <address>");
            System.exit(2);
        }
        LeakRecorder recorder = ChildMains.installLeakRecorder();
        IdtsAddress address = IdtsAddress.parse(args[1]);
        EventLoopGroup group = new IdtsEventLoopGroup(1);
        Channel channel;
        if ("server".equals(args[0])) {
            channel = new ServerBootstrap()
                    .group(group)
                    .channel(IdtsServerChannel.class)
                    .childHandler(new Streamer())
                    .bind(address).sync().channel();
            System.out.println("READY " + ProcessHandle.current().pid());
        } else {
            channel = new Bootstrap()
                    .group(group)
                    .channel(IdtsChannel.class)
                    .handler(new Streamer())
                    .connect(address).sync().channel();
            System.out.println("CONNECTED " + ProcessHandle.current().pid());
        }
        ChildMains.runUntilStdinClosed(recorder, channel, group);
    }

    /** Writes the pattern while the channel is writable; drops what it reads. */
    static final class Streamer extends ChannelInboundHandlerAdapter {
        private long position;

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            stream(ctx);
            ctx.fireChannelActive();
        }

        @Override
        public void channelWritabilityChanged(ChannelHandlerContext ctx) {
            stream(ctx);
            ctx.fireChannelWritabilityChanged();
        }

        private void stream(ChannelHandlerContext ctx) {
            Channel channel = ctx.channel();
            while (channel.isActive() && channel.isWritable()) {
                ByteBuf buf = ctx.alloc().directBuffer(CHUNK);
                StreamPattern.write(buf, position, CHUNK);
                position += CHUNK;
                ctx.write(buf, ctx.voidPromise());
            }
            ctx.flush();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ReferenceCountUtil.release(msg);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            System.out.println("CLOSED " + position);
            ctx.fireChannelInactive();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            System.err.println("streaming connection " + ctx.channel() + " failed: " + cause);
            ctx.close();
        }
    }
}
