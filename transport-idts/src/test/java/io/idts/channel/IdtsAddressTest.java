package io.idts.channel;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Path;
import java.nio.file.Paths;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

final class IdtsAddressTest {

    @Test
    void equalWhenDirectoryAndServiceAre() {
        IdtsAddress a = IdtsAddress.of(Paths.get("/run/idts"), "orders");
        IdtsAddress b = IdtsAddress.of(Paths.get("/run/idts"), "orders");
        assertEquals(a, b);
        assertEquals(b, a);
        assertEquals(a.hashCode(), b.hashCode());
        assertEquals(a, a);
        assertNotEquals(a, IdtsAddress.of(Paths.get("/run/idts"), "Orders"));
        assertNotEquals(a, IdtsAddress.of(Paths.get("/run/idts2"), "orders"));
        assertNotEquals(a, IdtsAddress.of(Paths.get("/run"), "orders"));
        assertNotEquals(a, null);
        assertNotEquals(a, "/run/idts/orders");
    }

    @Test
    void accessorsAndStringForm() {
        IdtsAddress address = IdtsAddress.of(Paths.get("/run/user/1000/idts"), "orders");
        assertEquals("orders", address.service());
        assertEquals(Paths.get("/run/user/1000/idts"), address.rendezvousDirectory());
        assertEquals("/run/user/1000/idts/orders", address.toString());
        assertEquals("/run/user/1000/idts/orders", address.socketPath());
    }

    @Test
    void directoryIsNormalized() {
        IdtsAddress plain = IdtsAddress.of(Paths.get("/run/idts"), "s");
        assertEquals(plain, IdtsAddress.of(Paths.get("/run/idts/"), "s"));
        assertEquals(plain, IdtsAddress.of(Paths.get("/run/./x/../idts"), "s"));
        assertEquals(plain, IdtsAddress.of(Paths.get("//run//idts"), "s"));
        assertEquals("/run/idts/s", IdtsAddress.of(Paths.get("/run/./x/../idts/"), "s").toString());
    }

    @Test
    void rootDirectory() {
        IdtsAddress address = IdtsAddress.of(Paths.get("/"), "orders");
        assertEquals("/orders", address.toString());
        assertEquals(Paths.get("/"), address.rendezvousDirectory());
        assertEquals(address, IdtsAddress.parse("/orders"));
    }

    @ParameterizedTest
    @ValueSource(strings = { "/run/idts/orders", "/orders", "/tmp/idts-me/a.b_c-D9", "/x/y/z/s" })
    void parseReadsWhatToStringWrites(String text) {
        IdtsAddress parsed = IdtsAddress.parse(text);
        assertEquals(text, parsed.toString());
        assertEquals(parsed, IdtsAddress.parse(parsed.toString()));
        assertEquals(Paths.get(text).getFileName().toString(), parsed.service());
        assertEquals(Paths.get(text).getParent(), parsed.rendezvousDirectory());
    }

    @Test
    void toStringParsesBackToAnEqualAddress() {
        IdtsAddress[] addresses = {
            IdtsAddress.of("orders"),
            IdtsAddress.of(Paths.get("/run/idts"), "orders"),
            IdtsAddress.of(Paths.get("/run/idts/"), "a-b.c_d"),
            IdtsAddress.of(Paths.get("/"), "root-service"),
        };
        for (IdtsAddress address : addresses) {
            IdtsAddress parsed = IdtsAddress.parse(address.toString());
            assertEquals(address, parsed, address.toString());
            assertEquals(address.hashCode(), parsed.hashCode());
            assertEquals(address.toString(), parsed.toString());
        }
    }

    @Test
    void bareServiceNameUsesTheDefaultDirectory() {
        IdtsAddress parsed = IdtsAddress.parse("orders");
        assertEquals(IdtsAddress.of("orders"), parsed);
        assertEquals("orders", parsed.service());
        assertTrue(parsed.rendezvousDirectory().isAbsolute(), parsed.rendezvousDirectory().toString());
        assertEquals(parsed.rendezvousDirectory().resolve("orders").toString(), parsed.toString());
    }

