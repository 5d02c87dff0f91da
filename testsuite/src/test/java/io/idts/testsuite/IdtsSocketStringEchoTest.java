package io.idts.testsuite;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.testsuite.transport.TestsuitePermutation.BootstrapComboFactory;
import io.netty.testsuite.transport.socket.SocketStringEchoTest;
import org.junit.jupiter.api.AfterAll;

import java.net.SocketAddress;
import java.util.List;

/**
 * Netty's {@link SocketStringEchoTest} (lines of random text echoed through a line decoder and string codecs,
 * auto-read on and off) run against IDTS, as Netty runs it in {@code EpollDomainSocketStringEchoTest}.
 */
public class IdtsSocketStringEchoTest extends SocketStringEchoTest {

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
        return IdtsSocketTestPermutation.newSocketAddress("string");
    }
}
