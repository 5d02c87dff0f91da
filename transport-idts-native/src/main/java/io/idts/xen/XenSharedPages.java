package io.idts.xen;

import io.idts.linux.Errno;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Pages of this domain shared with a peer domain by {@link XenGrantSharer}: their grant references, to
 * pass to the peer, and this domain's mapping of them as a direct buffer.
 *
 * <p>{@link #close()} unshares (unmaps) them exactly once; the grants are ended by the kernel as soon as
 * the peer has unmapped them too. Touching a buffer after {@link #close()} crashes the JVM.
 *
 * <p>Internal API.
 */
public final class XenSharedPages implements AutoCloseable {

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(XenSharedPages.class);

    private final XenGrantSharer sharer;
    private final long address;
    private final int[] refs;
    private final int domid;
    private final ByteBuffer whole;
    private final AtomicBoolean closed = new AtomicBoolean();

    XenSharedPages(XenGrantSharer sharer, long address, int[] refs, int domid) {
        this.sharer = sharer;
        this.address = address;
        this.refs = refs;
        this.domid = domid;
        whole = XenNative.buffer(address, refs.length * XenGrants.PAGE_SIZE);
    }

    /** The grant references, one per page, in page order (a copy). */
    public int[] refs() {
        return refs.clone();
    }

    /** The grant reference of page {@code index}. */
    public int ref(int index) {
        return refs[index];
    }

    public int pageCount() {
        return refs.length;
    }

    /** The domain the pages are granted to. */
    public int domid() {
        return domid;
    }

    /** Length in bytes: {@link #pageCount()} * 4096. */
    public int size() {
        return whole.capacity();
    }

    /** Start address of this domain's mapping. */
    public long address() {
        return address;
    }

    /**
     * A new direct buffer over all the pages (position 0, limit {@link #size()}, native byte order).
     *
     * @throws IllegalStateException if closed
     */
    public ByteBuffer buffer() {
        if (closed.get()) {
            throw new IllegalStateException("shared pages are closed");
        }
        return whole.duplicate().order(ByteOrder.nativeOrder());
    }

    public boolean isClosed() {
        return closed.get();
    }

    /** {@code xengntshr_unshare}, once; idempotent. A failure is logged, not thrown. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            int errno = sharer.unshare(this);
            if (errno != 0) {
                logger.warn("xengntshr_unshare(0x{}, {}) failed: {} (errno {})",
                        Long.toHexString(address), refs.length, Errno.describe(errno), errno);
            }
        }
    }

    @Override
    public String toString() {
        return "XenSharedPages(" + refs.length + " pages to domain " + domid + (closed.get() ? ", closed)" : ")");
    }
}