    @Test
    void defaultDirectoryFollowsTheSystemProperty() {
        String previous = System.getProperty(IdtsAddress.RENDEZVOUS_DIR_PROPERTY);
        try {
            System.setProperty(IdtsAddress.RENDEZVOUS_DIR_PROPERTY, "/tmp/idts-address-test/");
            IdtsAddress address = IdtsAddress.of("orders");
            assertEquals(Paths.get("/tmp/idts-address-test"), address.rendezvousDirectory());
            assertEquals("/tmp/idts-address-test/orders", address.toString());
            assertEquals(IdtsAddress.of(Paths.get("/tmp/idts-address-test"), "orders"), address);
        } finally {
            if (previous == null) {
                System.clearProperty(IdtsAddress.RENDEZVOUS_DIR_PROPERTY);
            } else {
                System.setProperty(IdtsAddress.RENDEZVOUS_DIR_PROPERTY, previous);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = { "", ".", "..", "a b", "a/b", "ä", "a:b", "a\u0000b", "tab\t" })
    void invalidServiceNamesAreRejected(String service) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> IdtsAddress.of(Paths.get("/run/idts"), service));
        assertTrue(e.getMessage().contains("service"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> IdtsAddress.of(service));
    }

    @Test
    void serviceNameLengthLimit() {
        String longest = "s".repeat(IdtsAddress.MAX_SERVICE_LENGTH);
        assertEquals(longest, IdtsAddress.of(Paths.get("/r"), longest).service());
        assertThrows(IllegalArgumentException.class, () -> IdtsAddress.of(Paths.get("/r"), longest + "s"));
    }

    @Test
    void socketNameLengthLimit() {
        // directory + "/" + service must fit the 107 bytes of a socket path (sun_path less its NUL).
        String service = "s".repeat(40);
        Path fits = Paths.get("/" + "d".repeat(107 - 1 - 1 - service.length()));
        assertEquals(107, IdtsAddress.of(fits, service).socketPath().length());
        Path tooLong = Paths.get(fits + "d");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> IdtsAddress.of(tooLong, service));
        assertTrue(e.getMessage().contains("too long"), e.getMessage());
    }

