package io.idts.xen;

import io.idts.linux.NativeIoException;
import io.netty.util.internal.ObjectUtil;

/**
 * A {@code xenevtchn} handle ({@code /dev/xen/evtchn}): local ports bound to ports of other domains, events
 * sent on them, and the events that arrive, read from {@link #fd()} (readable when one is pending).
 *
 * <p>The protocol of a connection: one side {@link #bindUnboundPort(int) binds an unbound port} for the
 * peer and publishes it; the peer {@link #bindInterdomain(int, int) binds} its own local port to it. Then
 * either side {@link #notifyPort(int) notifies} its local port; the other sees its own local port
 * {@link #pending()}, and must {@link #unmask(int) unmask} it to receive the next event. {@link #close()}
 * unbinds every port of the handle.
 *
 * <p>Internal API.
 */
public final class XenEventChannel implements AutoCloseable {

    private final long handle;
    private volatile boolean closed;

    /** For argument-check tests only: a channel around {@code handle} that is never used natively. */
    XenEventChannel(long handle) {
        this.handle = handle;
    }

    /** {@code xenevtchn_open(NULL, 0)}. */
    public static XenEventChannel open() throws NativeIoException {
        XenHost.ensureAvailability();
        long handle = EvtchnLib.xenevtchn_open(0, 0);
        if (handle == 0) {
            throw new NativeIoException("xenevtchn_open", XenNative.errno(), XenHost.EVTCHN);
        }
        return new XenEventChannel(handle);
    }

    /** {@code xenevtchn_fd}: readable when an event is pending; for poll/epoll. Owned by this handle. */
    public int fd() {
        ensureOpen();
        return EvtchnLib.xenevtchn_fd(handle);
    }

    /** {@code xenevtchn_bind_unbound_port}: a new local port that {@code remoteDomid} may bind to. */
    public int bindUnboundPort(int remoteDomid) throws NativeIoException {
        XenGrants.checkDomid(remoteDomid);
        ensureOpen();
        int port = EvtchnLib.xenevtchn_bind_unbound_port(handle, remoteDomid);
        if (port < 0) {
            throw new NativeIoException("xenevtchn_bind_unbound_port", XenNative.errno(),
                    "for domain " + remoteDomid);
        }
        return port;
    }

    /** {@code xenevtchn_bind_interdomain}: a new local port connected to {@code remotePort} of the peer. */
    public int bindInterdomain(int remoteDomid, int remotePort) throws NativeIoException {
        XenGrants.checkDomid(remoteDomid);
        ObjectUtil.checkPositive(remotePort, "remotePort");
        ensureOpen();
        int port = EvtchnLib.xenevtchn_bind_interdomain(handle, remoteDomid, remotePort);
        if (port < 0) {
            throw new NativeIoException("xenevtchn_bind_interdomain", XenNative.errno(),
                    "port " + remotePort + " of domain " + remoteDomid);
        }
        return port;
    }

    /** {@code xenevtchn_notify}: sends an event on local {@code port} to its peer. */
    public void notifyPort(int port) throws NativeIoException {
        ObjectUtil.checkPositive(port, "port");
        ensureOpen();
        if (EvtchnLib.xenevtchn_notify(handle, port) != 0) {
            throw new NativeIoException("xenevtchn_notify", XenNative.errno(), "port " + port);
        }
    }

    /**
     * {@code xenevtchn_pending}: the next local port with a pending event; blocks until there is one (the
     * fd is blocking). The port stays masked until {@link #unmask(int)}.
     */
    public int pending() throws NativeIoException {
        ensureOpen();
        int port = EvtchnLib.xenevtchn_pending(handle);
        if (port < 0) {
            throw new NativeIoException("xenevtchn_pending", XenNative.errno());
        }
        return port;
    }

    /**
     * Waits up to {@code timeoutMillis} for a pending event ({@code poll} on {@link #fd()}), then
     * {@link #pending()}.
     *
     * @return the port, or -1 on timeout
     */
    public int pending(long timeoutMillis) throws NativeIoException {
        ObjectUtil.checkPositiveOrZero(timeoutMillis, "timeoutMillis");
        ensureOpen();
        if (!XenLibC.awaitReadable(EvtchnLib.xenevtchn_fd(handle), timeoutMillis, "xenevtchn fd")) {
            return -1;
        }
        return pending();
    }

    /** {@code xenevtchn_unmask}: lets the next event on {@code port} through. */
    public void unmask(int port) throws NativeIoException {
        ObjectUtil.checkPositive(port, "port");
        ensureOpen();
        if (EvtchnLib.xenevtchn_unmask(handle, port) != 0) {
            throw new NativeIoException("xenevtchn_unmask", XenNative.errno(), "port " + port);
        }
    }

    /** {@code xenevtchn_unbind}: closes local {@code port}. */
    public void unbind(int port) throws NativeIoException {
        ObjectUtil.checkPositive(port, "port");
        ensureOpen();
        if (EvtchnLib.xenevtchn_unbind(handle, port) != 0) {
            throw new NativeIoException("xenevtchn_unbind", XenNative.errno(), "port " + port);
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("event channel handle is closed");
        }
    }

    public boolean isClosed() {
        return closed;
    }

    /** {@code xenevtchn_close}, which unbinds every port still bound; idempotent. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            EvtchnLib.xenevtchn_close(handle);
        }
    }
}
