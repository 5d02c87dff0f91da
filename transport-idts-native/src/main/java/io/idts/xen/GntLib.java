package io.idts.xen;

/**
 * libxengnttab (both halves: {@code xengntshr_*} over {@code /dev/xen/gntalloc}, {@code xengnttab_*} over
 * {@code /dev/xen/gntdev}), bound with JNA direct mapping when this class is initialized.
 *
 * <p>Internal API. Functions report failure through their return value (NULL or -1) and errno.
 */
final class GntLib {

    static final String SONAME = "libxengnttab.so.1";

    /** Why the registration failed, or {@code null}. */
    static final Throwable LOAD_FAILURE = XenNative.register(GntLib.class, SONAME);

    private GntLib() {
    }

    static native long xengntshr_open(long logger, int flags);

    static native long xengntshr_share_pages(long xgs, int domid, int count, int[] refs, int writable);

    static native long xengntshr_share_page_notify(long xgs, int domid, int[] ref, int writable,
                                                   int notifyOffset, int notifyPort);

    static native int xengntshr_unshare(long xgs, long startAddress, int count);

    static native int xengntshr_close(long xgs);

    static native long xengnttab_open(long logger, int flags);

    static native long xengnttab_map_grant_refs(long xgt, int count, int[] domids, int[] refs, int prot);

    static native long xengnttab_map_grant_ref_notify(long xgt, int domid, int ref, int prot,
                                                      int notifyOffset, int notifyPort);

    static native int xengnttab_unmap(long xgt, long startAddress, int count);

    static native int xengnttab_close(long xgt);
}
