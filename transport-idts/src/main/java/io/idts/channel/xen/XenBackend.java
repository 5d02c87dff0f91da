package io.idts.channel.xen;

import io.idts.channel.Idts;
import io.idts.channel.IdtsAddress;
import io.idts.channel.IdtsIoHandler;
import io.idts.channel.backend.IdtsBackend;

import io.idts.linux.LinuxHost;
import io.idts.linux.NativeIoException;
import io.idts.xen.XenStore;
import io.idts.xen.XenStorePermission;
import io.netty.channel.EventLoop;
import io.netty.util.internal.logging.InternalLogger;
import io.netty.util.internal.logging.InternalLoggerFactory;

import java.io.IOException;

/**
 * The Xen backend: domains of one Xen host. The connecting domain shares the region's pages and a control page with
 * the listening domain and binds an event-channel port for it; the grant references and the port go to the listener
 * through XenStore. See {@code docs/protocol.md}, "Xen connect handshake", for the nodes, their permissions and the
 * order of events; {@link XenHandshake} holds both halves, {@link XenListener} finds the requests.
 */
public final class XenBackend implements IdtsBackend {

    private static final InternalLogger logger = InternalLoggerFactory.getInstance(XenBackend.class);

    public static final XenBackend INSTANCE = new XenBackend();

    // XenStore layout, below the listening domain's home path (/local/domain/<domid>).
    /** Parent of every service of a domain. */
    static final String SERVICES = "/data/idts";
    /** Below a service: where connectors write their requests (writable, not readable, by every domain). */
    static final String REQUESTS = "requests";
    /** In a request: the grant reference of the {@link XenControlPage control page}, which lists the region's. */
    static final String CTRL_REF = "ctrl-ref";
    /** In a request: the connector's unbound event-channel port for the listener. */
    static final String EVENT_CHANNEL = "event-channel";
    /** In a request: the connector's service name, for the accepted channel's remote address. */
    static final String NAME = "name";
    /** In a request, written by the listener: {@link #REPLY_ACCEPTED}, or a refusal with its reason. */
    static final String REPLY = "reply";
    static final String REPLY_ACCEPTED = "accepted";
    static final String REPLY_REFUSED_PREFIX = "refused: ";
    /** Longest reply a connector reads back into an exception message. */
    static final int MAX_REPLY_CHARS = 200;

    private static volatile int selfDomid = -1;

    private XenBackend() {
    }

    /** Ends transaction {@code tx} without committing it, logging what stops that. */
    static void abortQuietly(XenStore xenStore, int tx) {
        try {
            xenStore.transactionEnd(tx, true);
        } catch (NativeIoException | RuntimeException e) {
            logger.debug("Could not abort XenStore transaction {}", tx, e);
        }
    }

    /** The XenStore path of {@code service} in {@code domid}. */
    static String servicePath(XenStore xenStore, int domid, String service) throws NativeIoException {
        return xenStore.domainPath(domid) + SERVICES + '/' + service;
    }

    /** Fails with a message naming what is missing unless the Xen backend can run here. */
    static void ensureAvailable(IdtsAddress address) {
        Throwable cause = Idts.xenUnavailabilityCause();
        if (cause != null) {
            throw new UnsupportedOperationException("IDTS address " + address + " needs the Xen backend, which "
                    + "cannot run here: " + cause.getMessage() + " (run inside a Xen domain with the xen-evtchn, "
                    + "xen-gntdev and xen-gntalloc drivers loaded and Xen's libraries installed)", cause);
        }
    }

    /** The permissions of a request's nodes: owned by the connector, readable and writable by the listener only. */
    static XenStorePermission[] requestPermissions(int connector, int listener) {
        return connector == listener
                ? new XenStorePermission[] {XenStorePermission.of(connector, XenStorePermission.NONE)}
                : new XenStorePermission[] {XenStorePermission.of(connector, XenStorePermission.NONE),
                        XenStorePermission.of(listener, XenStorePermission.BOTH)};
    }

    /** Removes {@code path} and everything below it; a node already gone is fine. */
    static void removeQuietly(XenStore xenStore, String path) {
        try {
            xenStore.remove(XenStore.NO_TRANSACTION, path);
        } catch (NativeIoException | IllegalStateException e) {
            // ENOENT (the peer removed it first), or this loop's XenStore handle is closed already.
            logger.debug("Could not remove XenStore node {}", path, e);
        }
    }

    @Override
    public IdtsAddress clientAddress(IdtsAddress remote, String service) {
        ensureAvailable(remote);
        int self = selfDomid;
        if (self < 0) {
            try (XenStore xenStore = XenStore.open()) {
                self = readSelfDomid(xenStore);
            } catch (IOException e) {
                throw new IllegalStateException(e.getMessage(), e);
            }
            selfDomid = self;
        }
        return IdtsAddress.xen(self, service);
    }

    /** This domain's id, as XenStore gives it to every domain under the relative path {@code domid}. */
    static int readSelfDomid(XenStore xenStore) throws IOException {
        String domid = xenStore.read(XenStore.NO_TRANSACTION, "domid");
        try {
            if (domid != null) {
                return Integer.parseInt(domid.trim());
            }
        } catch (NumberFormatException e) {
            throw new IOException("XenStore's 'domid' for this domain is not a number: '" + domid + "'", e);
        }
        throw new IOException("XenStore has no 'domid' for this domain: is this a Xen domain with xenstored "
                + "running?");
    }

    @Override
    public PendingConnect connect(IdtsAddress remote, IdtsAddress local, int ringCapacity, IdtsIoHandler handler,
                                  Runnable progress) throws Exception {
        ensureAvailable(remote);
        return XenHandshake.Offer.start(remote, local, ringCapacity, handler, progress);
    }

    @Override
    public Listener listen(IdtsAddress local, IdtsIoHandler handler, EventLoop loop, ListenerEvents events)
            throws Exception {
        ensureAvailable(local);
        return XenListener.listen(local, handler, loop, events);
    }

    /** A request id unique among this domain's connects: domain, process, sequence. */
    static String requestId(int selfDomid, long sequence) {
        return selfDomid + "-" + LinuxHost.pid() + '-' + sequence;
    }
}
