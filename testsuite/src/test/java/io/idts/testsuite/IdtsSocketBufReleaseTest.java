package io.idts.testsuite;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.testsuite.transport.TestsuitePermutation.BootstrapComboFactory;
import io.netty.testsuite.transport.socket.SocketBufReleaseTest;
import org.junit.jupiter.api.AfterAll;

import java.net.SocketAddress;
import java.util.List;

/**
 * Netty's {@link SocketBufReleaseTest} (every buffer a write consumed is released exactly once) run against IDTS.
 */
public class IdtsSocketBufReleaseTest extends SocketBufReleaseTest {

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
        return IdtsSocketTestPermutation.newSocketAddress("bufrelease");
    }
}
