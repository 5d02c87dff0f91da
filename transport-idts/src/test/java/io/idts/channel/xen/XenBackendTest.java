package io.idts.channel.xen;

import io.idts.channel.ProcessResources;

import io.idts.channel.Idts;
import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsChannel;
import io.idts.channel.IdtsEventLoopGroup;
import io.idts.channel.IdtsServerChannel;

import io.idts.xen.XenHost;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoopGroup;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/**
 * {@link XenBackend} where Xen is missing: a Xen address fails at once, naming what is missing and what to do, and
 * leaves nothing behind; the host backend is not disturbed. The backend itself runs in Xen domains under QEMU, in
 * {@code testsuite/xen/run}.
 */
final class XenBackendTest {

    private EventLoopGroup group;
    private ProcessResources before;

    @BeforeEach
    void setUp() {
        assumeFalse(Idts.isXenAvailable(), "Xen is available here: testsuite/xen/run covers the Xen backend");
        before = ProcessResources.snapshot();
        group = new IdtsEventLoopGroup(1);
    }

    @AfterEach
    void tearDown() throws Exception {
        if (group != null) {
            assertTrue(ProcessResources.shutDown(group), "group terminated");
            before.assertNoneLeaked("after the event loop group shut down");
        }
    }

    @Test
    void connectToAXenAddressWithoutXenFailsNamingWhatIsMissing() throws Exception {
        ChannelFuture connect = new Bootstrap().group(group).channel(IdtsChannel.class)
                .handler(new ChannelInboundHandlerAdapter())
                .connect(IdtsAddress.xen(0, "orders"));
        assertTrue(connect.await(30, TimeUnit.SECONDS));
        assertFalse(connect.isSuccess());
        assertXenMissing(connect.cause());
        // The promise fails first, then the channel closes (as with Netty's socket channels): wait for the close.
        assertTrue(connect.channel().closeFuture().await(30, TimeUnit.SECONDS));
        assertFalse(connect.channel().isOpen());
    }

    @Test
    void bindToAXenAddressWithoutXenFailsNamingWhatIsMissing() throws Exception {
        ChannelFuture bind = new ServerBootstrap().group(group).channel(IdtsServerChannel.class)
                .childHandler(new ChannelInboundHandlerAdapter())
                .bind(IdtsAddress.xen(0, "orders"));
        assertTrue(bind.await(30, TimeUnit.SECONDS));
        assertFalse(bind.isSuccess());
        assertXenMissing(bind.cause());
    }

    @Test
    void availabilityNamesWhatIsMissing() {
        assertFalse(Idts.isXenAvailable());
        assertEquals(XenHost.unavailabilityCause(), Idts.xenUnavailabilityCause());
        UnsupportedOperationException e =
                assertThrows(UnsupportedOperationException.class,
                        Idts::ensureXenAvailability);
        assertTrue(e.getMessage().contains(XenHost.unavailabilityCause().getMessage()), e.getMessage());
        assertEquals(XenHost.unavailabilityCause(), e.getCause());
    }

    private static void assertXenMissing(Throwable cause) {
        assertInstanceOf(UnsupportedOperationException.class, cause);
        String message = cause.getMessage();
        assertTrue(message.contains("xen:0/orders"), message);
        assertTrue(message.contains(XenHost.unavailabilityCause().getMessage()), message);
        assertTrue(message.contains("run inside a Xen domain"), message);
    }
}
