package io.idts.xen;

import io.idts.linux.NativeIoException;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

/**
 * Run inside two Xen domains (testsuite/xen): the bindings between domains, with libvchan's conventions.
 *
 * <ul>
 * <li>{@code offer <peer-domid>} (dom0): binds an unbound port for the peer, shares a data region and a
 * control page (with a notification when this side unshares), writes {@code ring-ref}, {@code ctrl-ref},
 * {@code event-channel} under {@code <home>/data/idts/<peer>} in one transaction, readable by the peer only;
 * exchanges data and events with the peer; then runs {@code xl destroy <peer>} and checks that it sees the
 * peer go (unmap notification, {@code @releaseDomain}), and that nothing is left behind.</li>
 * <li>{@code connect} (domU): waits for the offer (watch), checks its permissions, binds the port, maps the
 * region and the control page (with a notification when this side unmaps), exchanges data and events, then
 * waits to be destroyed.</li>
 * </ul>
 * Prints {@code OFFER|PEER PASS/FAIL: ...} lines; exit status 0 when all pass.
 */
public final class XenPeerMain {

    static final int REGION_PAGES = 4;
    /** In the control page: byte set to 1 by the offering side, cleared by its kernel when it unshares. */
    static final int OFFER_ALIVE = 0;
    /** In the control page: byte set to 1 by the connecting side, cleared by its kernel when it unmaps. */
    static final int PEER_ALIVE = 64;
    static final long DOM0_SEED = 0x1D75_D0D0L;
    static final long PEER_SEED = 0x1D75_BEEFL;

