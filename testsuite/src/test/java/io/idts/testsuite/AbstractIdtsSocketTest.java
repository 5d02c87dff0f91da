package io.idts.testsuite;

import io.idts.channel.ProcessResources;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.testsuite.transport.TestsuitePermutation.BootstrapComboFactory;
import io.netty.testsuite.transport.socket.AbstractSocketTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import java.net.SocketAddress;
import java.util.List;

/**
 * The base of the IDTS-only tests written in the shape of Netty's socket tests: every combination of
 * {@link IdtsSocketTestPermutation} (allocators, spinning and blocking loops), an IDTS address per test named after
 * the test class's theme, the transport loaded once before timing starts, and the shared event loops shut down
 * after the class.
 */
public abstract class AbstractIdtsSocketTest extends AbstractSocketTest {

    private final String service;

    /** @param service the stem of each test's service name */
    protected AbstractIdtsSocketTest(String service) {
        this.service = service;
    }

    @BeforeAll
    public static void warmUpIdts() throws Exception {
        ProcessResources.warmUpIdts();
    }

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
        return IdtsSocketTestPermutation.newSocketAddress(service);
    }
}
