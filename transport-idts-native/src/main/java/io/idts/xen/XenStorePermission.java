package io.idts.xen;

import io.netty.util.internal.ObjectUtil;

/**
 * One entry of a XenStore node's permission list ({@code struct xs_permissions}). In a list, the first
 * entry names the owner of the node (who may always read and write it), and its access is what every
 * domain not listed gets; each following entry gives one domain its access.
 *
 * <p>libvchan's convention for an offer readable by the peer only:
 * {@code [owner(self, NONE), of(peer, READ)]}.
 *
 * <p>Internal API.
 */
public final class XenStorePermission {

    public static final int NONE = 0;
    public static final int READ = 1;
    public static final int WRITE = 2;
    public static final int BOTH = READ | WRITE;

    private final int domid;
    private final int access;

    private XenStorePermission(int domid, int access) {
        this.domid = XenGrants.checkDomid(domid);
        this.access = ObjectUtil.checkInRange(access, NONE, BOTH, "access");
    }

    /** {@code access} ({@link #NONE}, {@link #READ}, {@link #WRITE} or {@link #BOTH}) for {@code domid}. */
    public static XenStorePermission of(int domid, int access) {
        return new XenStorePermission(domid, access);
    }

    public int domid() {
        return domid;
    }

    /** XS_PERM_* flags: {@link #NONE}, {@link #READ}, {@link #WRITE} or {@link #BOTH}. */
    public int access() {
        return access;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof XenStorePermission && ((XenStorePermission) o).domid == domid
                && ((XenStorePermission) o).access == access;
    }

    @Override
    public int hashCode() {
        return domid * 31 + access;
    }

    /** xenstore-ls style: {@code n0}, {@code r5}, {@code w5}, {@code b5}. */
    @Override
    public String toString() {
        return "nrwb".charAt(access) + Integer.toString(domid);
    }
}
