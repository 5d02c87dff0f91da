package io.idts.testsuite;

import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import io.idts.channel.ChildJvm;
import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsChannel;
import io.idts.channel.IdtsEventLoopGroup;
import io.netty.channel.EventLoopGroup;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * grpc-java ({@code grpc-netty}, not shaded) over IDTS between two JVMs with the transport's defaults: 64 unary
 * calls in flight, each echoing a message of 4 times the ring, and a bidirectional stream of 100,000 messages. gRPC's
 * deframer keeps buffers until a message is complete: with protocol version 1 the channel stopped after a few hundred
 * calls and every later call ended in DEADLINE_EXCEEDED.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class IdtsGrpcTest {

    private static final int RING = 1 << 20; // the default
    /** The unary calls' deadline: they take about 20 s on the 2-core development machine under load. */
    private static final long DEADLINE_SECONDS = 90;
    /**
     * The stream's deadline: it takes 15 to 45 s on the 2-core development machine under load, most of it gRPC's own
     * work per message with Netty's leak detection at PARANOID (the same stream over NIO's TCP in one JVM takes as
     * long).
     */
    private static final long STREAM_DEADLINE_SECONDS = 180;

    private static ChildJvm server;
    private static EventLoopGroup group;
    private static ManagedChannel channel;

    @BeforeAll
    static void start() throws Exception {
        IdtsAddress address = IdtsSocketTestPermutation.newSocketAddress("grpc");
        server = ChildJvm.start(GrpcEchoServerMain.class, address.toString());
        server.awaitLine(line -> line.startsWith("READY"), Duration.ofSeconds(60));
        group = new IdtsEventLoopGroup(1);
        channel = NettyChannelBuilder.forAddress(address)
                .channelType(IdtsChannel.class)
                .eventLoopGroup(group)
                .usePlaintext()
                .maxInboundMessageSize(GrpcEcho.MAX_MESSAGE)
                .build();
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            channel.shutdown();
            if (!channel.awaitTermination(10, TimeUnit.SECONDS)) {
                channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
            }
            group.shutdownGracefully(0, 5, TimeUnit.SECONDS).sync();
            assertEquals(0, server.closeStdinAndWait(Duration.ofSeconds(60)), server.describeOutput());
        } finally {
            server.close();
        }
    }

    @Test
    void sixtyFourUnaryCallsInFlightOfFourRingsEach() throws Exception {
        List<byte[]> requests = new ArrayList<>();
        List<CompletableFuture<byte[]>> responses = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            byte[] request = Digests.body(4 * RING + i, 1000 + i);
            requests.add(request);
            CompletableFuture<byte[]> response = new CompletableFuture<>();
            ClientCalls.asyncUnaryCall(channel.newCall(GrpcEcho.UNARY,
                    CallOptions.DEFAULT.withDeadlineAfter(DEADLINE_SECONDS, TimeUnit.SECONDS)), request,
                    observer(response));
            responses.add(response);
        }
        for (int i = 0; i < 64; i++) {
            byte[] response = responses.get(i).get(DEADLINE_SECONDS + 10, TimeUnit.SECONDS);
            assertNotNull(response, "call " + i + " ended without a response");
            assertEquals(requests.get(i).length, response.length, "call " + i + ": length of the echo");
            assertArrayEquals(requests.get(i), response, "call " + i + ": bytes of the echo");
        }
    }

    @Test
    void aBidirectionalStreamOfAHundredThousandMessages() throws Exception {
        int count = 100_000;
        CRC32 sent = new CRC32();
        CRC32 received = new CRC32();
        int[] messages = new int[1];
        CompletableFuture<Void> done = new CompletableFuture<>();
        StreamObserver<byte[]> requests = ClientCalls.asyncBidiStreamingCall(channel.newCall(GrpcEcho.BIDI,
                CallOptions.DEFAULT.withDeadlineAfter(STREAM_DEADLINE_SECONDS, TimeUnit.SECONDS)),
                new StreamObserver<byte[]>() {
                    @Override
                    public void onNext(byte[] value) {
                        if (ByteBuffer.wrap(value, 0, 4).getInt() != messages[0]) {
                            done.completeExceptionally(new AssertionError("message " + messages[0]
                                    + " came back as " + ByteBuffer.wrap(value, 0, 4).getInt()));
                        }
                        messages[0]++;
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
        for (int i = 0; i < count; i++) {
            byte[] message = Arrays.copyOf(ByteBuffer.allocate(4).putInt(i).array(), 5 + i % 300);
            message[message.length - 1] ^= (byte) i;
            sent.update(message);
            requests.onNext(message);
        }
        requests.onCompleted();
        done.get(STREAM_DEADLINE_SECONDS + 10, TimeUnit.SECONDS);
        assertEquals(count, messages[0], "messages echoed on the stream");
        assertEquals(sent.getValue(), received.getValue(), "CRC32 of every message, in order");
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
