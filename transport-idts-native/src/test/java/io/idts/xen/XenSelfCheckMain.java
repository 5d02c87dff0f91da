package io.idts.xen;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Run inside a Xen domain (dom0 in testsuite/xen): the bindings against this domain itself. Grants shared
 * with this domain and mapped back, the unmap notification, a loopback event channel, XenStore
 * (transaction, permissions, watch). Prints {@code SELF PASS/FAIL: ...} lines; exit status 0 when all pass.
 *
 * <p>{@code java io.idts.xen.XenSelfCheckMain}
 */
public final class XenSelfCheckMain {

    private XenSelfCheckMain() {
    }

    public static void main(String[] args) throws Exception {
        XenChecks checks = new XenChecks("SELF");
        checks.check("XenHost.isAvailable", () -> XenHost.isAvailable() ? null : "cause: " + XenHost.unavailabilityCause());
        if (!XenHost.isAvailable()) {
            System.exit(checks.exitCode());
        }
        try (XenStore xs = XenStore.open();
             XenGrantSharer sharer = XenGrantSharer.open();
             XenGrantMapper mapper = XenGrantMapper.open();
             XenEventChannel e1 = XenEventChannel.open();
             XenEventChannel e2 = XenEventChannel.open()) {
            int self = Integer.parseInt(xs.read(XenStore.NO_TRANSACTION, "domid"));
            checks.info("domid " + self + ", home " + xs.domainPath(self));

            checks.check("grants shared with self, mapped, data through both mappings", () -> {
                XenSharedPages shared = sharer.share(self, 3, true);
                XenMappedGrants mapped = mapper.map(self, shared.refs(), true);
                ByteBuffer s = shared.buffer();
                ByteBuffer m = mapped.buffer();
                for (int i = 0; i < shared.size(); i += 8) {
                    s.putLong(i, 0x1DF5_0000_0000L + i);
                }
                for (int i = 0; i < mapped.size(); i += 8) {
                    if (m.getLong(i) != 0x1DF5_0000_0000L + i) {
                        return "mapped page reads " + Long.toHexString(m.getLong(i)) + " at " + i;
                    }
                }
                byte[] text = "written through the mapping".getBytes(StandardCharsets.UTF_8);
                m.put(8192 + 100, text, 0, text.length);
                byte[] back = new byte[text.length];
                s.get(8192 + 100, back, 0, back.length);
                if (!Arrays.equals(text, back)) {
                    return "shared pages read back " + new String(back, StandardCharsets.UTF_8);
                }
                checks.info("refs " + Arrays.toString(shared.refs()) + ", sharer 0x"
                        + Long.toHexString(shared.address()) + ", mapping 0x" + Long.toHexString(mapped.address()));
                mapped.close();
                mapped.close();
                shared.close();
                shared.close();
                return XenChecks.expect(mapped.isClosed() && shared.isClosed() && mapper.liveMappings() == 0
                        && sharer.liveShares() == 0, "close is not idempotent or leaves live entries");
            });

            int[] ports = new int[2];
            checks.check("loopback event channel: notify and pending both ways", () -> {
                ports[0] = e1.bindUnboundPort(self);
                ports[1] = e2.bindInterdomain(self, ports[0]);
                checks.info("ports " + ports[0] + " <-> " + ports[1]);
                e2.notifyPort(ports[1]);
                int got = e1.pending(5000);
                if (got != ports[0]) {
                    return "e1 pending " + got;
                }
                e1.unmask(got);
                e1.notifyPort(ports[0]);
                got = e2.pending(5000);
                if (got != ports[1]) {
                    return "e2 pending " + got;
                }
                e2.unmask(got);
                return XenChecks.expect(e1.pending(200) == -1, "a spurious event is pending");
            });

            checks.check("unmap notification (byte cleared, event sent) when the mapper unmaps", () -> {
                XenSharedPages page = sharer.share(self, 1, true);
                ByteBuffer s = page.buffer();
                s.put(64, (byte) 1);
                XenMappedGrants mapped = mapper.mapWithNotify(self, page.ref(0), true, 64, ports[1]);
                if (mapped.buffer().get(64) != 1) {
                    return "mapping does not show the byte";
                }
                mapped.close();
                int got = e1.pending(5000);
                if (got != ports[0]) {
                    return "no unmap event (pending " + got + ")";
                }
                e1.unmask(got);
                byte cleared = s.get(64);
                page.close();
                return XenChecks.expect(cleared == 0, "notify byte still " + cleared);
            });

            checks.check("sharer notification when the sharer unshares", () -> {
                XenSharedPages page = sharer.sharePageWithNotify(self, true, 128, ports[0]);
                page.buffer().put(128, (byte) 1);
                XenMappedGrants mapped = mapper.map(self, page.refs(), true);
                ByteBuffer m = mapped.buffer();
                page.close();
                int got = e2.pending(5000);
                if (got != ports[1]) {
                    return "no unshare event (pending " + got + ")";
                }
                e2.unmask(got);
                byte cleared = m.get(128);
                mapped.close();
                return XenChecks.expect(cleared == 0, "notify byte still " + cleared);
            });

            checks.check("event channel unbind", () -> {
                e2.unbind(ports[1]);
                e1.unbind(ports[0]);
                try {
                    e1.notifyPort(ports[0]);
                    return "notify on an unbound port succeeded";
                } catch (io.idts.linux.NativeIoException expected) {
                    checks.info("after unbind: " + expected.getMessage());
                    return null;
                }
            });

            String base = xs.domainPath(self) + "/data/idts-selfcheck";
            checks.check("XenStore transaction with permissions, read back, rm", () -> {
                XenStorePermission[] perms = {XenStorePermission.of(self, XenStorePermission.NONE),
                        XenStorePermission.of(1, XenStorePermission.READ)};
                for (;;) {
                    int tx = xs.transactionStart();
                    xs.mkdir(tx, base);
                    xs.write(tx, base + "/ring-ref", "8 9 10");
                    xs.write(tx, base + "/event-channel", "42");
                    xs.setPermissions(tx, base + "/ring-ref", perms);
                    xs.setPermissions(tx, base + "/event-channel", perms);
                    if (xs.read(XenStore.NO_TRANSACTION, base + "/ring-ref") != null) {
                        xs.transactionEnd(tx, true);
                        return "a write is visible outside its transaction";
                    }
                    if (xs.transactionEnd(tx, false)) {
                        break;
                    }
                }
                String refs = xs.read(XenStore.NO_TRANSACTION, base + "/ring-ref");
                XenStorePermission[] got = xs.permissions(XenStore.NO_TRANSACTION, base + "/ring-ref");
                checks.info("ring-ref '" + refs + "', perms " + Arrays.toString(got));
                if (!"8 9 10".equals(refs) || !Arrays.equals(perms, got)) {
                    return "read back '" + refs + "' " + Arrays.toString(got);
                }
                int tx = xs.transactionStart();
                xs.remove(tx, base);
                if (!xs.transactionEnd(tx, false)) {
                    return "rm transaction conflicted";
                }
                return XenChecks.expect(xs.read(XenStore.NO_TRANSACTION, base + "/ring-ref") == null
                        && xs.read(XenStore.NO_TRANSACTION, base) == null, "node left after rm");
            });

            checks.check("XenStore watch fires (registration, write, rm)", () -> {
                String path = base + "/watched";
                xs.watch(path, "tok");
                String[] first = xs.readWatch(5000);
                if (first == null || !path.equals(first[0]) || !"tok".equals(first[1])) {
                    return "no initial event: " + Arrays.toString(first);
                }
                xs.write(XenStore.NO_TRANSACTION, path, "v");
                String[] second = xs.readWatch(5000);
                if (second == null || !path.equals(second[0])) {
                    return "no event for the write: " + Arrays.toString(second);
                }
                xs.remove(XenStore.NO_TRANSACTION, base);
                String[] third = xs.readWatch(5000);
                xs.unwatch(path, "tok");
                xs.write(XenStore.NO_TRANSACTION, path, "w");
                String[] none = xs.readWatch(500);
                xs.remove(XenStore.NO_TRANSACTION, base);
                return XenChecks.expect(third != null && none == null,
                        "rm event " + Arrays.toString(third) + ", after unwatch " + Arrays.toString(none));
            });

            checks.check("errno failures name the call", () -> {
                try {
                    mapper.map(self, new int[] {0x7fff_fff0}, true);
                    return "mapping a bogus grant succeeded";
                } catch (io.idts.linux.NativeIoException expected) {
                    checks.info(expected.getMessage());
                    return XenChecks.expect(expected.call().equals("xengnttab_map_grant_refs")
                            && expected.errno() != 0 && mapper.liveMappings() == 0, "exception " + expected);
                }
            });
        }
        System.exit(checks.exitCode());
    }
}
