package io.idts.xen;

import io.idts.linux.Errno;
import io.idts.linux.NativeIoException;
import io.netty.util.internal.ObjectUtil;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * A XenStore connection ({@code xs_open(0)}: the xenstored socket in a domain that runs it, else
 * {@code /dev/xen/xenbus}).
 *
 * <p>Paths are absolute ({@code /local/domain/0/...}) or relative to this domain's home path. Values are
 * UTF-8 strings. Operations take a transaction id from {@link #transactionStart()}, or
 * {@link #NO_TRANSACTION}. A transaction is all or nothing: {@link #transactionEnd(int, boolean)} returns
 * false when it conflicted with another writer and must be retried from the start.
 *
 * <p>Watches: {@link #watch(String, String)} fires once at once, then at every change of the path or below
 * it; {@link #readWatch(long)} returns the events ({path, token}). Thread-safe (libxenstore locks).
 *
 * <p>Internal API.
 */
public final class XenStore implements AutoCloseable {

    /** {@code XBT_NULL}: outside any transaction. */
    public static final int NO_TRANSACTION = 0;

    private final long handle;
    private volatile boolean closed;

    /** For argument-check tests only: a connection around {@code handle} that is never used natively. */
    XenStore(long handle) {
        this.handle = handle;
    }

    /** {@code xs_open(0)}. */
    public static XenStore open() throws NativeIoException {
        XenHost.ensureAvailability();
        long handle = XsLib.xs_open(0);
        if (handle == 0) {
            throw new NativeIoException("xs_open", XenNative.errno(),
                    "neither the xenstored socket nor " + XenHost.XENBUS + " answers");
        }
        return new XenStore(handle);
    }

    private static byte[] path(String path) {
        ObjectUtil.checkNonEmpty(path, "path");
        if (path.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("path: contains NUL: " + path);
        }
        byte[] utf8 = path.getBytes(StandardCharsets.UTF_8);
        return Arrays.copyOf(utf8, utf8.length + 1);
    }

    /** {@code xs_read}: the value of {@code path}, or {@code null} if there is no such node (ENOENT). */
    public String read(int transaction, String path) throws NativeIoException {
        byte[] p = path(path);
        ensureOpen();
        int[] len = new int[1];
        long value = XsLib.xs_read(handle, transaction, p, len);
        if (value == 0) {
            int errno = XenNative.errno();
            if (errno == Errno.ENOENT) {
                return null;
            }
            throw new NativeIoException("xs_read", errno, path);
        }
        try {
            return new String(XenNative.bytes(value, len[0]), StandardCharsets.UTF_8);
        } finally {
            XenLibC.free(value);
        }
    }

    /** {@code xs_directory}: the names of the children of {@code path}; {@code null} if there is no such node. */
    public String[] list(int transaction, String path) throws NativeIoException {
        byte[] p = path(path);
        ensureOpen();
        int[] num = new int[1];
        long vec = XsLib.xs_directory(handle, transaction, p, num);
        if (vec == 0) {
            int errno = XenNative.errno();
            if (errno == Errno.ENOENT) {
                return null;
            }
            throw new NativeIoException("xs_directory", errno, path);
        }
        try {
            String[] children = new String[num[0]];
            for (int i = 0; i < children.length; i++) {
                children[i] = XenNative.string(XenNative.pointerAt(vec, 8L * i));
            }
            return children;
        } finally {
            XenLibC.free(vec);
        }
    }

    /** {@code xs_write}: creates or replaces {@code path} (and missing parents) with {@code value}. */
    public void write(int transaction, String path, String value) throws NativeIoException {
        byte[] p = path(path);
        ObjectUtil.checkNotNull(value, "value");
        ensureOpen();
        byte[] data = value.getBytes(StandardCharsets.UTF_8);
        if (XsLib.xs_write(handle, transaction, p, data, data.length) == 0) {
            throw new NativeIoException("xs_write", XenNative.errno(), path);
        }
    }

    /** {@code xs_mkdir}: creates {@code path} (empty value) if absent. */
    public void mkdir(int transaction, String path) throws NativeIoException {
        byte[] p = path(path);
        ensureOpen();
        if (XsLib.xs_mkdir(handle, transaction, p) == 0) {
            throw new NativeIoException("xs_mkdir", XenNative.errno(), path);
        }
    }

    /** {@code xs_rm}: removes {@code path} and everything below it. */
    public void remove(int transaction, String path) throws NativeIoException {
        byte[] p = path(path);
        ensureOpen();
        if (XsLib.xs_rm(handle, transaction, p) == 0) {
            throw new NativeIoException("xs_rm", XenNative.errno(), path);
        }
    }

    /** {@code xs_set_permissions}: see {@link XenStorePermission} for what the list means. */
    public void setPermissions(int transaction, String path, XenStorePermission... permissions)
            throws NativeIoException {
        byte[] p = path(path);
        ObjectUtil.checkNonEmpty(permissions, "permissions");
        int[] raw = new int[permissions.length * 2];
        for (int i = 0; i < permissions.length; i++) {
            XenStorePermission permission = ObjectUtil.checkNotNull(permissions[i], "permissions[" + i + ']');
            raw[2 * i] = permission.domid();
            raw[2 * i + 1] = permission.access();
        }
        ensureOpen();
        if (XsLib.xs_set_permissions(handle, transaction, p, raw, permissions.length) == 0) {
            throw new NativeIoException("xs_set_permissions", XenNative.errno(), path);
        }
    }

    /** {@code xs_get_permissions}: the permission list of {@code path}, owner first. */
    public XenStorePermission[] permissions(int transaction, String path) throws NativeIoException {
        byte[] p = path(path);
        ensureOpen();
        int[] num = new int[1];
        long perms = XsLib.xs_get_permissions(handle, transaction, p, num);
        if (perms == 0) {
            throw new NativeIoException("xs_get_permissions", XenNative.errno(), path);
        }
        try {
            byte[] raw = XenNative.bytes(perms, num[0] * 8);
            java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(raw).order(java.nio.ByteOrder.nativeOrder());
            XenStorePermission[] result = new XenStorePermission[num[0]];
            for (int i = 0; i < result.length; i++) {
                result[i] = XenStorePermission.of(b.getInt(), b.getInt() & XenStorePermission.BOTH);
            }
            return result;
        } finally {
            XenLibC.free(perms);
        }
    }

    /** {@code xs_transaction_start}: a transaction id for the other operations. */
    public int transactionStart() throws NativeIoException {
        ensureOpen();
        int transaction = XsLib.xs_transaction_start(handle);
        if (transaction == NO_TRANSACTION) {
            throw new NativeIoException("xs_transaction_start", XenNative.errno());
        }
        return transaction;
    }

    /**
     * {@code xs_transaction_end}: commits ({@code abort} false) or aborts the transaction.
     *
     * @return true if committed (or aborted as asked), false if the commit conflicted (EAGAIN): nothing
     *         of it was written, and the caller retries the whole transaction
     */
    public boolean transactionEnd(int transaction, boolean abort) throws NativeIoException {
        if (transaction == NO_TRANSACTION) {
            throw new IllegalArgumentException("transaction: NO_TRANSACTION");
        }
        ensureOpen();
        if (XsLib.xs_transaction_end(handle, transaction, (byte) (abort ? 1 : 0)) == 0) {
            int errno = XenNative.errno();
            if (errno == Errno.EAGAIN && !abort) {
                return false;
            }
            throw new NativeIoException("xs_transaction_end", errno, abort ? "abort" : "commit");
        }
        return true;
    }

    /** {@code xs_watch}: events for {@code path} (and below) tagged {@code token}; the first fires at once. */
    public void watch(String path, String token) throws NativeIoException {
        byte[] p = path(path);
        byte[] t = path(token);
        ensureOpen();
        if (XsLib.xs_watch(handle, p, t) == 0) {
            throw new NativeIoException("xs_watch", XenNative.errno(), path);
        }
    }

    /** {@code xs_unwatch}. */
    public void unwatch(String path, String token) throws NativeIoException {
        byte[] p = path(path);
        byte[] t = path(token);
        ensureOpen();
        if (XsLib.xs_unwatch(handle, p, t) == 0) {
            throw new NativeIoException("xs_unwatch", XenNative.errno(), path);
        }
    }

    /** {@code xs_read_watch}: the next watch event, {path, token}; blocks until there is one. */
    public String[] readWatch() throws NativeIoException {
        ensureOpen();
        int[] num = new int[1];
        long vec = XsLib.xs_read_watch(handle, num);
        if (vec == 0) {
            throw new NativeIoException("xs_read_watch", XenNative.errno());
        }
        try {
            String[] event = new String[Math.max(2, num[0])];
            for (int i = 0; i < num[0]; i++) {
                event[i] = XenNative.string(XenNative.pointerAt(vec, 8L * i));
            }
            return Arrays.copyOf(event, 2);
        } finally {
            XenLibC.free(vec);
        }
    }

    /**
     * Waits up to {@code timeoutMillis} for a watch event ({@code poll} on {@link #fd()}), then
     * {@link #readWatch()}.
     *
     * @return {path, token}, or {@code null} on timeout
     */
    public String[] readWatch(long timeoutMillis) throws NativeIoException {
        ObjectUtil.checkPositiveOrZero(timeoutMillis, "timeoutMillis");
        ensureOpen();
        if (!XenLibC.awaitReadable(XsLib.xs_fileno(handle), timeoutMillis, "xs_fileno")) {
            return null;
        }
        return readWatch();
    }

    /** {@code xs_fileno}: readable when a watch event is queued. Owned by this connection. */
    public int fd() throws NativeIoException {
        ensureOpen();
        int fd = XsLib.xs_fileno(handle);
        if (fd < 0) {
            throw new NativeIoException("xs_fileno", XenNative.errno());
        }
        return fd;
    }

    /** {@code xs_get_domain_path}: the home path of {@code domid}, e.g. {@code /local/domain/5}. */
    public String domainPath(int domid) throws NativeIoException {
        XenGrants.checkDomid(domid);
        ensureOpen();
        long path = XsLib.xs_get_domain_path(handle, domid);
        if (path == 0) {
            throw new NativeIoException("xs_get_domain_path", XenNative.errno(), "domain " + domid);
        }
        try {
            return XenNative.string(path);
        } finally {
            XenLibC.free(path);
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("XenStore connection is closed");
        }
    }

    public boolean isClosed() {
        return closed;
    }

    /** {@code xs_close}; idempotent. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            XsLib.xs_close(handle);
        }
    }
}
