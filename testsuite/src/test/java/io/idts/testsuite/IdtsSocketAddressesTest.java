package io.idts.testsuite;

import io.idts.channel.IdtsAddress;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.testsuite.transport.TestsuitePermutation.BootstrapComboFactory;
import io.netty.testsuite.transport.socket.SocketAddressesTest;
import org.junit.jupiter.api.AfterAll;

import java.net.SocketAddress;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

/**
 * Netty's {@link SocketAddressesTest} (a client channel has no addresses before it connects; after it connects, with
 * and without a local address of its own, both ends report theirs) run against IDTS. Where Netty's
 * {@code EpollSocketAddressesTest} checks for a bound port, this checks for an {@link IdtsAddress} naming a service.
 */
public class IdtsSocketAddressesTest extends SocketAddressesTest {

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
        return IdtsSocketTestPermutation.newSocketAddress("addresses");
    }

    @Override
    protected void assertAddress(SocketAddress address) {
        IdtsAddress idtsAddress = assertInstanceOf(IdtsAddress.class, address);
        assertFalse(idtsAddress.service().isEmpty());
    }
}
