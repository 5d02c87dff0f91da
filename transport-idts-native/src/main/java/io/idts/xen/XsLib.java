package io.idts.xen;

/**
 * libxenstore, bound with JNA direct mapping when this class is initialized. Xen 4.17 ships
 * {@code libxenstore.so.4}; older releases {@code libxenstore.so.3.0}, with the same functions.
 *
 * <p>Internal API. C {@code bool} results are declared {@code byte} (only the low byte of the return
 * register is defined); strings go in as NUL-terminated UTF-8 {@code byte[]}; results that the library
 * allocates are released with {@link XenLibC#free}.
 */
final class XsLib {

    static final String[] SONAMES = {"libxenstore.so.4", "libxenstore.so.3.0"};

    /** Why the registration failed, or {@code null}. */
    static final Throwable LOAD_FAILURE = XenNative.register(XsLib.class, SONAMES);

    private XsLib() {
    }

    static native long xs_open(long flags);

    static native void xs_close(long xsh);

    /** Returns malloc'ed memory of {@code len[0]} bytes (plus a NUL), or NULL with errno. */
    static native long xs_read(long xsh, int t, byte[] path, int[] len);

    /** Returns one malloc'ed block: a {@code char *[num]} vector of child names followed by the strings. */
    static native long xs_directory(long xsh, int t, byte[] path, int[] num);

    static native byte xs_write(long xsh, int t, byte[] path, byte[] data, int len);

    static native byte xs_mkdir(long xsh, int t, byte[] path);

    static native byte xs_rm(long xsh, int t, byte[] path);

    /** Returns a malloc'ed array of {@code num[0]} {@code struct xs_permissions}, or NULL with errno. */
    static native long xs_get_permissions(long xsh, int t, byte[] path, int[] num);

    /** {@code perms}: pairs of (domid, XS_PERM_* flags), the layout of {@code struct xs_permissions[]}. */
    static native byte xs_set_permissions(long xsh, int t, byte[] path, int[] perms, int num);

    /** Returns the transaction id, or 0 (XBT_NULL) with errno. */
    static native int xs_transaction_start(long xsh);

    static native byte xs_transaction_end(long xsh, int t, byte abort);

    static native byte xs_watch(long xsh, byte[] path, byte[] token);

    static native byte xs_unwatch(long xsh, byte[] path, byte[] token);

    /** Blocks; returns one malloc'ed block: a {@code char *[num]} vector followed by its strings. */
    static native long xs_read_watch(long xsh, int[] num);

    static native int xs_fileno(long xsh);

    static native long xs_get_domain_path(long xsh, int domid);
}
