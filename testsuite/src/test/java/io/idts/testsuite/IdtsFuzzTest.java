package io.idts.testsuite;

import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsChannelOption;
import io.idts.channel.IdtsPeerGoneException;
import io.idts.channel.IdtsProtocolException;
import io.idts.channel.ProcessResources;
import io.idts.linux.NotificationSocket;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.ConnectException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.List;
import java.util.Queue;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Seeded fuzzing of the handshake and the ring values, both ways: hostile connectors ({@link RawIdtsPeer}) against a
 * real echo server, and hostile servers ({@link RawIdtsServer}) against real clients. Each round mutates the
 * handshake (HELLO bytes, descriptors, seals, header) or connects honestly, checks an honest echo, then mixes random
 * forgeries of every value the peer writes (positions, states, flags, descriptors, returns, any word of the control
 * area), scribbles, notification bursts and stray bytes with honest traffic. Asserted: every handshake is answered
 * promptly (a reply code or a refusal, never silence), every connection the fuzzer leaves is closed by the real side
 * within a bound, the real side only ever reports the exceptions of a broken or vanished peer (no
 * {@code IllegalStateException}, {@code IndexOutOfBoundsException}, ... from inside the transport), a well-behaved
 * client beside the fuzzing never stalls and gets every byte back, and no descriptor, mapping or buffer leaks.
 *
 * <p>Rounds run for {@value #DEFAULT_SECONDS} s per direction (system property {@value #SECONDS_PROPERTY}); the base
 * seed is printed, and a failing round names its own seed: {@code -D}{@value #SEED_PROPERTY}{@code =0x...} runs that
 * one round again.
 */
class IdtsFuzzTest {

    static final String SEED_PROPERTY = "idts.fuzz.seed";
    static final String SECONDS_PROPERTY = "idts.fuzz.seconds";
    static final int DEFAULT_SECONDS = 15;

    private static final long BOUND_SECONDS = 10;
    private static final long BOUND_MILLIS = TimeUnit.SECONDS.toMillis(BOUND_SECONDS);
    /** docs/protocol.md: the control area before the descriptor queues and data. */
    private static final int DATA_OFFSET = 20480;
    private static final int[] CAPACITIES = { 4096, 8192, 65536 };
    /** What a real endpoint may report of a fuzzed peer: it broke the protocol, vanished, or never connected. */
    private static final List<Class<? extends Throwable>> EXPECTED = List.of(IdtsProtocolException.class,
            IdtsPeerGoneException.class, ConnectException.class, ConnectTimeoutException.class,
            ClosedChannelException.class);

    @BeforeAll
    static void warmUp() throws Exception {
        ProcessResources.warmUpIdts();
    }

    @AfterAll
    static void shutdownGroups() throws InterruptedException {
        IdtsSocketTestPermutation.INSTANCE.shutdownGroups();
    }

    private interface Round {
        void run(SplittableRandom random) throws Exception;
    }

    /** Runs rounds for the time budget (or the one round of the replayed seed), naming a failing round's seed. */
    private static void fuzz(String what, Round round) throws Exception {
        String replay = System.getProperty(SEED_PROPERTY);
        if (replay != null) {
            long seed = Long.parseUnsignedLong(replay.replaceFirst("^0x", ""), 16);
            System.out.println(what + ": replaying the round of seed 0x" + Long.toHexString(seed));
            round.run(new SplittableRandom(seed));
            return;
        }
        long base = new SecureRandom().nextLong();
        System.out.println(what + ": base seed 0x" + Long.toHexString(base) + " (a failing round names its own seed; "
                + "-D" + SEED_PROPERTY + "=<it> replays it)");
        long seconds = Long.getLong(SECONDS_PROPERTY, DEFAULT_SECONDS);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        SplittableRandom seeds = new SplittableRandom(base);
        int rounds = 0;
        while (System.nanoTime() < deadline) {
            long seed = seeds.nextLong();
            try {
                round.run(new SplittableRandom(seed));
            } catch (Throwable t) {
                throw new AssertionError(what + ": round " + rounds + " failed; replay it with -D" + SEED_PROPERTY
                        + "=0x" + Long.toHexString(seed) + ": " + t, t);
            }
            rounds++;
        }
        System.out.println(what + ": " + rounds + " rounds in " + seconds + " s");
    }

    private static void assertExpected(Throwable cause, String where) {
        if (cause != null && EXPECTED.stream().noneMatch(type -> type.isInstance(cause))) {
            AssertionError error = new AssertionError(where + " reported " + cause + ", not the exception of a "
                    + "broken or vanished peer");
            error.initCause(cause);
            throw error;
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Hostile connectors against a real server.

    @Test
    void hostileConnectorsAgainstTheServer() throws Exception {
        IdtsSocketTestPermutation.INSTANCE.workerGroup();
        IdtsSocketTestPermutation.INSTANCE.bossGroup();
        ProcessResources before = ProcessResources.snapshot();
        IdtsAddress address = IdtsSocketTestPermutation.newSocketAddress("fuzzed");
        ChannelGroup children = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);
        Queue<Throwable> unexpected = new ConcurrentLinkedQueue<>();
        Channel server = IdtsSocketTestPermutation.INSTANCE.serverSocket(0).newInstance()
                .childHandler(new ChannelInitializer<Channel>() {
                    @Override
                    protected void initChannel(Channel ch) {
                        children.add(ch);
                        ch.pipeline().addLast(new ChannelInboundHandlerAdapter() {
                            @Override
                            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                ctx.writeAndFlush(msg);
                            }

                            @Override
                            public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                try {
                                    assertExpected(cause, "the server's channel");
                                } catch (AssertionError e) {
                                    unexpected.add(e);
                                }
                                ctx.close();
                            }
                        });
                    }
                }).bind(address).sync().channel();
        try {
            try (WellBehavedClient beside = new WellBehavedClient(0, address, BOUND_SECONDS, TimeUnit.SECONDS, 4)) {
                fuzz("hostile connectors", random -> {
                    connectorRound(random, address);
                    // Every connection but the well-behaved client's is closed by the server.
                    awaitAtMost(children, 1, "the server closes every fuzzed connection");
                    if (!unexpected.isEmpty()) {
                        throw new AssertionError(unexpected.peek());
                    }
                });
                beside.assertWellServed();
            }
        } finally {
            server.close().sync();
        }
        awaitAtMost(children, 0, "the server's channels closed");
        before.assertNoneLeaked("after fuzzing the server");
    }

    private static void awaitAtMost(ChannelGroup channels, int count, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(BOUND_SECONDS);
        while (channels.size() > count) {
            if (System.nanoTime() > deadline) {
                fail(what + ": still open after " + BOUND_SECONDS + " s: " + channels);
            }
            Thread.sleep(1);
        }
    }

    private static void connectorRound(SplittableRandom random, IdtsAddress address) throws Exception {
        int capacity = CAPACITIES[random.nextInt(CAPACITIES.length)];
        boolean mutated = random.nextInt(3) == 0;
        try (RawIdtsPeer peer = new RawIdtsPeer(capacity)) {
            if (mutated) {
                peer.mutatingHandshake(mutation(random));
            }
            try {
                peer.connect(address, BOUND_MILLIS);
            } catch (SocketTimeoutException e) {
                throw new AssertionError("the server did not answer a HELLO within " + BOUND_SECONDS + " s", e);
            } catch (IOException e) {
                // Refused (or hung up on): a mutated handshake may be. An honest one never is.
                if (!mutated) {
                    throw e;
                }
                return;
            }
            if (!mutated) {
                // The honest start works: an echo of random bytes.
                byte[] honest = new byte[1 + random.nextInt(3 * capacity)];
                random.nextBytes(honest);
                peer.write(honest, 0, honest.length, BOUND_MILLIS);
                byte[] echo = new byte[honest.length];
                assertEquals(honest.length, peer.readFully(echo, 0, echo.length, BOUND_MILLIS));
                assertArrayEquals(honest, echo, "the honest echo");
            }
            hostileActions(random, peer, 1 + random.nextInt(12));
        }
    }

    /** A random mutation of the handshake: the HELLO's bytes, the descriptors, the seals, a header word. */
    private static RawIdtsPeer.HandshakeMutation mutation(SplittableRandom random) {
        int what = random.nextInt(5);
        long draw = random.nextLong();
        int position = random.nextInt(1 << 16);
        return new RawIdtsPeer.HandshakeMutation() {
            @Override
            public int seals() {
                return what == 0 ? (int) draw & 0xf : RawIdtsPeer.HandshakeMutation.super.seals();
            }

            @Override
            public void region(ByteBuffer region) {
                if (what == 1) {
                    region.putLong(position % 128 & ~7, draw); // header and its reserved bytes
                }
            }

            @Override
            public byte[] hello(byte[] hello) {
                if (what == 2) {
                    byte[] mutated = Arrays.copyOf(hello, 1 + position % (hello.length + 8));
                    mutated[position % mutated.length] = (byte) draw;
                    return mutated;
                }
                return hello;
            }

            @Override
            public int[] descriptors(int[] fds) {
                if (what == 3) {
                    int[] mutated = new int[(int) (draw & 0x7fff_ffffL) % 5];
                    for (int i = 0; i < mutated.length; i++) {
                        mutated[i] = fds[(position >>> (2 * i)) % fds.length];
                    }
                    return mutated;
                }
                return fds;
            }
        };
    }

    /**
     * {@code count} random actions of a hostile endpoint: forgeries of each value it writes, scribbles on the control
     * area (its peer's lines included: the peer never reads them) and the data, honest writes and reads, bursts of
     * notifications, a stray byte on the socket. The peer's own checks may give up (it too validates what it reads):
     * then the round ends.
     */
    private static void hostileActions(SplittableRandom random, RawIdtsPeer peer, int count) {
        try {
            for (int i = 0; i < count; i++) {
                switch (random.nextInt(15)) {
                    case 0:
                        peer.forgeProducerPosition(peer.producerPosition() + random.nextInt(-3, 1100));
                        break;
                    case 1:
                        peer.forgeProducerPosition(random.nextLong());
                        break;
                    case 2:
                        peer.forgeProducerState(random.nextInt(6) == 0 ? random.nextInt() : random.nextInt(-1, 5));
                        break;
                    case 3:
                        peer.forgeProducerFlags(random.nextBoolean() ? random.nextInt(4) : random.nextInt());
                        break;
                    case 4:
                        peer.forgeDescriptors(randomDescriptor(random, peer.ringCapacity() / 64));
                        break;
                    case 5:
                        peer.forgeReturn(random.nextInt(8) == 0 ? random.nextInt() : random.nextInt(70));
                        break;
                    case 6:
                        peer.forgeReturnPosition(random.nextInt(8) == 0 ? random.nextLong() : random.nextInt(-2, 70));
                        break;
                    case 7:
                        peer.forgeConsumerPosition(random.nextInt(4) == 0 ? random.nextLong()
                                : peer.consumerPosition() + random.nextInt(-3, 1100));
                        break;
                    case 8:
                        peer.forgeConsumerFlags(random.nextBoolean() ? random.nextInt(4) : random.nextInt());
                        break;
                    case 9: {
                        ByteBuffer region = peer.region();
                        region.putLong(random.nextInt(DATA_OFFSET / Long.BYTES) * Long.BYTES, random.nextLong());
                        break;
                    }
                    case 10: {
                        ByteBuffer region = peer.region();
                        region.putLong(DATA_OFFSET + random.nextInt((region.capacity() - DATA_OFFSET) / Long.BYTES)
                                * Long.BYTES, random.nextLong());
                        break;
                    }
                    case 11: {
                        byte[] bytes = new byte[1 + random.nextInt(2 * peer.ringCapacity())];
                        random.nextBytes(bytes);
                        peer.write(bytes, 0, bytes.length, 50);
                        break;
                    }
                    case 12: {
                        byte[] bytes = new byte[1 + random.nextInt(2 * peer.ringCapacity())];
                        peer.read(bytes, 0, bytes.length, 20);
                        break;
                    }
                    case 13:
                        for (int n = random.nextInt(2000); n > 0; n--) {
                            NotificationSocket.signal(peer.notificationFd());
                        }
                        break;
                    default:
                        if (random.nextInt(4) == 0) {
                            peer.sendOnRendezvousSocket(new byte[] { (byte) random.nextInt() }, random.nextBoolean());
                        }
                        break;
                }
            }
        } catch (IOException | IllegalStateException e) {
            // The raw peer saw the real side close, or its own bookkeeping no longer holds after a forgery.
        }
    }

    /** Mostly plausible descriptors (a slice near the range, a length near the slice), sometimes any 64 bits. */
    private static long randomDescriptor(SplittableRandom random, int sliceSize) {
        if (random.nextInt(8) == 0) {
            return random.nextLong();
        }
        long slice = random.nextInt(70);
        long length = random.nextInt(sliceSize + 8);
        long descriptor = slice << 32 | length | (random.nextBoolean() ? 1L << 63 : 0);
        if (random.nextInt(10) == 0) {
            descriptor |= 1L << (48 + random.nextInt(15));
        }
        return descriptor;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Hostile servers against real clients.

    @Test
    void hostileServersAgainstTheClient() throws Exception {
        IdtsSocketTestPermutation.INSTANCE.workerGroup();
        IdtsSocketTestPermutation.INSTANCE.bossGroup();
        ProcessResources before = ProcessResources.snapshot();
        try (RawIdtsServer server = new RawIdtsServer(IdtsSocketTestPermutation.newSocketAddress("fuzzing"));
             WellBehavedClient beside = new WellBehavedClient(0, null, BOUND_SECONDS, TimeUnit.SECONDS, 5)) {
            fuzz("hostile servers", random -> serverRound(random, server));
            beside.assertWellServed();
        }
        before.assertNoneLeaked("after fuzzing the client");
    }

    private static void serverRound(SplittableRandom random, RawIdtsServer server) throws Exception {
        Queue<Throwable> caught = new ConcurrentLinkedQueue<>();
        int capacity = CAPACITIES[random.nextInt(CAPACITIES.length)];
        boolean silent = random.nextInt(50) == 0;
        ChannelFuture connect = IdtsSocketTestPermutation.INSTANCE.clientSocket(0).newInstance()
                .option(IdtsChannelOption.RING_CAPACITY, capacity)
                .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, silent ? 200 : (int) BOUND_MILLIS)
                .handler(new ChannelInboundHandlerAdapter() {
                    @Override
                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                        // The client echoes too, so that its writer works against the hostile values.
                        ctx.writeAndFlush(msg);
                    }

                    @Override
                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                        caught.add(cause);
                        ctx.close();
                    }
                }).connect(server.address());
        Channel client = connect.channel();
        try (RawIdtsServer.Hello hello = server.awaitHello(BOUND_MILLIS)) {
            int choice = random.nextInt(10);
            if (silent) {
                assertTrue(connect.await(BOUND_SECONDS, TimeUnit.SECONDS), "the connect timed out");
            } else if (choice == 0) {
                hello.refuse((byte) random.nextInt(1, 256));
            } else if (choice == 1) {
                hello.close();
            } else if (choice == 2) {
                byte[] reply = new byte[1 + random.nextInt(3)];
                random.nextBytes(reply);
                hello.reply(reply);
            } else if (choice == 3) {
                hello.replyWithDescriptor((byte) random.nextInt(3));
            } else {
                try (RawIdtsPeer peer = hello.accept()) {
                    assertTrue(connect.await(BOUND_SECONDS, TimeUnit.SECONDS), "the connect ended");
                    if (connect.isSuccess()) {
                        if (random.nextBoolean()) {
                            ByteBuf data = Unpooled.buffer(1 + random.nextInt(3 * capacity));
                            data.writeZero(data.capacity());
                            client.writeAndFlush(data);
                        }
                        hostileActions(random, peer, 1 + random.nextInt(12));
                    }
                }
            }
            assertTrue(connect.await(BOUND_SECONDS, TimeUnit.SECONDS), "the connect ended");
        }
        // Whatever the server did, the client ends up closed (the raw server closed or hung up) within the bound.
        assertTrue(client.closeFuture().await(BOUND_SECONDS, TimeUnit.SECONDS),
                () -> "the client closed after the hostile server left: " + client);
        assertExpected(connect.cause(), "the connect");
        for (Throwable cause : caught) {
            assertExpected(cause, "the client");
        }
    }
}
