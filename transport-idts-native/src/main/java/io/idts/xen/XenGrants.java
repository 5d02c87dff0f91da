package io.idts.xen;

import io.netty.util.internal.ObjectUtil;

/**
 * Argument checks and constants shared by {@link XenGrantSharer} and {@link XenGrantMapper}.
 *
 * <p>Internal API.
 */
final class XenGrants {

    /** Xen's grant page size, whatever the kernel's page size. */
    static final int PAGE_SIZE = 4096;
    /** Largest page count whose mapping a ByteBuffer can cover. */
    static final int MAX_PAGES = Integer.MAX_VALUE / PAGE_SIZE;
    /** {@code DOMID_FIRST_RESERVED}: domain ids are below it. */
    static final int DOMID_LIMIT = 0x7FF0;
    /** {@code notify_offset} / {@code notify_port} value for "no notification". */
    static final int NONE = -1;

    private XenGrants() {
    }

    static int checkDomid(int domid) {
        return ObjectUtil.checkInRange(domid, 0, DOMID_LIMIT - 1, "domid");
    }

    static int checkPages(int pages) {
        return ObjectUtil.checkInRange(pages, 1, MAX_PAGES, "pages");
    }

    /** An offset in the (first) page, or {@link #NONE}. */
    static int checkNotifyOffset(int offset) {
        return offset == NONE ? offset : ObjectUtil.checkInRange(offset, 0, PAGE_SIZE - 1, "notifyOffset");
    }

    /** A port, or {@link #NONE}. */
    static int checkNotifyPort(int port) {
        return port == NONE ? port : ObjectUtil.checkPositiveOrZero(port, "notifyPort");
    }
}
