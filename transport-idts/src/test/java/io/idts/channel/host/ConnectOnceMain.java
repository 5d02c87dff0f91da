package io.idts.channel.host;

import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsChannel;
import io.idts.channel.IdtsEventLoopGroup;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;

import java.util.concurrent.TimeUnit;

/**
 * A child JVM's main for {@code RendezvousSocketTest}: a client that runs where the test cannot (another user
 * namespace). {@code ConnectOnceMain <address> <connect timeout ms>} connects an {@link IdtsChannel} to the address
 * once and prints {@code CONNECTED <route>}, or {@code FAILED <ms taken> <exception>}, then exits.
 */
public final class ConnectOnceMain {

    private ConnectOnceMain() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: ConnectOnceMain <address> <connect timeout ms>");
            System.exit(2);
        }
        IdtsAddress address = IdtsAddress.parse(args[0]);
        EventLoopGroup group = new IdtsEventLoopGroup(1);
        try {
            long start = System.nanoTime();
            ChannelFuture connect = new Bootstrap().group(group).channel(IdtsChannel.class)
                    .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, Integer.parseInt(args[1]))
                    .handler(new ChannelInboundHandlerAdapter()).connect(address).await();
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            if (connect.isSuccess()) {
                System.out.println("CONNECTED " + ((IdtsChannel) connect.channel()).route());
                connect.channel().close().sync();
            } else {
                System.out.println("FAILED " + millis + ' ' + String.valueOf(connect.cause()).replace('\n', ' '));
            }
        } finally {
            group.shutdownGracefully(0, 0, TimeUnit.SECONDS).await(10, TimeUnit.SECONDS);
        }
        System.exit(0);
    }
}
