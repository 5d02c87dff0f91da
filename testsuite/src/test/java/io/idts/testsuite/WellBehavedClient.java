package io.idts.testsuite;

import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsChannelOption;
import io.idts.channel.StreamPattern;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A client that behaves, running beside an attack: on a thread of its own it sends messages of random sizes through
 * an echo server and waits for each echo before the next, and records the first round trip that took longer than
 * the stall bound, any exception, and any byte that came back wrong. The attack shares its event loops (and, if
 * given, its server), so a loop the attack stalls stalls this client too.
 */
final class WellBehavedClient implements AutoCloseable {

    private static final int MAX_MESSAGE = 64 * 1024;

    private final long stallBoundNanos;
    private final Channel client;
    private final Channel ownServer;
    private final Thread thread;
    private final StreamPattern.Verifier verifier = new StreamPattern.Verifier();
    private volatile long received;
    private volatile long sent;
    private volatile long rounds;
    private volatile String failure;
    private volatile boolean stop;

    /**
     * Connects to {@code echoServer}, or to an echo server of its own on the shared loops if it is {@code null}, and
     * starts the round trips.
     */
    WellBehavedClient(long spin, IdtsAddress echoServer, long stallBound, TimeUnit unit, long seed)
            throws InterruptedException {
        this.stallBoundNanos = unit.toNanos(stallBound);
        IdtsAddress address = echoServer;
        if (address == null) {
            address = IdtsSocketTestPermutation.newSocketAddress("behaved");
            ownServer = startEchoServer(spin, address);
        } else {
            ownServer = null;
        }
        client = IdtsSocketTestPermutation.INSTANCE.clientSocket(spin).newInstance()
                .option(IdtsChannelOption.RING_CAPACITY, 16 * 1024)
                .handler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        ByteBuf buf = (ByteBuf) msg;
                        try {
                            if (!verifier.verify(buf)) {
                                fail("echo: " + verifier.failure());
                            }
                            received += buf.readableBytes();
                        } finally {
                            buf.release();
                        }
                    }

                    @Override
                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                        fail("exceptionCaught: " + cause);
                    }
                }).connect(address).sync().channel();
        thread = new Thread(() -> run(seed), "well-behaved-client");
        thread.setDaemon(true);
        thread.start();
    }

    /** An echo server on the shared loops (each echo written and flushed as it comes). */
    static Channel startEchoServer(long spin, IdtsAddress address) throws InterruptedException {
        return IdtsSocketTestPermutation.INSTANCE.serverSocket(spin).newInstance()
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                ctx.writeAndFlush(msg);
                            }

                            @Override
                            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                ctx.close();
                            }
                        });
                    }
                }).bind(address).sync().channel();
    }

    private void fail(String why) {
        if (failure == null) {
            failure = why;
        }
    }

    private void run(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        try {
            while (!stop && failure == null) {
                int length = 1 + random.nextInt(MAX_MESSAGE);
                ByteBuf message = client.alloc().buffer(length);
                StreamPattern.write(message, sent, length);
                sent += length;
                long start = System.nanoTime();
                client.writeAndFlush(message);
                while (received < sent && failure == null) {
                    if (System.nanoTime() - start > stallBoundNanos) {
                        fail("round trip " + rounds + " of " + length + " bytes took longer than "
                                + TimeUnit.NANOSECONDS.toMillis(stallBoundNanos) + " ms (" + received + " of " + sent
                                + " bytes back)");
                        return;
                    }
                    if (!client.isActive()) {
                        fail("the channel closed after " + received + " of " + sent + " bytes");
                        return;
                    }
                    Thread.sleep(1);
                }
                rounds++;
            }
        } catch (InterruptedException e) {
            fail("interrupted");
        }
    }

    /** Stops the round trips and asserts that none stalled, failed or came back wrong, and that some were made. */
    void assertWellServed() throws InterruptedException {
        stop = true;
        thread.join(TimeUnit.NANOSECONDS.toMillis(stallBoundNanos) + 10_000);
        assertNull(failure, "the well-behaved client beside the attack");
        assertTrue(rounds > 0, "the well-behaved client made no round trip");
        assertEquals(sent, received, "every byte the well-behaved client sent came back");
    }

    @Override
    public void close() throws InterruptedException {
        stop = true;
        thread.join(TimeUnit.NANOSECONDS.toMillis(stallBoundNanos) + 10_000);
        client.close().sync();
        if (ownServer != null) {
            ownServer.close().sync();
        }
    }
}
