package io.idts.testsuite;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.testsuite.transport.TestsuitePermutation.BootstrapComboFactory;
import io.netty.testsuite.transport.socket.SocketSslClientRenegotiateTest;
import io.netty.handler.ssl.OpenSsl;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;

import java.net.SocketAddress;
import java.util.List;

/**
 * Netty's {@link SocketSslClientRenegotiateTest} (an OpenSSL server rejects a client's TLS renegotiation) run against
 * IDTS, as Netty runs it in {@code EpollDomainSocketSslClientRenegotiateTest}. It needs an OpenSSL that renegotiates:
 * with {@code netty-tcnative-boringssl-static}, this module's OpenSSL, Netty's test skips itself (its assumption
 * {@code OpenSsl.isRenegotiationSupported()} is false, as BoringSSL refuses renegotiation by design), as it does in
 * Netty's own build. Netty's dynamically linked {@code netty-tcnative} (2.0.81, linux-x86_64) would run it, but needs
 * OpenSSL 3.2 and libapr-1, which this environment (Debian 12, OpenSSL 3.0) lacks.
 */
public class IdtsSocketSslClientRenegotiateTest extends SocketSslClientRenegotiateTest {

    @BeforeEach
    public void requireRenegotiatingOpenSsl() {
        // Netty's own assumption skips without a word; say why here.
        Assumptions.assumeTrue(OpenSsl.isRenegotiationSupported(), "skipped: the OpenSSL available to this build ("
                + OpenSsl.versionString() + " from netty-tcnative-boringssl-static) does not support TLS "
                + "renegotiation, by BoringSSL's design; Netty's dynamically linked netty-tcnative would, but needs "
                + "OpenSSL 3.2 and libapr-1, which Debian 12 does not have");
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
        return IdtsSocketTestPermutation.newSocketAddress("sslreneg");
    }
}
