package io.idts.testsuite.xen;

import io.idts.channel.IdtsAddress;
import io.idts.testsuite.IdtsSocketTestPermutation;
import io.idts.xen.XenHost;
import io.idts.xen.XenStore;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.testsuite.transport.TestsuitePermutation.BootstrapComboFactory;
import io.netty.testsuite.transport.socket.SocketEchoTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;

import java.net.SocketAddress;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Netty's {@link SocketEchoTest} over the Xen backend within one domain: server and client in this domain, the
 * client sharing its pages with its own domain (Xen allows it), with the bootstraps of
 * {@link IdtsSocketTestPermutation} and addresses {@code xen:<this domain>/echo-<pid>-<n>}.
 *
 * <p>Where Xen is not there (no {@code /dev/xen}, no Xen libraries: any machine that is not a Xen domain), it is
 * skipped with {@link XenHost#unavailabilityCause()} as the reason. {@code testsuite/xen/run} runs it for real in
 * dom0 under emulated Xen.
 */
public class XenSocketEchoTest extends SocketEchoTest {

    private static final AtomicLong SEQUENCE = new AtomicLong();
    private static final long PID = ProcessHandle.current().pid();
    private static int domid;

    @BeforeAll
    public static void readDomid() throws Exception {
        if (XenHost.isAvailable()) {
            try (XenStore xs = XenStore.open()) {
                domid = Integer.parseInt(xs.read(XenStore.NO_TRANSACTION, "domid"));
            }
        }
    }

    /** Per test rather than per class: a class-level assumption shows in surefire's report as no test at all. */
    @BeforeEach
    public void requireXen() {
        Assumptions.assumeTrue(XenHost.isAvailable(),
                () -> "Xen is not available here: " + XenHost.unavailabilityCause());
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
        return IdtsAddress.xen(domid, "echo-" + PID + '-' + SEQUENCE.incrementAndGet());
    }
}
