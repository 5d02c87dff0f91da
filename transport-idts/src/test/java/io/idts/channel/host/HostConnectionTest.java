package io.idts.channel.host;

import io.idts.channel.ChildJvm;
import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsChannel;
import io.idts.channel.IdtsEventLoopGroup;
import io.idts.channel.IdtsServerChannel;
import io.idts.channel.ProcessResources;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The host backend's notifications against a hostile peer in another process ({@link NotificationAttackerMain}): no
 * action of the peer on the descriptors it shares with the server may block the server's event loop. A well-behaved
 * client on the same server loop echoes throughout, every byte checked, each echo bounded against a stall.
 */
final class HostConnectionTest {

    private static final Duration STARTUP_TIMEOUT = Duration.ofSeconds(60);
    /** Against stalls: an echo of a few KiB takes microseconds; a loop blocked by a peer takes for ever. */
    private static final long ECHO_TIMEOUT_SECONDS = 10;
    private static final int ATTACKERS = 4;
    private static final int ROUNDS = 200;
    private static final int MAX_ROUND_BYTES = 8192;

    @BeforeAll
    static void loadEverythingOnce() throws Exception {
        ProcessResources.warmUpIdts();
    }

    @Test
    void aPeerThatMakesItsNotificationsBlockingNeverStallsTheServer() throws Exception {
        IdtsAddress address = IdtsAddress.of("notify-" + ProcessHandle.current().pid());
        ProcessResources before = ProcessResources.snapshot();
        // One loop: the attackers' channels and the well-behaved client's share it, as any server's do.
        EventLoopGroup serverGroup = new IdtsEventLoopGroup(1);
        EventLoopGroup clientGroup = new IdtsEventLoopGroup(1);
        CountDownLatch attackersClosed = new CountDownLatch(ATTACKERS);
        boolean clientGroupDown;
        boolean serverGroupDown;
        try {
            Channel server = new ServerBootstrap().group(serverGroup).channel(IdtsServerChannel.class)
                    .childHandler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                                @Override
                                public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                    ctx.writeAndFlush(msg);
                                }

                                @Override
                                public void channelInactive(ChannelHandlerContext ctx) {
                                    if (((IdtsAddress) ctx.channel().remoteAddress()).service()
                                            .startsWith("attacker-")) {
                                        attackersClosed.countDown();
                                    }
                                    ctx.fireChannelInactive();
                                }
                            });
                        }
                    }).bind(address).sync().channel();
            Echo echo = new Echo();
            Channel client = new Bootstrap().group(clientGroup).channel(IdtsChannel.class).handler(echo)
                    .connect(address).sync().channel();
            Random random = new Random(14);
            echo.roundTrip(client, random, "before the attack");
            try (ChildJvm attacker = ChildJvm.start(NotificationAttackerMain.class, address.toString(),
                    Integer.toString(ATTACKERS))) {
                attacker.awaitLine("ATTACKED", STARTUP_TIMEOUT);
                for (int round = 0; round < ROUNDS; round++) {
                    echo.roundTrip(client, random, "round " + round + " of " + ROUNDS + " during the attack");
                }
                // Each attacker shut its output down: the server closed its side, which notified the attacker, whose
                // notification buffer is full and whose descriptors were made blocking.
                assertTrue(attackersClosed.await(ECHO_TIMEOUT_SECONDS, TimeUnit.SECONDS),
                        "the server closed the attackers' channels (notifying each) within " + ECHO_TIMEOUT_SECONDS
                                + " s; " + attackersClosed.getCount() + " left");
                // New clients are still accepted.
                Echo second = new Echo();
                Channel another = new Bootstrap().group(clientGroup).channel(IdtsChannel.class).handler(second)
                        .connect(address).sync().channel();
                second.roundTrip(another, random, "a client connected during the attack");
                another.close().sync();
            }
            client.close().sync();
            server.close().sync();
        } finally {
            // Not asserted here, where it would hide why the test failed.
            clientGroupDown = ProcessResources.shutDown(clientGroup);
            serverGroupDown = ProcessResources.shutDown(serverGroup);
        }
        assertTrue(clientGroupDown, "client group terminated");
        assertTrue(serverGroupDown, "server group terminated");
        before.assertNoneLeaked("after the attack");
    }

    /** Collects what comes back; {@link #roundTrip} sends random bytes and checks that exactly they return. */
    private static final class Echo extends ChannelInboundHandlerAdapter {
        private final ByteArrayOutputStream received = new ByteArrayOutputStream();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            try {
                byte[] bytes = new byte[buf.readableBytes()];
                buf.readBytes(bytes);
                synchronized (this) {
                    received.write(bytes, 0, bytes.length);
                    notifyAll();
                }
            } finally {
                buf.release();
            }
        }

        void roundTrip(Channel channel, Random random, String what) throws InterruptedException {
            byte[] sent = new byte[1 + random.nextInt(MAX_ROUND_BYTES)];
            random.nextBytes(sent);
            channel.writeAndFlush(Unpooled.wrappedBuffer(sent));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(ECHO_TIMEOUT_SECONDS);
            byte[] back;
            synchronized (this) {
                while (received.size() < sent.length && System.nanoTime() < deadline) {
                    wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
                }
                back = received.toByteArray();
                received.reset();
            }
            assertTrue(back.length >= sent.length, what + ": the echo stalled, " + back.length + " of "
                    + sent.length + " bytes back within " + ECHO_TIMEOUT_SECONDS + " s");
            assertArrayEquals(sent, Arrays.copyOf(back, sent.length), what + ": the echo differs");
            assertTrue(back.length == sent.length, what + ": " + (back.length - sent.length) + " bytes too many");
        }
    }
}
