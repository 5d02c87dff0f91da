package io.idts.testsuite;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.testsuite.transport.TestsuitePermutation.BootstrapComboFactory;
import io.netty.testsuite.transport.socket.SocketFileRegionTest;
import org.junit.jupiter.api.AfterAll;

import java.net.SocketAddress;
import java.util.List;

/**
 * Netty's {@link SocketFileRegionTest} ({@code DefaultFileRegion}s and a custom {@code FileRegion} written through
 * the ring, auto-read on and off, void promises, a region that counts more than the file holds) run against IDTS, as
 * Netty runs it in {@code EpollDomainSocketFileRegionTest}.
 */
public class IdtsSocketFileRegionTest extends SocketFileRegionTest {

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
        return IdtsSocketTestPermutation.newSocketAddress("fileregion");
    }
}
