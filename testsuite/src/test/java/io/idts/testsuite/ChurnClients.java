package io.idts.testsuite;

import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsChannel;
import io.idts.channel.IdtsChannelOption;
import io.idts.channel.IdtsEventLoopGroup;
import io.idts.linux.FileDescriptors;
import io.idts.linux.UnixDomainSocket;
import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.group.ChannelGroup;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * The clients of the churn test ({@link IdtsChurnTest}), in the test's JVM or in a child ({@link #main}): connections
 * that connect, echo a message of random size and close, as fast as they can; one connection that streams for as long
 * as it lives; and bare connections to the rendezvous socket that never send their HELLO. Killed at a random moment,
 * they leave the server connections in every phase: handshake, streaming, closing. Every wait is bounded.
 */
final class ChurnClients {

    static final long WAIT_MILLIS = 10_000;
    private static final int MAX_MESSAGE = 32 * 1024;
    private static final int SILENT_SOCKETS = 4;

    private ChurnClients() {
    }

    /** A bootstrap of clients with small rings that echo nothing and count what they receive. */
    static Bootstrap bootstrap(EventLoopGroup group, ChannelGroup channels, Consumer<Throwable> failures) {
        return new Bootstrap().group(group).channel(IdtsChannel.class)
                .option(IdtsChannelOption.RING_CAPACITY, 16 * 1024)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) WAIT_MILLIS)
                .handler(new CountingHandler(channels, failures));
    }

    /** Counts what a client receives (no echo), adds active channels to a group, reports exceptions. */
    @ChannelHandler.Sharable
    private static final class CountingHandler extends ChannelInboundHandlerAdapter {
        private final ChannelGroup channels;
        private final Consumer<Throwable> failures;

        CountingHandler(ChannelGroup channels, Consumer<Throwable> failures) {
            this.channels = channels;
            this.failures = failures;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            ctx.channel().attr(Counter.KEY).setIfAbsent(new AtomicLong());
            if (channels != null) {
                channels.add(ctx.channel());
            }
            ctx.fireChannelActive();
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            ctx.channel().attr(Counter.KEY).get().addAndGet(buf.readableBytes());
            buf.release();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            failures.accept(cause);
            ctx.close();
        }
    }

    /** Bytes received on a channel. */
    static final class Counter {
        static final io.netty.util.AttributeKey<AtomicLong> KEY = io.netty.util.AttributeKey.valueOf("received");

        private Counter() {
        }
    }

    /** Connect, echo one message, close; over and over while {@code running}. Failures go to {@code failures}. */
    static void cycle(Bootstrap bootstrap, IdtsAddress address, SplittableRandom random, BooleanSupplier running,
                      Consumer<Throwable> failures, Runnable afterFirst) {
        boolean first = true;
        while (running.getAsBoolean()) {
            try {
                Channel channel = connect(bootstrap, address);
                int length = 1 + random.nextInt(MAX_MESSAGE);
                ByteBuf message = channel.alloc().buffer(length).writeZero(length);
                channel.writeAndFlush(message);
                awaitReceived(channel, length);
                channel.close().await(WAIT_MILLIS, TimeUnit.MILLISECONDS);
                if (first) {
                    first = false;
                    afterFirst.run();
                }
            } catch (InterruptedException e) {
                return;
            } catch (Throwable t) {
                failures.accept(t);
                sleepQuietly(1);
            }
        }
    }

    /** One connection that writes as fast as the server echoes, while {@code running}. */
    static void stream(Bootstrap bootstrap, IdtsAddress address, BooleanSupplier running,
                       Consumer<Throwable> failures) {
        while (running.getAsBoolean()) {
            try {
                Channel channel = connect(bootstrap, address);
                while (running.getAsBoolean() && channel.isActive()) {
                    if (channel.isWritable()) {
                        channel.writeAndFlush(channel.alloc().buffer(8192).writeZero(8192));
                    } else {
                        sleepQuietly(1);
                    }
                }
                channel.close().await(WAIT_MILLIS, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                return;
            } catch (Throwable t) {
                failures.accept(t);
                sleepQuietly(1);
            }
        }
    }

    /** Keeps a few connections to the rendezvous socket that never send a HELLO, renewing one now and then. */
    static void silent(IdtsAddress address, BooleanSupplier running) {
        Deque<Integer> sockets = new ArrayDeque<>();
        try {
            while (running.getAsBoolean()) {
                try {
                    sockets.add(UnixDomainSocket.connectToPath(address.socketPath()));
                } catch (Exception e) {
                    // The server is gone or its backlog full: try again.
                }
                while (sockets.size() > SILENT_SOCKETS) {
                    FileDescriptors.closeQuietly(sockets.poll());
                }
                sleepQuietly(5);
            }
        } finally {
            sockets.forEach(FileDescriptors::closeQuietly);
        }
    }

    private static Channel connect(Bootstrap bootstrap, IdtsAddress address) throws InterruptedException {
        Channel channel = bootstrap.connect(address).sync().channel();
        channel.attr(Counter.KEY).setIfAbsent(new AtomicLong());
        return channel;
    }

    private static void awaitReceived(Channel channel, long length) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(WAIT_MILLIS);
        AtomicLong received = channel.attr(Counter.KEY).get();
        while (received.get() < length && channel.isActive()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("no echo within " + WAIT_MILLIS + " ms on " + channel);
            }
            Thread.sleep(1);
        }
    }

    private static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * A child JVM of the churn test: {@code ChurnClients <address> <seed>} runs two cycling clients, one streaming
     * client and the silent sockets against the server at {@code address}, prints {@code READY} after the first echo,
     * and runs until it is killed.
     */
    public static void main(String[] args) throws Exception {
        IdtsAddress address = IdtsAddress.parse(args[0]);
        SplittableRandom random = new SplittableRandom(Long.parseLong(args[1]));
        EventLoopGroup group = new IdtsEventLoopGroup(2);
        Bootstrap bootstrap = bootstrap(group, null, t -> { });
        BooleanSupplier forever = () -> true;
        Thread[] threads = {
            new Thread(() -> cycle(bootstrap, address, random.split(), forever, t -> { },
                    () -> System.out.println("READY"))),
            new Thread(() -> cycle(bootstrap, address, random.split(), forever, t -> { }, () -> { })),
            new Thread(() -> stream(bootstrap, address, forever, t -> { })),
            new Thread(() -> silent(address, forever)),
        };
        for (Thread thread : threads) {
            thread.start();
        }
        for (Thread thread : threads) {
            thread.join();
        }
    }
}
