package io.idts.xen;

import io.idts.linux.NativeIoException;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A {@code xengntshr} handle ({@code /dev/xen/gntalloc}): shares pages of this domain with another domain,
 * which maps them with {@link XenGrantMapper}.
 *
 * <p>Every share is a {@link XenSharedPages} to close (unshare) once the peer no longer needs it.
 * {@link #close()} unshares whatever is still shared, then closes the handle. Thread-safe.
 *
 * <p>Internal API.
 */
public final class XenGrantSharer implements AutoCloseable {

    private final long handle;
    private final Set<XenSharedPages> live = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    /** For argument-check tests only: a sharer around {@code handle} that is never used natively. */
    XenGrantSharer(long handle) {
        this.handle = handle;
    }

    /** {@code xengntshr_open(NULL, 0)}. */
    public static XenGrantSharer open() throws NativeIoException {
        XenHost.ensureAvailability();
        long handle = GntLib.xengntshr_open(0, 0);
        if (handle == 0) {
            throw new NativeIoException("xengntshr_open", XenNative.errno(), XenHost.GNTALLOC);
        }
        return new XenGrantSharer(handle);
    }

    /**
     * {@code xengntshr_share_pages}: allocates {@code pages} zeroed pages, grants them to {@code domid} and
     * maps them here.
     *
     * @param domid    the peer domain (this domain's own id works too: a domain can map its own grants)
     * @param pages    at least 1
     * @param writable whether the peer may write
     */
    public XenSharedPages share(int domid, int pages, boolean writable) throws NativeIoException {
        XenGrants.checkDomid(domid);
        XenGrants.checkPages(pages);
        ensureOpen();
        int[] refs = new int[pages];
        long address = GntLib.xengntshr_share_pages(handle, domid, pages, refs, writable ? 1 : 0);
        if (address == 0) {
            throw new NativeIoException("xengntshr_share_pages", XenNative.errno(),
                    pages + " pages to domain " + domid);
        }
        return track(new XenSharedPages(this, address, refs, domid));
    }

    /**
     * {@code xengntshr_share_page_notify}: shares one page, and asks the kernel to notify the peer when
     * this side unshares it (or this process dies): clear the byte at {@code notifyOffset} of the page,
     * and/or signal {@code notifyPort} (a local port bound to the peer).
     *
     * @param notifyOffset an offset in the page, or -1 for none
     * @param notifyPort   a local event-channel port, or -1 for none
     */
    public XenSharedPages sharePageWithNotify(int domid, boolean writable, int notifyOffset, int notifyPort)
            throws NativeIoException {
        XenGrants.checkDomid(domid);
        XenGrants.checkNotifyOffset(notifyOffset);
        XenGrants.checkNotifyPort(notifyPort);
        ensureOpen();
        int[] ref = new int[1];
        long address = GntLib.xengntshr_share_page_notify(handle, domid, ref, writable ? 1 : 0,
                notifyOffset, notifyPort);
        if (address == 0) {
            throw new NativeIoException("xengntshr_share_page_notify", XenNative.errno(),
                    "1 page to domain " + domid);
        }
        return track(new XenSharedPages(this, address, ref, domid));
    }

    private XenSharedPages track(XenSharedPages pages) {
        live.add(pages);
        if (closed) {
            // close() raced with this share: undo it, as close() would have.
            pages.close();
            throw new IllegalStateException("sharer is closed");
        }
        return pages;
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("sharer is closed");
        }
    }

    /** Called once per share by {@link XenSharedPages#close()}. */
    int unshare(XenSharedPages pages) {
        live.remove(pages);
        return GntLib.xengntshr_unshare(handle, pages.address(), pages.pageCount()) == 0 ? 0 : XenNative.errno();
    }

    /** How many shares are not closed yet. */
    public int liveShares() {
        return live.size();
    }

    public boolean isClosed() {
        return closed;
    }

    /** Unshares every share still open, then {@code xengntshr_close}; idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (XenSharedPages pages : live) {
            pages.close();
        }
        GntLib.xengntshr_close(handle);
    }
}
