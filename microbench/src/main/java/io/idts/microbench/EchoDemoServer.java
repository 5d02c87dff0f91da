package io.idts.microbench;

import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsChannelOption;
import io.idts.channel.IdtsEventLoopGroup;
import io.idts.channel.IdtsServerChannel;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler.Sharable;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.concurrent.TimeUnit;

/**
 * The server half of {@link EchoDemo}, run in a child JVM: echoes every byte it receives, over IDTS (two services,
 * one whose channels spin and one whose channels do not) and over Netty's epoll TCP on loopback.
 *
 * <p>Arguments: the IDTS address of the non-spinning service, the IDTS address of the spinning one, and the spin
 * time in nanoseconds. It prints one line, {@value #READY} followed by the TCP port, when it listens, and runs until
 * its standard input is closed (so it ends with the demo, even if the demo is killed).
 */
public final class EchoDemoServer {

    /** The first word of the line that says the server listens. */
    public static final String READY = "READY";

    /** Ample write buffering, the same for every transport of the demo. */
    static final WriteBufferWaterMark WATER_MARK = new WriteBufferWaterMark(512 * 1024, 1024 * 1024);

    private EchoDemoServer() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: EchoDemoServer <idts address> <idts address, spinning> <spin nanos>");
            System.exit(2);
        }
        IdtsAddress address = IdtsAddress.parse(args[0]);
        IdtsAddress spinAddress = IdtsAddress.parse(args[1]);
        long spinNanos = Long.parseLong(args[2]);

        EventLoopGroup idtsGroup = new IdtsEventLoopGroup(1);
        EventLoopGroup tcpGroup = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        try {
            EchoHandler echo = new EchoHandler();
            Channel idts = new ServerBootstrap().group(idtsGroup).channel(IdtsServerChannel.class)
                    .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, WATER_MARK)
                    .childOption(IdtsChannelOption.SPIN_TIME_NANOS, 0L)
                    .childHandler(echo)
                    .bind(address).sync().channel();
            Channel idtsSpin = new ServerBootstrap().group(idtsGroup).channel(IdtsServerChannel.class)
                    .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, WATER_MARK)
                    .childOption(IdtsChannelOption.SPIN_TIME_NANOS, spinNanos)
                    .childHandler(echo)
                    .bind(spinAddress).sync().channel();
            Channel tcp = new ServerBootstrap().group(tcpGroup).channel(EpollServerSocketChannel.class)
                    .childOption(ChannelOption.TCP_NODELAY, true)
                    .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, WATER_MARK)
                    .childHandler(echo)
                    .bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)).sync().channel();
            int port = ((InetSocketAddress) tcp.localAddress()).getPort();
            System.out.println(READY + ' ' + port);
            System.out.flush();
            System.out.println("pid " + ProcessHandle.current().pid() + " echoing on " + idts.localAddress()
                    + ", " + idtsSpin.localAddress() + " and tcp://127.0.0.1:" + port);

            // Until the demo closes our standard input, or dies.
            while (System.in.read() >= 0) {
                // Nothing is sent on it.
            }
        } finally {
            idtsGroup.shutdownGracefully(0, 2, TimeUnit.SECONDS);
            tcpGroup.shutdownGracefully(0, 2, TimeUnit.SECONDS);
            idtsGroup.terminationFuture().await(10, TimeUnit.SECONDS);
            tcpGroup.terminationFuture().await(10, TimeUnit.SECONDS);
        }
    }

    /** Writes back what it reads; stops reading while the way back is full. */
    @Sharable
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
            if (!(cause instanceof IOException)) {
                cause.printStackTrace();
            }
            ctx.close();
        }
    }
}
