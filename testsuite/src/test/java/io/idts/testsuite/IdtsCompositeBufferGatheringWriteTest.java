package io.idts.testsuite;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.testsuite.transport.TestsuitePermutation.BootstrapComboFactory;
import io.netty.testsuite.transport.socket.CompositeBufferGatheringWriteTest;
import org.junit.jupiter.api.AfterAll;

import java.net.SocketAddress;
import java.util.List;

/**
 * Netty's {@link CompositeBufferGatheringWriteTest} (composite buffers written alone and between single buffers, the
 * stream checked byte for byte) run against IDTS, as Netty runs it in {@code EpollCompositeBufferGatheringWriteTest}.
 * The test's {@code SO_SNDBUF} does not apply to IDTS (the bootstrap logs it and goes on); the ring is the send
 * buffer.
 */
public class IdtsCompositeBufferGatheringWriteTest extends CompositeBufferGatheringWriteTest {

    @AfterAll
    public static void shutdownIdtsGroups() throws InterruptedException {
        IdtsSocketTestPermutation.INSTANCE.shutdownGroups();
    }

    @Override
    protected List<BootstrapComboFactory<ServerBootstrap, Bootstrap>> newFactories() {
        return IdtsSocketTestPermutation.INSTANCE.socket();
    }

    @Override
    protected SocketAddress newSocketAddress() {
        return IdtsSocketTestPermutation.newSocketAddress("composite");
    }
}