    private XenPeerMain() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 2 && args[0].equals("offer")) {
            System.exit(offer(Integer.parseInt(args[1])));
        } else if (args.length == 1 && args[0].equals("connect")) {
            System.exit(connect());
        }
        System.err.println("usage: XenPeerMain offer <peer-domid> | connect");
        System.exit(2);
    }

    static void fill(ByteBuffer b, int from, int to, long seed) {
        for (int i = from; i < to; i += 8) {
            b.putLong(i, seed * 31 + i);
        }
    }

    static String verify(ByteBuffer b, int from, int to, long seed) {
        for (int i = from; i < to; i += 8) {
            if (b.getLong(i) != seed * 31 + i) {
                return "byte " + i + " is " + Long.toHexString(b.getLong(i));
            }
        }
        return null;
    }

    static String join(int[] refs) {
        StringBuilder sb = new StringBuilder();
        for (int ref : refs) {
            sb.append(sb.length() == 0 ? "" : " ").append(Integer.toUnsignedString(ref));
        }
        return sb.toString();
    }

    /** Waits for an event on {@code port}, unmasks it; false on timeout or another port. */
    static boolean await(XenEventChannel evtchn, int port, long millis, XenChecks checks) throws NativeIoException {
        int got = evtchn.pending(millis);
        if (got >= 0) {
            evtchn.unmask(got);
        }
        if (got != port) {
            checks.info("waited for port " + port + ", got " + got);
        }
        return got == port;
    }

    // ------------------------------------------------------------------ dom0

    static int offer(int peer) throws Exception {
        XenChecks checks = new XenChecks("OFFER");
        XenStore xs = XenStore.open();
        XenGrantSharer sharer = XenGrantSharer.open();
        XenEventChannel evtchn = XenEventChannel.open();
        int self = Integer.parseInt(xs.read(XenStore.NO_TRANSACTION, "domid"));
        String base = xs.domainPath(self) + "/data/idts/" + peer;
        String peerHome = xs.domainPath(peer);

        int port = evtchn.bindUnboundPort(peer);
        XenSharedPages region = sharer.share(peer, REGION_PAGES, true);
        XenSharedPages ctrl = sharer.sharePageWithNotify(peer, true, OFFER_ALIVE, port);
        ByteBuffer r = region.buffer();
        ByteBuffer c = ctrl.buffer();
        c.put(OFFER_ALIVE, (byte) 1);
        fill(r, 0, 2 * XenGrants.PAGE_SIZE, DOM0_SEED);    // pages 0-1: dom0 -> peer; pages 2-3: peer -> dom0
        checks.info("port " + port + ", region refs " + join(region.refs()) + ", ctrl ref " + join(ctrl.refs()));

        checks.check("offer written in one transaction, readable by the peer only", () -> {
            XenStorePermission[] perms = {XenStorePermission.of(self, XenStorePermission.NONE),
                    XenStorePermission.of(peer, XenStorePermission.READ)};
            int attempts = 0;
            for (;;) {
                attempts++;
                int tx = xs.transactionStart();
                xs.write(tx, base + "/ring-ref", join(region.refs()));
                xs.write(tx, base + "/ctrl-ref", join(ctrl.refs()));
                xs.write(tx, base + "/event-channel", Integer.toString(port));
                for (String node : new String[] {base, base + "/ring-ref", base + "/ctrl-ref", base + "/event-channel"}) {
                    xs.setPermissions(tx, node, perms);
                }
                if (xs.transactionEnd(tx, false)) {
                    break;
                }
            }
            checks.info("offer at " + base + " (" + attempts + " attempt(s)), perms "
                    + Arrays.toString(xs.permissions(XenStore.NO_TRANSACTION, base + "/ring-ref")));
            return null;
        });

        boolean connected = await(evtchn, port, 120_000, checks);
        checks.result("peer bound the port and notified (domU -> dom0 event)", connected ? null : "no event");
        checks.check("data dom0 -> domU and domU -> dom0 through the shared region, events both ways", () -> {
            if (!connected) {
                return "not connected";
            }
            if (c.get(PEER_ALIVE) != 1) {
                return "peer's alive byte is " + c.get(PEER_ALIVE);
            }
            evtchn.notifyPort(port);                          // "your data is there"
            if (!await(evtchn, port, 60_000, checks)) {      // "my reply is there"
                return "no reply event";
            }
            return verify(r, 2 * XenGrants.PAGE_SIZE, 4 * XenGrants.PAGE_SIZE, PEER_SEED);
        });

        // The peer's process dies with the region mapped: its kernel unmaps, and the notification comes.
        checks.check("unmap notification (event + cleared byte) when the domU's process dies with the page mapped",
                () -> {
                    evtchn.notifyPort(port);                      // "exit now, without unmapping"
                    int got = evtchn.pending(30_000);
                    if (got >= 0) {
                        evtchn.unmask(got);
                    }
                    byte alive = c.get(PEER_ALIVE);
                    return XenChecks.expect(got == port && alive == 0, "event " + (got == port ? "received" : "missing")
                            + ", peer alive byte " + alive);
                });

        // Then the domain goes.
        xs.watch("@releaseDomain", "release");
        while (xs.readWatch(200) != null) {
            // drain the registration event
        }
        long t0 = System.nanoTime();
        Process destroy = new ProcessBuilder("xl", "destroy", Integer.toString(peer)).inheritIO().start();
        boolean destroyed = destroy.waitFor(60, TimeUnit.SECONDS) && destroy.exitValue() == 0;
        checks.result("xl destroy " + peer, destroyed ? null : "failed");
        checks.check("dom0 sees the domU go: @releaseDomain watch fires, its home path is gone", () -> {
            boolean fired = false;
            boolean gone = false;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!(fired && gone) && System.nanoTime() < deadline) {
                if (!fired) {
                    String[] event = xs.readWatch(1000);
                    fired = event != null && "release".equals(event[1]);
                }
                gone = xs.read(XenStore.NO_TRANSACTION, peerHome) == null;
            }
            checks.info("after " + (System.nanoTime() - t0) / 1_000_000 + " ms: @releaseDomain "
                    + (fired ? "fired" : "not seen") + ", peer home " + peerHome + (gone ? " gone" : " still there"));
            if (fired && gone) {
                return null;
            }
            return fired ? peerHome + " still exists" : "no @releaseDomain event";
        });
        xs.unwatch("@releaseDomain", "release");

        checks.check("cleanup: unbind, unshare, rm; nothing left behind", () -> {
            StringBuilder left = new StringBuilder();
            evtchn.unbind(port);
            region.close();
            ctrl.close();
            String parent = base.substring(0, base.lastIndexOf('/'));
            for (;;) {
                int tx = xs.transactionStart();
                xs.remove(tx, base);
                String[] others = xs.list(tx, parent);
                if (others != null && others.length == 0) {
                    xs.remove(tx, parent);                    // the offer created it: leave nothing
                }
                if (xs.transactionEnd(tx, false)) {
                    break;
                }
            }
            if (xs.read(XenStore.NO_TRANSACTION, parent) != null) {
                left.append(" node ").append(parent);
            }
            if (xs.read(XenStore.NO_TRANSACTION, base) != null) {
                left.append(" node ").append(base);
            }
            if (sharer.liveShares() != 0) {
                left.append(" shares ").append(sharer.liveShares());
            }
            // A freed port is the lowest free one again; a freed grant reference goes back to the free list.
            int again = evtchn.bindUnboundPort(self);
            evtchn.unbind(again);
            if (again > port) {
                left.append(" port ").append(port).append(" not freed (got ").append(again).append(')');
            }
            XenSharedPages probe = sharer.share(self, REGION_PAGES + 1, false);
            int[] reused = probe.refs();
            probe.close();
            int[] freed = Arrays.copyOf(region.refs(), REGION_PAGES + 1);
            freed[REGION_PAGES] = ctrl.ref(0);
            Arrays.sort(freed);
            Arrays.sort(reused);
            checks.info("freed refs " + Arrays.toString(freed) + ", allocated again " + Arrays.toString(reused)
                    + ", port " + port + " then " + again);
            if (!Arrays.equals(freed, reused)) {
                left.append(" grant refs not all reused (still in use?)");
            }
            return left.length() == 0 ? null : left.toString().trim();
        });
        evtchn.close();
        sharer.close();
        xs.close();
        return checks.exitCode();
    }

    // ------------------------------------------------------------------ domU

    static int connect() throws Exception {
        XenChecks checks = new XenChecks("PEER");
        checks.check("XenHost.isAvailable", () -> XenHost.isAvailable() ? null : "cause: " + XenHost.unavailabilityCause());
        XenStore xs = XenStore.open();
        XenGrantMapper mapper = XenGrantMapper.open();
        XenEventChannel evtchn = XenEventChannel.open();
        int self = Integer.parseInt(xs.read(XenStore.NO_TRANSACTION, "domid"));
        int server = 0;
        String base = xs.domainPath(server) + "/data/idts/" + self;
        checks.info("domid " + self + ", waiting for the offer at " + base);

        xs.watch(base + "/event-channel", "offer");
        String portText = null;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
        while (portText == null && System.nanoTime() < deadline) {
            xs.readWatch(1000);
            portText = xs.read(XenStore.NO_TRANSACTION, base + "/event-channel");
        }
        xs.unwatch(base + "/event-channel", "offer");
        if (portText == null) {
            checks.result("offer found through a watch", "timeout");
            return checks.exitCode();
        }
        String[] refText = xs.read(XenStore.NO_TRANSACTION, base + "/ring-ref").split(" ");
        int ctrlRef = Integer.parseUnsignedInt(xs.read(XenStore.NO_TRANSACTION, base + "/ctrl-ref"));
        int remotePort = Integer.parseInt(portText);
        int[] refs = Arrays.stream(refText).mapToInt(Integer::parseUnsignedInt).toArray();
        checks.info("offer: port " + remotePort + ", ring-ref " + Arrays.toString(refs) + ", ctrl-ref " + ctrlRef);
        checks.check("offer is readable by this domain only (owner dom0, others none)", () -> {
            XenStorePermission[] perms = xs.permissions(XenStore.NO_TRANSACTION, base + "/ring-ref");
            XenStorePermission[] want = {XenStorePermission.of(server, XenStorePermission.NONE),
                    XenStorePermission.of(self, XenStorePermission.READ)};
            return XenChecks.expect(Arrays.equals(perms, want), "perms " + Arrays.toString(perms));
        });
        checks.check("writing into the offer is refused", () -> {
            try {
                xs.write(XenStore.NO_TRANSACTION, base + "/ring-ref", "0");
                return "write succeeded";
            } catch (NativeIoException expected) {
                checks.info(expected.getMessage());
                return null;
            }
        });

        int port = evtchn.bindInterdomain(server, remotePort);
        XenMappedGrants region = mapper.map(server, refs, true);
        XenMappedGrants ctrl = mapper.mapWithNotify(server, ctrlRef, true, PEER_ALIVE, port);
        ByteBuffer r = region.buffer();
        ByteBuffer c = ctrl.buffer();
        checks.result("mapped the region and bound the port " + port,
                XenChecks.expect(c.get(OFFER_ALIVE) == 1, "offer's alive byte is " + c.get(OFFER_ALIVE)));
        c.put(PEER_ALIVE, (byte) 1);
        evtchn.notifyPort(port);                                         // "connected"
        boolean gotData = await(evtchn, port, 60_000, checks);           // "your data is there"
        checks.result("event dom0 -> domU", gotData ? null : "no event");
        checks.result("data dom0 -> domU", verify(r, 0, 2 * XenGrants.PAGE_SIZE, DOM0_SEED));
        fill(r, 2 * XenGrants.PAGE_SIZE, 4 * XenGrants.PAGE_SIZE, PEER_SEED);
        evtchn.notifyPort(port);                                         // "my reply is there"
        boolean exit = await(evtchn, port, 60_000, checks);             // "exit now"
        checks.result("event dom0 -> domU (exit request)", exit ? null : "no event");
        int code = checks.exitCode();
        System.out.println("PEER DONE rc=" + code + ", halting with the region mapped and the port bound");
        System.out.flush();
        Runtime.getRuntime().halt(code);                                // no unmap, no unbind: as if it crashed
        return code;
    }
}
