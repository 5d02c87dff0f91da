package io.idts.channel;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollServerSocketChannel;

import java.net.InetSocketAddress;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A child JVM's main: an echo server reached by route. {@code RouteEchoServerMain <mode> <IDTS address>} serves, on
 * {@code 127.0.0.1} and a free port, as {@code mode} says:
 * <ul>
 *   <li>{@code dual}: IDTS on the address and TCP, one {@link IdtsServerChannel} bound to the address with a TCP
 *   address;</li>
 *   <li>{@code tcp}: TCP only, Netty's {@link EpollServerSocketChannel};</li>
 *   <li>{@code tcp-then-idts}: TCP only until its first connection closes, then IDTS on the address too (it prints
 *   {@code IDTS READY} then).</li>
 * </ul>
 * It prints {@code READY <pid> <port>}, echoes every byte back with {@link EchoServerMain.EchoHandler}, and stops
 * cleanly when its stdin closes (see {@link ChildJvm}).
 */
public final class RouteEchoServerMain {

    private RouteEchoServerMain() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: RouteEchoServerMain dual|tcp|tcp-then-idts <IDTS address>");
            System.exit(2);
        }
        LeakRecorder recorder = ChildMains.installLeakRecorder();
        String mode = args[0];
        IdtsAddress address = IdtsAddress.parse(args[1]);
        InetSocketAddress anyPort = new InetSocketAddress("127.0.0.1", 0);
        EventLoopGroup group = new IdtsEventLoopGroup(1);
        Channel server;
        int port;
        switch (mode) {
            case "dual":
                server = new ServerBootstrap().group(group).channel(IdtsServerChannel.class)
                        .childHandler(new EchoServerMain.EchoHandler())
                        .bind(address.withTcp(anyPort)).sync().channel();
                port = ((IdtsServerChannel) server).localAddress().tcpAddress().getPort();
                break;
            case "tcp":
            case "tcp-then-idts":
                AtomicBoolean idtsStarted = new AtomicBoolean(!"tcp-then-idts".equals(mode));
                server = new ServerBootstrap().group(group).channel(EpollServerSocketChannel.class)
                        .childHandler(new ChannelInitializer<Channel>() {
                            @Override
                            protected void initChannel(Channel ch) {
                                ch.pipeline().addLast(new EchoServerMain.EchoHandler());
                                ch.closeFuture().addListener(f -> {
                                    if (idtsStarted.compareAndSet(false, true)) {
                                        serveIdts(group, address);
                                    }
                                });
                            }
                        })
                        .bind(anyPort).sync().channel();
                port = ((InetSocketAddress) server.localAddress()).getPort();
                break;
            default:
                System.err.println("unknown mode " + mode);
                System.exit(2);
                return;
        }
        System.out.println("READY " + ProcessHandle.current().pid() + ' ' + port);
        ChildMains.runUntilStdinClosed(recorder, server, group);
    }

    /** Binds an IDTS server on {@code address}; closed when the group shuts down. */
    private static void serveIdts(EventLoopGroup group, IdtsAddress address) {
        new ServerBootstrap().group(group).channel(IdtsServerChannel.class)
                .childHandler(new EchoServerMain.EchoHandler())
                .bind(address).addListener(f -> {
                    if (f.isSuccess()) {
                        System.out.println("IDTS READY");
                    } else {
                        System.out.println("IDTS FAILED " + f.cause());
                    }
                });
    }
}
