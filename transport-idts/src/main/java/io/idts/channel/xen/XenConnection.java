package io.idts.channel.xen;

import io.idts.channel.IdtsIoHandler;
import io.idts.channel.backend.FdWatch;
import io.idts.channel.backend.MappedConnection;
import io.idts.channel.ring.RegionLayout;

import io.idts.linux.Errno;
import io.idts.linux.FileDescriptors;
import io.idts.linux.NativeIoException;
import io.idts.xen.XenEventChannel;
import io.idts.xen.XenStore;
import io.netty.channel.IoRegistration;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A connection of the Xen backend: the region's grant-shared pages (shared by the connector, mapped by the
 * acceptor), an interdomain event channel on a handle of its own, and the {@link XenControlPage control page} whose
 * alive bytes the peer's kernel clears, with an event, when the peer's process unshares or unmaps it, that is when
 * it closes or dies. A
 * destroyed domain never unmaps, so the domain's release is watched in XenStore as well.
 *
 * <p>Each connection has its own event-channel handle: an interdomain port cannot move from one handle to another,
 * an accepted channel is handed from the server's event loop to a child loop, and the unmap notification has to name
 * its port when the control page is mapped, before the child loop is known.
 */
public final class XenConnection extends MappedConnection {

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(XenConnection.class);

    private final int peerDomid;
    private final XenEventChannel eventChannel;
    private final int localPort;
    private final ByteBuffer control;
    private final AutoCloseable controlPage;
    private final int peerAliveOffset;
    /** The XenStore node of the handshake, removed on close if still there; {@code null} if none. */
    private final String requestPath;
    private final XenStore requestStore;
    private final Runnable domainGone = this::domainGone;

    private IoRegistration eventWatch;
    private XenStoreWatcher domainWatcher;
    private Events events;
    private boolean peerGoneReported;
    private boolean closed;

    /**
     * Takes ownership of everything it is given.
     *
     * @param regionMapping closes the region's pages and the grant handle; run when the last reference is released
     * @param requestStore  where {@code requestPath} is removed on close, with the handle of the loop that made it
     */
    XenConnection(ByteBuffer region, AutoCloseable regionMapping, RegionLayout layout, boolean connector,
                  int peerDomid, XenEventChannel eventChannel, int localPort, AutoCloseable controlPage,
                  ByteBuffer control, String requestPath, XenStore requestStore) {
        super(region, regionMapping, layout, connector);
        this.peerDomid = peerDomid;
        this.eventChannel = eventChannel;
        this.localPort = localPort;
        this.controlPage = controlPage;
        this.control = control;
        this.peerAliveOffset =
                connector ? XenControlPage.ACCEPTOR_ALIVE_OFFSET : XenControlPage.CONNECTOR_ALIVE_OFFSET;
        this.requestPath = requestPath;
        this.requestStore = requestStore;
    }

    int peerDomid() {
        return peerDomid;
    }

    @Override
    public void watch(IdtsIoHandler handler, Events events) throws Exception {
        this.events = events;
        int fd = eventChannel.fd();
        FileDescriptors.setNonBlocking(fd);
        // Level-triggered: the handle's descriptor stays readable while its port is pending.
        eventWatch = new FdWatch(fd, ops -> onEvent()).register(handler, EpollIoOps.EPOLLIN);
        XenStoreWatcher watcher =
                handler.backendResource(XenStoreWatcher.class, () -> XenStoreWatcher.open(handler));
        if (peerDomid != watcher.selfDomid()) {
            watcher.watchDomain(peerDomid, domainGone);
            domainWatcher = watcher;
            if (!watcher.domainExists(peerDomid)) {
                domainGone();
            }
        }
    }

    @Override
    public void unwatch() {
        if (eventWatch != null) {
            eventWatch.cancel();
            eventWatch = null;
        }
        if (domainWatcher != null) {
            domainWatcher.unwatchDomain(peerDomid, domainGone);
            domainWatcher = null;
        }
    }

    /** The peer notified, or its kernel did when it unmapped the control page. */
    private void onEvent() {
        try {
            // The handle has one port, this connection's, and the driver queues a port once until it is unmasked:
            // one read takes the event, and the unmask lets the next one come. The descriptor is non-blocking (set
            // in watch()), so a spurious wakeup reads EAGAIN instead of blocking the loop.
            eventChannel.unmask(eventChannel.pending());
        } catch (NativeIoException e) {
            if (e.errno() != Errno.EAGAIN) {
                logger.debug("Could not read the pending event of {}", this, e);
            }
        }
        if (control.get(peerAliveOffset) != XenControlPage.ALIVE) {
            reportPeerGone();
        } else {
            events.notified();
        }
    }

    private void domainGone() {
        reportPeerGone();
    }

    private void reportPeerGone() {
        if (!peerGoneReported && events != null) {
            peerGoneReported = true;
            events.peerGone();
        }
    }

    @Override
    public void notifyPeer() throws IOException {
        eventChannel.notifyPort(localPort);
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        unwatch();
        // Unmapping the control page clears our alive byte and sends the peer an event: our port must still be bound.
        closeQuietly(controlPage);
        closeQuietly(eventChannel);
        if (requestPath != null) {
            XenBackend.removeQuietly(requestStore, requestPath);
        }
        // Unmaps now, or when the last zero-copy view of the region is released.
        releaseRegion();
    }

    private void closeQuietly(AutoCloseable closeable) {
        try {
            closeable.close();
        } catch (Exception e) {
            logger.debug("Could not close {} of {}", closeable, this, e);
        }
    }

    @Override
    public String toString() {
        return "XenConnection(" + (isConnector() ? "connector" : "acceptor") + ", peer domain " + peerDomid + ", port "
                + localPort + ", region " + region().capacity() + " bytes)";
    }
}
