package io.idts.testsuite.xen;

import io.idts.xen.XenEventChannel;
import io.idts.xen.XenGrantSharer;
import io.idts.xen.XenSharedPages;
import io.idts.xen.XenStore;
import io.idts.xen.XenStorePermission;

import java.nio.ByteBuffer;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A connecting domain that breaks the Xen handshake (docs/protocol.md, "Xen connect handshake") on purpose, written
 * against the specification with the bindings alone, not with the transport's own connector: requests whose nodes,
 * control page or region are wrong. The listener must refuse each with a {@code reply} that says why, release what it
 * mapped, and go on serving (the checks after these connect normally, and the server's final checks find no grant
 * mapping or port left).
 */
final class XenHostileConnector implements AutoCloseable {

    // From docs/protocol.md, deliberately not from the transport's classes.
    private static final int PAGE = 4096;
    private static final int REGION_PAGES_OFFSET = 128;
    private static final int LIST_PAGES_OFFSET = 132;
    private static final int LIST_REFS_OFFSET = 136;
    private static final int CONNECTOR_ALIVE_OFFSET = 0;
    /**
     * The smallest region of protocol version 2: the control page, two descriptor queues of two pages each and two
     * rings of one page each.
     */
    private static final int MIN_REGION_PAGES = 7;
    private static final long REPLY_SECONDS = 60;
    private static final AtomicLong SEQUENCE = new AtomicLong();

    private final XenStore xs;
    private final XenGrantSharer sharer;
    private final XenEventChannel evtchn;
    private final int self;
    private final int server;
    private final String requests;

    XenHostileConnector(int server, String service) throws Exception {
        this.server = server;
        xs = XenStore.open();
        sharer = XenGrantSharer.open();
        evtchn = XenEventChannel.open();
        self = Integer.parseInt(xs.read(XenStore.NO_TRANSACTION, "domid").trim());
        requests = XenResources.servicesPath(server) + '/' + service + "/requests";
    }

    /** A request whose control page reference is not a number. */
    String badControlReference() throws Exception {
        return request("not-a-number", Integer.toString(evtchn.bindUnboundPort(server)), "hostile");
    }

    /** A request whose port is 0. */
    String badPort() throws Exception {
        try (XenSharedPages control = controlPage(MIN_REGION_PAGES, 1, new int[] {0})) {
            return request(Integer.toUnsignedString(control.ref(0)), "0", "hostile");
        }
    }

    /** A request whose name is not a service name. */
    String badName() throws Exception {
        try (XenSharedPages control = controlPage(MIN_REGION_PAGES, 1, new int[] {0})) {
            return request(Integer.toUnsignedString(control.ref(0)), Integer.toString(evtchn.bindUnboundPort(server)),
                    "../etc");
        }
    }

    /** A control page that says the region has no pages. */
    String emptyRegion() throws Exception {
        try (XenSharedPages control = controlPage(0, 0, new int[0])) {
            return request(Integer.toUnsignedString(control.ref(0)), Integer.toString(evtchn.bindUnboundPort(server)),
                    "hostile");
        }
    }

    /** A control page whose list-page count does not match its region-page count. */
    String listCountMismatch() throws Exception {
        try (XenSharedPages control = controlPage(MIN_REGION_PAGES, 5, new int[] {0, 0, 0, 0, 0})) {
            return request(Integer.toUnsignedString(control.ref(0)), Integer.toString(evtchn.bindUnboundPort(server)),
                    "hostile");
        }
    }

    /** A region that is really shared, but whose header is all zeros (no magic). */
    String regionWithoutHeader() throws Exception {
        try (XenSharedPages region = sharer.share(server, MIN_REGION_PAGES, true);
             XenSharedPages list = sharer.share(server, 1, false)) {
            ByteBuffer refs = list.buffer();
            for (int i = 0; i < MIN_REGION_PAGES; i++) {
                refs.putInt(i * Integer.BYTES, region.ref(i));
            }
            try (XenSharedPages control = controlPage(MIN_REGION_PAGES, 1, list.refs())) {
                return request(Integer.toUnsignedString(control.ref(0)),
                        Integer.toString(evtchn.bindUnboundPort(server)), "hostile");
            }
        }
    }

    private XenSharedPages controlPage(int regionPages, int listPages, int[] listRefs) throws Exception {
        XenSharedPages control = sharer.share(server, 1, true);
        ByteBuffer page = control.buffer();
        page.put(CONNECTOR_ALIVE_OFFSET, (byte) 1);
        page.putInt(REGION_PAGES_OFFSET, regionPages);
        page.putInt(LIST_PAGES_OFFSET, listPages);
        for (int i = 0; i < listRefs.length && LIST_REFS_OFFSET + 4 * i < PAGE; i++) {
            page.putInt(LIST_REFS_OFFSET + 4 * i, listRefs[i]);
        }
        return control;
    }

    /**
     * Writes a request as the protocol says (one transaction, readable by the server only), waits for the reply and
     * removes the request.
     *
     * @return the reply, or {@code null} if none came
     */
    private String request(String controlRef, String port, String name) throws Exception {
        String request = requests + '/' + self + "-hostile-" + SEQUENCE.incrementAndGet();
        XenStorePermission[] permissions = {XenStorePermission.of(self, XenStorePermission.NONE),
                XenStorePermission.of(server, XenStorePermission.BOTH)};
        String[][] nodes = {{"ctrl-ref", controlRef}, {"event-channel", port}, {"name", name}};
        for (;;) {
            int tx = xs.transactionStart();
            xs.mkdir(tx, request);
            xs.setPermissions(tx, request, permissions);
            for (String[] node : nodes) {
                xs.write(tx, request + '/' + node[0], node[1]);
                xs.setPermissions(tx, request + '/' + node[0], permissions);
            }
            if (xs.transactionEnd(tx, false)) {
                break;
            }
        }
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(REPLY_SECONDS);
            String reply;
            while ((reply = xs.read(XenStore.NO_TRANSACTION, request + "/reply")) == null
                    && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            return reply;
        } finally {
            xs.remove(XenStore.NO_TRANSACTION, request);
        }
    }

    @Override
    public void close() {
        evtchn.close();
        sharer.close();
        xs.close();
    }
}
