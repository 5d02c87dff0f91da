package io.idts.testsuite;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import io.idts.channel.ChildJvm;
import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsChannel;
import io.idts.channel.IdtsChannelOption;
import io.idts.channel.IdtsEventLoopGroup;
import io.idts.channel.ring.RegionLayout;
import io.netty.channel.EventLoopGroup;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * grpc-java ({@code grpc-netty}, not shaded) over IDTS between two JVMs with the transport's defaults but 1 MiB rings:
 * 64 unary calls in flight, each echoing a message of 4 times the ring, and a bidirectional stream of 100,000 messages
 * (ten of them twice the ring); and, with no IDTS option at all, 16 unary calls of 4 default rings each. gRPC's
 * deframer keeps buffers until a message is complete: with protocol version 1 the channel stopped after a few hundred
 * calls and every later call ended in DEADLINE_EXCEEDED.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class IdtsGrpcTest {

    /**
     * The client's ring (it chooses both): 1 MiB, a quarter of the default, so that 64 calls of 4 rings each (256 MiB
     * in flight each way) stay within the test JVMs' default heaps. The property tested holds for any ring size.
     */
    private static final int RING = 1 << 20;
    /** The unary calls' deadline: they take about 20 s on the 2-core development machine under load. */
    private static final long DEADLINE_SECONDS = 90;
    /**
     * The stream's deadline: it takes 15 to 45 s on the 2-core development machine under load, most of it gRPC's own
     * work per message with Netty's leak detection at PARANOID (the same stream over NIO's TCP in one JVM takes as
     * long).
     */
    private static final long STREAM_DEADLINE_SECONDS = 180;

    private static IdtsAddress address;
    private static ChildJvm server;
    private static EventLoopGroup group;
    private static ManagedChannel channel;

    @BeforeAll
    static void start() throws Exception {
        address = IdtsSocketTestPermutation.newSocketAddress("grpc");
        server = ChildJvm.start(GrpcEchoServerMain.class, address.toString());
        server.awaitLine(line -> line.startsWith("READY"), Duration.ofSeconds(60));
        group = new IdtsEventLoopGroup(1);
        channel = NettyChannelBuilder.forAddress(address)
                .channelType(IdtsChannel.class)
                .withOption(IdtsChannelOption.RING_CAPACITY, RING)
                .eventLoopGroup(group)
                .usePlaintext()
                .maxInboundMessageSize(GrpcEcho.MAX_MESSAGE)
                .build();
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            shutDown(channel, group);
            assertEquals(0, server.closeStdinAndWait(Duration.ofSeconds(60)), server.describeOutput());
        } finally {
            server.close();
        }
    }

    @Test
    void sixtyFourUnaryCallsInFlightOfFourRingsEach() throws Exception {
        echoUnaryCalls(channel, 64, 4 * RING);
    }

    /**
     * The same on a channel built with no IDTS option at all, as a user drops IDTS into a gRPC client: the default
     * 16 MiB rings (this is the loop's only channel, so it has the whole default), 4 calls of 4 rings each in flight.
     */
    @Test
    void fourUnaryCallsInFlightOfFourDefaultRingsEachWithTheTransportsDefaults() throws Exception {
        EventLoopGroup defaultsGroup = new IdtsEventLoopGroup(1);
        ManagedChannel defaults = NettyChannelBuilder.forAddress(address)
                .channelType(IdtsChannel.class)
                .eventLoopGroup(defaultsGroup)
                .usePlaintext()
                .maxInboundMessageSize(GrpcEcho.MAX_MESSAGE)
                .build();
        try {
            echoUnaryCalls(defaults, 4, 4 * RegionLayout.DEFAULT_RING_CAPACITY);
        } finally {
            shutDown(defaults, defaultsGroup);
        }
    }

    /** Shuts {@code channel} down (at once if its calls do not end within 10 s), then its event loop. */
    private static void shutDown(ManagedChannel channel, EventLoopGroup group) throws InterruptedException {
        channel.shutdown();
        if (!channel.awaitTermination(10, TimeUnit.SECONDS)) {
            channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
        }
        group.shutdownGracefully(0, 5, TimeUnit.SECONDS).sync();
    }

    private static void echoUnaryCalls(ManagedChannel channel, int calls, int size) throws Exception {
        List<byte[]> requests = new ArrayList<>();
        List<CompletableFuture<byte[]>> responses = new ArrayList<>();
        for (int i = 0; i < calls; i++) {
            byte[] request = Digests.body(size + i, 1000 + i);
            requests.add(request);
            CompletableFuture<byte[]> response = new CompletableFuture<>();
            ClientCalls.asyncUnaryCall(channel.newCall(GrpcEcho.UNARY,
                    CallOptions.DEFAULT.withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS)), request,
                    observer(response));
            responses.add(response);
        }
        for (int i = 0; i < calls; i++) {
            byte[] response;
            try {
                response = responses.get(i).get(DEADLINE_SECONDS + 10, TimeUnit.SECONDS);
            } catch (ExecutionException | TimeoutException e) {
                long answered = responses.stream().filter(r -> r.isDone() && !r.isCompletedExceptionally()).count();
                throw new AssertionError("call " + i + " (" + requests.get(i).length + " bytes) failed; " + answered
                        + " of the " + calls + " calls were answered", e);
            }
            assertNotNull(response, "call " + i + " ended without a response");
            assertEquals(requests.get(i).length, response.length, "call " + i + ": length of the echo");
            assertArrayEquals(requests.get(i), response, "call " + i + ": bytes of the echo");
        }
    }

    @Test
    void aBidirectionalStreamOfAHundredThousandMessages() throws Exception {
        int count = 100_000;
        MessageDigest sent = MessageDigest.getInstance("SHA-256");
        MessageDigest received = MessageDigest.getInstance("SHA-256");
        AtomicInteger messages = new AtomicInteger(); // written by gRPC's callbacks only, one at a time
        CompletableFuture<Void> done = new CompletableFuture<>();
        StreamObserver<byte[]> requests = ClientCalls.asyncBidiStreamingCall(channel.newCall(GrpcEcho.BIDI,
                CallOptions.DEFAULT.withDeadlineAfter(STREAM_DEADLINE_SECONDS, TimeUnit.SECONDS)),
                new StreamObserver<byte[]>() {
                    @Override
                    public void onNext(byte[] value) {
                        int expected = messages.get();
                        if (value.length != messageSize(expected)
                                || ByteBuffer.wrap(value, 0, 4).getInt() != expected) {
                            done.completeExceptionally(new AssertionError("message " + expected + " of "
                                    + messageSize(expected) + " bytes came back as message "
                                    + ByteBuffer.wrap(value, 0, 4).getInt() + " of " + value.length + " bytes"));
                        }
                        messages.incrementAndGet();
                        received.update(value);
                    }

                    @Override
                    public void onError(Throwable t) {
                        done.completeExceptionally(t);
                    }

                    @Override
                    public void onCompleted() {
                        done.complete(null);
                    }
                });
        SplittableRandom random = new SplittableRandom(100_000);
        for (int i = 0; i < count; i++) {
            byte[] message = new byte[messageSize(i)];
            random.nextBytes(message);
            ByteBuffer.wrap(message).putInt(i);
            sent.update(message);
            requests.onNext(message);
        }
        requests.onCompleted();
        try {
            done.get(STREAM_DEADLINE_SECONDS + 10, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException e) {
            throw new AssertionError("the stream failed after " + messages.get() + " of " + count
                    + " messages came back", e);
        }
        assertEquals(count, messages.get(), "messages echoed on the stream");
        assertArrayEquals(sent.digest(), received.digest(), "SHA-256 of every message, in order");
    }

    /**
     * Sizes of the stream's messages: 5 to 304 bytes, and every 10,000th (from the 5,000th) twice the ring. gRPC's
     * deframer keeps the buffers of a message until it is complete: with protocol version 1 the first large one
     * stopped the stream (small ones alone went through).
     */
    private static int messageSize(int i) {
        return i % 10_000 == 5_000 ? 2 * RING + i / 10_000 : 5 + i % 300;
    }

    private static StreamObserver<byte[]> observer(CompletableFuture<byte[]> response) {
        return new StreamObserver<byte[]>() {
            @Override
            public void onNext(byte[] value) {
                response.complete(value);
            }

            @Override
            public void onError(Throwable t) {
                response.completeExceptionally(t);
            }

            @Override
            public void onCompleted() {
                response.complete(null);
            }
        };
    }
}
