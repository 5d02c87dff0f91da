package io.idts.testsuite;

import io.grpc.Server;
import io.grpc.netty.NettyServerBuilder;
import io.idts.channel.ChildJvm;
import io.idts.channel.ChildMains;
import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsEventLoopGroup;
import io.idts.channel.IdtsServerChannel;
import io.idts.channel.LeakRecorder;
import io.netty.channel.EventLoopGroup;

import java.util.concurrent.TimeUnit;

/**
 * A child JVM's main: the {@link GrpcEcho} service on grpc-netty over IDTS, as a user would set it up.
 * {@code GrpcEchoServerMain <address>}: prints {@code READY}, stops when its stdin closes, exits non-zero on a leak.
 */
public final class GrpcEchoServerMain {

    private GrpcEchoServerMain() {
    }

    public static void main(String[] args) throws Exception {
        LeakRecorder recorder = ChildMains.installLeakRecorder();
        IdtsAddress address = IdtsAddress.parse(args[0]);
        EventLoopGroup group = new IdtsEventLoopGroup(1);
        Server server = NettyServerBuilder.forAddress(address)
                .channelType(IdtsServerChannel.class)
                .bossEventLoopGroup(group)
                .workerEventLoopGroup(group)
                .maxInboundMessageSize(GrpcEcho.MAX_MESSAGE)
                .addService(GrpcEcho.service())
                .build()
                .start();
        System.out.println("READY " + ProcessHandle.current().pid());
        ChildJvm.awaitStdinClosed();
        server.shutdown();
        if (!server.awaitTermination(10, TimeUnit.SECONDS)) {
            server.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
        }
        ChildMains.runUntilStdinClosed(recorder, null, group);
    }
}