    @Test
    void relativeDirectoryIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> IdtsAddress.of(Paths.get("run/idts"), "orders"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> IdtsAddress.parse("run/idts/orders"));
        assertTrue(e.getMessage().contains("run/idts/orders"), e.getMessage());
    }

    @Test
    void parseRejectsAnEmptyService() {
        assertThrows(IllegalArgumentException.class, () -> IdtsAddress.parse("/run/idts/"));
        assertThrows(IllegalArgumentException.class, () -> IdtsAddress.parse("/"));
        assertThrows(IllegalArgumentException.class, () -> IdtsAddress.parse(""));
    }

    @Test
    void nullsAreRejected() {
        assertThrows(NullPointerException.class, () -> IdtsAddress.parse(null));
        assertThrows(NullPointerException.class, () -> IdtsAddress.of((String) null));
        assertThrows(NullPointerException.class, () -> IdtsAddress.of(null, "orders"));
        assertThrows(NullPointerException.class, () -> IdtsAddress.of(Paths.get("/run"), null));
    }

    @Test
    void siblingSharesTheDirectory() {
        IdtsAddress address = IdtsAddress.of(Paths.get("/run/idts"), "orders");
        IdtsAddress sibling = address.sibling("client-1");
        assertEquals(address.rendezvousDirectory(), sibling.rendezvousDirectory());
        assertEquals("client-1", sibling.service());
        assertThrows(IllegalArgumentException.class, () -> address.sibling("a/b"));
    }

    @Test
    void serializationKeepsTheValue() throws Exception {
        IdtsAddress address = IdtsAddress.of(Paths.get("/run/idts"), "orders");
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(address);
        }
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            IdtsAddress copy = (IdtsAddress) in.readObject();
            assertEquals(address, copy);
            assertEquals(address.toString(), copy.toString());
        }
    }

    @Test
    void xenAddressHasADomainAndAStringForm() {
        IdtsAddress address = IdtsAddress.xen(5, "orders");
        assertTrue(address.isXen());
        assertEquals(5, address.domid());
        assertEquals("orders", address.service());
        assertEquals(null, address.rendezvousDirectory());
        assertEquals("xen:5/orders", address.toString());
        assertEquals(address, IdtsAddress.parse("xen:5/orders"));
        assertEquals(address.hashCode(), IdtsAddress.parse("xen:5/orders").hashCode());
        assertEquals(IdtsAddress.xen(0, "a"), IdtsAddress.parse(IdtsAddress.xen(0, "a").toString()));
        assertEquals(IdtsAddress.xen(5, "client-1"), address.sibling("client-1"));
        assertNotEquals(address, IdtsAddress.xen(6, "orders"));
        assertNotEquals(address, IdtsAddress.xen(5, "order"));
        assertNotEquals(address, IdtsAddress.of(Paths.get("/xen:5"), "orders"));
        assertEquals(-1, IdtsAddress.of(Paths.get("/run"), "orders").domid());
        assertThrows(IllegalStateException.class, address::socketPath);
    }

    @ParameterizedTest
    @ValueSource(strings = {"xen:", "xen:/orders", "xen:-1/orders", "xen:32752/orders", "xen:99999/orders",
            "xen:5", "xen:5/", "xen:5/a/b", "xen:x/orders", "xen: 5/orders", "xen:123456/orders"})
    void badXenAddressesAreRefusedWithTheExpectedForm(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> IdtsAddress.parse(text));
        assertTrue(e.getMessage().contains(text) || e.getMessage().contains("service name"), e.getMessage());
    }

    @Test
    void xenDomainIdsAreChecked() {
        assertThrows(IllegalArgumentException.class, () -> IdtsAddress.xen(-1, "orders"));
        assertThrows(IllegalArgumentException.class, () -> IdtsAddress.xen(IdtsAddress.MAX_DOMID + 1, "orders"));
        assertEquals(IdtsAddress.MAX_DOMID, IdtsAddress.xen(IdtsAddress.MAX_DOMID, "orders").domid());
    }

    @Test
    void tcpAddressIsCarriedComparedAndWrittenOut() throws Exception {
        IdtsAddress idts = IdtsAddress.of(Paths.get("/run/idts"), "orders");
        IdtsAddress routed = idts.withTcp("orders.example.com", 7000);
        assertEquals(idts, routed.withoutTcp());
        assertNull(idts.tcpAddress());
        assertEquals("orders.example.com", routed.tcpAddress().getHostString());
        assertTrue(routed.tcpAddress().isUnresolved(), "resolved on each connect, not when made");
        assertNotEquals(idts, routed);
        assertNotEquals(routed, idts.withTcp("orders.example.com", 7001));
        assertEquals(routed, idts.withTcp("orders.example.com", 7000));
        assertEquals(routed.hashCode(), idts.withTcp("orders.example.com", 7000).hashCode());
        assertEquals("/run/idts/orders|tcp:orders.example.com:7000", routed.toString());
        assertEquals(routed, IdtsAddress.parse(routed.toString()));
        assertEquals(idts.socketPath(), routed.socketPath());
        assertEquals(idts.sibling("client-1"), routed.sibling("client-1"), "a sibling has no TCP address");

        IdtsAddress xen = IdtsAddress.xen(0, "orders").withTcp(new java.net.InetSocketAddress("::1", 7000));
        assertEquals("xen:0/orders|tcp:[0:0:0:0:0:0:0:1]:7000", xen.toString());
        IdtsAddress parsed = IdtsAddress.parse("xen:0/orders|tcp:[::1]:7000");
        assertEquals("::1", parsed.tcpAddress().getHostString());
        assertEquals(7000, parsed.tcpAddress().getPort());
        assertTrue(parsed.isXen());

        try (ByteArrayOutputStream bytes = new ByteArrayOutputStream();
             ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(routed);
            out.flush();
            try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
                assertEquals(routed, in.readObject());
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = { "orders|tcp:", "orders|tcp:host", "orders|tcp:host:", "orders|tcp::7000",
            "orders|tcp:host:70000", "orders|tcp:host:x", "orders|tcp:host:123456" })
    void badTcpAddressesAreRefusedWithTheExpectedForm(String text) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> IdtsAddress.parse(text));
        assertTrue(e.getMessage().contains("|tcp:<host>:<port>"), e.getMessage());
    }

    @Test
    void tcpArgumentsAreChecked() {
        IdtsAddress idts = IdtsAddress.of("orders");
        assertThrows(NullPointerException.class, () -> idts.withTcp(null));
        assertThrows(IllegalArgumentException.class, () -> idts.withTcp("", 7000));
        assertThrows(IllegalArgumentException.class, () -> idts.withTcp("host", 65536));
        assertEquals(idts, idts.withoutTcp());
    }
}
