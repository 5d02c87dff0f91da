package io.idts.xen;

import io.idts.linux.Errno;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Another domain's pages mapped into this process by {@link XenGrantMapper}, as a direct buffer.
 *
 * <p>{@link #close()} unmaps them exactly once (and fires the unmap notification, if one was asked for).
 * Touching a buffer after {@link #close()} crashes the JVM.
 *
 * <p>Internal API.
 */
public final class XenMappedGrants implements AutoCloseable {

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(XenMappedGrants.class);

    private final XenGrantMapper mapper;
    private final long address;
    private final int pages;
    private final int domid;
    private final ByteBuffer whole;
    private final AtomicBoolean closed = new AtomicBoolean();

    XenMappedGrants(XenGrantMapper mapper, long address, int pages, int domid) {
        this.mapper = mapper;
        this.address = address;
        this.pages = pages;
        this.domid = domid;
        whole = XenNative.buffer(address, pages * XenGrants.PAGE_SIZE);
    }

    public int pageCount() {
        return pages;
    }

    /** The domain that shared the pages. */
    public int domid() {
        return domid;
    }

    /** Length in bytes: {@link #pageCount()} * 4096. */
    public int size() {
        return whole.capacity();
    }

    /** Start address of the mapping. */
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
            throw new IllegalStateException("mapped grants are closed");
        }
        return whole.duplicate().order(ByteOrder.nativeOrder());
    }

    public boolean isClosed() {
        return closed.get();
    }

    /** {@code xengnttab_unmap}, once; idempotent. A failure is logged, not thrown. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            int errno = mapper.unmap(this);
            if (errno != 0) {
                logger.warn("xengnttab_unmap(0x{}, {}) failed: {} (errno {})",
                        Long.toHexString(address), pages, Errno.describe(errno), errno);
            }
        }
    }

    @Override
    public String toString() {
        return "XenMappedGrants(" + pages + " pages of domain " + domid + (closed.get() ? ", closed)" : ")");
    }
}
