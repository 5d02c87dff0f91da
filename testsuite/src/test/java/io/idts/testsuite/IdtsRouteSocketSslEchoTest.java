package io.idts.testsuite;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.testsuite.transport.TestsuitePermutation.BootstrapComboFactory;
import io.netty.testsuite.transport.socket.SocketSslEchoTest;
import org.junit.jupiter.api.AfterAll;

import java.net.SocketAddress;
import java.util.List;

/**
 * Netty's {@link SocketSslEchoTest} over both routes of one IDTS client configuration
 * ({@link IdtsSocketTestPermutation#routed()}): to an IDTS+TCP server through IDTS, and through the TCP fallback.
 */
public class IdtsRouteSocketSslEchoTest extends SocketSslEchoTest {

    @AfterAll
    public static void checkRoutesAndShutdownIdtsGroups() throws InterruptedException {
        try {
            IdtsSocketTestPermutation.INSTANCE.assertRoutesTaken();
        } finally {
            IdtsSocketTestPermutation.INSTANCE.shutdownGroups();
        }
    }

    @Override
    protected List<BootstrapComboFactory<ServerBootstrap, Bootstrap>> newFactories() {
        return IdtsSocketTestPermutation.INSTANCE.routed();
    }

    @Override
    protected SocketAddress newSocketAddress() {
        return IdtsSocketTestPermutation.newRoutedSocketAddress("route-ssl");
    }
}
