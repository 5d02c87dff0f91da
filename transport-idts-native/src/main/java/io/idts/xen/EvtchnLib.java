package io.idts.xen;

/**
 * libxenevtchn over {@code /dev/xen/evtchn}, bound with JNA direct mapping when this class is initialized.
 *
 * <p>Internal API. Ports are {@code evtchn_port_t} (u32); the functions that return a port return -1 on
 * failure, with errno.
 */
final class EvtchnLib {

    static final String SONAME = "libxenevtchn.so.1";

    /** Why the registration failed, or {@code null}. */
    static final Throwable LOAD_FAILURE = XenNative.register(EvtchnLib.class, SONAME);

    private EvtchnLib() {
    }

    static native long xenevtchn_open(long logger, int flags);

    static native int xenevtchn_close(long xce);

    static native int xenevtchn_fd(long xce);

    static native int xenevtchn_bind_unbound_port(long xce, int domid);

    static native int xenevtchn_bind_interdomain(long xce, int domid, int remotePort);

    static native int xenevtchn_notify(long xce, int port);

    static native int xenevtchn_pending(long xce);

    static native int xenevtchn_unmask(long xce, int port);

    static native int xenevtchn_unbind(long xce, int port);
}
