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
 * mapping or port left). It also makes valid connections and then breaks the ring protocol in the region (positions,
 * states, flags, descriptors), storms the server with events and scribbles over the grant lists: the server must
 * close that connection (its state in the region becomes CLOSED) and serve on.
 */
final class XenHostileConnector implements AutoCloseable {

    // From docs/protocol.md, deliberately not from the transport's classes.
    private static final int PAGE = 4096;
    private static final int REGION_PAGES_OFFSET = 128;
    private static final int LIST_PAGES_OFFSET = 132;
    private static final int LIST_REFS_OFFSET = 136;
    private static final int CONNECTOR_ALIVE_OFFSET = 0;
    /**
     * The smallest region of protocol version 4: the control page, two descriptor queues
     * of two pages each and two rings of one page each.
     */
    private static final int MIN_REGION_PAGES = 7;
    // A valid region of the smallest size (docs/protocol.md, "The region"), native byte order.
    private static final int MAGIC = 0x49445453;
    private static final int VERSION = 4;
    private static final int RING_CAPACITY = PAGE;
    private static final int DATA_OFFSET = 20480;
    private static final int RING_0_PRODUCER_POSITION = 128;
    private static final int RING_0_PRODUCER_STATE = 136;
    private static final int RING_0_PRODUCER_FLAGS = 192;
    private static final int RING_1_PRODUCER_STATE = 392;
    private static final int RING_0_DESCRIPTORS = 4096;
    private static final int STATE_OPEN = 1;
    private static final int STATE_CLOSED = 3;
    private static final int EVENT_STORM = 100_000;
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

    /** A request whose list page names grant references that were never granted to the server. */
    String ungrantedRegionReferences() throws Exception {
        try (XenSharedPages list = sharer.share(server, 1, false)) {
            ByteBuffer refs = list.buffer();
            for (int i = 0; i < MIN_REGION_PAGES; i++) {
                refs.putInt(i * Integer.BYTES, 0x7fff_0000 + i);
            }
            try (XenSharedPages control = controlPage(MIN_REGION_PAGES, 1, list.refs())) {
                return request(Integer.toUnsignedString(control.ref(0)),
                        Integer.toString(evtchn.bindUnboundPort(server)), "hostile");
            }
        }
    }

    /** What the connector does to the region it shared once the server accepted, and how it tells it. */
    interface Scribble {
        void apply(ByteBuffer region, Runnable notifyServer) throws Exception;
    }

    /** Once accepted: a producer position more than the descriptor queue (1024) ahead. */
    String positionBeyondTheQueue() throws Exception {
        return acceptedThen((region, notify) -> {
            region.putLong(RING_0_PRODUCER_POSITION, 1025);
            notify.run();
        });
    }

    /** Once accepted: a producer state no version defines. */
    String unknownState() throws Exception {
        return acceptedThen((region, notify) -> {
            region.putInt(RING_0_PRODUCER_STATE, 42);
            notify.run();
        });
    }

    /** Once accepted: reserved producer flag bits, seen when the server gives back the byte sent after them. */
    String reservedFlagBits() throws Exception {
        return acceptedThen((region, notify) -> {
            region.putInt(RING_0_PRODUCER_FLAGS, 0x80);
            region.put(DATA_OFFSET, (byte) 'x');
            region.putLong(RING_0_DESCRIPTORS, 1L); // slice 0, one byte
            region.putLong(RING_0_PRODUCER_POSITION, 1);
            notify.run();
        });
    }

    /** Once accepted: a descriptor that names slice 64 of 64. */
    String descriptorNamingNoSlice() throws Exception {
        return acceptedThen((region, notify) -> {
            region.putLong(RING_0_DESCRIPTORS, 64L << 32 | 1);
            region.putLong(RING_0_PRODUCER_POSITION, 1);
            notify.run();
        });
    }

    /**
     * Once accepted: an event storm of {@value #EVENT_STORM} notifications, a scribble over the list and control pages
     * (the server copied what it needed once), then an honest close: the server must still see the close.
     */
    String eventStormThenClose() throws Exception {
        return acceptedThen((region, notify) -> {
            for (int i = 0; i < EVENT_STORM; i++) {
                notify.run();
            }
            region.putInt(RING_0_PRODUCER_STATE, STATE_CLOSED);
            notify.run();
        });
    }

    /**
     * Shares a valid region, list page and control page, binds a port, and requests; once the server accepted, applies
     * {@code scribble} and waits for the server's state in the region to become CLOSED: it closed its channel (for a
     * protocol violation, or after the honest close).
     *
     * @return {@code null} if so, else what went wrong
     */
    private String acceptedThen(Scribble scribble) throws Exception {
        try (XenSharedPages region = sharer.share(server, MIN_REGION_PAGES, true);
             XenSharedPages list = sharer.share(server, 1, false)) {
            ByteBuffer header = region.buffer();
            header.putInt(0, MAGIC);
            header.putInt(4, VERSION);
            header.putInt(8, RING_CAPACITY);
            header.putInt(12, RING_CAPACITY);
            header.putLong(16, (long) MIN_REGION_PAGES * PAGE);
            header.putInt(RING_0_PRODUCER_STATE, STATE_OPEN);
            ByteBuffer refs = list.buffer();
            for (int i = 0; i < MIN_REGION_PAGES; i++) {
                refs.putInt(i * Integer.BYTES, region.ref(i));
            }
            int port = evtchn.bindUnboundPort(server);
            try (XenSharedPages control = controlPage(MIN_REGION_PAGES, 1, list.refs())) {
                String reply = request(Integer.toUnsignedString(control.ref(0)), Integer.toString(port), "hostile");
                if (!"accepted".equals(reply)) {
                    return "the valid request was not accepted: " + reply;
                }
                scribble.apply(region.buffer(), () -> {
                    try {
                        evtchn.notifyPort(port);
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                // The list and control pages mean nothing any more: the server copied what it needed.
                list.buffer().putLong(0, -1L);
                control.buffer().putLong(REGION_PAGES_OFFSET, -1L);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(REPLY_SECONDS);
                int state;
                while ((state = header.getInt(RING_1_PRODUCER_STATE)) != STATE_CLOSED
                        && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
                return state == STATE_CLOSED ? null : "the server's state is still " + state + " after "
                        + REPLY_SECONDS + " s";
            } finally {
                evtchn.unbind(port);
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
