package io.idts.testsuite;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.testsuite.transport.TestsuitePermutation.BootstrapComboFactory;
import io.netty.testsuite.transport.socket.SocketEchoTest;
import org.junit.jupiter.api.AfterAll;

import java.util.List;

/**
 * Netty's {@link SocketEchoTest} over Netty's own epoll TCP channels registered with an {@code IdtsEventLoopGroup}:
 * backs the README's promise that epoll channels and IDTS channels can share event loops. Addresses are Netty's
 * default (loopback, ephemeral port).
 */
public class IdtsLoopEpollSocketEchoTest extends SocketEchoTest {

    @AfterAll
    public static void shutdownIdtsGroups() throws InterruptedException {
        IdtsSocketTestPermutation.INSTANCE.shutdownGroups();
    }

    @Override
    protected List<BootstrapComboFactory<ServerBootstrap, Bootstrap>> newFactories() {
        return IdtsSocketTestPermutation.INSTANCE.epollSocketOnIdtsLoops();
    }
}
