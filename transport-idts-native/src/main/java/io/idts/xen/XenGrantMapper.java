package io.idts.xen;

import io.idts.linux.NativeIoException;
import io.netty.util.internal.ObjectUtil;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A {@code xengnttab} handle ({@code /dev/xen/gntdev}): maps pages that another domain shared with this
 * one ({@link XenGrantSharer} on its side).
 *
 * <p>Every mapping is a {@link XenMappedGrants} to close (unmap). {@link #close()} unmaps whatever is still
 * mapped, then closes the handle (a mapping cannot be unmapped through a closed handle). Thread-safe.
 *
 * <p>Internal API.
 */
public final class XenGrantMapper implements AutoCloseable {

    private static final int PROT_READ = 1;
    private static final int PROT_WRITE = 2;

    private final long handle;
    private final Set<XenMappedGrants> live = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    /** For argument-check tests only: a mapper around {@code handle} that is never used natively. */
    XenGrantMapper(long handle) {
        this.handle = handle;
    }

    /** {@code xengnttab_open(NULL, 0)}. */
    public static XenGrantMapper open() throws NativeIoException {
        XenHost.ensureAvailability();
        long handle = GntLib.xengnttab_open(0, 0);
        if (handle == 0) {
            throw new NativeIoException("xengnttab_open", XenNative.errno(), XenHost.GNTDEV);
        }
        return new XenGrantMapper(handle);
    }

    /**
     * {@code xengnttab_map_grant_refs}: maps the pages {@code refs} of domain {@code domid}, contiguously
     * and in order.
     */
    public XenMappedGrants map(int domid, int[] refs, boolean writable) throws NativeIoException {
        XenGrants.checkDomid(domid);
        ObjectUtil.checkNotNull(refs, "refs");
        XenGrants.checkPages(refs.length);
        ensureOpen();
        int[] domids = new int[refs.length];
        java.util.Arrays.fill(domids, domid);
        long address = GntLib.xengnttab_map_grant_refs(handle, refs.length, domids, refs.clone(), prot(writable));
        if (address == 0) {
            throw new NativeIoException("xengnttab_map_grant_refs", XenNative.errno(),
                    refs.length + " grants of domain " + domid);
        }
        return track(new XenMappedGrants(this, address, refs.length, domid));
    }

    /**
     * {@code xengnttab_map_grant_ref_notify}: maps one page, and asks the kernel to notify the sharer when
     * this side unmaps it (or this process dies): clear the byte at {@code notifyOffset} of the page and/or
     * signal {@code notifyPort} (a local port bound to the sharer).
     *
     * @param notifyOffset an offset in the page, or -1 for none
     * @param notifyPort   a local event-channel port, or -1 for none
     */
    public XenMappedGrants mapWithNotify(int domid, int ref, boolean writable, int notifyOffset, int notifyPort)
            throws NativeIoException {
        XenGrants.checkDomid(domid);
        XenGrants.checkNotifyOffset(notifyOffset);
        XenGrants.checkNotifyPort(notifyPort);
        ensureOpen();
        long address = GntLib.xengnttab_map_grant_ref_notify(handle, domid, ref, prot(writable),
                notifyOffset, notifyPort);
        if (address == 0) {
            throw new NativeIoException("xengnttab_map_grant_ref_notify", XenNative.errno(),
                    "grant " + Integer.toUnsignedString(ref) + " of domain " + domid);
        }
        return track(new XenMappedGrants(this, address, 1, domid));
    }

    private static int prot(boolean writable) {
        return writable ? PROT_READ | PROT_WRITE : PROT_READ;
    }

    private XenMappedGrants track(XenMappedGrants mapping) {
        live.add(mapping);
        if (closed) {
            mapping.close();
            throw new IllegalStateException("mapper is closed");
        }
        return mapping;
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("mapper is closed");
        }
    }

    /** Called once per mapping by {@link XenMappedGrants#close()}; returns 0 or the errno. */
    int unmap(XenMappedGrants mapping) {
        try {
            return GntLib.xengnttab_unmap(handle, mapping.address(), mapping.pageCount()) == 0
                    ? 0 : XenNative.errno();
        } finally {
            live.remove(mapping);
        }
    }

    /** How many mappings are not closed yet. */
    public int liveMappings() {
        return live.size();
    }

    public boolean isClosed() {
        return closed;
    }

    /** Unmaps every mapping still open, then {@code xengnttab_close}; idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (XenMappedGrants mapping : live) {
            mapping.close();
        }
        GntLib.xengnttab_close(handle);
    }
}
