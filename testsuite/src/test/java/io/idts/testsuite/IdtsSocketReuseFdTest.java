package io.idts.testsuite;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.testsuite.transport.TestsuitePermutation.BootstrapComboFactory;
import io.netty.testsuite.transport.socket.AbstractSocketReuseFdTest;
import org.junit.jupiter.api.AfterAll;

import java.net.SocketAddress;
import java.util.List;

/**
 * Netty's {@link AbstractSocketReuseFdTest} (100 connections opened at once, each exchanging data and closing, so
 * that descriptors and regions are released and reused quickly) run against IDTS, as Netty runs it in
 * {@code EpollDomainSocketReuseFdTest}. Named as Netty's Epoll class, not after the abstract parent.
 */
public class IdtsSocketReuseFdTest extends AbstractSocketReuseFdTest {

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
        return IdtsSocketTestPermutation.newSocketAddress("reusefd");
    }
}
